/** Builds HttpRequests the way the Functions host hands them over, and reads HttpResponseInits back. */
import { HttpRequest, type HttpResponseInit } from "@azure/functions";

export const HOST = "http://localhost:7071";

export interface RequestOptions {
  readonly body?: string;
  /** Defaults to application/json when there is a body; null sends none. */
  readonly contentType?: string | null;
  readonly params?: Record<string, string>;
  readonly query?: Record<string, string>;
}

export function httpRequest(method: string, path: string, options: RequestOptions = {}): HttpRequest {
  const contentType = options.contentType === undefined ? (options.body === undefined ? null : "application/json") : options.contentType;
  return new HttpRequest({
    method,
    url: `${HOST}${path}`,
    ...(options.body !== undefined ? { body: { string: options.body } } : {}),
    headers: contentType ? { "content-type": contentType } : {},
    params: options.params ?? {},
    query: options.query ?? {},
  });
}

export function headerOf(response: HttpResponseInit, name: string): string | undefined {
  const headers = (response.headers ?? {}) as Record<string, string>;
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

export function bodyText(response: HttpResponseInit): string {
  if (typeof response.body !== "string") throw new Error(`expected a string body, got ${typeof response.body}`);
  return response.body;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
export function jsonOf(response: HttpResponseInit): any {
  return JSON.parse(bodyText(response));
}
