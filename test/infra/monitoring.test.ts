/**
 * The alert rules, action group and workbook of app.json (and of its copy in main.json): every query is
 * read by Microsoft's KQL analyser against the AppMetrics and AppTraces columns the service's metrics and log
 * records land in, and names only the metrics, log records and attributes src/telemetry/names.ts declares,
 * each in its own table; the rules are wired as Azure Monitor takes them.
 */
import { describe, expect, it } from "vitest";
import { missedSweepAlertMinutes, ALERT_LOOKBACK_LIMIT_MINUTES } from "../../infra/templates/sweepSchedule.js";
import { loadSettings } from "../../src/config/settings.js";
import { BUILT_IN_ROLES } from "../../infra/templates/arm.js";
import { APP_METRICS, APP_TRACES } from "../../infra/templates/monitoringQueries.js";
import { ATTRIBUTES, LOG_ATTRIBUTES, LOG_RECORDS, METRICS } from "../../src/telemetry/names.js";
import { loadSchemas, validatorFor } from "./armSchemas.js";
import { readQuery } from "./logAnalyticsKql.js";
import { INFRA_FILES, allTemplates, asArray, asObject, readInfraFile, resourcesOf, type Json, type JsonObject } from "./templateLint.js";

/**
 * Aggregation granularities (windowSize) a log search alert accepts, in Azure Monitor's own words when it
 * refuses another ("Supported granularities are: 5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440,
 * 2880" minutes; Azure/azure-rest-api-specs issue 21258).
 */
const SUPPORTED_WINDOWS = ["PT5M", "PT10M", "PT15M", "PT30M", "PT45M", "PT1H", "PT2H", "PT3H", "PT4H", "PT5H", "PT6H", "P1D", "P2D"];
/** "Frequency of evaluation ... anywhere from one minute to one day" (Azure Monitor docs: create or edit a log search alert rule). */
const SUPPORTED_FREQUENCIES = ["PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT45M", "PT1H", "PT2H", "PT3H", "PT4H", "PT5H", "PT6H", "P1D"];

const WORKSPACE_ID = "[resourceId('Microsoft.OperationalInsights/workspaces', variables('workspaceName'))]";
const ACTION_GROUP_ID = "[resourceId('Microsoft.Insights/actionGroups', variables('actionGroupName'))]";

/** Every template holding the monitoring resources: app.json and the copy main.json nests. */
const hosting = INFRA_FILES.flatMap((file) =>
  allTemplates(readInfraFile(file))
    .filter(({ template }) => resourcesOf(template).some((resource) => resource.type === "Microsoft.Insights/scheduledQueryRules"))
    .map(({ path, template }) => ({ label: `${file} ${path}`, template })),
);
const app = readInfraFile("app.json");
const ofType = (template: JsonObject, type: string): JsonObject[] => resourcesOf(template).filter((resource) => resource.type === type);
const rules = ofType(app, "Microsoft.Insights/scheduledQueryRules");
const conditionOf = (rule: JsonObject): JsonObject => asObject(asArray(asObject(asObject(rule.properties).criteria).allOf)[0]);
const ruleName = (rule: JsonObject): string => String(rule.name).replace(/^\[format\('\{0\}-(.+)', parameters\('appName'\)\)\]$/, "$1");
const workbookItems = (template: JsonObject): JsonObject[] => asArray(asObject(asObject(template.variables).workbookContent).items).map((item) => asObject(item));
const queryItems = (template: JsonObject): JsonObject[] => workbookItems(template).filter((item) => item.type === 3);

/** Every query of a template, labelled: the rules' conditions and the workbook's query items. */
function queriesOf(label: string, template: JsonObject): [string, string][] {
  return [
    ...ofType(template, "Microsoft.Insights/scheduledQueryRules").map((rule): [string, string] => [`${label} rule ${ruleName(rule)}`, String(conditionOf(rule).query)]),
    ...queryItems(template).map((item): [string, string] => [`${label} workbook ${String(item.name)}`, String(asObject(item.content).query)]),
  ];
}

const queries = hosting.flatMap(({ label, template }) => queriesOf(label, template));

