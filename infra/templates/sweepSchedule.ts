/**
 * How long the timer sweep may stay silent before the missed-sweep alert fires: twice the longest gap
 * between two firings of SWEEP_SCHEDULE (NCRONTAB, six fields: second minute hour day month day-of-week).
 *
 * A log search alert looks back at most two days (docs/infra-checks.md), so only a schedule that fires
 * every day can be watched: its day, month and day-of-week fields must be `*`. Its firings then repeat
 * daily, and the longest gap is found within one day (the last firing wraps to the next day's first).
 *
 * No imports: infra/deploy.ts, which Node runs from its source, loads this file too. The syntax checked
 * here is the subset of src/config/ncrontab.ts's that the second, minute and hour fields take (numbers,
 * `*`, `a-b`, `/step`, comma lists); test/infra/sweepSchedule.test.ts holds the two to agree.
 */

/** The longest look-back of a log search alert, in minutes. */
export const ALERT_LOOKBACK_LIMIT_MINUTES = 2 * 24 * 60;

const SECONDS_PER_DAY = 24 * 60 * 60;

interface TimeField {
  readonly name: string;
  readonly max: number;
}

const TIME_FIELDS: readonly TimeField[] = [
  { name: "second", max: 59 },
  { name: "minute", max: 59 },
  { name: "hour", max: 23 },
];

/** Minutes without a sweep after which the missed-sweep alert fires: twice the longest gap, rounded up. */
export function missedSweepAlertMinutes(schedule: string): number {
  return Math.ceil((2 * longestGapSeconds(schedule)) / 60);
}

/** The longest time between two consecutive firings of a daily schedule, in seconds. Throws when it is not one. */
export function longestGapSeconds(schedule: string): number {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 6) throw new Error(`'${schedule}' is not a six-field NCRONTAB expression (second minute hour day month day-of-week)`);
  if (fields.slice(3).some((field) => field !== "*")) {
    throw new Error(`'${schedule}' does not fire every day (its day, month and day-of-week fields must be *): a log search alert looks back at most two days`);
  }
  const [seconds, minutes, hours] = TIME_FIELDS.map((field, index) => valuesOf(fields[index] as string, field, schedule));
  const firings = hours!.flatMap((hour) => minutes!.flatMap((minute) => seconds!.map((second) => hour * 3600 + minute * 60 + second)));
  let longest = firings[0]! + SECONDS_PER_DAY - firings.at(-1)!;
  for (let index = 1; index < firings.length; index++) longest = Math.max(longest, firings[index]! - firings[index - 1]!);
  return longest;
}

/** The values a field fires at, ascending: comma-separated parts of `*`, `n` or `a-b`, each optionally `/step` (`n/step` runs to the field's end). */
function valuesOf(text: string, field: TimeField, schedule: string): number[] {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const problem = new Error(`'${schedule}': ${field.name} '${part}' is not a value, range or step within 0-${field.max}`);
    const match = /^(?:(\*)|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match) throw problem;
    const [, star, low, high, step] = match;
    const first = star ? 0 : Number(low);
    const last = star || (high === undefined && step !== undefined) ? field.max : Number(high ?? low);
    const by = step === undefined ? 1 : Number(step);
    if (last > field.max || first > last || by < 1) throw problem;
    for (let value = first; value <= last; value += by) values.add(value);
  }
  return [...values].sort((a, b) => a - b);
}
