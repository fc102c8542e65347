import { describe, expect, it } from "vitest";
import { agentSupport, type AgentSupport, type OsFacts } from "../../src/evaluate/agentSupport.js";

type Verdict = AgentSupport["supported"];

const image = (os: OsFacts["os"], publisher: string, offer: string, sku: string): OsFacts => ({ os, kind: "virtualMachine", image: { publisher, offer, sku } });
const windowsImage = (publisher: string, offer: string, sku: string) => image("Windows", publisher, offer, sku);
const linuxImage = (publisher: string, offer: string, sku: string) => image("Linux", publisher, offer, sku);
const arc = (os: OsFacts["os"], osSku: string, osVersion: string): OsFacts => ({ os, kind: "arcMachine", osName: os.toLowerCase(), osSku, osVersion });
const vm = (os: OsFacts["os"], osName: string, osVersion: string): OsFacts => ({ os, kind: "virtualMachine", osName, osVersion });

const explanation = (support: AgentSupport) => ("basis" in support ? support.basis : support.reason);

function expectVerdicts(cases: [name: string, facts: OsFacts, expected: Verdict][]) {
  it.each(cases)("%s", (_name, facts, expected) => expect(agentSupport(facts).supported).toBe(expected));
}

describe("agent support: marketplace images", () => {
  expectVerdicts([
    ["Windows Server 2025", windowsImage("MicrosoftWindowsServer", "WindowsServer", "2025-datacenter-azure-edition"), true],
    ["Windows Server 2022", windowsImage("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-g2"), true],
    ["Windows Server 2019", windowsImage("MicrosoftWindowsServer", "WindowsServer", "2019-Datacenter"), true],
    ["Windows Server 2016", windowsImage("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter-Server-Core"), true],
    ["Windows Server 2012 R2", windowsImage("MicrosoftWindowsServer", "WindowsServer", "2012-R2-Datacenter"), true],
    ["Windows Server 2012", windowsImage("MicrosoftWindowsServer", "WindowsServer", "2012-Datacenter"), false],
    ["Windows Server 2008 R2", windowsImage("MicrosoftWindowsServer", "WindowsServer", "2008-R2-SP1"), false],
    ["Windows Server without a year", windowsImage("MicrosoftWindowsServer", "WindowsServer", "datacenter-core-23h2-azure-edition"), "unknown"],
    ["SQL Server on 2022", windowsImage("MicrosoftSQLServer", "sql2022-ws2022", "enterprise-gen2"), true],
    ["SQL Server on 2012 R2", windowsImage("MicrosoftSQLServer", "sql2014sp3-ws2012r2", "enterprise"), true],
    ["Windows 11", windowsImage("MicrosoftWindowsDesktop", "windows-11", "win11-24h2-ent"), true],
    ["Windows 11 multi-session", windowsImage("MicrosoftWindowsDesktop", "office-365", "win11-23h2-avd-m365"), true],
    ["Windows 10 without a build", windowsImage("MicrosoftWindowsDesktop", "windows-10", "win10-22h2-ent"), "unknown"],
    ["Ubuntu 24.04", linuxImage("Canonical", "ubuntu-24_04-lts", "server"), true],
    ["Ubuntu 22.04", linuxImage("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2"), true],
    ["Ubuntu 20.04", linuxImage("Canonical", "0001-com-ubuntu-server-focal", "20_04-lts-gen2"), true],
    ["Ubuntu Pro 20.04", linuxImage("Canonical", "0001-com-ubuntu-pro-focal", "pro-20_04-lts"), true],
    ["Ubuntu 18.04", linuxImage("Canonical", "UbuntuServer", "18.04-LTS"), true],
    ["Ubuntu 14.04", linuxImage("Canonical", "UbuntuServer", "14.04.5-LTS"), false],
    ["Ubuntu 22.04 on Arm64", linuxImage("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-arm64"), true],
    ["RHEL 9", linuxImage("RedHat", "RHEL", "9-lvm-gen2"), true],
    ["RHEL 8.10", linuxImage("RedHat", "RHEL", "810-gen2"), true],
    ["RHEL 7.9", linuxImage("RedHat", "RHEL", "7.9"), true],
    ["RHEL 6", linuxImage("RedHat", "RHEL", "6.10"), false],
    ["RHEL 8 on Arm64", linuxImage("RedHat", "rhel-arm64", "8_8-arm64"), true],
    ["CentOS 7", linuxImage("OpenLogic", "CentOS", "7_9-gen2"), false],
    ["CentOS 6", linuxImage("OpenLogic", "CentOS", "6.10"), false],
    ["Debian 12", linuxImage("Debian", "debian-12", "12-gen2"), true],
    ["Debian 11", linuxImage("Debian", "debian-11", "11"), true],
    ["Debian 8", linuxImage("credativ", "Debian", "8"), false],
    ["SLES 15 SP5", linuxImage("SUSE", "sles-15-sp5", "gen2"), true],
    ["SLES for SAP 15 SP6", linuxImage("SUSE", "sles-sap-15-sp6", "gen2"), true],
    ["SLES 12 SP5", linuxImage("SUSE", "sles-12-sp5", "gen2"), false],
    ["openSUSE Leap 15", linuxImage("SUSE", "opensuse-leap-15-5", "gen2"), true],
    ["Oracle Linux 8", linuxImage("Oracle", "Oracle-Linux", "ol810-lvm-gen2"), true],
    ["Oracle Linux 9", linuxImage("Oracle", "Oracle-Linux", "ol94-lvm-gen2"), true],
    ["AlmaLinux 9", linuxImage("almalinux", "almalinux-x86_64", "9-gen2"), true],
    ["AlmaLinux 9 on Arm64", linuxImage("almalinux", "almalinux-arm", "9-arm-gen2"), false],
    ["Rocky Linux 9", linuxImage("resf", "rockylinux-x86_64", "9-base"), true],
    ["Azure Linux 3", linuxImage("MicrosoftCBLMariner", "azure-linux-3", "azure-linux-3-gen2"), true],
    ["CBL-Mariner 2", linuxImage("MicrosoftCBLMariner", "cbl-mariner", "cbl-mariner-2-gen2"), true],
    ["Kali Linux", linuxImage("kali-linux", "kali", "kali-2024-2"), false],
    ["an unknown publisher", linuxImage("someone", "appliance", "v1"), "unknown"],
  ]);
});