/** What names.ts declares for each table: the names its rows carry (metrics, log record bodies) and their attributes. */
const DECLARED: Record<string, { names: readonly string[]; name: string; attributes: readonly string[]; attribute: string }> = {
  [APP_METRICS.table]: { names: Object.values(METRICS), name: "metric '{}' is not in names.ts METRICS", attributes: Object.values(ATTRIBUTES), attribute: "attribute '{}' is not in names.ts ATTRIBUTES" },
  [APP_TRACES.table]: {
    names: Object.values(LOG_RECORDS),
    name: "log record '{}' is not in names.ts LOG_RECORDS",
    attributes: Object.values(LOG_ATTRIBUTES),
    attribute: "log record attribute '{}' is not in names.ts LOG_ATTRIBUTES",
  },
};

/** What is wrong with a query: analyser diagnostics, names names.ts does not declare for the table read, uses the check cannot read. */
function problemsOf(query: string): string[] {
  const reading = readQuery(query);
  const undeclared = (found: Readonly<Record<string, readonly string[]>>, kind: "names" | "attributes", message: "name" | "attribute") =>
    Object.entries(found).flatMap(([table, values]) => values.filter((value) => !DECLARED[table]![kind].includes(value)).map((value) => DECLARED[table]![message].replace("{}", value)));
  return [
    ...reading.diagnostics,
    ...undeclared(reading.names, "names", "name"),
    ...undeclared(reading.attributes, "attributes", "attribute"),
    ...reading.unreadable.map((use) => `cannot tell what ${use} names`),
    ...(Object.values(reading.names).flat().length === 0 ? ["names no metric or log record"] : []),
  ];
}

describe("monitoring queries", () => {
  it("are found in app.json and in main.json's copy: four rules and the workbook's items each", () => {
    expect(hosting.map(({ label }) => label.split(" ")[0])).toEqual(["main.json", "app.json"]);
    expect(queries.filter(([label]) => label.startsWith("app.json") && label.includes(" rule "))).toHaveLength(4);
    expect(queries.filter(([label]) => label.startsWith("app.json") && label.includes(" workbook ")).length).toBeGreaterThanOrEqual(3);
  });

  it.each(queries)("%s: parses and names only declared columns; METRICS and ATTRIBUTES in AppMetrics, LOG_RECORDS and LOG_ATTRIBUTES in AppTraces", (_label, query) => {
    expect(problemsOf(query)).toEqual([]);
  });

  it("read every metric, log record and attribute names.ts declares, each from its table", () => {
    const readings = queries.map(([, query]) => readQuery(query));
    for (const [table, declared] of Object.entries(DECLARED)) {
      expect(new Set(readings.flatMap((reading) => reading.names[table] ?? [])), table).toEqual(new Set(declared.names));
      expect(new Set(readings.flatMap((reading) => reading.attributes[table] ?? [])), table).toEqual(new Set(declared.attributes));
    }
  });

  it("fail a query that names an unknown metric, attribute, table or column, or hides what it names", () => {
    const rows = `AppMetrics | where Name == "${METRICS.sweeps}"`;
    expect(problemsOf(`AppMetrics | where Name == "ama_remediator.sweep" | summarize sum(Sum)`)).toEqual(["metric 'ama_remediator.sweep' is not in names.ts METRICS"]);
    expect(problemsOf(`AppMetrics | where Name in ("${METRICS.sweeps}", "ama_remediator.runs")`)).toEqual(["metric 'ama_remediator.runs' is not in names.ts METRICS"]);
    expect(problemsOf(`${rows} | extend Mode = tostring(Properties.sweepMode)`)).toEqual(["attribute 'sweepMode' is not in names.ts ATTRIBUTES"]);
    expect(problemsOf(`${rows} | extend Mode = tostring(Properties["kind"])`)).toEqual(["attribute 'kind' is not in names.ts ATTRIBUTES"]);
    expect(problemsOf(`customMetrics | where name == "${METRICS.sweeps}"`)[0]).toMatch(/customMetrics.*does not refer to any known/);
    expect(problemsOf(`${rows} | summarize sum(valueSum)`)[0]).toMatch(/valueSum.*does not refer to any known/);
    expect(problemsOf(`AppMetrics | where Name startswith strcat("ama_", "remediator")`)).toEqual([`cannot tell what Name in 'Name startswith strcat("ama_", "remediator")' names`, "names no metric or log record"]);
    expect(problemsOf(`${rows} | extend Keys = bag_keys(Properties)`)).toEqual(["cannot tell what Properties in 'Properties' names"]);
  });

  it("fail a trace query that names an unknown log record or attribute, or one of the other table's", () => {
    const records = `AppTraces | where Message == "${LOG_RECORDS.machineCompliant}"`;
    expect(problemsOf(`${records} | summarize percentile(todouble(Properties["${LOG_ATTRIBUTES.secondsToCompliant}"]), 95)`)).toEqual([]);
    expect(problemsOf(`AppTraces | where Message == "ama_remediator.machine_remediated"`)).toEqual(["log record 'ama_remediator.machine_remediated' is not in names.ts LOG_RECORDS"]);
    // a metric's name is no trace's message, and a record's attribute is on no metric
    expect(problemsOf(`AppTraces | where Message == "${METRICS.timeToCompliant}"`)).toEqual([`log record '${METRICS.timeToCompliant}' is not in names.ts LOG_RECORDS`]);
    expect(problemsOf(`AppMetrics | where Name == "${METRICS.timeToCompliant}" | extend Seconds = todouble(Properties["${LOG_ATTRIBUTES.secondsToCompliant}"])`)).toEqual([
      `attribute '${LOG_ATTRIBUTES.secondsToCompliant}' is not in names.ts ATTRIBUTES`,
    ]);
    expect(problemsOf(`${records} | extend Status = tostring(Properties.${ATTRIBUTES.status})`)).toEqual([`log record attribute '${ATTRIBUTES.status}' is not in names.ts LOG_ATTRIBUTES`]);
    expect(problemsOf(`${records} | extend Seconds = todouble(customDimensions.secondsToCompliant)`)[0]).toMatch(/customDimensions.*does not refer to any known/);
    expect(problemsOf(`AppTraces | where Message has "machine_compliant"`)).toEqual([`cannot tell what Message in 'Message has "machine_compliant"' names`, "names no metric or log record"]);
    expect(problemsOf(`AppMetrics | where Name != "${METRICS.sweeps}" | summarize sum(Sum)`)).toEqual([`cannot tell what Name in 'Name != "${METRICS.sweeps}"' names`, "names no metric or log record"]);
  });
});

