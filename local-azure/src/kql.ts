/**
 * The small KQL subset the service sends to Resource Graph, parsed properly so that anything outside it
 * fails loudly (400 InvalidQuery) instead of silently matching everything.
 *
 *   <table> ( | where <expr> | project <col>[, <name> = <expr>]... | extend <name> = <expr>, ...
 *            | order by <expr> [asc|desc], ... | top <n> by <expr> [asc|desc] | limit <n> | take <n>
 *            | summarize [<name> =] count() [by <col>, ...] )*
 *   expr: or/and, not(), ==, =~, !=, !~, in, in~, !in, !in~, startswith, contains, has (and their ! forms),
 *         <, <=, >, >= (numbers and datetimes), isempty(), isnotempty(), tostring(), tolower(), toupper(),
 *         todatetime(), bag_pack()/pack(), parentheses, literals, field paths a.b.c, a['x-y'], a[0].
 *
 * As in Kusto, string operators (=~, contains, has, startswith) ignore case and `==` does not; names
 * inside dynamic values (`tags['x']`) are matched exactly, case included.
 */

export class KqlError extends Error {}

export type Expr =
  | { kind: "literal"; value: unknown }
  | { kind: "path"; root: string; steps: (string | number)[] }
  | { kind: "call"; fn: string; args: Expr[] }
  | { kind: "compare"; op: string; left: Expr; right: Expr }
  | { kind: "in"; negate: boolean; caseInsensitive: boolean; left: Expr; list: Expr[] }
  | { kind: "and" | "or"; left: Expr; right: Expr };

export interface Column {
  name: string;
  expr: Expr;
}

export type Operator =
  | { kind: "where"; expr: Expr }
  | { kind: "project" | "extend"; columns: Column[] }
  | { kind: "order"; keys: { expr: Expr; descending: boolean }[] }
  | { kind: "limit"; count: number }
  | { kind: "summarize"; countName: string; by: Column[] };

export interface KqlQuery {
  table: string;
  operators: Operator[];
}

type Row = Record<string, unknown>;

interface Token {
  kind: "ident" | "string" | "number" | "punct";
  text: string;
  value?: unknown;
  at: number;
}

const PUNCTUATION = ["==", "=~", "!=", "!~", "<=", ">=", "<", ">", "|", "(", ")", ",", ".", "[", "]", "=", "~", "!"];
const WORD_OPERATORS = ["startswith", "contains", "has"];
const INEQUALITIES = new Set(["<", "<=", ">", ">="]);
const COMPARISONS = new Set(["==", "=~", "!=", "!~", ...INEQUALITIES, ...WORD_OPERATORS.flatMap((w) => [w, `!${w}`])]);

interface KqlFunction {
  /** A fixed number of arguments, or key/value pairs. */
  arity: number | "pairs";
  apply: (args: unknown[]) => unknown;
}

/** bag_pack(key1, value1, ...): a property bag; keys are strings and, like every bag key, case-sensitive. */
const bagPack: KqlFunction = {
  arity: "pairs",
  apply: (args) => {
    const bag: Row = {};
    for (let i = 0; i < args.length; i += 2) bag[asString(args[i])] = args[i + 1] ?? null;
    return bag;
  },
};

