/** CREATED_RESOURCE_TAGS is refused at start, naming the setting, unless Azure would take every tag in it. */
import { describe, expect, it } from "vitest";
import { loadSettings } from "../../src/config/settings.js";
import { SettingsError } from "../../src/errors.js";

const load = (tags: string, extra: Record<string, string> = {}) => loadSettings({ CREATED_RESOURCE_TAGS: tags, ...extra });
const manyTags = (count: number) => JSON.stringify(Object.fromEntries(Array.from({ length: count }, (_, index) => [`tag${index}`, "x"])));

describe("CREATED_RESOURCE_TAGS", () => {
  it("unset: no tags", () => {
    expect(loadSettings({}).createdResourceTags).toEqual({});
  });

  it.each([
    { case: "two tags", value: '{"costCenter":"security-ops","owner":"platform"}', tags: { costCenter: "security-ops", owner: "platform" } },
    { case: "an empty value", value: '{"reviewed":""}', tags: { reviewed: "" } },
    { case: "49 tags (one left for the service's createdBy)", value: manyTags(49), tags: JSON.parse(manyTags(49)) as Record<string, string> },
    { case: "a 512-character name and a 256-character value", value: JSON.stringify({ ["n".repeat(512)]: "v".repeat(256) }), tags: { ["n".repeat(512)]: "v".repeat(256) } },
    { case: "the opt-out tag with another value", value: '{"ama-remediation":"managed"}', tags: { "ama-remediation": "managed" } },
  ])("accepts $case", ({ value, tags }) => {
    expect(load(value).createdResourceTags).toEqual(tags);
  });

  it.each([
    { case: "not JSON", value: "costCenter=security-ops", why: "is not JSON" },
    { case: "an array", value: '["costCenter"]', why: "expected a JSON object" },
    { case: "null", value: "null", why: "expected a JSON object" },
    { case: "a number value", value: '{"costCenter":42}', why: 'tag "costCenter" has a number value' },
    { case: "a null value", value: '{"costCenter":null}', why: 'tag "costCenter" has a null value' },
    { case: "more than 49 tags", value: manyTags(50), why: "50 tags; at most 49" },
    { case: "a name over 512 characters", value: JSON.stringify({ ["n".repeat(513)]: "x" }), why: "longer than 512 characters" },
    { case: "a value over 256 characters", value: JSON.stringify({ owner: "v".repeat(257) }), why: "value longer than 256 characters" },
    ...["<", ">", "%", "&", "\\", "?", "/"].map((character) => ({ case: `a name with ${character}`, value: JSON.stringify({ [`cost${character}center`]: "x" }), why: "contains one of < > % & \\ ? /" })),
    { case: "an empty name", value: '{" ":"x"}', why: "a tag name is empty" },
    { case: "one name in two casings", value: '{"Owner":"a","owner":"b"}', why: "appears twice" },
    { case: "the opt-out tag set to skip", value: '{"AMA-Remediation":"skip"}', why: "is the opt-out tag" },
  ])("refuses $case", ({ value, why }) => {
    let thrown: unknown;
    try {
      load(value);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SettingsError);
    expect(thrown).toMatchObject({ field: "CREATED_RESOURCE_TAGS", message: expect.stringMatching(/^CREATED_RESOURCE_TAGS: /) });
    expect((thrown as Error).message).toContain(why);
  });

  it("checks the opt-out tag that is configured, not the default", () => {
    expect(() => load('{"keep-out":"skip"}', { OPT_OUT_TAG: "keep-out" })).toThrow(/is the opt-out tag/);
    expect(load('{"ama-remediation":"skip"}', { OPT_OUT_TAG: "keep-out" }).createdResourceTags).toEqual({ "ama-remediation": "skip" });
  });
});

describe("OPT_OUT_TAG", () => {
  it("is held to the same tag-name rules", () => {
    expect(() => loadSettings({ OPT_OUT_TAG: "skip/me" })).toThrow(/^OPT_OUT_TAG: not a valid Azure tag name/);
  });
});