describe("what the queries read", () => {
  it("can arrive: the component refuses keys, and the identity whose client id is AZURE_CLIENT_ID (the exporter's credential) holds Monitoring Metrics Publisher on it", () => {
    const [component] = ofType(app, "Microsoft.Insights/components");
    expect(asObject(component!.properties).DisableLocalAuth).toBe(true);
    const [site] = ofType(app, "Microsoft.Web/sites");
    const settings = asArray(asObject(asObject(site!.properties).siteConfig).appSettings).map((setting) => asObject(setting));
    const clientId = String(settings.find((setting) => setting.name === "AZURE_CLIENT_ID")?.value);
    const identity = /^\[reference\((resourceId\('Microsoft\.ManagedIdentity\/userAssignedIdentities', [^)]+\)\)), '[^']+'\)\.clientId\]$/.exec(clientId)?.[1];
    expect(identity, clientId).toBeDefined();
    expect(Object.keys(asObject(asObject(site!.identity).userAssignedIdentities))).toEqual([`[${identity}]`]);
    const publishers = ofType(app, "Microsoft.Authorization/roleAssignments")
      .filter((assignment) => assignment.scope === "[format('Microsoft.Insights/components/{0}', variables('insightsName'))]")
      .map((assignment) => asObject(assignment.properties));
    // the role lets an identity publish all telemetry to the component, not only metrics (learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication)
    expect(publishers).toEqual([
      expect.objectContaining({
        roleDefinitionId: `[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '${BUILT_IN_ROLES.monitoringMetricsPublisher}')]`,
        principalId: expect.stringMatching(new RegExp(`^\\[reference\\(${escapeRegExp(identity!)}, '[^']+'\\)\\.principalId\\]$`)) as unknown,
      }),
    ]);
  });
});

