/**
 * What Latch checks in an HTTP/2 request's header list before the shared request path (docs/http.md, "HTTP/2").
 * Node's HTTP/2 layer (nghttp2) already resets streams with malformed header blocks: pseudo-headers after
 * regular ones, repeated or missing pseudo-headers, upper-case names, connection-specific headers. These checks
 * hold even where it would be lenient, and turn the pseudo-headers into what the HTTP/1.1 path reads (method,
 * target, Host), so guardHeaders then judges the same headers whichever version carried them. Pure.
 */

/** RFC 9113 8.2.2: headers that mean something only for one HTTP/1.1 hop; a message carrying them is malformed. */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

const REQUEST_PSEUDO = new Set([":method", ":scheme", ":authority", ":path"]);

/** host[:port] or [v6]:port, nothing else: a path, userinfo or query in :authority is refused. */
const AUTHORITY =
  /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

export type H2GuardResult =
  | {
      readonly ok: true;
      readonly method: string;
      /** :path, the request target in origin form. */
      readonly path: string;
      /** Regular headers, with Host set from :authority and cookies joined back into one header. */
      readonly rawHeaders: readonly string[];
    }
  | { readonly ok: false; readonly reason: string };

export function guardHttp2Headers(rawHeaders: readonly string[]): H2GuardResult {
  const refuse = (reason: string): H2GuardResult => ({ ok: false, reason });
  const pseudo = new Map<string, string>();
  const regular: string[] = [];
  const cookies: string[] = [];
  let host: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (name.startsWith(":")) {
      if (name === ":protocol")
        return refuse("extended CONNECT (WebSocket over HTTP/2) is not relayed: use HTTP/1.1 for WebSockets");
      if (!REQUEST_PSEUDO.has(name)) return refuse(`pseudo-header ${name.slice(0, 30)} is not a request one`);
      if (pseudo.has(name)) return refuse(`pseudo-header ${name} is given more than once`);
      pseudo.set(name, value);
      continue;
    }
    if (name !== name.toLowerCase()) return refuse("HTTP/2 header names must be lower-case (RFC 9113 8.2.1)");
    if (CONNECTION_SPECIFIC.has(name))
      return refuse(`${name} is a connection-specific header, not allowed in HTTP/2 (RFC 9113 8.2.2)`);
    if (name === "te" && value.trim().toLowerCase() !== "trailers")
      return refuse('TE in HTTP/2 may only be "trailers"');
    if (name === "cookie") cookies.push(value);
    else if (name === "host") {
      if (host !== undefined) return refuse("header host is given more than once");
      host = value;
    } else regular.push(name, value);
  }
  const method = pseudo.get(":method");
  const scheme = pseudo.get(":scheme");
  const path = pseudo.get(":path");
  const authority = pseudo.get(":authority");
  if (method === undefined) return refuse("the request has no :method");
  if (method === "CONNECT") return refuse("CONNECT is not relayed");
  if (scheme !== "https")
    return refuse(`:scheme must be https on this listener, not ${String(scheme).slice(0, 20)}`);
  if (path === undefined || !path.startsWith("/"))
    return refuse(":path must be an origin-form target starting with /");
  if (authority !== undefined && !AUTHORITY.test(authority))
    return refuse(":authority must be a host and an optional port, nothing else");
  if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase())
    return refuse("Host and :authority name different hosts");
  const named = authority ?? host;
  if (named === undefined) return refuse("the request names no host (:authority)");
  if (authority === undefined && !AUTHORITY.test(named))
    return refuse("Host must be a host and an optional port, nothing else");
  const out = ["host", named, ...regular];
  // RFC 9113 8.2.3: cookie crumbs are joined with "; " (not ", ") before they go on as one header.
  if (cookies.length > 0) out.push("cookie", cookies.join("; "));
  return { ok: true, method, path, rawHeaders: out };
}
