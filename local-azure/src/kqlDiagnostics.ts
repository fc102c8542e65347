/// <reference types="@kusto/language-service-next" />
/**
 * Checks a Resource Graph query with Microsoft's own KQL parser (Kusto.Language, compiled to JavaScript by
 * Bridge.NET: @kusto/language-service-next) against the Resource Graph tables, then walks the syntax tree for
 * what Resource Graph refuses although KQL allows it ("Understanding the Azure Resource Graph query language",
 * learn.microsoft.com/azure/governance/resource-graph/concepts/query-language).
 * The library loads once, on first use (2-3 s); each query after that takes milliseconds.
 */
import { createRequire } from "node:module";

type SyntaxNode = Kusto.Language.Syntax.SyntaxNode;

/**
 * Resource Graph tables hold the ARM envelope of their resources: the same columns in every table. The change
 * tables hold `Microsoft.Resources/changes` resources in the same envelope (get-resource-changes.md queries
 * their `subscriptionId`, `resourceGroup` and `properties`).
 */
const TABLES = ["Resources", "ResourceContainers", "SecurityResources", "PolicyResources", "AuthorizationResources", "InsightsResources", "ResourceChanges", "ResourceContainerChanges"];
const COLUMNS = {
  id: "string",
  name: "string",
  type: "string",
  tenantId: "string",
  kind: "string",
  location: "string",
  resourceGroup: "string",
  subscriptionId: "string",
  managedBy: "string",
  sku: "dynamic",
  plan: "dynamic",
  properties: "dynamic",
  tags: "dynamic",
  identity: "dynamic",
  zones: "dynamic",
  extendedLocation: "dynamic",
} as const;

/**
 * The tabular operators Resource Graph has documented as supported throughout, by keyword. Its doc added `parse`
 * and the `fullouter` join later; the service keeps to the subset every version of the doc lists.
 */
const OPERATORS = new Set(["count", "distinct", "extend", "join", "limit", "take", "mv-expand", "mvexpand", "order", "sort", "project", "project-away", "summarize", "top", "union", "where"]);
const JOIN_KINDS = new Set(["innerunique", "inner", "leftouter"]);
const UNION_PARAMETERS = new Set(["kind", "withsource"]);
const MAX_JOINS = 3;
const MAX_UNION_LEGS = 3;
// The doc gives 2 in the mv-expand row and 3 in the note under the table: the lower one holds either way.
const MAX_MV_EXPANDS = 2;
const MAX_MV_EXPAND_ROW_LIMIT = 400;

let argGlobals: Kusto.Language.GlobalState | undefined;

/** Every problem Resource Graph would have with the query, one line each; empty when it is a valid ARG query. */
export function resourceGraphDiagnostics(query: string): string[] {
  const globals = resourceGraphGlobals(); // first: it defines the `Kusto` global
  // The d.ts types every C# reference as nullable; `!` marks the results that never are.
  const code = Kusto.Language.KustoCode.ParseAndAnalyze(query, globals)!;
  const parserDiagnostics = listOf(code.GetDiagnostics()).map((d) => `${d.Message} (at ${d.Start}${d.Length > 0 ? `: '${query.slice(d.Start, d.Start + d.Length)}'` : ""})`);
  return [...parserDiagnostics, ...resourceGraphLimits(code.Syntax)];
}

