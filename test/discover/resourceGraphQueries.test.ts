/**
 * Every Resource Graph query the service can send, checked by Microsoft's KQL parser against the Resource Graph
 * tables and operator limits. Builders are found by iterating SWEEP_QUERIES, and a guard fails on any
 * queryResourceGraph call in src/ whose query is not built there, so no query escapes the check.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { SWEEP_QUERIES } from "../../src/discover/sweepDiscovery.js";
import { TRACKED_TYPES } from "../../src/discover/changeDiscovery.js";
import { resourceGraphDiagnostics } from "../../local-azure/src/kqlDiagnostics.js";

/**
 * Sample arguments by builder parameter name: values that stress quoting. The tag holds every character an Azure
 * tag name may (quotes, spaces, a colon, non-ASCII); a principal id with a quote would break an unescaped list.
 */
const SAMPLE_ARGUMENTS: Record<string, unknown> = {
  tag: `Ama Remediation's "skip" tag: é`,
  principalIds: ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-00000000000'"],
  since: new Date("2026-11-30T10:00:00.000Z"),
  types: [...TRACKED_TYPES, "microsoft.example/it's"],
  ids: ["/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1/extensions/AzureMonitorWindowsAgent", "/subscriptions/x/resourceGroups/rg-it's"],
};

describe("Resource Graph queries", () => {
  it.each(Object.entries(SWEEP_QUERIES))("SWEEP_QUERIES.%s is a valid Resource Graph query", (name, builder) => {
    const query = (builder as (...args: unknown[]) => string)(...parameterNames(builder).map((parameter) => sampleFor(name, parameter)));
    expect({ query, diagnostics: resourceGraphDiagnostics(query) }).toEqual({ query, diagnostics: [] });
  });

  it("src/ sends no Resource Graph query that is not built by SWEEP_QUERIES", () => {
    const root = join(import.meta.dirname, "../..");
    const unchecked = typeScriptFiles(join(root, "src")).flatMap((file) => uncheckedQueries(relative(root, file), readFileSync(file, "utf8")));
    expect(unchecked).toEqual([]);
  });
});

function sampleFor(builder: string, parameter: string): unknown {
  if (!(parameter in SAMPLE_ARGUMENTS)) throw new Error(`SWEEP_QUERIES.${builder} takes '${parameter}': add a sample value for it to SAMPLE_ARGUMENTS`);
  return SAMPLE_ARGUMENTS[parameter];
}

/** Parameter names as written in the builder's source, so a new parameter asks for a sample instead of getting undefined. */
function parameterNames(builder: unknown): string[] {
  const source = ts.createSourceFile("builder.ts", `(${String(builder)})`, ts.ScriptTarget.Latest);
  const statement = source.statements[0];
  const expression = statement && ts.isExpressionStatement(statement) ? statement.expression : undefined;
  const fn = expression && ts.isParenthesizedExpression(expression) ? expression.expression : undefined;
  if (!fn || !(ts.isArrowFunction(fn) || ts.isFunctionExpression(fn))) throw new Error(`not a function: ${String(builder)}`);
  return fn.parameters.map((parameter) => parameter.name.getText(source));
}

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Calls of queryResourceGraph(query, ...) whose query is not a SWEEP_QUERIES builder call. A query that is the
 * parameter of a local wrapper (`const query = (text) => gateway.queryResourceGraph(text, ids)`) is followed to
 * the wrapper's calls, each of which must pass a builder call; a wrapper used other than by calling it is reported.
 */
function uncheckedQueries(path: string, text: string): string[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const where = (node: ts.Node) => `${path}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${node.getText()}`;
  const unchecked: string[] = [];
  const check = (query: ts.Expression | undefined, call: ts.CallExpression, depth: number): void => {
    if (query && ts.isCallExpression(query) && ts.isPropertyAccessExpression(query.expression) && query.expression.expression.getText() === "SWEEP_QUERIES") return;
    const wrapper = query && ts.isIdentifier(query) && depth === 0 ? wrapperOf(query) : undefined;
    if (!wrapper) return void unchecked.push(where(call));
    for (const use of usesOf(source, wrapper)) {
      if (ts.isCallExpression(use.parent) && use.parent.expression === use) check(use.parent.arguments[0], use.parent, depth + 1);
      else unchecked.push(where(use.parent));
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === "queryResourceGraph") check(node.arguments[0], node, 0);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return unchecked;
}

/** The name of the `const` wrapper function whose parameter this query identifier is, if it is one. */
function wrapperOf(query: ts.Identifier): ts.Identifier | undefined {
  let fn: ts.Node = query;
  while (!ts.isArrowFunction(fn) && !ts.isFunctionExpression(fn)) {
    if (ts.isSourceFile(fn) || ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) return undefined;
    fn = fn.parent;
  }
  const isParameter = fn.parameters.some((parameter) => parameter.name.getText() === query.text);
  return isParameter && ts.isVariableDeclaration(fn.parent) && ts.isIdentifier(fn.parent.name) ? fn.parent.name : undefined;
}

function usesOf(source: ts.SourceFile, name: ts.Identifier): ts.Identifier[] {
  const uses: ts.Identifier[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && node !== name && node.text === name.text) uses.push(node);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return uses;
}
