/**
 * The benchmark's results: a Markdown table per run (bench/results/<date>.md) and a hand-written SVG
 * chart of reads against estate size, the service's sweep beside the naive evaluator and the bound.
 */
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Outcome } from "./protocol.js";

/** Requests as the emulator counted them during one scenario. */
export interface Measured {
  /** ARM GETs (not polls). */
  readonly armReads: number;
  /** Resource Graph queries (one per page). */
  readonly graphQueries: number;
  /** Long-running operation status polls. */
  readonly polls: number;
  /** armReads + graphQueries + polls. */
  readonly reads: number;
  /** PUT, PATCH and DELETE, whatever their status (429s included). */
  readonly writes: number;
  /** Writes ARM accepted (2xx). */
  readonly successfulWrites: number;
  /** Accepted writes beyond the first to the same method and resource. */
  readonly redundantWrites: number;
  /** Responses 429 (ARM buckets or Resource Graph quota), all counted in the figures above. */
  readonly throttled: number;
  /** The service process from spawn to exit (includes start-up). */
  readonly processWallMs: number;
  /** The lowest level any subscription's ARM bucket reached, as a share of its size (null: bucket unused or off). */
  readonly lowestRemaining: { readonly reads: number | null; readonly writes: number | null };
}

export interface Target {
  readonly name: string;
  readonly target: string;
  readonly actual: string;
  /** undefined: reported only. */
  readonly met: boolean | undefined;
}

export interface Row {
  readonly scenario: string;
  readonly group: "converged" | "incremental" | "drifted" | "burst" | "event";
  /** ARM seconds per wall second when it differs from the run's (`--time-scale`): times are then also shown in ARM seconds. */
  readonly timeScale?: number;
  readonly implementation: "service" | "naive";
  readonly machines: number;
  readonly subscriptions: number;
  readonly measured: Measured;
  readonly outcome: Outcome;
  /** reads: a request count; seconds: a time (measuredMs is what it is compared with); none. */
  readonly bound: { readonly kind: "reads" | "seconds" | "none"; readonly value: number; readonly note: string; readonly measuredMs?: number };
  readonly targets: readonly Target[];
}

export interface BenchResults {
  /** Names the results file after the date when set (`<date>-<label>.md`); `-quick` follows for a quick run. */
  readonly label?: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly quick: boolean;
  readonly model: { readonly latencyMs: number; readonly jitterMs: number; readonly timeScale: number; readonly seed: number; readonly pollIntervalMs: number };
  readonly rows: readonly Row[];
  /** Paragraphs on models some rows use besides the run's (printed under the model). */
  readonly modelNotes?: readonly string[];
}

export async function writeResults(directory: string, results: BenchResults): Promise<string[]> {
  const base = `${results.startedAt.slice(0, 10)}${results.label ? `-${results.label}` : ""}${results.quick ? "-quick" : ""}`;
  const svgName = `${base}.svg`;
  const markdownPath = join(directory, `${base}.md`);
  const svgPath = join(directory, svgName);
  // The chart plots the converged sweeps: a run without them has none.
  const charted = results.rows.some((row) => row.group === "converged");
  await writeFile(markdownPath, markdown(results, charted ? svgName : undefined));
  if (charted) await writeFile(svgPath, chart(results));
  process.stdout.write(`${table(results)}\n`);
  return charted ? [markdownPath, svgPath] : [markdownPath];
}

function ratio(row: Row): string {
  if (row.bound.kind === "reads") return `${(row.measured.reads / row.bound.value).toFixed(2)}x`;
  if (row.bound.kind === "seconds") return row.bound.value > 0 ? `${((row.bound.measuredMs ?? 0) / 1000 / row.bound.value).toFixed(2)}x` : "n/a";
  return "—";
}

