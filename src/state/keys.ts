/**
 * Table Storage keys. PartitionKey/RowKey may not contain `/ \ # ?` or control characters and are at most
 * 1 KiB; ids that reach a key are either validated to a safe alphabet or hashed.
 */
import { createHash } from "node:crypto";
import { InputError } from "../errors.js";

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const WORK_ITEM_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const PLAIN_KEY = /^[A-Za-z0-9_.:@-]{1,200}$/;

export function isRunId(value: unknown): value is string {
  return typeof value === "string" && RUN_ID.test(value);
}

export function assertRunId(value: unknown): string {
  if (!isRunId(value)) throw new InputError("runId must be 1-64 letters, digits, '-' or '_'", "runId");
  return value;
}

export function isWorkItemId(value: unknown): value is string {
  return typeof value === "string" && WORK_ITEM_ID.test(value);
}

export function assertWorkItemId(value: unknown): string {
  if (!isWorkItemId(value)) throw new InputError("workItemId must be 1-128 letters, digits, '-', '_', '.' or ':'", "workItemId");
  return value;
}

/** A row key for an arbitrary string: the string itself when it is plain, its SHA-256 otherwise. */
export function rowKeyFor(key: string): string {
  return PLAIN_KEY.test(key) ? key : `sha256-${sha256Hex(key)}`;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** Sorts newest first as a string: 13 digits of (max - epoch ms), good until the year 2286. */
export function invertedTimestamp(epochMs: number): string {
  return String(9_999_999_999_999 - epochMs).padStart(13, "0");
}

/** Sorts oldest first as a string. */
export function timestampKey(epochMs: number): string {
  return String(epochMs).padStart(13, "0");
}
