/**
 * The request target, read once, the way an upstream will read it, before policy (docs/http.md, "Paths").
 * Pure: a string in, a canonical path and query out, or the reason it was refused. Whatever two servers could
 * read differently is refused, never guessed: the caller gets a 400 and the upstream sees nothing. What is
 * forwarded is the canonical form built here, so the upstream reads exactly what policy judged.
 */

export const MAX_TARGET_BYTES = 8192;
export const MAX_QUERY_PARAMETERS = 256;

export interface RequestTarget {
  /** Canonical, percent-encoded path: no dot segments, no empty segments (a trailing "/" is kept). */
  readonly path: string;
  /** Decoded path segments (what policy matches is `path`, built from these). */
  readonly segments: readonly string[];
  /** Decoded query parameters, names unique, in the order sent. */
  readonly query: readonly (readonly [string, string])[];
  /** Canonical query string without "?", "" when there is none. */
  readonly queryString: string;
}

/** A target the front already parsed (case-sensitive), and how many leading segments named the connection. */
export interface RoutedTarget {
  readonly parsed: RequestTarget;
  readonly skip: 0 | 1;
}

export type TargetResult =
  | { readonly ok: true; readonly target: RequestTarget }
  | { readonly ok: false; readonly reason: string };

export interface TargetOptions {
  /** insensitive: the path is lower-cased (and must then be ASCII: Unicode case folding is not one thing). */
  readonly pathCase: "sensitive" | "insensitive";
}

/** Bytes that may stand in a path segment as they are; everything else is percent-encoded on the way out. */
const PLAIN = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/;
/**
 * In a query name or value "&" and "=" would split it and "+" would read as a space: a decoded "a&b=c" sent on
 * as is reaches the upstream as two parameters that policy never saw. They are encoded, so the canonical
 * query parses back to exactly the pairs policy judged.
 */
