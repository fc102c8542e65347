import { describe, expect, it } from "vitest";
import { KqlError, isOrdered, parseKql, runKql, typeRestriction } from "../src/kql.js";

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

  it("extends rows with new columns, each seeing the ones before, without changing the input", () => {
    expect(run("resources | where name == 'b' | extend os = tolower(properties.osName), shout = toupper(os) | project name, os, shout")).toEqual([
      { name: "b", os: "windows", shout: "WINDOWS" },
    ]);
    expect(rows[0]).not.toHaveProperty("os");
  });

  it("builds property bags with bag_pack() and its older name pack(), nested, keys kept as written", () => {
    expect(run("resources | where name == 'b' | project bag = bag_pack('Name', name, 'inner', pack('os', properties.osName, 'none', properties.missing))")).toEqual([
      { bag: { Name: "b", inner: { os: "Windows", none: null } } },
    ]);
  });

  it("orders by several keys, and `top n by` orders then takes", () => {
    expect(run("resources | order by type asc, name desc").map((r) => (r as { name: string }).name)).toEqual(["c", "b", "a"]);
    expect(run("resources | top 1 by name asc").map((r) => (r as { name: string }).name)).toEqual(["a"]);
  });

  it("matches dynamic keys with their case, and has/contains without case", () => {
    expect(run("resources | where tags['AMA-REMEDIATION'] == 'skip'")).toEqual([]);
    expect(run("resources | where tostring(tags) has 'AMA-remediation' | project name")).toEqual([{ name: "b" }]);
    expect(run("resources | where tostring(tags) has 'remediation-x' | project name")).toEqual([]);
    expect(run("resources | where type !has 'compute' | project name")).toEqual([{ name: "a" }]);
  });

  it("counts with summarize, by columns or in total", () => {
    expect(run("resources | summarize count() by type, os = tostring(properties.osName)")).toEqual([
      { type: "microsoft.compute/virtualmachines", os: "Windows", count_: 1 },
      { type: "microsoft.hybridcompute/machines", os: "linux", count_: 1 },
      { type: "microsoft.compute/virtualmachines", os: "", count_: 1 },
    ]);
    expect(run("resources | where name == 'none' | summarize n = count()")).toEqual([{ n: 0 }]);
  });

  it("compares datetimes made by todatetime() by time, orders by them, and puts them on the wire as ISO strings", () => {
    const changes = [
      { name: "late", properties: { at: "2026-11-30T10:05:00.000Z" } },
      { name: "early", properties: { at: "2026-11-30T09:55:00Z" } },
      { name: "exact", properties: { at: "2026-11-30T11:00:00+01:00" } },
      { name: "unparseable", properties: { at: "yesterday" } },
    ];
    const names = (query: string) => runKql(parseKql(query), changes).map((r) => (r as { name: string }).name);
    expect(names("changes | where todatetime(properties.at) >= todatetime('2026-11-30T10:00:00Z') | order by todatetime(properties.at) asc")).toEqual(["exact", "late"]);
    expect(names("changes | where todatetime(properties.at) > todatetime('2026-11-30T10:00:00Z')")).toEqual(["late"]);
    expect(names("changes | where todatetime(properties.at) < todatetime('2026-11-30T10:00:00Z') or todatetime(properties.at) <= todatetime('2026-11-30T10:00:00Z')")).toEqual(["early", "exact"]);
    // A datetime never compares with a string, nor an unparseable one with anything.
    expect(names("changes | where todatetime(properties.at) >= '2026-01-01'")).toEqual([]);
    expect(JSON.stringify(runKql(parseKql("changes | where name == 'exact' | project at = todatetime(properties.at)"), changes))).toBe('[{"at":"2026-11-30T10:00:00.000Z"}]');
  });

  it("knows whether a result has an order", () => {
    expect(isOrdered(parseKql("resources | order by name | project name"))).toBe(true);
    expect(isOrdered(parseKql("resources | top 3 by name"))).toBe(true);
    expect(isOrdered(parseKql("resources | order by name | summarize count() by type"))).toBe(false);
    expect(isOrdered(parseKql("resources | take 3"))).toBe(false);
  });

  it.each([
    "resources | summarize make_list(id)",
    "resources | summarize count() by 'x'",
    "resources | extend name",
    "resources | project bag_pack('a')",
    "resources | where",
    "resources | where name == 'x",
    "resources | where strlen(name) > 1",
    "resources | where todatetime(name, 1) > 1",
  ])(
    "rejects %s",
    (query) => expect(() => parseKql(query)).toThrow(KqlError),
  );

  it("finds the type restriction of the first where", () => {
    expect(typeRestriction(parseKql("resources | where type in~ ('A', 'b') and name == 'x'"))).toEqual(["a", "b"]);
    expect(typeRestriction(parseKql("resources | where type == 'a' or name == 'x'"))).toBeUndefined();
  });
});
