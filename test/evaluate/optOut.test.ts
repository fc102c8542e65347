/** The opt-out tag with an end date: read against the run's clock, on machines, resource groups and subscriptions. */
import { describe, expect, it } from "vitest";
import { carriesOptOut, optOutTagValue, readOptOut, type OptOut } from "../../src/model.js";
import { evaluate, evaluateMachine } from "../../src/evaluate/evaluate.js";
import { optOutFindings, writeRefusal } from "../../src/evaluate/writeScope.js";
import { SUB, planOf, settingsWith, snapshot, subscription, vm } from "../support/snapshotBuilder.js";
import type { Snapshot } from "../../src/model.js";

const TAG = "ama-remediation";

describe("readOptOut: what the tag's value means at the run's clock", () => {
  it.each<[string, string | undefined, string, OptOut]>([
    ["no tag", undefined, "2026-12-31T12:00:00.000Z", { state: "none" }],
    ["skip", "skip", "2026-12-31T12:00:00.000Z", { state: "skip" }],
    ["skip in any case, padded", "  SKIP ", "2026-12-31T12:00:00.000Z", { state: "skip" }],
    ["the first moment of the date", "skip-until=2026-12-31", "2026-12-31T00:00:00.000Z", { state: "until", until: "2026-12-31" }],
    ["the last millisecond of the date (UTC)", "skip-until=2026-12-31", "2026-12-31T23:59:59.999Z", { state: "until", until: "2026-12-31" }],
    ["the day before", "skip-until=2026-12-31", "2026-12-30T08:00:00.000Z", { state: "until", until: "2026-12-31" }],
    ["midnight after the date", "skip-until=2026-12-31", "2027-01-01T00:00:00.000Z", { state: "expired", until: "2026-12-31" }],
    ["months after the date", "skip-until=2026-12-31", "2027-06-01T00:00:00.000Z", { state: "expired", until: "2026-12-31" }],
    ["any case, spaces around = and the value", " Skip-Until = 2026-12-31 ", "2026-12-31T23:00:00.000Z", { state: "until", until: "2026-12-31" }],
    ["a leap day that exists", "skip-until=2028-02-29", "2028-02-29T10:00:00.000Z", { state: "until", until: "2028-02-29" }],
  ])("%s", (_name, value, now, expected) => {
    expect(readOptOut(value, now)).toEqual(expected);
  });

  it.each([
    ["a day-first date", "skip-until=31/12/2026"],
    ["a date that does not exist", "skip-until=2026-02-30"],
    ["a month 13", "skip-until=2026-13-01"],
    ["no date", "skip-until"],
    ["no =", "skip-until 2026-12-31"],
    ["a time after the date", "skip-until=2026-12-31T10:00"],
    ["words", "SKIP-UNTIL=next year"],
  ])("%s is unparseable: treated as skip", (_name, value) => {
    expect(readOptOut(value, "2026-06-01T00:00:00.000Z")).toEqual({ state: "unparseable", value: value.trim() });
  });

  it.each(["maybe", "skipped", "no", "", "until=2026-12-31", "keep"])("%j is no opt-out (as before dates existed)", (value) => {
    expect(readOptOut(value, "2026-06-01T00:00:00.000Z")).toEqual({ state: "none" });
  });

  it("finds the tag whatever the case of its name; carriesOptOut is any opt-out, whatever its date", () => {
    expect(optOutTagValue({ "AMA-Remediation": " skip-until=2020-01-01 " }, TAG)).toBe("skip-until=2020-01-01");
    expect(carriesOptOut({ "AMA-Remediation": "skip-until=2020-01-01" }, TAG)).toBe(true);
    expect(carriesOptOut({ [TAG]: "skip-until=soon" }, TAG)).toBe(true);
    expect(carriesOptOut({ [TAG]: "maybe" }, TAG)).toBe(false);
    expect(carriesOptOut({ other: "skip" }, TAG)).toBe(false);
  });
});

/** The builder's clock: 2026-11-25T00:00:00Z. */
const PAST = "skip-until=2026-11-24";
const TODAY = "skip-until=2026-11-25";
const group = (name: string) => `/subscriptions/${SUB}/resourceGroups/${name}`;

