import { describe, expect, it } from "vitest";
import { KqlError, parseKql, runKql, typeRestriction } from "./kql.js";

const rows = [
  { name: "b", type: "microsoft.compute/virtualmachines", tags: { "ama-remediation": "skip" }, properties: { osName: "Windows" } },
  { name: "a", type: "microsoft.hybridcompute/machines", tags: {}, properties: { osName: "linux" } },
  { name: "c", type: "microsoft.compute/virtualmachines", tags: {}, properties: {} },
];
const run = (query: string): unknown[] => runKql(parseKql(query), rows);

describe("kql subset", () => {
  it.each([
    ["resources | where name == 'a'", ["a"]],
    ["resources | where properties.osName =~ 'WINDOWS'", ["b"]],
    ["resources | where tags['ama-remediation'] != 'skip' | order by name asc", ["a", "c"]],
    ["resources | where isempty(properties.osName) or name !~ 'B'", ["a", "c"]],
    ["resources | where type !in~ ('MICROSOFT.HYBRIDCOMPUTE/MACHINES') and not(name contains 'c')", ["b"]],
    ["resources | where name startswith 'a' or tostring(properties.osName) == 'Windows'", ["b", "a"]],
    ["resources | order by name | take 2", ["c", "b"]],
  ])("%s", (query, names) => {
    expect(run(query).map((r) => (r as { name: string }).name)).toEqual(names);
  });

  it("projects with aliases and KQL's names for paths", () => {
    expect(run("resources | where name == 'b' | project name, properties.osName, os = tolower(properties.osName)")).toEqual([
      { name: "b", properties_osName: "Windows", os: "windows" },
    ]);
  });

  it.each(["resources | summarize count()", "resources | where", "resources | where name == 'x", "resources | where strlen(name) > 1"])(
    "rejects %s",
    (query) => expect(() => parseKql(query)).toThrow(KqlError),
  );

  it("finds the type restriction of the first where", () => {
    expect(typeRestriction(parseKql("resources | where type in~ ('A', 'b') and name == 'x'"))).toEqual(["a", "b"]);
    expect(typeRestriction(parseKql("resources | where type == 'a' or name == 'x'"))).toBeUndefined();
  });
});
