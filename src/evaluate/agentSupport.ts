/**
 * Whether the Azure Monitor Agent supports a machine's operating system, decided from what ARM reports
 * (docs/azure-domain.md §10, "Operating systems the Azure Monitor Agent supports"). A machine the agent does not
 * support is skipped rather than sent an install that fails (the Linux agent exits with code 51); a machine
 * whose OS ARM does not tell is "unknown": the install goes ahead and ARM's answer is reported.
 */
import type { Os } from "../defender/agents.js";
import type { ImageReference } from "../model.js";

export type Architecture = "x64" | "Arm64";

export interface OsFacts {
  readonly os: Os;
  readonly kind: "virtualMachine" | "arcMachine";
  /** storageProfile.imageReference: marketplace publisher/offer/sku, or the id of a gallery or managed image. */
  readonly image?: ImageReference;
  /** VM instance view osName ("Windows Server 2022 Datacenter", "ubuntu"); Arc properties.osName ("windows", "linux"). */
  readonly osName?: string;
  /** VM instance view osVersion ("Microsoft Windows NT 10.0.20348.0", "22.04"); Arc properties.osVersion ("10.0.20348.2113"; the kernel on Linux). */
  readonly osVersion?: string;
  /** Arc properties.osSku ("Windows Server 2022 Datacenter", "Ubuntu 22.04.3 LTS"). */
  readonly osSku?: string;
  /** When unset: Arm64 if the marketplace image says so, else x64 (the list assumes x64). */
  readonly architecture?: Architecture;
}

export type AgentSupport =
  | { readonly supported: true; readonly basis: string }
  | { readonly supported: false; readonly reason: string }
  | { readonly supported: "unknown"; readonly reason: string };

const READ_ON = "2026-11-30";
const SOURCES: Readonly<Record<Os, string>> = {
  Windows: `MicrosoftDocs/azure-monitor-docs articles/azure-monitor/agents/azure-monitor-agent-supported-operating-systems.md, read ${READ_ON}`,
  // The Linux extension's own install check, which exits 51 for anything else; the published doc lags it.
  Linux: `Azure/azure-linux-extensions AzureMonitorAgent/ama_tst/modules/install/supported_distros.py, read ${READ_ON}`,
};

/**
 * Versions match on their leading parts ("8" covers 8.10, "22.04" covers 22.04.3, "15" covers 15 SP5);
 * "X+" is X or later, compared numerically; "*" is every version. Windows 10 and 11 are versioned by NT build.
 */
interface SupportedOs {
  readonly name: string;
  readonly x64: readonly string[];
  readonly arm64: readonly string[];
}

const SUPPORTED: readonly SupportedOs[] = [
  { name: "Windows Server", x64: ["2012 R2", "2016", "2019", "2022", "2025"], arm64: [] },
  { name: "Windows 11", x64: ["*"], arm64: ["*"] },
  { name: "Windows 10", x64: ["10.0.17134+"], arm64: [] },
  { name: "Azure Local", x64: ["*"], arm64: [] },
  { name: "AlmaLinux", x64: ["8", "9", "10"], arm64: ["8", "10"] },
  { name: "Amazon Linux", x64: ["2", "2023"], arm64: [] },
  { name: "Azure Linux", x64: ["3", "4"], arm64: ["3", "4"] },
  { name: "CBL-Mariner", x64: ["2"], arm64: ["2"] },
  { name: "Debian", x64: ["9", "10", "11", "12", "13"], arm64: ["11", "12", "13"] },
  { name: "openSUSE", x64: ["15"], arm64: [] },
  { name: "Oracle Linux", x64: ["7", "8", "9", "10"], arm64: ["10"] },
  { name: "Red Hat Enterprise Linux", x64: ["7", "8", "9", "10"], arm64: ["8", "9", "10"] },
  { name: "Rocky Linux", x64: ["8", "9", "10"], arm64: ["8", "9", "10"] },
  { name: "SUSE Linux Enterprise Server", x64: ["15", "16"], arm64: ["15", "16"] },
  { name: "Ubuntu", x64: ["16.04", "18.04", "20.04", "22.04", "24.04", "26.04"], arm64: ["18.04", "20.04", "22.04", "24.04", "26.04"] },
];

/**
 * Marketplace images: `match` and `version` (first group) run on "offer/sku", lower-cased. Marketplace SKUs
 * run major and minor together ("rhel/810-gen2", "oracle-linux/ol94-lvm"), hence the `(10|\d)` majors.
 */
interface ImageRule {
  readonly os: Os;
  readonly publisher: string;
  readonly match: RegExp;
  readonly name: string;
  readonly version?: RegExp;
}