/** Unsupported operators, join kinds and strategies, fuzzy unions, and use over Resource Graph's per-query limits. */
function resourceGraphLimits(root: SyntaxNode | null): string[] {
  const { Syntax } = Kusto.Language;
  const problems: string[] = [];
  let joins = 0;
  let mvExpands = 0;
  let unionLegs = 0;
  root?.WalkNodes((node) => {
    if (!(node instanceof Syntax.QueryOperator)) return;
    const keyword = node.GetFirstToken()?.Text ?? "";
    if (!OPERATORS.has(keyword)) problems.push(`'${keyword}' is not a Resource Graph operator (at ${node.TextStart})`);
    if (node instanceof Syntax.JoinOperator) {
      joins++;
      for (const [name, value] of parametersOf(node.Parameters)) {
        if (name !== "kind") problems.push(`join ${name}=${value}: Resource Graph allows no custom join strategy (at ${node.TextStart})`);
        else if (!JOIN_KINDS.has(value)) problems.push(`join kind=${value} is not a Resource Graph join kind (${[...JOIN_KINDS].join(", ")}) (at ${node.TextStart})`);
      }
    } else if (node instanceof Syntax.MvExpandOperator) {
      mvExpands++;
      const rowLimit = node.RowLimitClause?.RowLimit?.toString()?.trim();
      if (rowLimit !== undefined && !(Number(rowLimit) <= MAX_MV_EXPAND_ROW_LIMIT)) problems.push(`mv-expand limit ${rowLimit} is over Resource Graph's ${MAX_MV_EXPAND_ROW_LIMIT} (at ${node.TextStart})`);
    } else if (node instanceof Syntax.UnionOperator) {
      for (const [name, value] of parametersOf(node.Parameters)) {
        if (!UNION_PARAMETERS.has(name)) problems.push(`union ${name}=${value} is not allowed in Resource Graph (at ${node.TextStart})`);
      }
      // The piped input is a leg too, unless it is itself a union whose legs are counted already.
      const input = node.Parent instanceof Syntax.PipeExpression ? node.Parent.Expression : null;
      const inputIsUnion = input instanceof Syntax.PipeExpression && input.Operator instanceof Syntax.UnionOperator;
      unionLegs += (node.Expressions?.Count ?? 0) + (input && !inputIsUnion ? 1 : 0);
    }
  });
  if (joins > MAX_JOINS) problems.push(`${joins} joins: Resource Graph allows ${MAX_JOINS} in a query`);
  if (mvExpands > MAX_MV_EXPANDS) problems.push(`${mvExpands} mv-expands: Resource Graph allows ${MAX_MV_EXPANDS} in a query`);
  if (unionLegs > MAX_UNION_LEGS) problems.push(`${unionLegs} union legs: Resource Graph allows ${MAX_UNION_LEGS} in a query`);
  return problems;
}

/** Kusto.Language is a global-script library: bridge.js defines `Bridge` and `System`, the language `Kusto`. */
function resourceGraphGlobals(): Kusto.Language.GlobalState {
  if (argGlobals) return argGlobals;
  const require = createRequire(import.meta.url);
  require("@kusto/language-service-next/bridge.js");
  require("@kusto/language-service-next");
  const { Symbols } = Kusto.Language;
  const types = { string: Symbols.ScalarTypes.String, dynamic: Symbols.ScalarTypes.Dynamic };
  // Columns are built one by one: the schema-string form stops silently at a keyword column such as `kind`.
  const columns = Object.entries(COLUMNS).map(([name, type]) => new Symbols.ColumnSymbol(name, types[type], null, null, null, null));
  // The docs write `Resources`, the service `resources`: Resource Graph takes both.
  const tables = TABLES.flatMap((name) => [name, name.toLowerCase()]).map((name) => new Symbols.TableSymbol.$ctor4(name, columns));
  argGlobals = Kusto.Language.GlobalState.Default!.WithDatabase(new Symbols.DatabaseSymbol.$ctor2("ResourceGraph", null, tables))!;
  return argGlobals;
}

function parametersOf(list: Kusto.Language.Syntax.SyntaxList$1<Kusto.Language.Syntax.NamedParameter> | null): [string, string][] {
  const parameters = list ? Array.from({ length: list.Count }, (_, index) => list.getItem$1(index)) : [];
  return parameters.map((parameter) => [parameter.Name?.SimpleName ?? "", parameter.Expression?.toString()?.trim() ?? ""]);
}

function listOf<T>(list: System.Collections.Generic.IReadOnlyList$1<T> | null): T[] {
  return list ? Array.from({ length: list.Count }, (_, index) => list.getItem(index)) : [];
}