function boundText(row: Row): string {
  if (row.bound.kind === "reads") return `${row.bound.value} reads`;
  if (row.bound.kind === "seconds") return row.timeScale ? `${(row.bound.value * row.timeScale).toFixed(0)} ARM s` : `${row.bound.value.toFixed(1)} s`;
  return "—";
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** Wall seconds, and ARM seconds for a row at its own time scale. */
function wallText(row: Row): string {
  const wall = seconds(row.outcome.wallMs);
  return row.timeScale ? `${wall} (${((row.outcome.wallMs / 1000) * row.timeScale).toFixed(0)} ARM s)` : wall;
}

function table(results: BenchResults): string {
  const header = "| scenario | impl | machines | subs | reads (GET / ARG / polls) | writes (ok / redundant) | 429s | requests per machine | wall s | peak RSS MiB | CPU s | lower bound | ratio |";
  const rule = "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|";
  const lines = results.rows.map((row) => {
    const m = row.measured;
    const o = row.outcome;
    const perMachine = (m.reads + m.writes) / Math.max(1, row.machines);
    return `| ${row.scenario} | ${row.implementation} | ${row.machines.toLocaleString("en-US")} | ${row.subscriptions} | ${m.reads.toLocaleString("en-US")} (${m.armReads} / ${m.graphQueries} / ${m.polls}) | ${m.writes} (${m.successfulWrites} / ${m.redundantWrites}) | ${m.throttled} | ${perMachine.toFixed(3)} | ${wallText(row)} | ${o.peakRssMiB.toFixed(0)} | ${seconds(o.cpuUserMs + o.cpuSystemMs)} | ${boundText(row)} | ${ratio(row)} |`;
  });
  return [header, rule, ...lines].join("\n");
}

function targets(results: BenchResults): string {
  const lines = ["| scenario | target | goal | measured | met |", "|---|---|---|---|---|"];
  for (const row of results.rows) {
    for (const target of row.targets) lines.push(`| ${row.scenario} | ${target.name} | ${target.target} | ${target.actual} | ${target.met === undefined ? "—" : target.met ? "yes" : "**no**"} |`);
  }
  return lines.join("\n");
}

function notes(results: BenchResults): string {
  return results.rows.filter((row) => row.bound.note).map((row) => `- **${row.scenario}** (${row.implementation}): ${row.bound.note}`).join("\n");
}

function revision(): string {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { encoding: "utf8" }).trim() !== "";
    return `${commit}${dirty ? " with uncommitted changes under src/" : ""}`;
  } catch {
    return "unknown";
  }
}

function markdown(results: BenchResults, svgName: string | undefined): string {
  const { model } = results;
  return `# Benchmark ${results.startedAt.slice(0, 10)}${results.label ? ` (${results.label}${results.quick ? ", quick" : ""})` : results.quick ? " (quick)" : ""}

Source: ${revision()}. Run took ${seconds(results.durationMs)} s. Node ${process.version}, ${process.platform}/${process.arch}.

Model: every ARM request ${model.latencyMs} ms + up to ${model.jitterMs} ms seeded jitter (seed ${model.seed}); ARM buckets per subscription
250 reads + 25/s, 200 writes + 10/s; Resource Graph 15 queries / 5 s.${results.rows.some((row) => !row.timeScale) ? `${results.modelNotes ? " Rows without ARM seconds:" : ""} emulator time scale ${model.timeScale}
(${model.timeScale === 1 ? "real ARM rates: wall time is emulator time" : `buckets refill ${model.timeScale}x faster: emulator time = quota-bound wall time x ${model.timeScale}`});
long-running operations answer one InProgress poll, the service polls every ${model.pollIntervalMs} ms.` : ""}
${(results.modelNotes ?? []).map((note) => `\n${note}\n`).join("")}
## Figures

Reads are ARM GETs + Resource Graph queries (one per page) + long-running-operation polls; writes are every PUT/PATCH/DELETE
sent, 429s included (429s are also counted in their own column). Requests per machine = (reads + writes) / machines.
Wall time is the job inside the service process; peak RSS is that process's maxRSS.

${table(results)}
${svgName ? `\n![reads vs estate size](${svgName})\n` : ""}
## Targets

${targets(results)}

## How each bound was computed

${notes(results)}
`;
}