describe("agent support: Arc machines", () => {
  expectVerdicts([
    ["Windows Server 2022", arc("Windows", "Windows Server 2022 Datacenter", "10.0.20348.2113"), true],
    ["Windows Server 2012 R2", arc("Windows", "Windows Server 2012 R2 Standard", "6.3.9600"), true],
    ["Windows Server 2012", arc("Windows", "Windows Server 2012 Standard", "6.2.9200"), false],
    ["Windows Server 2008 R2", arc("Windows", "Windows Server 2008 R2 Enterprise", "6.1.7601"), false],
    ["Windows 11", arc("Windows", "Windows 11 Enterprise", "10.0.22631.3447"), true],
    ["Windows 10 22H2", arc("Windows", "Windows 10 Enterprise", "10.0.19045.4291"), true],
    ["Windows 10 1709", arc("Windows", "Windows 10 Pro", "10.0.16299.15"), false],
    ["Windows 8.1", arc("Windows", "Windows 8.1 Pro", "6.3.9600"), false],
    ["Azure Local", arc("Windows", "Azure Stack HCI", "10.0.25398.830"), true],
    ["Ubuntu 22.04", arc("Linux", "Ubuntu 22.04.3 LTS", "5.15.0-1051-azure"), true],
    ["Ubuntu 14.04", arc("Linux", "Ubuntu 14.04.6 LTS", "4.4.0-148-generic"), false],
    ["Ubuntu 23.10", arc("Linux", "Ubuntu 23.10", "6.5.0-14-generic"), false],
    ["RHEL 8", arc("Linux", "Red Hat Enterprise Linux 8.4 (Ootpa)", "4.18.0-305.el8.x86_64"), true],
    ["RHEL 6", arc("Linux", "Red Hat Enterprise Linux Server 6.10 (Santiago)", "2.6.32-754.el6.x86_64"), false],
    ["CentOS 7", arc("Linux", "CentOS Linux 7 (Core)", "3.10.0-1160.el7.x86_64"), false],
    ["Debian 12", arc("Linux", "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64"), true],
    ["SLES 15 SP5", arc("Linux", "SUSE Linux Enterprise Server 15 SP5", "5.14.21-150500.55.39-default"), true],
    ["SLES 12 SP5", arc("Linux", "SUSE Linux Enterprise Server 12 SP5", "4.12.14-122.183-default"), false],
    ["openSUSE Leap 15", arc("Linux", "openSUSE Leap 15.5", "5.14.21-150500.55.39-default"), true],
    ["Oracle Linux 9", arc("Linux", "Oracle Linux Server 9.3", "5.15.0-200.131.27.el9uek.x86_64"), true],
    ["AlmaLinux 8", arc("Linux", "AlmaLinux 8.9 (Midnight Oncilla)", "4.18.0-513.el8.x86_64"), true],
    ["Rocky Linux 9", arc("Linux", "Rocky Linux 9.3 (Blue Onyx)", "5.14.0-362.el9.x86_64"), true],
    ["Amazon Linux 2023", arc("Linux", "Amazon Linux 2023", "6.1.66-91.160.amzn2023.x86_64"), true],
    ["Azure Linux 3", arc("Linux", "Microsoft Azure Linux 3.0", "6.6.29.1-3.azl3"), true],
    ["Fedora", arc("Linux", "Fedora Linux 39 (Server Edition)", "6.5.6-300.fc39.x86_64"), false],
    ["an unrecognised distribution", arc("Linux", "Photon OS 5.0", "6.1.10"), "unknown"],
    ["Debian 12 on Arm64", { ...arc("Linux", "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-arm64"), architecture: "Arm64" }, true],
    ["Amazon Linux 2 on Arm64", { ...arc("Linux", "Amazon Linux 2", "5.10.205-195.807.amzn2.aarch64"), architecture: "Arm64" }, false],
  ]);
});

