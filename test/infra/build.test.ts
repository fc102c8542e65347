import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderTemplates, serializeTemplate } from "../../infra/templates/render.js";
import { INFRA_FILES } from "./templateLint.js";

describe("committed infra/*.json", () => {
  const rendered = renderTemplates();

  it("are exactly the files the build renders", () => {
    expect(Object.keys(rendered).sort()).toEqual([...INFRA_FILES].sort());
  });

  it.each(Object.keys(rendered))("infra/%s is up to date with infra/templates (run npm run infra:build)", (file) => {
    const committed = readFileSync(join(import.meta.dirname, "../../infra", file), "utf8");
    expect(committed).toBe(serializeTemplate(rendered[file]!));
  });
});