describe("alert rules", () => {
  const parameters = asObject(app.parameters);
  const actionGroups = ofType(app, "Microsoft.Insights/actionGroups");

  it("notify one action group that e-mails alertEmail in the common alert schema", () => {
    expect(actionGroups).toHaveLength(1);
    expect(actionGroups[0]).toMatchObject({
      name: "[variables('actionGroupName')]",
      location: "Global",
      properties: { enabled: true, emailReceivers: [{ emailAddress: "[parameters('alertEmail')]", useCommonAlertSchema: true }] },
    });
    expect(String(asObject(actionGroups[0]!.properties).groupShortName).length).toBeLessThanOrEqual(12);
    expect(asObject(parameters.alertEmail).defaultValue).toBeUndefined(); // required: nobody is notified by default
  });

  it("are the four the service needs: failures, poison queue, time-to-compliant, missed sweep", () => {
    expect(rules.map(ruleName)).toEqual(["remediation-failures", "poison-queue", "time-to-compliant", "sweep-missed"]);
  });

  it("time-to-compliant: the 95th percentile of the seconds on the machines' trace records, not a maximum of the histogram's", () => {
    const rule = rules.find((candidate) => ruleName(candidate) === "time-to-compliant")!;
    const query = String(conditionOf(rule).query);
    const reading = readQuery(query);
    expect(reading.names).toEqual({ [APP_TRACES.table]: [LOG_RECORDS.machineCompliant] });
    expect(reading.attributes).toEqual({ [APP_TRACES.table]: [LOG_ATTRIBUTES.secondsToCompliant] });
    // properties arrive as strings (the exporter serialises every attribute): the number is read back with todouble()
    expect(query).toContain(`percentile(todouble(Properties["${LOG_ATTRIBUTES.secondsToCompliant}"]), 95)`);
    expect(asObject(rule.properties).description).toMatch(/95th percentile/);
  });

  it.each(rules.map((rule) => [ruleName(rule), rule] as const))("%s: has what a log search alert requires and watches the service's workspace", (_name, rule) => {
    const properties = asObject(rule.properties);
    // required by the REST spec (location, properties.enabled, criteria, scopes) and, for LogAlert, by the property docs
    expect(rule).toMatchObject({ kind: "LogAlert", location: "[parameters('location')]" });
    expect(properties).toMatchObject({ enabled: true, scopes: [WORKSPACE_ID], actions: { actionGroups: [ACTION_GROUP_ID] }, autoMitigate: true });
    expect([0, 1, 2, 3, 4]).toContain(properties.severity);
    expect(SUPPORTED_WINDOWS).toContain(properties.windowSize);
    expect(SUPPORTED_FREQUENCIES).toContain(properties.evaluationFrequency);
    expect(minutesOf(String(properties.evaluationFrequency))).toBeLessThanOrEqual(minutesOf(String(properties.windowSize)));
    const condition = conditionOf(rule);
    expect(["Count", "Average", "Minimum", "Maximum", "Total"]).toContain(condition.timeAggregation);
    expect(["GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", "Equals"]).toContain(condition.operator);
    expect(condition.threshold).not.toBeUndefined();
    // the measure is a numeric column of the query's one-row result
    const { resultColumns } = readQuery(String(condition.query));
    expect(Object.keys(resultColumns)).toEqual([condition.metricMeasureColumn]);
    expect(["real", "long", "int"]).toContain(resultColumns[String(condition.metricMeasureColumn)]);
  });

  it("take their thresholds from parameters with sensible defaults, or fire on any poison message", () => {
    const thresholds = Object.fromEntries(rules.map((rule) => [ruleName(rule), [conditionOf(rule).operator, conditionOf(rule).threshold]]));
    expect(thresholds).toEqual({
      "remediation-failures": ["GreaterThan", "[parameters('remediationFailureThreshold')]"],
      "poison-queue": ["GreaterThan", 0],
      "time-to-compliant": ["GreaterThan", "[parameters('timeToCompliantThresholdSeconds')]"],
      "sweep-missed": ["GreaterThanOrEqual", "[parameters('missedSweepAlertMinutes')]"],
    });
    expect(defaults(["remediationFailureThreshold", "timeToCompliantThresholdSeconds", "missedSweepAlertMinutes"])).toEqual([5, 3600, 30]);
  });

  it("fire on a missed sweep after twice the service's default schedule, within the two days a log alert can look back", () => {
    const sweepMissed = rules.find((rule) => ruleName(rule) === "sweep-missed")!;
    const schedule = loadSettings({}).sweepSchedule;
    expect(asObject(parameters.sweepSchedule).defaultValue).toBe(schedule);
    expect(asObject(parameters.missedSweepAlertMinutes)).toMatchObject({ defaultValue: missedSweepAlertMinutes(schedule), maxValue: ALERT_LOOKBACK_LIMIT_MINUTES });
    // the window is the longest look-back, and a window without any sweep counts as that long
    expect(minutesOf(String(asObject(sweepMissed.properties).windowSize))).toBe(ALERT_LOOKBACK_LIMIT_MINUTES);
    expect(String(conditionOf(sweepMissed).query)).toContain(`ago(${ALERT_LOOKBACK_LIMIT_MINUTES}m)`);
  });

  it("are held to Microsoft's schemas, which refuse what Azure would", () => {
    const schemas = loadSchemas();
    const valid = (resource: JsonObject): boolean => validatorFor(schemas, { scope: "resourceGroup", type: String(resource.type), apiVersion: String(resource.apiVersion) })!(resource);
    const [actionGroup] = actionGroups;
    const [rule] = rules;
    const [workbook] = ofType(app, "Microsoft.Insights/workbooks");
    expect([actionGroup!, rule!, workbook!].map(valid)).toEqual([true, true, true]);
    expect(valid({ ...actionGroup!, properties: { ...asObject(actionGroup!.properties), groupShortName: "ama-remediator-alerts" } })).toBe(false);
    const median = { ...asObject(rule!.properties), criteria: { allOf: [{ ...conditionOf(rule!), timeAggregation: "Median" }] } };
    expect(valid({ ...rule!, properties: median })).toBe(false);
    expect(valid({ ...workbook!, kind: "user" })).toBe(false);
  });

  function defaults(names: string[]): Json[] {
    return names.map((name) => asObject(parameters[name]).defaultValue ?? null);
  }
});

