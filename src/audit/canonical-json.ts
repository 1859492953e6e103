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
 *
 * Two encoders give the same bytes. Every audit event body goes through here (two per statement), so a tree
 * that is already in canonical order (plain objects whose keys were written sorted, arrays, strings, finite
 * numbers, booleans, null) is handed to V8's own JSON.stringify: one native pass and one string, instead of a
 * string per member. The hot writers (pipeline/operation-record.ts, the result record) build their bodies
 * with sorted keys for that reason. Anything else (keys out of order, toJSON, class instances, a value JSON
 * cannot carry) goes to the walk, which is the rules above written out.
 */
export function canonicalJson(value: unknown): string {
  return inCanonicalOrder(value, 0) ? JSON.stringify(value) : canonicalJsonByWalk(value);
}

/** The reference encoder: the rules above, one value at a time. Exported for the differential test. */
export function canonicalJsonByWalk(value: unknown): string {
  try {
    return encode(value);
  } catch (error) {
    if (error instanceof Unrepresentable) {
      throw new TypeError(`canonical JSON: ${error.where.join("")} ${error.problem}`);
    }
    throw error;
  }
}

/** Thrown by the walk; the path is built while it unwinds, so encoding a valid tree never builds one. */
class Unrepresentable extends Error {
  readonly where: string[] = ["$"];
  constructor(readonly problem: string) {
    super(problem);
  }
  inside(segment: string): Unrepresentable {
    this.where.splice(1, 0, segment);
    return this;
  }
}

function encode(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new Unrepresentable(`is ${value}, not a finite number`);
      return JSON.stringify(value);
    case "object":
      return encodeObject(value as object);
    default:
      throw new Unrepresentable(`is a ${typeof value}, which JSON cannot represent`);
  }
}

function encodeObject(value: object): string {
  const withToJson = value as { toJSON?: (key: string) => unknown };
  if (typeof withToJson.toJSON === "function") return encode(withToJson.toJSON(""));
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      try {
        out += encode(value[i]);
      } catch (error) {
        throw error instanceof Unrepresentable ? error.inside(`[${i}]`) : error;
      }
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = sortInPlace(Object.keys(record));
  let out = "{";
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    if (!first) out += ",";
    first = false;
    try {
      out += `${JSON.stringify(key)}:${encode(member)}`;
    } catch (error) {
      throw error instanceof Unrepresentable ? error.inside(`.${key}`) : error;
    }
  }
  return `${out}}`;
}

/** UTF-16 code unit order (what RFC 8785 asks for); insertion sort in place for the few keys of a record. */
function sortInPlace(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

/**
 * True when JSON.stringify writes exactly the canonical bytes of `value`: only plain objects (prototype
 * Object.prototype or null) whose own keys come in strictly ascending UTF-16 order, arrays without holes or
 * undefined, strings, finite numbers, booleans and null; no toJSON anywhere (a plain object's own toJSON
 * function is a function member, which fails). for-in yields the same keys in the same order as Object.keys
 * (and JSON.stringify) for such objects, unless Object.prototype was given enumerable keys: those are refused.
 */
function inCanonicalOrder(value: unknown, depth: number): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object":
      break;
    default:
      return false;
  }
  if (depth > 64) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined || !inCanonicalOrder(item, depth + 1)) return false;
    }
    return true;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  const record = value as Record<string, unknown>;
  let previous: string | undefined;
  for (const key in record) {
    if (previous !== undefined && !(previous < key)) return false;
    // This spelling on the for-in key is what TurboFan folds to a check of the for-in enum cache; Object.hasOwn
    // is a builtin call per key.
    // biome-ignore lint/suspicious/noPrototypeBuiltins: the form V8 optimises inside for-in.
    if (!Object.prototype.hasOwnProperty.call(record, key)) return false;
    previous = key;
    const member = record[key];
    if (member !== undefined && !inCanonicalOrder(member, depth + 1)) return false;
  }
  return true;
}