const FUNCTIONS: Record<string, KqlFunction> = {
  not: { arity: 1, apply: ([v]) => !truthy(v) },
  isempty: { arity: 1, apply: ([v]) => isEmpty(v) },
  isnotempty: { arity: 1, apply: ([v]) => !isEmpty(v) },
  tostring: { arity: 1, apply: ([v]) => asString(v) },
  tolower: { arity: 1, apply: ([v]) => asString(v).toLowerCase() },
  toupper: { arity: 1, apply: ([v]) => asString(v).toUpperCase() },
  // A datetime is a Date here: it orders and compares by time, and goes on the wire as its ISO string.
  todatetime: {
    arity: 1,
    apply: ([v]) => {
      if (v instanceof Date) return v;
      const time = typeof v === "string" ? Date.parse(v) : Number.NaN;
      return Number.isNaN(time) ? null : new Date(time);
    },
  },
  bag_pack: bagPack,
  // pack() is bag_pack()'s older name, still accepted by Kusto.
  pack: bagPack,
};

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      let value = "";
      let j = i + 1;
      while (j < text.length && text[j] !== c) {
        if (text[j] === "\\" && j + 1 < text.length) j++;
        value += text[j];
        j++;
      }
      if (j >= text.length) throw new KqlError(`unterminated string literal at ${i}`);
      tokens.push({ kind: "string", text: text.slice(i, j + 1), value, at: i });
      i = j + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ kind: "number", text: m[0], value: Number(m[0]), at: i });
      i += m[0].length;
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_$-]*/.exec(text.slice(i)) as RegExpExecArray;
      // `-` is allowed inside operator names like `mv-expand` but not at the end of an identifier.
      const word = m[0].replace(/-+$/, "");
      tokens.push({ kind: "ident", text: word, at: i });
      i += word.length;
    } else {
      const p = PUNCTUATION.find((x) => text.startsWith(x, i));
      if (!p) throw new KqlError(`unexpected character '${c}' at ${i}`);
      tokens.push({ kind: "punct", text: p, at: i });
      i += p.length;
    }
  }
  return tokens;
}