describe("workbook", () => {
  const [workbook] = ofType(app, "Microsoft.Insights/workbooks");
  const content = asObject(asObject(app.variables).workbookContent);

  it("is a shared workbook of the workspace whose content ARM serialises from the template's object", () => {
    expect(workbook).toMatchObject({
      kind: "shared",
      location: "[parameters('location')]",
      properties: { category: "workbook", version: "Notebook/1.0", sourceId: WORKSPACE_ID, serializedData: "[string(variables('workbookContent'))]" },
    });
    expect(String(workbook!.name)).toMatch(/^\[guid\(/); // a workbook's name must be a GUID
    expect(content).toMatchObject({ version: "Notebook/1.0", fallbackResourceIds: [WORKSPACE_ID] });
  });

  it("shows compliance by subscription, failures by ARM error code and time-to-compliant over time", () => {
    const titles = queryItems(app).map((item) => [asObject(item.content).title, asObject(item.content).visualization]);
    expect(titles).toEqual(
      expect.arrayContaining([
        ["Machine outcomes by subscription", "table"],
        ["Failed writes by ARM error code", "table"],
        ["Time to compliant per hour (seconds)", "timechart"],
        ["Slowest machines to become compliant", "table"],
      ]),
    );
    const overTime = queryItems(app).find((item) => item.name === "time-to-compliant-over-time")!;
    const { resultColumns } = readQuery(String(asObject(overTime.content).query));
    expect(Object.keys(resultColumns)).toEqual(["TimeGenerated", "P50Seconds", "P95Seconds", "SlowestSeconds"]);
  });

  it("runs every query on the workspace over the time range its picker sets", () => {
    const pickers = workbookItems(app)
      .filter((item) => item.type === 9)
      .flatMap((item) => asArray(asObject(item.content).parameters).map((parameter) => asObject(parameter)))
      .filter((parameter) => parameter.type === 4)
      .map((parameter) => parameter.name);
    for (const item of queryItems(app)) {
      expect(asObject(item.content)).toMatchObject({ version: "KqlItem/1.0", queryType: 0, resourceType: "microsoft.operationalinsights/workspaces" });
      expect(pickers).toContain(asObject(item.content).timeContextFromParameter);
    }
  });

  it("holds no text ARM would take for an expression but the workspace id", () => {
    const expressions = JSON.stringify(content).match(/"\[[^"]*\]"/g) ?? [];
    expect(expressions).toEqual([JSON.stringify(WORKSPACE_ID)]);
  });
});

/** Minutes of an ISO 8601 duration of days, hours and minutes (the forms alert rules use). */
function minutesOf(duration: string): number {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(duration);
  if (!match) throw new Error(`not a duration of days, hours and minutes: ${duration}`);
  const [, days = "0", hours = "0", minutes = "0"] = match;
  return Number(days) * 1440 + Number(hours) * 60 + Number(minutes);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