describe("writes under a dated opt-out", () => {
  it.each<[string, string, string | undefined]>([
    ["a machine opted out through today", TODAY, "machine tagged ama-remediation: skip-until=2026-11-25 (opted out through that day, UTC)"],
    ["a machine whose opt-out ended yesterday", PAST, undefined],
    ["a machine with an unparseable date", "skip-until=25/11/2026", 'machine tagged ama-remediation: "skip-until=25/11/2026" is not skip-until=YYYY-MM-DD with a real date: treated as skip'],
    ["a machine tagged maybe", "maybe", undefined],
  ])("%s", (_name, value, expected) => {
    const machine = vm("vm-1", { tags: { [TAG]: value } });
    expect(writeRefusal(snapshot([machine]), TAG)(`${machine.id}/extensions/AzureMonitorWindowsAgent`)).toBe(expected);
  });

  it("a resource group's dated opt-out is read from its value", () => {
    const sub = subscription({ optedOutResourceGroups: { "rg-ended": PAST, "rg-later": "skip-until=2027-01-01", "rg-unknown": "skip" } });
    const refusal = writeRefusal(snapshot([], { subscriptions: [sub] }), TAG);
    expect(refusal(group("rg-ended"))).toBeUndefined();
    expect(refusal(group("RG-Later"))).toBe("resource group tagged ama-remediation: skip-until=2027-01-01 (opted out through that day, UTC)");
    expect(refusal(group("rg-unknown"))).toBe("resource group tagged ama-remediation: skip");
  });

  it("a subscription whose opt-out ended is in scope again; a later one still refuses", () => {
    expect(writeRefusal(snapshot([], { subscriptions: [subscription({ tags: { [TAG]: PAST } })] }), TAG)(group("DefaultResourceGroup-EUS"))).toBeUndefined();
    expect(writeRefusal(snapshot([], { subscriptions: [subscription({ tags: { [TAG]: "skip-until=2026-12-01" } })] }), TAG)(group("DefaultResourceGroup-EUS"))).toMatch(/^subscription tagged ama-remediation: skip-until=2026-12-01/);
  });
});

describe("what the report says of dated opt-outs", () => {
  it("an expired machine is in scope again, with a note saying so", () => {
    const machine = vm("vm-1", { tags: { [TAG]: PAST } });
    const assessment = evaluateMachine(machine, snapshot([machine]), settingsWith());
    expect(assessment).toMatchObject({ status: "inScope", notes: ["opt-out tag on machine expired on 2026-11-24: in scope again"] });
    expect(assessment.needs.length).toBeGreaterThan(0);
  });

  it("an unparseable machine is skipped with the reason", () => {
    const machine = vm("vm-1", { tags: { [TAG]: "skip-until=2026-02-30" } });
    expect(evaluateMachine(machine, snapshot([machine]), settingsWith())).toMatchObject({ status: "skipped", skipReason: expect.stringMatching(/"skip-until=2026-02-30" is not skip-until=YYYY-MM-DD .*treated as skip/) });
  });

  it("expired or unparseable opt-outs on a subscription and its resource groups are subscription findings", () => {
    const expiredSubscription = subscription({
      tags: { [TAG]: PAST },
      optedOutResourceGroups: { "rg-ended": "skip-until=2026-01-31", "rg-typo": "skip-until=31.01.2027", "rg-skip": "skip" },
    });
    const snap: Snapshot = snapshot([vm("vm-1")], { subscriptions: [expiredSubscription] });
    const messages = [
      `opt-out tag on subscription ${SUB} expired on 2026-11-24: in scope again`,
      "opt-out tag on resource group rg-ended expired on 2026-01-31: in scope again",
      'opt-out tag on resource group rg-typo: "skip-until=31.01.2027" is not skip-until=YYYY-MM-DD with a real date: treated as skip',
    ];
    expect(optOutFindings(snap, TAG)).toEqual(messages.map((message) => ({ subscriptionId: SUB, message })));
    // They reach the plan's findings, which the report lists per subscription.
    expect(planOf(snap, settingsWith()).findings.map((finding) => finding.message)).toEqual(expect.arrayContaining(messages));
  });

  it("groups inside a subscription that is still opted out are not mentioned; an unparseable subscription tag is", () => {
    const sub = subscription({ tags: { [TAG]: "skip-until=someday" }, optedOutResourceGroups: { "rg-ended": PAST } });
    const snap = snapshot([], { subscriptions: [sub] });
    expect(optOutFindings(snap, TAG)).toEqual([{ subscriptionId: SUB, message: `opt-out tag on subscription ${SUB}: "skip-until=someday" is not skip-until=YYYY-MM-DD with a real date: treated as skip` }]);
    expect(evaluate(snap, settingsWith()).subscriptions).toEqual([]);
  });
});
