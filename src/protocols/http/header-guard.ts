/**
 * What Latch refuses or strips in request headers before policy (docs/http.md, "Headers"). Pure: raw header
 * pairs in (as Node's parser kept them: `rawHeaders`), a verdict and the headers to forward out. Node's parser
 * already refuses malformed framing (obsolete line folding, CR/LF in values, Transfer-Encoding with
 * Content-Length in strict mode); these checks hold even where it is lenient, and answer in problem+json.
 */

/** Headers that tell some frameworks to treat the request as another method than the one policy judged. */
const METHOD_OVERRIDE = new Set([
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-original-method",
  "x-original-url",
  "x-rewrite-url",
]);

/** Hop-by-hop (RFC 9110 7.6.1) and headers only Latch sets: never forwarded from the caller. */
const NOT_FORWARDED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "authorization",
  "content-length",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-real-ip",
  "latch-request-id",
]);

/** What a Connection header may name: anything else could make a hop strip an end-to-end header. */
const CONNECTION_OPTIONS = new Set(["close", "keep-alive", "upgrade"]);

export const MAX_HEADER_PAIRS = 200;

export interface GuardedHeaders {
  /** Caller headers to forward (lower-case names), in order. */
  readonly forward: readonly (readonly [string, string])[];
  /** Lower-cased name -> the single value (for policy_headers and content-type). Repeated ones are joined. */
  readonly byName: ReadonlyMap<string, string>;
  /** The caller's bearer token, consumed here. */
  readonly token: string | undefined;
  readonly contentLength: number | undefined;
  readonly chunked: boolean;
  /** Upgrade: websocket (with Connection: upgrade). */
  readonly websocket: boolean;
}

export type GuardResult =
  | { readonly ok: true; readonly headers: GuardedHeaders }
  | { readonly ok: false; readonly reason: string };

/** Headers a request may carry once: a repeat could be read as either value by the next hop. */
const SINGLE = new Set([
  "host",
  "content-length",
  "authorization",
  "transfer-encoding",
  "content-type",
  "content-encoding",
]);
const TOKEN_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
const CONTROL_IN_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

function refuse(reason: string): GuardResult {
  return { ok: false, reason };
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i;
/** The last Authorization value read and its token: a keep-alive client sends the same one every request. */
let lastAuthorization: string | undefined;
let lastToken: string | undefined;

function bearerTokenOf(authorization: string): string | undefined {
  if (authorization === lastAuthorization) return lastToken;
  const token = BEARER.exec(authorization)?.[1];
  lastAuthorization = authorization;
  lastToken = token;
  return token;
}

/** The last accepted raw headers (a copy) and their result: a keep-alive client sends the same every request. */
let lastRaw: readonly string[] = [];
let lastGuarded: GuardResult | undefined;
/** Longer header lists are not remembered: comparing them would cost about as much as guarding them. */
const REMEMBERED_RAW = 64;

/**
 * guardHeadersOnce of these headers: the earlier result when they are, string for string, the last accepted
 * ones (the guard is pure, so equal input gives the equal verdict). The result and its forward list are
 * frozen (the types are read-only too), since the next request may get the same object.
 */
export function guardHeaders(rawHeaders: readonly string[]): GuardResult {
  if (lastGuarded !== undefined && sameStrings(rawHeaders, lastRaw)) return lastGuarded;
  const result = guardHeadersOnce(rawHeaders);
  if (result.ok && rawHeaders.length <= REMEMBERED_RAW) {
    Object.freeze(result.headers.forward);
    for (const pair of result.headers.forward) Object.freeze(pair);
    Object.freeze(result.headers);
    lastRaw = rawHeaders.slice();
    lastGuarded = Object.freeze(result);
  }
  return result;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every check, without the memo. */
export function guardHeadersOnce(rawHeaders: readonly string[]): GuardResult {
  if (rawHeaders.length / 2 > MAX_HEADER_PAIRS) return refuse(`more than ${MAX_HEADER_PAIRS} headers`);
  const forward: [string, string][] = [];
  const byName = new Map<string, string>();
  // The first header of SINGLE given twice; refused after the loop, so the per-header checks speak first.
  let repeated: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (!TOKEN_NAME.test(name)) return refuse("a header name is not a token");
    if (CONTROL_IN_VALUE.test(value)) return refuse(`header ${name} holds a control character`);
    if (METHOD_OVERRIDE.has(name))
      return refuse(`${name} would make the upstream see another method or path than the one policy judged`);
    const earlier = byName.get(name);
    if (earlier === undefined) byName.set(name, value);
    else {
      byName.set(name, `${earlier}, ${value}`);
      if (repeated === undefined && SINGLE.has(name)) repeated = name;
    }
    if (!NOT_FORWARDED.has(name)) forward.push([name, value]);
  }
  if (repeated !== undefined) return refuse(`header ${repeated} is given more than once`);
  const te = byName.get("transfer-encoding");
  const cl = byName.get("content-length");
  if (te !== undefined && cl !== undefined)
    return refuse("Transfer-Encoding and Content-Length together (request smuggling)");
  if (te !== undefined && te.trim().toLowerCase() !== "chunked")
    return refuse(`Transfer-Encoding "${te.slice(0, 40)}" is not plain chunked`);
  if (cl !== undefined && !/^\d{1,15}$/.test(cl.trim()))
    return refuse("Content-Length is not a plain number");
  const connection = byName.get("connection");
  let connectionUpgrade = false;
  // "keep-alive" and "close", what clients send on nearly every request, need no split.
  if (connection !== undefined && connection !== "keep-alive" && connection !== "close") {
    for (const raw of connection.split(",")) {
      const option = raw.trim().toLowerCase();
      if (option === "") continue;
      if (!CONNECTION_OPTIONS.has(option))
        return refuse(`Connection names "${option.slice(0, 40)}": a hop would strip it`);
      if (option === "upgrade") connectionUpgrade = true;
    }
  }
  const upgrade = byName.get("upgrade");
  if (upgrade !== undefined && upgrade.trim().toLowerCase() !== "websocket")
    return refuse(`Upgrade to "${upgrade.slice(0, 40)}" is not supported`);
  if (byName.has("expect") && byName.get("expect")?.trim().toLowerCase() !== "100-continue")
    return refuse("only Expect: 100-continue is understood");
  let token: string | undefined;
  const authorization = byName.get("authorization");
  if (authorization !== undefined) {
    token = bearerTokenOf(authorization);
    if (token === undefined) return refuse("Authorization must be Bearer <your Latch OIDC token>");
  }
  if (token !== undefined) {
    for (const [name, value] of forward)
      if (value.includes(token))
        return refuse(`your token also appears in header ${name}: it would reach the upstream`);
  }
  return {
    ok: true,
    headers: {
      forward,
      byName,
      token,
      contentLength: cl === undefined ? undefined : Number(cl.trim()),
      chunked: te !== undefined,
      websocket: upgrade !== undefined && connectionUpgrade,
    },
  };
}