const QUERY_PLAIN = /^[A-Za-z0-9\-._~!$'()*,:@]$/;
const ALL_PLAIN = /^[A-Za-z0-9\-._~!$&'()*+,=:@]*$/;
const ALL_QUERY_PLAIN = /^[A-Za-z0-9\-._~!$'()*,:@]*$/;
// Raw characters no request target may hold (RFC 9112 3.2: the target is visible ASCII).
const RAW_FORBIDDEN = /[^\x21-\x7e]|[\\#"<>^`{|}]/;
const DOUBLE_ENCODED = /%[0-9A-Fa-f]{2}/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Parses an origin-form target ("/a/b?c=d"); anything else (absolute-form, "*", authority-form) is refused. */
export function parseRequestTarget(raw: string, options: TargetOptions): TargetResult {
  if (raw.length > MAX_TARGET_BYTES)
    return refuse(`the request target is longer than ${MAX_TARGET_BYTES} bytes`);
  if (!raw.startsWith("/")) return refuse("only origin-form targets (/path?query) are accepted");
  if (RAW_FORBIDDEN.test(raw))
    return refuse("the request target holds a character that must be percent-encoded");
  const questionMark = raw.indexOf("?");
  const rawPath = questionMark === -1 ? raw : raw.slice(0, questionMark);
  const rawQuery = questionMark === -1 ? "" : raw.slice(questionMark + 1);

  const segments: string[] = [];
  const parts = rawPath.split("/"); // parts[0] is the "" before the leading "/"
  const trailingSlash = parts.length > 2 && parts[parts.length - 1] === "";
  for (let p = 1; p < parts.length; p++) {
    const part = parts[p]!;
    if (part === "") continue; // duplicate slashes read as one, as most servers and routers do
    if (part.includes(";")) return refuse('";" path parameters are read differently by different servers');
    const decoded = decode(part);
    if (decoded === undefined) return refuse("a path segment is not valid percent-encoded UTF-8");
    if (DOUBLE_ENCODED.test(decoded)) return refuse("a path segment is percent-encoded twice");
    if (decoded.includes("/") || decoded.includes("\\"))
      return refuse(
        "an encoded slash or backslash in a path segment is read differently by different servers",
      );
    if (decoded.includes(";"))
      return refuse('an encoded ";" in a path segment is read differently by different servers');
    if (CONTROL.test(decoded)) return refuse("a path segment holds a control character");
    if (decoded === ".") continue;
    if (decoded === "..") {
      if (segments.length === 0) return refuse('".." climbs above the root');
      segments.pop();
      continue;
    }
    if (/^\.+$/.test(decoded) || decoded.trim() !== decoded)
      return refuse(
        "a path segment of dots or with surrounding spaces is read differently by different servers",
      );
    if (options.pathCase === "insensitive") {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
      if (/[^\x00-\x7f]/.test(decoded)) return refuse("a case-insensitive path must be ASCII");
      segments.push(decoded.toLowerCase());
    } else segments.push(decoded);
  }
  let path = encodedPath(segments, 0);
  if (trailingSlash && segments.length > 0) path += "/";
  if (rawQuery === "") return { ok: true, target: { path, segments, query: NO_QUERY, queryString: "" } };

  const query: [string, string][] = [];
  const seen = new Set<string>();
  if (rawQuery.includes(";"))
    return refuse('";" in a query is a separator to some servers and not to others');
  for (const pair of rawQuery.split("&")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    const name = decode((equals === -1 ? pair : pair.slice(0, equals)).replaceAll("+", " "));
    const value = decode(equals === -1 ? "" : pair.slice(equals + 1).replaceAll("+", " "));
    if (name === undefined || value === undefined)
      return refuse("a query parameter is not valid percent-encoded UTF-8");
    if (name === "") return refuse("a query parameter has no name");
    if (CONTROL.test(name) || CONTROL.test(value))
      return refuse("a query parameter holds a control character");
    if (seen.has(name))
      return refuse(
        `query parameter "${name.slice(0, 64)}" is given twice (servers keep the first, the last, or both)`,
      );
    if (name === "_method") return refuse("a _method parameter overrides the method on some servers");
    seen.add(name);
    query.push([name, value]);
    if (query.length > MAX_QUERY_PARAMETERS)
      return refuse(`more than ${MAX_QUERY_PARAMETERS} query parameters`);
  }
  const queryString = query
    .map(([name, value]) => `${encode(name, QUERY_PLAIN)}=${encode(value, QUERY_PLAIN)}`)
    .join("&");
  return { ok: true, target: { path, segments, query, queryString } };
}

function refuse(reason: string): TargetResult {
  return { ok: false, reason };
}

const NO_QUERY: readonly (readonly [string, string])[] = Object.freeze([]);

/** "/" + the segments from `from` on, each encoded, joined by "/". */
function encodedPath(segments: readonly string[], from: number): string {
  let path = "";
  for (let i = from; i < segments.length; i++) path += `/${encode(segments[i]!)}`;
  return path === "" ? "/" : path;
}

function decode(text: string): string | undefined {
  if (!text.includes("%")) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (char !== 0x25) {
      bytes.push(char);
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
    bytes.push(Number.parseInt(hex, 16));
    i += 2;
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

function encode(text: string, plain: RegExp = PLAIN): string {
  // Most segments and values need no encoding: one test of the whole string instead of one per character.
  if ((plain === PLAIN ? ALL_PLAIN : ALL_QUERY_PLAIN).test(text)) return text;
  let out = "";
  for (const char of text) {
    if (plain.test(char)) out += char;
    else
      for (const byte of Buffer.from(char, "utf8"))
        out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * The target under its connection, with the connection's case rule: what parseRequestTarget would make of the
 * rest of the path and the same query, without reading them again. `skip` is 1 when the first segment named
 * the connection, 0 when the Host header did. Equal to a second parse because a canonical target parses to
 * itself (the bypass corpus and a property test hold the two to the same result).
 */
export function targetUnder(target: RequestTarget, skip: 0 | 1, options: TargetOptions): TargetResult {
  if (skip === 0 && options.pathCase === "sensitive") return { ok: true, target };
  if (options.pathCase === "sensitive") {
    // The canonical path is "/" + each segment encoded: the rest after the first one is a slice of it.
    const rest = target.path.slice(1 + encode(target.segments[0] ?? "").length);
    const path = rest === "" ? "/" : rest;
    const segments = target.segments.slice(1);
    return { ok: true, target: { path, segments, query: target.query, queryString: target.queryString } };
  }
  const segments: string[] = [];
  for (let i = skip; i < target.segments.length; i++) {
    const segment = target.segments[i]!;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
    if (/[^\x00-\x7f]/.test(segment)) return { ok: false, reason: "a case-insensitive path must be ASCII" };
    segments.push(segment.toLowerCase());
  }
  const trailingSlash = target.segments.length > 0 && target.path.endsWith("/");
  let path = encodedPath(segments, 0);
  if (trailingSlash && segments.length > 0) path += "/";
  return { ok: true, target: { path, segments, query: target.query, queryString: target.queryString } };
}

/** Splits off the connection: "/billing/v1/x" -> ["billing", "/v1/x"]; the rest keeps the trailing slash. */
export function splitConnection(target: RequestTarget): { name: string; rest: string } | undefined {
  const first = target.segments[0];
  if (first === undefined) return undefined;
  const prefix = `/${encode(first)}`;
  const remaining = target.path.slice(prefix.length);
  return { name: first, rest: remaining === "" ? "/" : remaining };
}
