/**
 * Bad-input corpus, HTTP API (POST/GET /api/runs): every case is refused with 400/413/415
 * problem+json, no stack trace, no run recorded, nothing queued and not one ARM request.
 */
import { afterEach, describe, expect, it } from "vitest";
import { handleRunsRequest } from "../../src/functions/runsApi.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { useHarness } from "../service/harness.js";
import { httpRequest, jsonOf, type RequestOptions } from "../functions/http.js";
import { expectProblem } from "./support.js";

const harness = useHarness();
const OUTSIDE = "99999999-9999-4999-8999-999999999999";
/** Looks like a tenant id: a GUID that is not a subscription of the scope. */
const TENANT = "72f988bf-0000-4000-8000-00000000a2e1";

const vm = () => machineWith(harness().estate, "no-identity", "windows");
const sub = () => vm().subscriptionId;
const body = (value: unknown): RequestOptions => ({ body: JSON.stringify(value) });
const ids = (...values: unknown[]): RequestOptions => body({ resourceIds: values });

afterEach(async () => {
  await harness().clearQueues();
});

async function expectRefused(options: RequestOptions, status: number, field: string | undefined, method = "POST", params: Record<string, string> = {}): Promise<void> {
  const { azure, service } = harness();
  const runsBefore = (await service.state.runs.listRecent(100)).length;
  azure.resetRequests();
  const response = await handleRunsRequest(service, httpRequest(method, params["runId"] ? `/api/runs/${encodeURIComponent(params["runId"])}` : "/api/runs", { ...options, params }));
  const problem = expectProblem(response, status);
  if (field !== undefined) expect(problem["field"]).toBe(field);
  expect(JSON.stringify(problem)).not.toContain(harness().azure.token);
  expect((await service.state.runs.listRecent(100)).length).toBe(runsBefore);
  expect((await service.state.workQueue.approximateLength()).work).toBe(0);
  expect(azure.requests).toEqual([]);
}

describe("malformed and mistyped bodies → 400", () => {
  it.each<[string, () => RequestOptions, string]>([
    ["truncated JSON", () => ({ body: '{"dryRun": tru' }), "body"],
    ["a lone brace", () => ({ body: "{" }), "body"],
    ["trailing garbage after the object", () => ({ body: "{} x" }), "body"],
    ["single-quoted JSON", () => ({ body: "{'dryRun': true}" }), "body"],
    ["NaN as a value", () => ({ body: '{"dryRun": NaN}' }), "body"],
    ["an array", () => ({ body: "[]" }), "body"],
    ["a string", () => ({ body: '"run"' }), "body"],
    ["a number", () => ({ body: "42" }), "body"],
    ["null", () => ({ body: "null" }), "body"],
    ["true", () => ({ body: "true" }), "body"],
    ["30,000 nested arrays", () => ({ body: `${"[".repeat(30_000)}${"]".repeat(30_000)}` }), "body"],
    ["an unknown field", () => body({ dryrun: true }), "dryrun"],
    ["a __proto__ field", () => ({ body: '{"__proto__": {"dryRun": false}}' }), "__proto__"],
    ["a constructor field", () => body({ constructor: { prototype: {} } }), "constructor"],
    ["an unknown field next to valid ones", () => body({ dryRun: true, force: true }), "force"],
    ["dryRun as a string", () => body({ dryRun: "false" }), "dryRun"],
    ["dryRun as null", () => body({ dryRun: null }), "dryRun"],
    ["dryRun as 0", () => body({ dryRun: 0 }), "dryRun"],
    ["a duplicate key whose last value is wrong", () => ({ body: '{"dryRun": true, "dryRun": "yes"}' }), "dryRun"],
    ["subscriptions as a string", () => body({ subscriptions: sub() }), "subscriptions"],
    ["subscriptions as an object", () => body({ subscriptions: { [sub()]: true } }), "subscriptions"],
    ["subscriptions holding a number", () => body({ subscriptions: [123] }), "subscriptions"],
    ["subscriptions holding nested arrays", () => body({ subscriptions: [[sub()]] }), "subscriptions"],
    ["a subscription name instead of an id", () => body({ subscriptions: ["Contoso Production"] }), "subscriptions"],
    ["a braced GUID", () => body({ subscriptions: [`{${sub()}}`] }), "subscriptions"],
    ["a subscription id with a path", () => body({ subscriptions: [`${sub()}/resourceGroups/rg`] }), "subscriptions"],
    ["a subscription outside REMEDIATION_SUBSCRIPTIONS", () => body({ subscriptions: [OUTSIDE] }), "subscriptions"],
    ["an in-scope subscription plus one outside", () => body({ subscriptions: [sub(), OUTSIDE] }), "subscriptions"],
    ["a tenant id as a subscription", () => body({ subscriptions: [TENANT] }), "subscriptions"],
    ["over 1000 subscriptions", () => body({ subscriptions: Array.from({ length: 1001 }, () => sub()) }), "subscriptions"],
    ["resourceIds as a string", () => body({ resourceIds: vm().id }), "resourceIds"],
    ["resourceIds holding null", () => ids(null), "resourceIds"],
    ["resourceIds holding an object", () => ids({ id: vm().id }), "resourceIds"],
  ])("%s", async (_name, options, field) => {
    await expectRefused(options(), 400, field);
  });
});

