/** The settings tables in the docs list every setting loadSettings reads, so a new setting cannot ship undocumented. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SETTING_NAMES } from "../../src/config/settings.js";

const root = join(import.meta.dirname, "../..");

/** The first-column names of the first table under the document's `## Settings…` heading. */
function settingsTable(path: string): string[] {
  const lines = readFileSync(join(root, path), "utf8").split("\n");
  const rows: string[] = [];
  for (const line of lines.slice(lines.findIndex((line) => line.startsWith("## Settings")) + 1)) {
    if (line.startsWith("|")) rows.push(line);
    else if (rows.length > 0 || line.startsWith("## ")) break;
  }
  return rows.flatMap((row) => /^\| `([^`]+)` \|/.exec(row)?.slice(1) ?? []);
}

describe.each(["docs/design.md", "README.md"])("%s settings table", (path) => {
  it("lists every setting loadSettings reads", () => {
    const documented = settingsTable(path);
    expect(documented, "no settings table under a ## Settings heading").not.toEqual([]);
    expect(SETTING_NAMES.filter((name) => !documented.includes(name))).toEqual([]);
  });
});