export function parseKql(text: string): KqlQuery {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (offset = 0): Token | undefined => tokens[pos + offset];
  const isPunct = (p: string, offset = 0): boolean => peek(offset)?.kind === "punct" && peek(offset)?.text === p;
  const isWord = (w: string, offset = 0): boolean =>
    peek(offset)?.kind === "ident" && peek(offset)?.text.toLowerCase() === w;
  const fail = (what: string): never => {
    const t = peek();
    throw new KqlError(`${what} ${t ? `near '${t.text}' at ${t.at}` : "at end of query"}`);
  };
  const expectPunct = (p: string): void => {
    if (!isPunct(p)) fail(`expected '${p}'`);
    pos++;
  };
  const identifier = (): string => {
    const t = peek();
    if (t?.kind !== "ident") return fail("expected a name");
    pos++;
    return t.text;
  };

  const table = identifier().toLowerCase();
  const operators: Operator[] = [];
  while (pos < tokens.length) {
    expectPunct("|");
    const name = identifier().toLowerCase();
    if (name === "where") operators.push({ kind: "where", expr: parseOr() });
    else if (name === "project") operators.push({ kind: "project", columns: commaList(parseColumn) });
    else if (name === "extend") operators.push({ kind: "extend", columns: commaList(parseAssignment) });
    else if (name === "order" || name === "sort") {
      expectWord("by");
      operators.push({ kind: "order", keys: commaList(parseOrderKey) });
    } else if (name === "top") {
      // `top n by x` is `order by x | take n`.
      const count = rowCount();
      expectWord("by");
      operators.push({ kind: "order", keys: [parseOrderKey()] }, { kind: "limit", count });
    } else if (name === "limit" || name === "take") {
      operators.push({ kind: "limit", count: rowCount() });
    } else if (name === "summarize") {
      operators.push(parseSummarize());
    } else {
      throw new KqlError(`unsupported operator '${name}'`);
    }
  }
  return { table, operators };

  function expectWord(word: string): void {
    if (!isWord(word)) fail(`expected '${word}'`);
    pos++;
  }

  function rowCount(): number {
    const t = peek();
    if (t?.kind !== "number") return fail("expected a row count");
    pos++;
    return t.value as number;
  }

  /** `[name =] count() [by col, ...]`: the one aggregation the subset knows; Kusto names it count_. */
  function parseSummarize(): Operator {
    let countName = "count_";
    if (peek()?.kind === "ident" && isPunct("=", 1)) {
      countName = identifier();
      pos++;
    }
    if (!(isWord("count") && isPunct("(", 1) && isPunct(")", 2))) fail("only count() is supported in summarize");
    pos += 3;
    if (!isWord("by")) return { kind: "summarize", countName, by: [] };
    pos++;
    return { kind: "summarize", countName, by: commaList(parseColumn) };
  }

  function commaList<T>(item: () => T): T[] {
    const items = [item()];
    while (isPunct(",")) {
      pos++;
      items.push(item());
    }
    return items;
  }

  function parseAssignment(): Column {
    const name = identifier();
    expectPunct("=");
    return { name, expr: parseOr() };
  }

  function parseColumn(): Column {
    if (peek()?.kind === "ident" && isPunct("=", 1)) return parseAssignment();
    const expr = parsePrimary();
    // KQL names a path after its parts (properties.osName -> properties_osName), also inside tostring() & co.
    const path = expr.kind === "call" && expr.args.length === 1 ? expr.args[0] : expr;
    if (path?.kind !== "path") return fail("expected a column or '<name> = <expression>'");
    return { name: [path.root, ...path.steps].join("_"), expr };
  }

  function parseOrderKey(): { expr: Expr; descending: boolean } {
    const expr = parseOr();
    let descending = true; // KQL's default order is descending
    if (isWord("asc") || isWord("desc")) {
      descending = (peek() as Token).text.toLowerCase() === "desc";
      pos++;
    }
    return { expr, descending };
  }

  function parseOr(): Expr {
    let left = parseAnd();
    while (isWord("or")) {
      pos++;
      left = { kind: "or", left, right: parseAnd() };
    }
    return left;
  }

  function parseAnd(): Expr {
    let left = parseComparison();
    while (isWord("and")) {
      pos++;
      left = { kind: "and", left, right: parseComparison() };
    }
    return left;
  }

  function parseComparison(): Expr {
    const left = parsePrimary();
    const negate = isPunct("!") && ["in", ...WORD_OPERATORS].some((w) => isWord(w, 1));
    if (negate) pos++;
    if (isWord("in")) {
      pos++;
      const caseInsensitive = isPunct("~");
      if (caseInsensitive) pos++;
      expectPunct("(");
      const list = commaList(parsePrimary);
      expectPunct(")");
      return { kind: "in", negate, caseInsensitive, left, list };
    }
    const t = peek();
    const op = t ? (negate ? "!" : "") + t.text.toLowerCase() : "";
    if (t && (t.kind === "punct" || t.kind === "ident") && COMPARISONS.has(op)) {
      pos++;
      return { kind: "compare", op, left, right: parsePrimary() };
    }
    if (negate) fail("expected an operator after '!'");
    return left;
  }

  function parsePrimary(): Expr {
    const t = peek();
    if (!t) return fail("expected an expression");
    if (isPunct("(")) {
      pos++;
      const e = parseOr();
      expectPunct(")");
      return e;
    }
    if (t.kind === "string" || t.kind === "number") {
      pos++;
      return { kind: "literal", value: t.value };
    }
    if (t.kind === "ident" && ["true", "false"].includes(t.text.toLowerCase())) {
      pos++;
      return { kind: "literal", value: t.text.toLowerCase() === "true" };
    }
    if (t.kind === "ident" && isPunct("(", 1)) {
      const fn = t.text.toLowerCase();
      const arity = FUNCTIONS[fn]?.arity;
      if (arity === undefined) throw new KqlError(`unsupported function '${t.text}'`);
      pos += 2;
      const args = isPunct(")") ? [] : commaList(parseOr);
      expectPunct(")");
      if (arity === "pairs" ? args.length % 2 !== 0 : args.length !== arity) {
        throw new KqlError(`${fn}() takes ${arity === "pairs" ? "key/value pairs" : `${arity} argument(s)`}`);
      }
      return { kind: "call", fn, args };
    }
    return parsePath();
  }

  function parsePath(): Expr {
    const root = identifier();
    const steps: (string | number)[] = [];
    for (;;) {
      if (isPunct(".")) {
        pos++;
        steps.push(identifier());
      } else if (isPunct("[")) {
        pos++;
        const t = peek();
        if (t?.kind !== "string" && t?.kind !== "number") return fail("expected a key");
        pos++;
        steps.push(t.value as string | number);
        expectPunct("]");
      } else {
        return { kind: "path", root, steps };
      }
    }
  }
}

