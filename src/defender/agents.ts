/**
 * Agent extensions the service recognises and installs. Extensions are matched on publisher + type
 * (case-insensitive), never on their name: names are free text (docs/azure-domain.md §2.1).
 */

export interface ExtensionIdentity {
  readonly publisher: string;
  readonly type: string;
}

export type Os = "Windows" | "Linux";

export const AMA: Readonly<Record<Os, ExtensionIdentity>> = {
  Windows: { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorWindowsAgent" },
  Linux: { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorLinuxAgent" },
};

/** The retiring Log Analytics agent (MMA on Windows, OMS agent on Linux). */
export const LEGACY_AGENTS: readonly ExtensionIdentity[] = [
  { publisher: "Microsoft.EnterpriseCloud.Monitoring", type: "MicrosoftMonitoringAgent" },
  { publisher: "Microsoft.EnterpriseCloud.Monitoring", type: "OmsAgentForLinux" },
];

export const DEFENDER_FOR_SQL: ExtensionIdentity = { publisher: "Microsoft.Azure.AzureDefenderForSQL", type: "AdvancedThreatProtection.Windows" };

/** Linux SQL VMs carry this extension; Defender's SQL policies treat them as out of scope. */
export const SQL_IAAS_LINUX: ExtensionIdentity = { publisher: "Microsoft.SqlServer.Management", type: "SqlIaaSAgentLinux" };

/** typeHandlerVersion the built-in AMA policies deploy (docs/azure-domain.md §2.2); auto-upgrade keeps it current. */
export const AMA_VM_HANDLER_VERSION: Readonly<Record<Os, string>> = { Windows: "1.1", Linux: "1.36" };
/** The Defender for SQL initiative pins AMA 1.2 on SQL VMs (docs/azure-domain.md §3.3). */
export const AMA_SQL_VM_HANDLER_VERSION = "1.2";
export const DEFENDER_FOR_SQL_HANDLER_VERSION = "2.0";

export function isExtension(extension: ExtensionIdentity, wanted: ExtensionIdentity): boolean {
  return extension.publisher.toLowerCase() === wanted.publisher.toLowerCase() && extension.type.toLowerCase() === wanted.type.toLowerCase();
}

export function isLegacyAgent(extension: ExtensionIdentity): boolean {
  return LEGACY_AGENTS.some((legacy) => isExtension(extension, legacy));
}