const WINDOWS_SERVER_YEAR = /(?:^windowsserver[^/]*\/|-ws)(\d{4}(?:-?r2)?)/;
const SKU_MAJOR = /\/\D*?(10|\d)/;

const IMAGE_RULES: readonly ImageRule[] = [
  { os: "Windows", publisher: "microsoftwindowsserver", match: /^windowsserver/, name: "Windows Server", version: WINDOWS_SERVER_YEAR },
  { os: "Windows", publisher: "microsoftsqlserver", match: /-ws\d{4}/, name: "Windows Server", version: WINDOWS_SERVER_YEAR },
  { os: "Windows", publisher: "microsoftwindowsdesktop", match: /win(dows-)?11/, name: "Windows 11" },
  { os: "Windows", publisher: "microsoftwindowsdesktop", match: /win(dows-)?10/, name: "Windows 10" },
  { os: "Linux", publisher: "canonical", match: /ubuntu/, name: "Ubuntu", version: /(\d\d[._]\d\d)/ },
  { os: "Linux", publisher: "redhat", match: /^rhel/, name: "Red Hat Enterprise Linux", version: SKU_MAJOR },
  { os: "Linux", publisher: "openlogic", match: /^centos/, name: "CentOS", version: SKU_MAJOR },
  { os: "Linux", publisher: "debian", match: /^debian-\d/, name: "Debian", version: /^debian-(\d+)/ },
  { os: "Linux", publisher: "credativ", match: /^debian/, name: "Debian", version: /\/(\d+)/ },
  { os: "Linux", publisher: "suse", match: /^opensuse/, name: "openSUSE", version: /(\d+)/ },
  { os: "Linux", publisher: "suse", match: /^sles/, name: "SUSE Linux Enterprise Server", version: /^sles\D*?(\d+(?:-sp\d+)?)/ },
  { os: "Linux", publisher: "oracle", match: /^oracle-linux/, name: "Oracle Linux", version: SKU_MAJOR },
  { os: "Linux", publisher: "almalinux", match: /^almalinux/, name: "AlmaLinux", version: SKU_MAJOR },
  { os: "Linux", publisher: "resf", match: /^rockylinux/, name: "Rocky Linux", version: SKU_MAJOR },
  { os: "Linux", publisher: "ciq", match: /^rocky/, name: "Rocky Linux", version: /(10|\d)/ },
  { os: "Linux", publisher: "microsoftcblmariner", match: /azure-linux/, name: "Azure Linux", version: /azure-linux-(\d+)/ },
  { os: "Linux", publisher: "microsoftcblmariner", match: /cbl-mariner/, name: "CBL-Mariner", version: /\/(?:cbl-mariner-)?(\d+)/ },
  { os: "Linux", publisher: "kali-linux", match: /kali/, name: "Kali Linux" },
];

/**
 * Names as ARM reports them (Arc osSku, VM instance view osName), lower-cased; the version is the first number
 * after the name ("Ubuntu 22.04.3 LTS", "Windows Server 2012 R2 Standard", "SUSE Linux Enterprise Server 15 SP5"),
 * else osVersion where it is the OS release. Order matters where one name contains another (opensuse, suse).
 */
interface NameRule {
  readonly os: Os;
  readonly match: RegExp;
  readonly name: string;
  /** Windows 10 and 11 releases are told apart by the NT build in osVersion, not by their name. */
  readonly versionIsBuild?: true;
}

const NAME_RULES: readonly NameRule[] = [
  { os: "Windows", match: /windows server/, name: "Windows Server" },
  { os: "Windows", match: /windows 11/, name: "Windows 11", versionIsBuild: true },
  { os: "Windows", match: /windows 10/, name: "Windows 10", versionIsBuild: true },
  { os: "Windows", match: /windows(?= (?:7|8)\b)/, name: "Windows" },
  { os: "Windows", match: /azure stack hci|azure local/, name: "Azure Local" },
  { os: "Linux", match: /ubuntu/, name: "Ubuntu" },
  { os: "Linux", match: /debian/, name: "Debian" },
  { os: "Linux", match: /red hat|redhat|rhel/, name: "Red Hat Enterprise Linux" },
  { os: "Linux", match: /centos/, name: "CentOS" },
  { os: "Linux", match: /oracle|^ol$/, name: "Oracle Linux" },
  { os: "Linux", match: /alma/, name: "AlmaLinux" },
  { os: "Linux", match: /rocky/, name: "Rocky Linux" },
  { os: "Linux", match: /opensuse/, name: "openSUSE" },
  { os: "Linux", match: /suse|sles/, name: "SUSE Linux Enterprise Server" },
  { os: "Linux", match: /mariner/, name: "CBL-Mariner" },
  { os: "Linux", match: /azure ?linux/, name: "Azure Linux" },
  { os: "Linux", match: /amazon linux|amzn/, name: "Amazon Linux" },
  { os: "Linux", match: /kali/, name: "Kali Linux" },
  { os: "Linux", match: /fedora/, name: "Fedora" },
  { os: "Linux", match: /flatcar/, name: "Flatcar Container Linux" },
];

