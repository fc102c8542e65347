import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultAppName, formatStep, parseArgs, planDeploy, readTemplateFacts, shellQuote, UsageError } from "../../infra/deploy.js";
import { missedSweepAlertMinutes } from "../../infra/templates/sweepSchedule.js";

const root = join(import.meta.dirname, "../..");
const subscription = "8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f";
const flags = ["--management-group", "contoso-root", "--location", "westeurope", "--subscription", subscription];
const required = [...flags, "--param", "alertEmail=secops@contoso.example"];

/** Runs the script the way `npm run deploy` does: Node 22 executing the TypeScript file from the repository root. */
function deploy(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["infra/deploy.ts", ...args], { cwd: root });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("infra/deploy.ts --dry-run", () => {
  it("prints build, package, template deployment, zip deploy and policy remediation", async () => {
    const { status, stdout, stderr } = await deploy(...required, "--param", "sweepSchedule=0 */5 * * * *", "--param", "dryRun=true", "--dry-run");
    expect(stderr).toBe("");
    expect(status).toBe(0);
    const app = defaultAppName("contoso-root", subscription);
    const lines = stdout.trimEnd().split("\n");
    expect(lines.slice(0, 7)).toEqual([
      "npm run build",
      "rm -rf dist/deploy-package dist/ama-remediator.zip",
      "mkdir -p dist/deploy-package && tar -cf - dist/src host.json package.json package-lock.json | tar -xf - -C dist/deploy-package",
      "(cd dist/deploy-package && npm ci --omit=dev --ignore-scripts --no-audit --no-fund)",
      "(cd dist/deploy-package && zip -qr ../ama-remediator.zip .)",
      "az deployment mg create --management-group-id contoso-root --location westeurope --name ama-remediator-westeurope " +
        "--template-file infra/main.json --parameters location=westeurope " +
        `hostingSubscriptionId=${subscription} resourceGroupName=rg-ama-remediator appName=${app} ` +
        "alertEmail=secops@contoso.example 'sweepSchedule=0 */5 * * * *' dryRun=true missedSweepAlertMinutes=10",
      `az functionapp deployment source config-zip --subscription ${subscription} --resource-group rg-ama-remediator --name ${app} --src dist/ama-remediator.zip`,
    ]);
    expect(lines[7]).toMatch(
      new RegExp(
        "^az policy remediation create --management-group contoso-root --name ama-remediator-eventgrid-\\d{14} " +
          "--policy-assignment /providers/Microsoft.Management/managementGroups/contoso-root/providers/Microsoft.Authorization/policyAssignments/ama-remediator-eg " +
          "--resource-discovery-mode ReEvaluateCompliance$",
      ),
    );
    expect(lines).toHaveLength(8);
  });

  it("prints only the what-if preview with --what-if", async () => {
    const { status, stdout } = await deploy(...required, "--resource-group", "rg-ops", "--name", "ama-prod", "--what-if", "--dry-run");
    expect(status).toBe(0);
    expect(stdout).toBe(
      "az deployment mg what-if --management-group-id contoso-root --location westeurope --name ama-remediator-westeurope " +
        `--template-file infra/main.json --parameters location=westeurope hostingSubscriptionId=${subscription} ` +
        "resourceGroupName=rg-ops appName=ama-prod alertEmail=secops@contoso.example\n",
    );
  });

  it.each([
    [[], "deploy: --management-group is required"],
    [["--location", "westeurope", "--subscription", subscription], "deploy: --management-group is required"],
    [["--management-group", "mg", "--subscription", subscription], "deploy: --location is required"],
    [["--management-group", "mg", "--location", "westeurope"], "deploy: --subscription is required"],
    [["--management-group", "mg", "--location", "West Europe", "--subscription", subscription], "deploy: --location 'West Europe' is not a region name such as westeurope"],
    [["--management-group", "mg", "--location", "westeurope", "--subscription", "not-a-guid"], "deploy: --subscription 'not-a-guid' is not a subscription id (GUID)"],
    [[...required, "--name", "Bad_Name"], "deploy: --name 'Bad_Name' must be 2-32 lowercase letters, digits or hyphens"],
    [[...required, "--param", "location=eastus"], "deploy: set location with --location, not --param"],
    [[...required, "--param", "sqlMode=legacy"], "deploy: --param sqlMode must be one of: ama, extension-only, auto"],
    [flags, "deploy: --param alertEmail=<value> is required"],
    [[...flags, "--param", "alertEmail=secops"], "deploy: --param alertEmail must be an e-mail address"],
    [[...required, "--param", "missedSweepAlertMinutes=5"], "deploy: missedSweepAlertMinutes follows from sweepSchedule; set that instead"],
    [
      [...required, "--param", "sweepSchedule=0 0 2 * * mon-fri"],
      "deploy: --param sweepSchedule: '0 0 2 * * mon-fri' does not fire every day (its day, month and day-of-week fields must be *): a log search alert looks back at most two days",
    ],
    [[...required, "--param", "sweepSchedule=0 */15 25 * * *"], "deploy: --param sweepSchedule: '0 */15 25 * * *': hour '25' is not a value, range or step within 0-23"],
    [[...required, "--param", "dryRun=yes"], "deploy: --param dryRun must be true or false"],
    [[...required, "--param", "fullReconcileHours=soon"], "deploy: --param fullReconcileHours must be an integer"],
    [[...required, "--param", "createdResourceTags=costCenter=security-ops"], "deploy: --param createdResourceTags must be a JSON object"],
    [[...required, "--param", 'createdResourceTags=["costCenter"]'], "deploy: --param createdResourceTags must be a JSON object"],
    [[...required, "--param", "noEquals"], "deploy: --param expects <name>=<value>, got 'noEquals'"],
    [[...required, "--location"], "deploy: --location needs a value"],
    [[...required, "--force"], "deploy: unknown argument '--force'"],
    [[...required, "--colour=blue"], "deploy: unknown argument '--colour'"],
    [[...required, "-f"], "deploy: unknown argument '-f'"],
    [[...required, "westeurope"], "deploy: unknown argument 'westeurope'"],
    [[...required, "--", "--what-if"], "deploy: unknown argument '--'"],
    [[...required, "--param", "--what-if"], "deploy: --param needs a value"],
    [[...required, "--what-if=yes"], "deploy: --what-if takes no value"],
  ])("rejects %j with one line and exit code 2", async (args, message) => {
    const { status, stdout, stderr } = await deploy(...args, "--dry-run");
    expect(status).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(`${message}\n`);
  });

  it("rejects an unknown template parameter, naming the known ones", async () => {
    const { status, stderr } = await deploy(...required, "--param", "colour=blue", "--dry-run");
    expect(status).toBe(2);
    expect(stderr).toMatch(/^deploy: unknown parameter 'colour' \(known: .*workspaceId.*\)\n$/);
  });
});

