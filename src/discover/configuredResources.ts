/**
 * What the settings name, read by id wherever it lives (outside the scope is fine for reading): the
 * custom workspace and the configured data collection rule. Neither is ever created; missing ones are
 * reported once instead of failing every machine.
 */
export async function readConfiguredResources(gateway: ArmGateway, settings: Settings): Promise<{ customWorkspace?: WorkspaceState; configuredRuleFound?: boolean }> {
  const [workspace, rule] = await Promise.all([readCustomWorkspace(gateway, settings), settings.dataCollectionRuleId ? gateway.getResource(settings.dataCollectionRuleId) : undefined]);
  return { ...workspace, ...(settings.dataCollectionRuleId ? { configuredRuleFound: rule !== undefined } : {}) };
}

/**
 * The configured custom workspace is read by id wherever it lives (it may sit outside the scope;
 * reading it is fine, writing to it is not). It is never created: when missing it is reported.
 */
import type { Settings } from "../config/settings.js";
import type { ArmGateway } from "../azure/gateway.js";
import type { WorkspaceState } from "../model.js";
import { toWorkspaceState } from "./normalise.js";

async function readCustomWorkspace(gateway: ArmGateway, settings: Settings): Promise<{ customWorkspace?: WorkspaceState }> {
  if (!settings.customWorkspaceId) return {};
  const raw = await gateway.getResource(settings.customWorkspaceId);
  const workspace = raw ? toWorkspaceState(raw) : undefined;
  return workspace ? { customWorkspace: workspace } : {};
}
