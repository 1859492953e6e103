/**
 * Canonical JSON: the one byte form of an audit event body, stored as is and hashed as is.
 *
 * The rules are those of RFC 8785 (JSON Canonicalization Scheme), so an auditor can re-implement them or use
 * any JCS library:
 * - no whitespace anywhere;
 * - object keys sorted by UTF-16 code units (JavaScript's default string order), recursively;
 * - array order kept;
 * - strings escaped as ECMAScript JSON.stringify does (`"`, `\`, control characters; lone surrogates as
 *   \uXXXX; everything else literal UTF-8);
 * - numbers formatted as ECMAScript Number#toString (integers without ".0", -0 as 0, 1e21 style exponents);
 * - object members whose value is undefined are left out, as JSON.stringify does; `toJSON` (e.g. Date) is
 *   honoured.
 *
 * Values that JSON cannot carry faithfully (NaN, Infinity, bigint, functions, symbols, undefined at the top
 * level or in an array) throw instead of being turned into null: an audit record must say exactly what
 * happened, so a body we cannot represent is a bug to surface, not a value to guess.
 */
export function canonicalJson(value: unknown): string {
  try {
    return encode(value);
  } catch (error) {
    if (!(error instanceof Unrepresentable)) throw error;
    // Rare: walk again, this time keeping the path, so the message says where the bad value sits. The fast
    // walk above builds no path strings (they were most of its cost on the statement path).
    return encodeAt(value, "$");
  }
}

/** Thrown by the fast walk; never escapes canonicalJson. */
class Unrepresentable extends Error {}

function encode(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new Unrepresentable();
      return JSON.stringify(value);
    case "object":
      return encodeObject(value as object);
    default:
      throw new Unrepresentable();
  }
}

function encodeObject(value: object): string {
  const withToJson = value as { toJSON?: (key: string) => unknown };
  if (typeof withToJson.toJSON === "function") return encode(withToJson.toJSON(""));
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += encode(value[i]);
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // Array#sort without a comparator orders by UTF-16 code units, which is what RFC 8785 asks for.
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += `${JSON.stringify(key)}:${encode(member)}`;
  }
  return `${out}}`;
}

/** The same walk with the path of every value, for the error message. */
function encodeAt(value: unknown, where: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value))
        throw new TypeError(`canonical JSON: ${where} is ${value}, not a finite number`);
      return JSON.stringify(value);
    case "object":
      return encodeObjectAt(value as object, where);
    default:
      throw new TypeError(`canonical JSON: ${where} is a ${typeof value}, which JSON cannot represent`);
  }
}

function encodeObjectAt(value: object, where: string): string {
  const withToJson = value as { toJSON?: (key: string) => unknown };
  if (typeof withToJson.toJSON === "function") return encodeAt(withToJson.toJSON(""), where);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += encodeAt(value[i], `${where}[${i}]`);
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += `${JSON.stringify(key)}:${encodeAt(member, `${where}.${key}`)}`;
  }
  return `${out}}`;
}