interface IdentifiedOs {
  readonly name: string;
  readonly version?: string;
}

export function agentSupport(facts: OsFacts): AgentSupport {
  const source = SOURCES[facts.os];
  // What the running machine reports wins over the image it was created from (it may have been upgraded since).
  const identified = fromReportedNames(facts) ?? fromMarketplaceImage(facts.os, facts.image);
  if (!identified) return { supported: "unknown", reason: "ARM reports neither a marketplace image nor an OS name that identifies the operating system" };

  const { name, version } = identified;
  const architecture = facts.architecture ?? architectureOfImage(facts.image);
  const label = `${name}${version ? ` ${version}` : ""}${architecture === "Arm64" ? " on Arm64" : ""}`;
  const entry = SUPPORTED.find((candidate) => candidate.name === name);
  const versions = entry ? (architecture === "Arm64" ? entry.arm64 : entry.x64) : [];
  if (versions.includes("*") || (version !== undefined && versions.some((wanted) => versionMatches(wanted, version)))) {
    return { supported: true, basis: `${label} is on the Azure Monitor Agent's supported list (${source})` };
  }
  if (version === undefined && versions.length > 0) {
    return { supported: "unknown", reason: `${label}: ARM does not report which version, and the Azure Monitor Agent supports only some (${source})` };
  }
  return { supported: false, reason: `${label} is not on the Azure Monitor Agent's supported list (${source})` };
}

function fromReportedNames(facts: OsFacts): IdentifiedOs | undefined {
  for (const text of [facts.osSku, facts.osName]) {
    if (!text) continue;
    for (const rule of NAME_RULES) {
      const found = rule.os === facts.os ? rule.match.exec(text.toLowerCase()) : null;
      if (!found) continue;
      const named = text.slice(found.index + found[0].length).match(/\d+(?:\.\d+)*(?: (?:sp|r)\d+)?/i)?.[0];
      return { name: rule.name, version: rule.versionIsBuild ? ntBuild(facts.osVersion) : (named ?? releaseVersion(facts)) };
    }
  }
  return undefined;
}

function fromMarketplaceImage(os: Os, image: ImageReference | undefined): IdentifiedOs | undefined {
  if (!image?.publisher) return undefined;
  const publisher = image.publisher.toLowerCase();
  const offerAndSku = `${image.offer ?? ""}/${image.sku ?? ""}`.toLowerCase();
  const rule = IMAGE_RULES.find((candidate) => candidate.os === os && candidate.publisher === publisher && candidate.match.test(offerAndSku));
  if (!rule) return undefined;
  const version = rule.version?.exec(offerAndSku)?.[1];
  return { name: rule.name, version: version && tidyImageVersion(version) };
}

/** "22_04" -> "22.04", "2012-r2" -> "2012 R2", "15-sp5" -> "15 SP5": the names the supported list uses. */
function tidyImageVersion(version: string): string {
  return version.replace(/_/g, ".").replace(/-?(sp|r)(\d+)$/, (_match, part: string, number: string) => ` ${part.toUpperCase()}${number}`);
}

/** "Microsoft Windows NT 10.0.20348.0" or "10.0.20348.2113" -> "10.0.20348". */
function ntBuild(osVersion: string | undefined): string | undefined {
  return osVersion?.match(/\d+\.\d+\.\d+/)?.[0];
}

/** A VM's instance view reports the Linux release ("22.04"); an Arc machine's osVersion is the kernel, no use here. */
function releaseVersion(facts: OsFacts): string | undefined {
  return facts.os === "Linux" && facts.kind === "virtualMachine" ? facts.osVersion?.trim() || undefined : undefined;
}

function architectureOfImage(image: ImageReference | undefined): Architecture {
  return /arm64|aarch64|-arm\b/.test(`${image?.offer ?? ""}/${image?.sku ?? ""}`.toLowerCase()) ? "Arm64" : "x64";
}

function versionMatches(wanted: string, version: string): boolean {
  const have = versionParts(version);
  if (wanted.endsWith("+")) {
    const floor = versionParts(wanted.slice(0, -1)).map(Number);
    const actual = have.map(Number);
    const differing = floor.findIndex((part, index) => (actual[index] ?? 0) !== part);
    return differing === -1 || (actual[differing] ?? 0) > (floor[differing] ?? 0);
  }
  return versionParts(wanted).every((part, index) => have[index] === part);
}

function versionParts(version: string): string[] {
  return version.toLowerCase().split(/[\s._-]+/);
}
