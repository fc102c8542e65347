/**
 * Plans stored by dry runs through the Function App, applied later with `POST /api/runs {planId}`: the
 * dry run's id is the plan's. Each work item of a dry run stores its part with its run record; applying
 * reads the parts back as one saved plan and refuses it whole when the settings or its age say so.
 */
import { InputError } from "../errors.js";
import { savedPlanOfParts, type SavedPlan, type StoredPlanPart } from "../plan/savedPlan.js";
import { parseStoredPlanParts } from "../schemas.js";
import type { Service } from "./service.js";

export type StoredPlan = { readonly saved: SavedPlan } | { readonly refused: { readonly status: 404 | 409; readonly reason: string } };

/**
 * The plan dry run `planId` stored, or why there is none to apply: 404 no such run; 409 not a finished dry
 * run, or its parts unreadable or planned under differing settings. Whether the plan may still be applied
 * (age, today's settings) is `wholePlanRefusal`'s to say: the runs API asks before queuing, the engine always.
 */
export async function storedPlan(service: Service, planId: string): Promise<StoredPlan> {
  const run = await service.state.runs.summary(planId);
  if (!run) return { refused: { status: 404, reason: `no run ${planId}` } };
  if (!run.dryRun) return { refused: { status: 409, reason: `run ${planId} was not a dry run: it has no plan to apply` } };
  if (run.status !== "succeeded") return { refused: { status: 409, reason: `dry run ${planId} is ${run.status}: apply a plan once its dry run has succeeded` } };
  let parts: StoredPlanPart[];
  try {
    parts = parseStoredPlanParts((await service.state.runs.planParts(planId)) ?? []);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return { refused: { status: 409, reason: `dry run ${planId} stored a plan this version cannot read (${error.message})` } };
  }
  if (new Set(parts.map((part) => JSON.stringify(part.settings))).size > 1) return { refused: { status: 409, reason: `dry run ${planId} was planned under settings that changed while it ran: make a new plan` } };
  const saved = savedPlanOfParts(planId, run.createdAt, parts);
  return saved ? { saved } : { refused: { status: 409, reason: `dry run ${planId} stored no plan (runs made before plans were stored, or an events run)` } };
}

/** For a work item: the saved plan, or a terminal InputError (the plan is gone); the engine refuses it whole when it must. */
export async function requireStoredPlan(service: Service, planId: string): Promise<SavedPlan> {
  const found = await storedPlan(service, planId);
  if ("refused" in found) throw new InputError(found.refused.reason, "planId");
  return found.saved;
}