export function evaluate(expr: Expr, row: Row): unknown {
  switch (expr.kind) {
    case "literal":
      return expr.value;
    case "path": {
      let value: unknown = row[expr.root];
      for (const step of expr.steps) {
        if (value === null || typeof value !== "object") return undefined;
        value = (value as Record<string | number, unknown>)[step];
      }
      return value;
    }
    case "and":
      return truthy(evaluate(expr.left, row)) && truthy(evaluate(expr.right, row));
    case "or":
      return truthy(evaluate(expr.left, row)) || truthy(evaluate(expr.right, row));
    case "in": {
      const left = evaluate(expr.left, row);
      const found = expr.list.some((item) =>
        expr.caseInsensitive
          ? asString(left).toLowerCase() === asString(evaluate(item, row)).toLowerCase()
          : equal(left, evaluate(item, row)),
      );
      return expr.negate ? !found : found;
    }
    case "compare":
      return compare(expr.op, evaluate(expr.left, row), evaluate(expr.right, row));
    case "call":
      return (FUNCTIONS[expr.fn] as KqlFunction).apply(expr.args.map((arg) => evaluate(arg, row)));
  }
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === "";
}

function compare(op: string, left: unknown, right: unknown): boolean {
  if (INEQUALITIES.has(op)) return inequality(op, left, right);
  const l = asString(left).toLowerCase();
  const r = asString(right).toLowerCase();
  switch (op) {
    case "==":
      return equal(left, right);
    case "!=":
      return !equal(left, right);
    case "=~":
      return l === r;
    case "!~":
      return l !== r;
    case "startswith":
      return l.startsWith(r);
    case "!startswith":
      return !l.startsWith(r);
    case "contains":
      return l.includes(r);
    case "!contains":
      return !l.includes(r);
    case "has":
      return hasTerm(l, r);
    default:
      return !hasTerm(l, r);
  }
}

/** `<`, `<=`, `>`, `>=` between two numbers or two datetimes; anything else (a null, a string) is not true. */
function inequality(op: string, left: unknown, right: unknown): boolean {
  const [l, r] = [left, right].map((v) => (v instanceof Date ? v.getTime() : v));
  if (typeof l !== "number" || typeof r !== "number" || (left instanceof Date) !== (right instanceof Date)) return false;
  return op === "<" ? l < r : op === "<=" ? l <= r : op === ">" ? l > r : l >= r;
}

/** Kusto's `has`: the right side occurs as whole terms, i.e. not inside a longer run of letters and digits. */
function hasTerm(text: string, term: string): boolean {
  const isWordChar = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}]/u.test(c);
  for (let at = text.indexOf(term); at >= 0; at = text.indexOf(term, at + 1)) {
    if (!isWordChar(text[at - 1]) && !isWordChar(text[at + term.length])) return true;
  }
  return false;
}

function equal(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (typeof a === "object" || typeof b === "object") return asString(a) === asString(b);
  return a === b || (typeof a !== typeof b && asString(a) === asString(b));
}

function truthy(v: unknown): boolean {
  return v === true;
}

