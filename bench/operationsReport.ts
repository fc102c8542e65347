/**
 * Results of the operations scenario (`npm run bench -- --operations`): reads per new machine against how long
 * ARM's long-running operations take, for the service's event path and the naive remediator, with and without
 * Retry-After. Written to bench/results/<date>-operations.md with a chart beside it.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface OperationsPoint {
  readonly implementation: "service" | "naive";
  /** Multiplier of every type's duration range (resourceTypes.ts `durationSeconds`). */
  readonly durationScale: number;
  /** The mean AMA install of the range at this scale, ARM seconds: the chart's x. */
  readonly meanInstallSeconds: number;
  /** ARM's Retry-After in ARM seconds; 0 = not sent. */
  readonly retryAfterSeconds: number;
  readonly machines: number;
  readonly gets: number;
  readonly polls: number;
  readonly queries: number;
  readonly writes: number;
  readonly throttled: number;
  readonly wallMs: number;
}

export interface OperationsResults {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly timeScale: number;
  readonly seed: number;
  /** Poll intervals when no Retry-After comes, ARM milliseconds. */
  readonly servicePollMs: number;
  readonly naivePollMs: number;
  readonly points: readonly OperationsPoint[];
}

const readsOf = (point: OperationsPoint): number => point.gets + point.polls + point.queries;
export const readsPerMachine = (point: OperationsPoint): number => readsOf(point) / Math.max(1, point.machines);

export function operationsTable(results: OperationsResults): string {
  const header = "| design | Retry-After | durations x | mean install s | machines | reads / machine | GET / polls / ARG | writes | 429s | wall s (ARM s) |\n|---|---|---|---|---|---|---|---|---|---|";
  const rows = results.points.map((p) =>
    `| ${p.implementation} | ${p.retryAfterSeconds > 0 ? `${p.retryAfterSeconds} s` : "none"} | ${p.durationScale} | ${p.meanInstallSeconds} | ${p.machines} | ${readsPerMachine(p).toFixed(1)} | ${p.gets} / ${p.polls} / ${p.queries} | ${p.writes} | ${p.throttled} | ${(p.wallMs / 1000).toFixed(1)} (${((p.wallMs / 1000) * results.timeScale).toFixed(0)}) |`,
  );
  return [header, ...rows].join("\n");
}

export async function writeOperationsResults(directory: string, results: OperationsResults): Promise<string[]> {
  const base = `${results.startedAt.slice(0, 10)}-operations`;
  const markdownPath = join(directory, `${base}.md`);
  const svgPath = join(directory, `${base}.svg`);
  await writeFile(markdownPath, markdown(results, `${base}.svg`));
  await writeFile(svgPath, operationsChart(results));
  process.stdout.write(`${operationsTable(results)}\n`);
  return [markdownPath, svgPath];
}

function markdown(results: OperationsResults, svgName: string): string {
  return `# Benchmark ${results.startedAt.slice(0, 10)} (operations)

Run took ${(results.durationMs / 1000).toFixed(0)} s. Node ${process.version}, ${process.platform}/${process.arch}.

Model: the emulator's \`durations\` operation model (seed ${results.seed}): AMA installs 60-240 s, VM identity PATCH
10-40 s, association PUTs synchronous, each range multiplied by "durations x"; time scale ${results.timeScale} (ARM seconds per wall
second, for operation durations, Retry-After and bucket refills alike). Without Retry-After the service polls every
${results.servicePollMs / 1000} s (ARM_POLL_INTERVAL_MS's default) and the naive remediator every ${results.naivePollMs / 1000} s (the SDK's default), both
in ARM time. Each row is a fresh estate: new VMs with no identity, no agent and no association (3 writes each) in one
subscription, handled by the service's event path (one \`reconcile({ resourceIds })\` for the subscription, as
bench/service.ts runs the burst) or by the naive remediator (bench/naive.ts \`naiveRemediate\`, 4 machines at once).

Reads are ARM GETs + operation polls + Resource Graph queries. The service's ARM reads (GET + polls) stay flat whatever the duration; what grows is its Resource Graph rounds (every 5 s, or Retry-After, while writes wait), which have their own quota. ARM's events for its operations are not relayed here (the bursts relay them).

${operationsTable(results)}

![reads per machine vs operation duration](${svgName})
`;
}

