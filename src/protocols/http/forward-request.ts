import type { Readable } from "node:stream";
import type { GuardedHeaders } from "./header-guard.js";
import type { RequestTarget } from "./request-target.js";
import type { HttpCredential } from "./upstream.js";

/**
 * The headers sent upstream, flat (name, value, name, value: what undici takes without another copy): the
 * caller's pairs as they are, then the credential's; a header the credential sets replaces every one of that
 * name. The length is the body's as forwarded.
 */
export function forwardHeadersOf(
  headers: GuardedHeaders,
  credential: HttpCredential,
  body: Readable | Buffer | undefined,
): string[] {
  const injected = credential.headers;
  const forward: string[] = [];
  for (const [name, value] of headers.forward) if (!namedIn(injected, name, 0)) forward.push(name, value);
  for (let i = 0; i < injected.length; i++)
    if (!namedIn(injected, injected[i]![0], i + 1)) forward.push(injected[i]![0], injected[i]![1]);
  if (Buffer.isBuffer(body)) forward.push("content-length", String(body.length));
  else if (body !== undefined && headers.contentLength !== undefined)
    forward.push("content-length", String(headers.contentLength));
  return forward;
}

/** The path and query sent upstream, with the credential's query parameter when it has one. */
export function upstreamPathOf(target: RequestTarget, credential: HttpCredential): string {
  const query =
    credential.query === undefined ? target.queryString : joinQuery(target.queryString, credential.query);
  return `${target.path}${query === "" ? "" : `?${query}`}`;
}

/** True when a pair from `from` on is named `name`. */
function namedIn(pairs: readonly (readonly [string, string])[], name: string, from: number): boolean {
  for (let i = from; i < pairs.length; i++) if (pairs[i]![0] === name) return true;
  return false;
}

function joinQuery(query: string, [name, value]: readonly [string, string]): string {
  const pair = `${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
  return query === "" ? pair : `${query}&${pair}`;
}