/** KQL tostring(): null/missing is "", dynamic values are their JSON. */
function asString(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function order(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return -1;
  if (b === undefined || b === null) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  const x = asString(a);
  const y = asString(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Runs the operators over the table's rows. Sorting is stable, so equal keys keep table order. */
export function runKql(query: KqlQuery, rows: Iterable<Row>): Row[] {
  let result: Row[] = [];
  const [first, ...rest] = query.operators;
  // Filter while reading the table so the first `where` never copies the whole table.
  if (first?.kind === "where") {
    for (const row of rows) if (truthy(evaluate(first.expr, row))) result.push(row);
  } else {
    result = [...rows];
    if (first) rest.unshift(first);
  }
  for (const op of rest) {
    switch (op.kind) {
      case "where":
        result = result.filter((row) => truthy(evaluate(op.expr, row)));
        break;
      case "project":
        result = result.map((row) => Object.fromEntries(op.columns.map((c) => [c.name, evaluate(c.expr, row) ?? null])));
        break;
      case "extend":
        result = result.map((row) => extendRow(row, op.columns));
        break;
      case "summarize":
        result = summarize(result, op.by, op.countName);
        break;
      case "order":
        result = result
          .map((row, index) => ({ row, index, keys: op.keys.map((k) => evaluate(k.expr, row)) }))
          .sort((a, b) => {
            for (let i = 0; i < op.keys.length; i++) {
              const c = order(a.keys[i], b.keys[i]);
              if (c !== 0) return (op.keys[i] as { descending: boolean }).descending ? -c : c;
            }
            return a.index - b.index;
          })
          .map((x) => x.row);
        break;
      case "limit":
        result = result.slice(0, op.count);
        break;
    }
  }
  return result;
}

/** Each new column sees the ones before it, as in Kusto; the input row (maybe cached) is not changed. */
function extendRow(row: Row, columns: Column[]): Row {
  const extended = { ...row };
  for (const c of columns) extended[c.name] = evaluate(c.expr, extended) ?? null;
  return extended;
}

/** One row per distinct `by` tuple, in first-seen order, with its count; `summarize count()` is one row. */
function summarize(rows: Row[], by: Column[], countName: string): Row[] {
  const groups = new Map<string, Row>();
  for (const row of rows) {
    const values = by.map((c) => evaluate(c.expr, row) ?? null);
    const key = JSON.stringify(values);
    let group = groups.get(key);
    if (!group) {
      group = { ...Object.fromEntries(by.map((c, i) => [c.name, values[i]])), [countName]: 0 };
      groups.set(key, group);
    }
    group[countName] = (group[countName] as number) + 1;
  }
  if (by.length === 0 && groups.size === 0) return [{ [countName]: 0 }];
  return [...groups.values()];
}

/** Whether the result has a defined order: an `order`/`sort`/`top` not undone by a later `summarize`. */
export function isOrdered(query: KqlQuery): boolean {
  let ordered = false;
  for (const op of query.operators) {
    if (op.kind === "order") ordered = true;
    else if (op.kind === "summarize") ordered = false;
  }
  return ordered;
}

export function isSummarized(query: KqlQuery): boolean {
  return query.operators.some((op) => op.kind === "summarize");
}

/**
 * Lower-cased resource types a query is restricted to, when its first `where` says so at the top level
 * (`type =~ 'x'`, `type in~ (...)`, possibly `and`-ed with more); lets Resource Graph read the type index.
 */
export function typeRestriction(query: KqlQuery): string[] | undefined {
  const first = query.operators[0];
  if (first?.kind !== "where") return undefined;
  return fromExpr(first.expr);

  function fromExpr(e: Expr): string[] | undefined {
    if (e.kind === "and") return fromExpr(e.left) ?? fromExpr(e.right);
    const isType = (x: Expr): boolean => x.kind === "path" && x.root === "type" && x.steps.length === 0;
    const literals = (list: Expr[]): string[] | undefined =>
      list.every((x) => x.kind === "literal" && typeof x.value === "string")
        ? list.map((x) => String((x as { value: unknown }).value).toLowerCase())
        : undefined;
    if (e.kind === "compare" && (e.op === "==" || e.op === "=~") && isType(e.left)) return literals([e.right]);
    if (e.kind === "in" && !e.negate && isType(e.left)) return literals(e.list);
    return undefined;
  }
}