describe("deploy planning", () => {
  const facts = readTemplateFacts(join(root, "infra/main.json"));

  it("names the remediation task after the time of the run", () => {
    const steps = planDeploy(parseArgs(required, facts), facts, new Date("2026-11-25T09:15:02Z"));
    expect(formatStep(steps.at(-1)!)).toContain("--name ama-remediator-eventgrid-20261125091502 ");
  });

  it("accepts --flag=value and keeps parameters in the order given", () => {
    const options = parseArgs(["--management-group=mg", "--location=uksouth", `--subscription=${subscription}`, "--param", "workspaceId=/x", "--param", "optOutTag=skipme", "--param=alertEmail=a@b.example"], facts);
    expect(options).toMatchObject({ managementGroup: "mg", location: "uksouth", parameters: { workspaceId: "/x", optOutTag: "skipme", alertEmail: "a@b.example" }, dryRun: false });
    expect(Object.keys(options.parameters)).toEqual(["workspaceId", "optOutTag", "alertEmail"]);
  });

  it("sets the missed-sweep alert from the sweep schedule given, and leaves both to the template's defaults otherwise", () => {
    const deployment = (args: string[]): string => formatStep(planDeploy(parseArgs(args, facts), facts, new Date()).find((step) => step.kind === "run" && step.argv.includes("create"))!);
    expect(deployment([...required, "--param", "sweepSchedule=0 0 */6 * * *"])).toMatch(/'sweepSchedule=0 0 \*\/6 \* \* \*' missedSweepAlertMinutes=720$/);
    expect(deployment(required)).not.toMatch(/sweepSchedule|missedSweepAlertMinutes/);
    expect(facts.parameters.missedSweepAlertMinutes!.defaultValue).toBe(missedSweepAlertMinutes(String(facts.parameters.sweepSchedule!.defaultValue)));
  });

  it("passes CREATED_RESOURCE_TAGS as the JSON object the template's createdResourceTags parameter takes", () => {
    const options = parseArgs([...required, "--param", 'createdResourceTags={"costCenter":"security-ops"}'], facts);
    expect(formatStep(planDeploy(options, facts, new Date("2026-11-25T09:15:02Z")).find((step) => step.kind === "run" && step.argv.includes("create"))!)).toContain('createdResourceTags={"costCenter":"security-ops"}');
  });

  it("throws UsageError for bad input", () => {
    expect(() => parseArgs(["--management-group"], facts)).toThrow(UsageError);
  });

  it("names the flag whose value is missing, last on the line or followed by another flag", () => {
    expect(() => parseArgs([...required, "--name"], facts)).toThrow(new UsageError("--name needs a value"));
    expect(() => parseArgs(["--management-group", "--location", "westeurope"], facts)).toThrow(new UsageError("--management-group needs a value"));
  });

  it("names an unknown option, given alone or with a value", () => {
    expect(() => parseArgs([...required, "--force"], facts)).toThrow(new UsageError("unknown argument '--force'"));
    expect(() => parseArgs([...required, "--management-grp=contoso-root"], facts)).toThrow(new UsageError("unknown argument '--management-grp'"));
  });

  it("derives a stable, valid default app name", () => {
    expect(defaultAppName("Contoso-Root", subscription.toUpperCase())).toBe(defaultAppName("contoso-root", subscription));
    expect(defaultAppName("contoso-root", subscription)).toMatch(/^amarem-[0-9a-f]{10}$/);
  });

  it("quotes only what a shell would split or expand", () => {
    expect(shellQuote("a=b/c.d-e")).toBe("a=b/c.d-e");
    expect(shellQuote("0 */15 * * * *")).toBe("'0 */15 * * * *'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });
});
