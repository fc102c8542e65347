/** toArmError reads the policies that denied a write from ARM's additionalInfo, wherever the SDK left the body. */
import { describe, expect, it } from "vitest";
import { toArmError } from "../src/errors.js";

const ASSIGNMENT = "/subscriptions/11111111-1111-4111-8111-111111111111/providers/Microsoft.Authorization/policyAssignments/require-cc";
/** The shape of Microsoft Learn's RequestDisallowedByPolicy example (trimmed). */
const body = {
  error: {
    code: "RequestDisallowedByPolicy",
    target: "ws1",
    message: "Resource 'ws1' was disallowed by policy. Policy identifiers: '[…]'.",
    additionalInfo: [
      { type: "SomethingElse", info: { policyAssignmentId: "/not/this/one" } },
      {
        type: "PolicyViolation",
        info: {
          policyDefinitionDisplayName: "Require a tag on resources",
          policyDefinitionId: "/providers/Microsoft.Authorization/policyDefinitions/871b6d14-10aa-478d-b590-94f262ecfa99",
          policyDefinitionEffect: "Deny",
          policyAssignmentId: ASSIGNMENT,
          policyAssignmentName: "require-cc",
          policyAssignmentDisplayName: "Require costCenter",
        },
      },
    ],
  },
};
const violation = {
  policyAssignmentId: ASSIGNMENT,
  policyAssignmentName: "require-cc",
  policyAssignmentDisplayName: "Require costCenter",
  policyDefinitionId: "/providers/Microsoft.Authorization/policyDefinitions/871b6d14-10aa-478d-b590-94f262ecfa99",
  policyDefinitionDisplayName: "Require a tag on resources",
};
const restError = (extra: Record<string, unknown>) => Object.assign(new Error("Resource 'ws1' was disallowed by policy."), { statusCode: 403, code: "RequestDisallowedByPolicy" }, extra);

describe("toArmError and deny policies", () => {
  it.each([
    { case: "the error's parsed details (core-client)", thrown: restError({ details: body }), responseBody: undefined },
    { case: "the raw response's text", thrown: restError({ response: { bodyAsText: JSON.stringify(body) } }), responseBody: undefined },
    { case: "a poller's error without the body, given the failed response's body", thrown: restError({ response: { status: 403 } }), responseBody: body },
  ])("from $case", ({ thrown, responseBody }) => {
    const error = toArmError(thrown, responseBody);
    expect(error).toMatchObject({ code: "RequestDisallowedByPolicy", statusCode: 403, policyViolations: [violation] });
  });

  it("an assignment name missing from the info is the last segment of its id", () => {
    const info = { policyAssignmentId: ASSIGNMENT };
    expect(toArmError(restError({ details: { error: { code: "RequestDisallowedByPolicy", additionalInfo: [{ type: "PolicyViolation", info }] } } })).policyViolations).toEqual([{ policyAssignmentId: ASSIGNMENT, policyAssignmentName: "require-cc" }]);
  });

  it("other errors carry none", () => {
    expect(toArmError(restError({ code: "AuthorizationFailed", details: { error: { code: "AuthorizationFailed", message: "no" } } })).policyViolations).toEqual([]);
  });
});

describe("toArmError and ARM's Retry-After", () => {
  const withHeaders = (status: number, headers: Record<string, string>) =>
    restError({ statusCode: status, response: { status, headers: { get: (name: string) => headers[name.toLowerCase()] } } });

  it.each<{ case: string; headers: Record<string, string>; expected: number | undefined }>([
    { case: "seconds", headers: { "retry-after": "17" }, expected: 17_000 },
    { case: "absent", headers: {}, expected: undefined },
    { case: "not a number of seconds", headers: { "retry-after": "soon" }, expected: undefined },
    { case: "empty", headers: { "retry-after": " " }, expected: undefined },
  ])("keeps it as milliseconds when it is $case", ({ headers, expected }) => {
    expect(toArmError(withHeaders(429, headers)).retryAfterInMs).toBe(expected);
  });
});