/** Reads per machine (y) against the mean install duration (x), one line per design and Retry-After. */
export function operationsChart(results: OperationsResults): string {
  const colours = { service: "#1f77b4", naive: "#d62728" } as const;
  const keys = [...new Set(results.points.map((p) => `${p.implementation}|${p.retryAfterSeconds}`))];
  const series = keys.map((key) => {
    const [implementation, retryAfter] = key.split("|") as ["service" | "naive", string];
    const points = results.points
      .filter((p) => p.implementation === implementation && String(p.retryAfterSeconds) === retryAfter)
      .map((p) => [p.meanInstallSeconds, readsPerMachine(p)] as const)
      .sort((a, b) => a[0] - b[0]);
    const name = `${implementation === "service" ? "ama-remediator (event path)" : "naive per-machine remediator"}, ${retryAfter === "0" ? "no Retry-After" : `Retry-After ${retryAfter} s`}`;
    return { name, colour: colours[implementation], dashed: retryAfter !== "0", points };
  });
  const width = 680;
  const height = 420;
  const margin = { left: 70, right: 20, top: 40, bottom: 50 };
  const xs = results.points.map((p) => p.meanInstallSeconds);
  const ys = results.points.map(readsPerMachine);
  const xMax = Math.max(...xs, 1);
  const yMax = niceCeiling(Math.max(...ys, 1));
  const px = (x: number): number => margin.left + (x / xMax) * (width - margin.left - margin.right);
  const py = (y: number): number => height - margin.bottom - (y / yMax) * (height - margin.top - margin.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">Reads per new machine vs operation duration</text>`);
  for (let step = 0; step <= 5; step++) {
    const y = (yMax / 5) * step;
    parts.push(`<line x1="${margin.left}" y1="${py(y)}" x2="${width - margin.right}" y2="${py(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${margin.left - 8}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(0)}</text>`);
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(`<line x1="${px(x)}" y1="${margin.top}" x2="${px(x)}" y2="${height - margin.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${px(x)}" y="${height - margin.bottom + 18}" text-anchor="middle">${x}</text>`);
  }
  parts.push(`<text x="${width / 2}" y="${height - 10}" text-anchor="middle">mean AMA install, ARM seconds (identity PATCH scaled alike)</text>`);
  parts.push(`<text x="16" y="${height / 2}" text-anchor="middle" transform="rotate(-90 16 ${height / 2})">reads per machine (GET + polls + ARG)</text>`);
  parts.push(`<line x1="${margin.left}" y1="${height - margin.bottom}" x2="${width - margin.right}" y2="${height - margin.bottom}" stroke="black"/>`);
  parts.push(`<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${height - margin.bottom}" stroke="black"/>`);
  series.forEach((line, index) => {
    const dash = line.dashed ? ' stroke-dasharray="6 4"' : "";
    parts.push(`<polyline fill="none" stroke="${line.colour}" stroke-width="2"${dash} points="${line.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")}"/>`);
    for (const [x, y] of line.points) {
      parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.5" fill="${line.colour}"/>`);
      parts.push(`<text x="${(px(x) + 6).toFixed(1)}" y="${(py(y) - 6).toFixed(1)}" fill="${line.colour}">${y.toFixed(1)}</text>`);
    }
    const legendY = margin.top + 8 + index * 18;
    parts.push(`<line x1="${margin.left + 12}" y1="${legendY}" x2="${margin.left + 36}" y2="${legendY}" stroke="${line.colour}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${margin.left + 42}" y="${legendY + 4}">${line.name}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / magnitude) * magnitude;
}
