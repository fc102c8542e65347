/// <reference types="@kusto/language-service-next" />
/**
 * Reads a Log Analytics query with Microsoft's own KQL parser and semantic analyser (Kusto.Language,
 * @kusto/language-service-next, loaded the way local-azure/src/kqlDiagnostics.ts loads it for Resource Graph)
 * against the tables the service's metrics and log records land in, with only the columns
 * infra/templates/monitoringQueries.ts declares: a query reading any other table or column gets a diagnostic.
 * It also lists, per table, the names (metric names, log record bodies) and attribute keys the query names,
 * so a test can hold them to src/telemetry/names.ts.
 */
import { createRequire } from "node:module";
import { TABLES, type ColumnType, type TableColumns } from "../../infra/templates/monitoringQueries.js";

type SyntaxElement = Kusto.Language.Syntax.SyntaxElement;

export interface QueryReading {
  /** Parser and semantic diagnostics, one line each. */
  readonly diagnostics: readonly string[];
  /** Per table read: the string literals the query compares its name column with by `==` or `in` (AppMetrics `Name`, AppTraces `Message`). */
  readonly names: Readonly<Record<string, readonly string[]>>;
  /** Per table read: the keys the query reads from its attributes (column `Properties`). */
  readonly attributes: Readonly<Record<string, readonly string[]>>;
  /** Uses of a name column or `Properties` that name nothing this reading can check (another comparison, a computed key, a function over the bag). */
  readonly unreadable: readonly string[];
  /** The result's columns and their types, as the analyser infers them. */
  readonly resultColumns: Readonly<Record<string, string>>;
}

interface Workspace {
  readonly globals: Kusto.Language.GlobalState;
  /** Each table's own column symbols: a reference to one of them is a reference to that table's column. */
  readonly tableOf: ReadonlyMap<Kusto.Language.Symbols.ColumnSymbol, TableColumns>;
}

let workspace: Workspace | undefined;

/** Kusto.Language is a global-script library: bridge.js defines `Bridge` and `System`, the language `Kusto`. */
function loadWorkspace(): Workspace {
  if (workspace) return workspace;
  const require = createRequire(import.meta.url);
  require("@kusto/language-service-next/bridge.js");
  require("@kusto/language-service-next");
  const { Symbols } = Kusto.Language;
  const { ScalarTypes } = Symbols;
  const types: Record<ColumnType, Kusto.Language.Symbols.ScalarSymbol> = {
    datetime: ScalarTypes.DateTime!,
    string: ScalarTypes.String!,
    real: ScalarTypes.Real!,
    int: ScalarTypes.Int!,
    dynamic: ScalarTypes.Dynamic!,
  };
  const tableOf = new Map<Kusto.Language.Symbols.ColumnSymbol, TableColumns>();
  const tables = TABLES.map((table) => {
    const columns = Object.entries(table.columns).map(([name, type]) => new Symbols.ColumnSymbol(name, types[type], null, null, null, null));
    for (const column of columns) tableOf.set(column, table);
    return new Symbols.TableSymbol.$ctor4(table.table, columns);
  });
  const globals = Kusto.Language.GlobalState.Default!.WithDatabase(new Symbols.DatabaseSymbol.$ctor2("workspace", null, tables))!;
  workspace = { globals, tableOf };
  return workspace;
}

export function readQuery(query: string): QueryReading {
  const { globals, tableOf } = loadWorkspace(); // first: it defines the `Kusto` global
  const { Syntax } = Kusto.Language;
  const code = Kusto.Language.KustoCode.ParseAndAnalyze(query, globals)!;
  const diagnostics = listOf(code.GetDiagnostics()).map((d) => `${d.Message} (at ${d.Start}${d.Length > 0 ? `: '${query.slice(d.Start, d.Start + d.Length)}'` : ""})`);
  const names: Record<string, string[]> = {};
  const attributes: Record<string, string[]> = {};
  const unreadable: string[] = [];
  const add = (into: Record<string, string[]>, table: TableColumns, found: readonly string[]) => (into[table.table] ??= []).push(...found);
  code.Syntax?.WalkNodes((node) => {
    if (!(node instanceof Syntax.NameReference)) return;
    const symbol = node.ReferencedSymbol;
    const table = symbol instanceof Kusto.Language.Symbols.ColumnSymbol ? tableOf.get(symbol) : undefined;
    if (!table) return; // a function, a `let` or a column the query made
    const parent = node.Parent;
    if (node.SimpleName === table.nameColumn) {
      const compared =
        // only equality names a row kind: `has`, `startswith`, `!=` and the like match others too
        parent instanceof Syntax.BinaryExpression && parent.Operator?.Text === "==" ? [parent.Left === node ? parent.Right : parent.Left]
        : parent instanceof Syntax.InExpression && parent.Left === node ? elementsOf(parent.Right)
        : [];
      const literals = compared.map(stringLiteral);
      if (literals.length === 0 || literals.some((name) => name === undefined)) unreadable.push(`${table.nameColumn} in '${parent?.toString()?.trim()}'`);
      else add(names, table, literals as string[]);
    } else if (node.SimpleName === "Properties") {
      const key =
        parent instanceof Syntax.ElementExpression && parent.Selector instanceof Syntax.BracketedExpression ? stringLiteral(parent.Selector.Expression)
        : parent instanceof Syntax.PathExpression && parent.Selector instanceof Syntax.NameReference ? (parent.Selector.SimpleName ?? undefined)
        : undefined;
      if (key === undefined) unreadable.push(`Properties in '${parent?.toString()?.trim()}'`);
      else add(attributes, table, [key]);
    }
  });
  const result = code.ResultType instanceof Kusto.Language.Symbols.TableSymbol ? listOf(code.ResultType.Columns) : [];
  const resultColumns = Object.fromEntries(result.map((column) => [column.Name ?? "", column.Type?.Name ?? ""]));
  return { diagnostics, names, attributes, unreadable, resultColumns };
}

function stringLiteral(node: SyntaxElement | null): string | undefined {
  return node instanceof Kusto.Language.Syntax.LiteralExpression && typeof node.LiteralValue === "string" ? node.LiteralValue : undefined;
}

/** The expressions of `(a, b, ...)`. */
function elementsOf(node: SyntaxElement | null): (SyntaxElement | null)[] {
  if (!(node instanceof Kusto.Language.Syntax.ExpressionList)) return [node];
  const list = node.Expressions;
  return list ? Array.from({ length: list.Count }, (_, index) => list.getItem$1(index).Element) : [];
}

function listOf<T>(list: System.Collections.Generic.IReadOnlyList$1<T> | null): T[] {
  return list ? Array.from({ length: list.Count }, (_, index) => list.getItem(index)) : [];
}