describe("resource ids that must never become a run → 400", () => {
  const refused: [string, () => string][] = [
    ["a relative id", () => vm().id.slice(1)],
    ["a full management URL", () => `https://management.azure.com${vm().id}`],
    ["a machine in another subscription", () => vm().id.replace(sub(), OUTSIDE)],
    ["a tenant-rooted id", () => `/tenants/${TENANT}/providers/Microsoft.Compute/virtualMachines/vm`],
    ["a management group", () => `/providers/Microsoft.Management/managementGroups/${TENANT}`],
    ["a machine under a tenant-looking subscription", () => `/subscriptions/${TENANT}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`],
    ["a storage account", () => `/subscriptions/${sub()}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/st1`],
    ["a scale set", () => `/subscriptions/${sub()}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss`],
    ["a data collection rule", () => `/subscriptions/${sub()}/resourceGroups/rg/providers/Microsoft.Insights/dataCollectionRules/dcr`],
    ["a resource group", () => `/subscriptions/${sub()}/resourceGroups/${vm().resourceGroup}`],
    ["the subscription itself", () => `/subscriptions/${sub()}`],
    ["a '..' segment", () => `/subscriptions/${sub()}/resourceGroups/../providers/Microsoft.Compute/virtualMachines/vm`],
    ["'..' climbing into another subscription", () => `/subscriptions/${sub()}/../${OUTSIDE}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`],
    ["a '.' segment", () => vm().id.replace("/providers/", "/./providers/")],
    ["an empty segment", () => vm().id.replace("/resourceGroups/", "/resourceGroups//")],
    ["a VM type with no name", () => `/subscriptions/${sub()}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines`],
    ["an id of 3,000 characters", () => `${vm().id}${"x".repeat(3_000)}`],
    ["an id with a newline", () => `${vm().id}\n/subscriptions/${OUTSIDE}`],
    ["an id with a percent-encoded slash", () => vm().id.replace("/virtualMachines/", "/virtualMachines%2F..%2F")],
    ["an id with a NUL byte", () => `${vm().id}\u0000`],
  ];

  it.each(refused)("%s", async (_name, id) => {
    await expectRefused(ids(id()), 400, "resourceIds");
  });

  it("a VM id without a resource group → 400", async () => {
    await expectRefused(ids(`/subscriptions/${sub()}/providers/Microsoft.Compute/virtualMachines/vm`), 400, "resourceIds");
  });

  it("an empty resourceIds list → 400, not a tenant-wide run", async () => {
    await expectRefused(ids(), 400, "resourceIds");
  });
});

describe("size and media type", () => {
  const bigBody = () => JSON.stringify({ resourceIds: Array.from({ length: 700 }, (_, index) => `${vm().id}-${index}`) });

  it.each<[string, () => RequestOptions, number]>([
    ["a 65 KB JSON body", () => ({ body: bigBody() }), 413],
    ["a 65 KB body sent as text/plain", () => ({ body: bigBody(), contentType: "text/plain" }), 413],
    ["a 2 MB body", () => ({ body: JSON.stringify({ dryRun: true, padding: "x".repeat(2 * 1024 * 1024) }) }), 413],
    ["a body under 64 K characters but over 64 KB in UTF-8", () => ({ body: JSON.stringify({ resourceIds: ["€".repeat(30_000)] }) }), 413],
    ["text/plain", () => ({ body: "{}", contentType: "text/plain" }), 415],
    ["form-urlencoded", () => ({ body: "dryRun=true", contentType: "application/x-www-form-urlencoded" }), 415],
    ["no content type", () => ({ body: "{}", contentType: null }), 415],
    ["application/xml", () => ({ body: "<run dryRun='true'/>", contentType: "application/xml" }), 415],
    ["multipart/form-data", () => ({ body: "--b\r\n\r\n{}\r\n--b--", contentType: "multipart/form-data; boundary=b" }), 415],
  ])("%s → %i", async (_name, options, status) => {
    await expectRefused(options(), status, undefined);
  });
});

describe("GET with bad parameters → 400", () => {
  it.each(["../runs", "run/../../x", "%2e%2e", "a".repeat(65), "run id", "<script>"])("run id %j", async (runId) => {
    await expectRefused({}, 400, "runId", "GET", { runId });
  });

  it.each(["0", "101", "-5", "2.5", "ten", "1;DROP"])("limit=%s", async (limit) => {
    await expectRefused({ query: { limit } }, 400, "limit", "GET");
  });
});

describe("control: a good request still goes through", () => {
  it("a dry run naming the machine → 202", async () => {
    const response = await handleRunsRequest(harness().service, httpRequest("POST", "/api/runs", { body: JSON.stringify({ dryRun: true, resourceIds: [vm().id] }) }));
    expect(response.status).toBe(202);
    expect(jsonOf(response).runId).toEqual(expect.any(String));
  });
});
