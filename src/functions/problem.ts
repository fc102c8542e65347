/** RFC 9457 problem+json responses, the HTTP API's only error shape. No stack traces, ever. */
import type { HttpResponseInit } from "@azure/functions";

export function problem(status: number, title: string, detail: string, field?: string, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
    body: JSON.stringify({ type: "about:blank", title, status, detail, ...(field ? { field } : {}) }),
  };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
}

export function methodNotAllowed(allowed: readonly string[]): HttpResponseInit {
  return problem(405, "Method Not Allowed", `use ${allowed.join(" or ")}`, undefined, { allow: allowed.join(", ") });
}