/** Reads vs machines, log-log: the service's sweep, the naive evaluator and the Resource Graph floor. */
export function chart(results: BenchResults): string {
  const converged = results.rows.filter((row) => row.group === "converged");
  const series = [
    { name: "naive per-machine evaluator", colour: "#d62728", points: converged.filter((row) => row.implementation === "naive").map((row) => [row.machines, row.measured.reads] as const) },
    { name: "ama-remediator sweep", colour: "#1f77b4", points: converged.filter((row) => row.implementation === "service").map((row) => [row.machines, row.measured.reads] as const) },
    { name: "lower bound (Resource Graph pages)", colour: "#2ca02c", dashed: true, points: converged.filter((row) => row.implementation === "service").map((row) => [row.machines, row.bound.value] as const) },
  ];
  const width = 640;
  const height = 400;
  const margin = { left: 70, right: 20, top: 40, bottom: 50 };
  const all = series.flatMap((line) => line.points);
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const xMin = Math.log10(Math.min(...xs, 1000));
  const xMax = Math.log10(Math.max(...xs, 100_000));
  const yMin = Math.floor(Math.log10(Math.max(1, Math.min(...ys))));
  const yMax = Math.ceil(Math.log10(Math.max(...ys, 10)));
  const px = (x: number) => margin.left + ((Math.log10(x) - xMin) / Math.max(1e-9, xMax - xMin)) * (width - margin.left - margin.right);
  const py = (y: number) => height - margin.bottom - ((Math.log10(Math.max(1, y)) - yMin) / Math.max(1e-9, yMax - yMin)) * (height - margin.top - margin.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">Converged sweep: reads vs estate size (log-log)</text>`);
  for (let exponent = yMin; exponent <= yMax; exponent++) {
    const y = py(10 ** exponent);
    parts.push(`<line x1="${margin.left}" y1="${y}" x2="${width - margin.right}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${margin.left - 8}" y="${y + 4}" text-anchor="end">${(10 ** exponent).toLocaleString("en-US")}</text>`);
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(`<line x1="${px(x)}" y1="${margin.top}" x2="${px(x)}" y2="${height - margin.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${px(x)}" y="${height - margin.bottom + 18}" text-anchor="middle">${x.toLocaleString("en-US")}</text>`);
  }
  parts.push(`<text x="${width / 2}" y="${height - 10}" text-anchor="middle">machines (10 / 100 / 1,000 subscriptions)</text>`);
  parts.push(`<text x="16" y="${height / 2}" text-anchor="middle" transform="rotate(-90 16 ${height / 2})">read requests</text>`);
  parts.push(`<line x1="${margin.left}" y1="${height - margin.bottom}" x2="${width - margin.right}" y2="${height - margin.bottom}" stroke="black"/>`);
  parts.push(`<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${height - margin.bottom}" stroke="black"/>`);
  series.forEach((line, index) => {
    const points = [...line.points].sort((a, b) => a[0] - b[0]);
    if (points.length === 0) return;
    parts.push(`<polyline fill="none" stroke="${line.colour}" stroke-width="2"${line.dashed ? ' stroke-dasharray="6 4"' : ""} points="${points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")}"/>`);
    for (const [x, y] of points) {
      parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.5" fill="${line.colour}"/>`);
      if (!line.dashed) parts.push(`<text x="${(px(x) + 6).toFixed(1)}" y="${(py(y) - 6).toFixed(1)}" fill="${line.colour}">${y.toLocaleString("en-US")}</text>`);
    }
    const legendY = margin.top + 8 + index * 18;
    parts.push(`<line x1="${margin.left + 12}" y1="${legendY}" x2="${margin.left + 36}" y2="${legendY}" stroke="${line.colour}" stroke-width="2"${line.dashed ? ' stroke-dasharray="6 4"' : ""}/>`);
    parts.push(`<text x="${margin.left + 42}" y="${legendY + 4}">${line.name}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
