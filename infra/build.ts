/**
 * Renders infra/templates/*.ts into the committed ARM JSON artifacts under infra/.
 *   node dist/infra/build.js           write infra/main.json, app.json, eventgrid-subscription.json
 *   node dist/infra/build.js --check   exit 1 when a committed file differs from what the sources render
 * Run from the repository root (npm scripts do).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderTemplates, serializeTemplate } from "./templates/render.js";

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function main(args: string[]): number {
  const check = args.includes("--check");
  const stale: string[] = [];
  for (const [file, template] of Object.entries(renderTemplates())) {
    const path = join(process.cwd(), "infra", file);
    const text = serializeTemplate(template);
    if (readOrEmpty(path) === text) continue;
    if (check) stale.push(path);
    else {
      writeFileSync(path, text);
      console.log(`wrote ${path}`);
    }
  }
  if (stale.length > 0) {
    console.error(`infra: out of date, run npm run infra:build: ${stale.join(", ")}`);
    return 1;
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