describe("agent support: VM instance view", () => {
  expectVerdicts([
    ["Windows Server 2016", vm("Windows", "Windows Server 2016 Datacenter", "Microsoft Windows NT 10.0.14393.0"), true],
    ["Windows Server 2008 R2", vm("Windows", "Windows Server 2008 R2 Datacenter", "Microsoft Windows NT 6.1.7601.65536"), false],
    ["Windows 10 multi-session", vm("Windows", "Windows 10 Enterprise multi-session", "Microsoft Windows NT 10.0.19045.0"), true],
    ["Windows 10 1607", vm("Windows", "Windows 10 Enterprise", "Microsoft Windows NT 10.0.14393.0"), false],
    ["Ubuntu 22.04", vm("Linux", "ubuntu", "22.04"), true],
    ["Ubuntu 14.04", vm("Linux", "ubuntu", "14.04"), false],
    ["RHEL 9", vm("Linux", "redhat", "9.4"), true],
    ["RHEL 6", vm("Linux", "rhel", "6.10"), false],
    ["CentOS 6", vm("Linux", "centos", "6.10"), false],
    ["SLES 15", vm("Linux", "sles", "15.5"), true],
    ["Debian 11", vm("Linux", "debian", "11.9"), true],
    ["Oracle Linux 8", vm("Linux", "ol", "8.9"), true],
    ["AlmaLinux 9", vm("Linux", "almalinux", "9.3"), true],
    ["Rocky Linux 8", vm("Linux", "rocky", "8.9"), true],
    ["CBL-Mariner 2", vm("Linux", "mariner", "2.0.20240123"), true],
    ["Azure Linux 3", vm("Linux", "azurelinux", "3.0.20240727"), true],
    ["Kali Linux", vm("Linux", "kali", "2024.2"), false],
    ["a distribution without a version", vm("Linux", "ubuntu", ""), "unknown"],
  ]);
});

describe("agent support: what wins and what is said", () => {
  const gallery = { id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/golden/versions/1.0.0" };

  expectVerdicts([
    ["a gallery image without OS facts", { os: "Linux", kind: "virtualMachine", image: gallery }, "unknown"],
    ["a gallery image with a supported OS", { ...vm("Linux", "ubuntu", "22.04"), image: gallery }, true],
    ["a gallery image with an unsupported OS", { ...vm("Windows", "Windows Server 2008 R2 Datacenter", "Microsoft Windows NT 6.1.7601.65536"), image: gallery }, false],
    ["an upgraded VM: the running OS wins", { ...vm("Linux", "ubuntu", "22.04"), image: { publisher: "Canonical", offer: "UbuntuServer", sku: "14.04.5-LTS" } }, true],
    ["an Arc osName alone", { os: "Linux", kind: "arcMachine", osName: "linux", osVersion: "5.15.0-1051-azure" }, "unknown"],
    ["an Arc kernel is no release", { os: "Linux", kind: "arcMachine", osName: "linux", osSku: "Ubuntu", osVersion: "22.04" }, "unknown"],
    ["names of the other OS are ignored", { os: "Windows", kind: "virtualMachine", osName: "ubuntu", osVersion: "22.04" }, "unknown"],
  ]);

  it.each<[string, OsFacts, string]>([
    ["a refusal names OS, version and source", linuxImage("Canonical", "UbuntuServer", "14.04.5-LTS"), "Ubuntu 14.04 is not on the Azure Monitor Agent's supported list (Azure/azure-linux-extensions AzureMonitorAgent/ama_tst/modules/install/supported_distros.py, read 2026-11-30)"],
    ["a Windows refusal cites the doc", vm("Windows", "Windows Server 2008 R2 Datacenter", "Microsoft Windows NT 6.1.7601.65536"), "Windows Server 2008 R2 is not on the Azure Monitor Agent's supported list (MicrosoftDocs/azure-monitor-docs articles/azure-monitor/agents/azure-monitor-agent-supported-operating-systems.md, read 2026-11-30)"],
    ["a basis names the architecture", linuxImage("Canonical", "ubuntu-24_04-lts", "server-arm64"), "Ubuntu 24.04 on Arm64 is on the Azure Monitor Agent's supported list (Azure/azure-linux-extensions AzureMonitorAgent/ama_tst/modules/install/supported_distros.py, read 2026-11-30)"],
    ["SUSE service packs keep their name", linuxImage("SUSE", "sles-12-sp5", "gen2"), "SUSE Linux Enterprise Server 12 SP5 is not on the Azure Monitor Agent's supported list (Azure/azure-linux-extensions AzureMonitorAgent/ama_tst/modules/install/supported_distros.py, read 2026-11-30)"],
  ])("%s", (_name, facts, expected) => {
    expect(explanation(agentSupport(facts))).toBe(expected);
  });
});
