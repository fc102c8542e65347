/**
 * A saved plan: what `ama-remediator plan --out` writes for a change board to review and `apply`
 * executes later (Terraform's `plan -out` habit). It carries the plan (every write, its body, what it
 * observed, why), the scope it covered and the settings it was planned under, so apply can refuse it
 * whole when it is too old or was made for other settings, and refuse single items that went stale.
 * A plan file is read back through src/schemas.ts (`parseSavedPlan`), like every shape from outside.
 */
import type { Settings } from "../config/settings.js";
import type { Plan } from "./plan.js";

export const SAVED_PLAN_FORMAT = "ama-remediator/plan";

/** What a run covered: the plan's subscriptions (a sweep) or the machines it named. */
export interface PlanScope {
  readonly subscriptions: readonly string[];
  readonly resourceIds: readonly string[];
}

export interface SavedPlan {
  readonly format: typeof SAVED_PLAN_FORMAT;
  readonly planId: string;
  readonly createdAt: string;
  readonly scope: PlanScope;
  /** The settings that shape a plan, as they were (none of them secret). */
  readonly settings: PlanningSettings;
  readonly plan: Plan;
}

/** Every setting that changes what is planned or where it is written; the rest (timings, logging) do not. */
export type PlanningSettings = Readonly<Record<(typeof PLANNING_SETTINGS)[number], string>>;

export const PLANNING_SETTINGS = [
  "ARM_ENDPOINT",
  "REMEDIATION_SUBSCRIPTIONS",
  "REMEDIATION_PROFILES",
  "LOG_ANALYTICS_WORKSPACE_ID",
  "DATA_COLLECTION_RULE_ID",
  "OPT_OUT_TAG",
  "CREATED_RESOURCE_TAGS",
  "REMOVE_LEGACY_MMA",
  "SCOPE_TO_SUPPORTED_IMAGES",
  "SQL_MODE",
] as const;

export function planningSettings(settings: Settings): PlanningSettings {
  return {
    ARM_ENDPOINT: settings.armEndpoint,
    REMEDIATION_SUBSCRIPTIONS: [...settings.subscriptions].sort().join(","),
    REMEDIATION_PROFILES: [...settings.profiles].sort().join(","),
    LOG_ANALYTICS_WORKSPACE_ID: (settings.customWorkspaceId ?? "").toLowerCase(),
    DATA_COLLECTION_RULE_ID: (settings.dataCollectionRuleId ?? "").toLowerCase(),
    OPT_OUT_TAG: settings.optOutTag.toLowerCase(),
    CREATED_RESOURCE_TAGS: JSON.stringify(Object.entries(settings.createdResourceTags).sort(([a], [b]) => a.localeCompare(b))),
    REMOVE_LEGACY_MMA: String(settings.removeLegacyMma),
    SCOPE_TO_SUPPORTED_IMAGES: String(settings.scopeToSupportedImages),
    SQL_MODE: settings.sqlMode,
  };
}

export function savedPlan(planId: string, plan: Plan, scope: PlanScope, settings: Settings): SavedPlan {
  return { format: SAVED_PLAN_FORMAT, planId, createdAt: plan.createdAt, scope, settings: planningSettings(settings), plan };
}

/**
 * Why the whole plan must not be applied (too old, other settings), or undefined. A plan is a
 * picture of Azure at one time: past PLAN_MAX_AGE_HOURS too much has moved for its review to mean much.
 */
export function wholePlanRefusal(saved: SavedPlan, settings: Settings, now = new Date()): string | undefined {
  const maxAgeHours = settings.planMaxAgeHours;
  const ageHours = (now.getTime() - Date.parse(saved.createdAt)) / 3_600_000;
  if (ageHours > maxAgeHours) return `plan ${saved.planId} was made ${ageHours.toFixed(1)} h ago, more than PLAN_MAX_AGE_HOURS (${maxAgeHours} h): make a new plan`;
  if (ageHours < -0.1) return `plan ${saved.planId} is dated in the future (${saved.createdAt})`;
  const current = planningSettings(settings);
  const differing = PLANNING_SETTINGS.filter((name) => current[name] !== saved.settings[name]);
  if (differing.length > 0) return `plan ${saved.planId} was made for other settings (${differing.join(", ")} differ): make a new plan`;
  return undefined;
}

/** What a dry run's work item stores of its plan (the runs API applies it later): the part and what it was made under. */
export interface StoredPlanPart {
  readonly settings: PlanningSettings;
  readonly subscriptions: readonly string[];
  readonly plan: Plan;
}

export function storedPlanPart(plan: Plan, subscriptions: readonly string[], settings: Settings): StoredPlanPart {
  return { settings: planningSettings(settings), subscriptions, plan };
}

/**
 * A dry run's stored parts as one saved plan whose id is the run's. Applied through the runs API, it is
 * discovered again as sweeps of the subscriptions it covered.
 */
export function savedPlanOfParts(runId: string, createdAt: Date, parts: readonly StoredPlanPart[]): SavedPlan | undefined {
  const [first] = parts;
  if (!first) return undefined;
  return {
    format: SAVED_PLAN_FORMAT,
    planId: runId,
    createdAt: createdAt.toISOString(),
    scope: { subscriptions: [...new Set(parts.flatMap((part) => part.subscriptions))], resourceIds: [] },
    settings: first.settings,
    plan: {
      ...first.plan,
      createdAt: createdAt.toISOString(),
      items: parts.flatMap((part) => part.plan.items),
      assessments: parts.flatMap((part) => part.plan.assessments),
      findings: parts.flatMap((part) => part.plan.findings),
    },
  };
}
