/**
 * NCRONTAB as the Functions host reads a timer schedule: six fields, second first, each value within its
 * range. Checked at start so a typo fails the deployment's first invocation instead of the timer silently
 * never firing.
 */

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names the host accepts in place of numbers, in order from `min`. */
  readonly names?: readonly string[];
}

/** Field ranges, second first (day of week 0-6, Sunday = 0; names allowed for month and day of week). */
const FIELDS: readonly FieldSpec[] = [
  { name: "second", min: 0, max: 59 },
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
  { name: "day of week", min: 0, max: 6, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

/** Why `expression` is not a six-field NCRONTAB expression, or undefined when it is one. */
export function ncrontabProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== FIELDS.length) return `${fields.length} fields`;
  for (const [index, field] of fields.entries()) {
    for (const part of field.split(",")) {
      const problem = partProblem(part, FIELDS[index] as FieldSpec);
      if (problem) return problem;
    }
  }
  return undefined;
}

/** One comma-separated part of a field: `*`, `n` or `n-m`, each optionally `/step`. */
function partProblem(part: string, spec: FieldSpec): string | undefined {
  const [range, step, extra] = part.split("/");
  if (extra !== undefined || !range) return `${spec.name} "${part}"`;
  if (step !== undefined && !(/^\d+$/.test(step) && Number(step) > 0)) return `${spec.name} step "${step}"`;
  if (range === "*") return undefined;
  const [low = "", high, more] = range.split("-");
  if (more !== undefined) return `${spec.name} "${part}"`;
  for (const text of high === undefined ? [low] : [low, high]) {
    if (valueOf(text, spec) === undefined) return `${spec.name} "${text}" is outside ${spec.min}-${spec.max}`;
  }
  if (high !== undefined && (valueOf(low, spec) as number) > (valueOf(high, spec) as number)) return `${spec.name} range "${range}" runs backwards`;
  return undefined;
}

function valueOf(text: string, spec: FieldSpec): number | undefined {
  const named = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  const value = named >= 0 ? named + spec.min : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  return value >= spec.min && value <= spec.max ? value : undefined;
}
