/**
 * The JSON adapter of the masking core, for bodies that are JSON (HTTP APIs, MCP tool results): walks a parsed
 * JSON value and returns it masked. It knows JSON, not where the JSON came from.
 *
 * Two kinds of rule:
 * - Field rules mask the whole value under a key, whatever it holds: a string becomes `strategy.apply(it)`, a
 *   number or boolean `strategy.apply(String(it))` (so a masked number is a string), null stays null, and
 *   objects and arrays under the key have each of their leaves masked that way.
 *   A field name without a dot (`ssn`) matches that key at any depth; a dotted one (`customer.ssn`) is a path
 *   of keys from the root. Array elements have their array's path, so `customer.ssn` also matches
 *   `{"customer": [{"ssn": ...}]}`. Keys compare case-insensitively: a near miss masks rather than leaks.
 * - Content detection runs on every other string, on the decimal text of every number (a card number sent as
 *   a JSON number would otherwise escape; a hit turns the number into the masked string) and on keys (an
 *   e-mail address used as a key). A detection whose strategy is `null` makes the whole string null; a key
 *   cannot be null, so there it redacts.
 *
 * Fails closed with a MaskingFailure on what it cannot mask safely: a value that is not JSON, nesting deeper
 * than `maxDepth`, or two keys of one object that mask to the same text (one would silently replace the other).
 * The input is never modified; when nothing was masked the same value is returned, so a caller can forward the
 * original bytes. Numbers are masked as JSON.parse left them: digits past 2^53 are already rounded there.
 */

import type { MaskTally } from "./mask-tally.js";
import { MaskingFailure } from "./masking-failure.js";
import type { MaskingDetector } from "./masking-profile.js";
import type { MaskingStrategy } from "./strategies.js";
import { ValueMasker } from "./value-masker.js";

/** What JSON.parse returns. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface JsonMaskingRules {
  /** Content detectors with their strategies: a compiled profile's `detectors`. */
  readonly detectors: readonly MaskingDetector[];
  /** Field name (`ssn`) or dotted path from the root (`customer.ssn`) -> strategy for the whole value. */
  readonly fields?: ReadonlyMap<string, MaskingStrategy>;
  /** Deepest nesting accepted (default 256); deeper input is refused rather than risking the stack. */
  readonly maxDepth?: number;
}

export interface JsonMasker {
  /** False when there are no rules at all: mask() would return every value unchanged. */
  readonly active: boolean;
  /**
   * `value` with its sensitive parts masked; the same value when nothing was masked. With a `tally` (tracing
   * on), the document counts as one row of the values it rewrote (strings, numbers, keys, leaves under a field
   * rule), and the detector hits it took are added; on a MaskingFailure only the hits are.
   */
  mask(value: JsonValue, tally?: MaskTally): JsonValue;
}

const DEFAULT_MAX_DEPTH = 256;

export function createJsonMasker(rules: JsonMaskingRules): JsonMasker {
  return new TreeJsonMasker(rules);
}

class TreeJsonMasker implements JsonMasker {
  readonly active: boolean;
  private readonly values: ValueMasker;
  /** Rules for a key at any depth, by lower-cased key. */
  private readonly byName = new Map<string, MaskingStrategy>();
  /** Rules for one path from the root, by lower-cased dotted path. */
  private readonly byPath = new Map<string, MaskingStrategy>();
  private readonly maxDepth: number;
  /** Values rewritten by the mask() running now (mask() is synchronous, so a shared masker counts one call). */
  private rewritten = 0;

  constructor(rules: JsonMaskingRules) {
    this.values = new ValueMasker(rules.detectors);
    for (const [field, strategy] of rules.fields ?? []) {
      const key = field.toLowerCase();
      (key.includes(".") ? this.byPath : this.byName).set(key, strategy);
    }
    this.maxDepth = rules.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.active = this.values.detects || this.byName.size > 0 || this.byPath.size > 0;
  }

  mask(value: JsonValue, tally?: MaskTally): JsonValue {
    if (!this.active) return value;
    this.rewritten = 0;
    if (tally === undefined) return this.walk(value, "", 0);
    const since = performance.now();
    const hits = this.values.tally.detectorHits;
    try {
      const masked = this.walk(value, "", 0);
      if (this.rewritten > 0) tally.noteMaskedRow(this.rewritten, since);
      return masked;
    } finally {
      tally.detectorHits += this.values.tally.detectorHits - hits;
    }
  }

  /** Content detection on `value`, and field rules for the keys below it; `path` is its lower-cased path. */
  private walk(value: JsonValue, path: string, depth: number): JsonValue {
    switch (typeof value) {
      case "string": {
        if (!this.values.detects) return value;
        const masked = this.values.maskText(value);
        if (masked !== value) this.rewritten++;
        return masked;
      }
      case "number":
        return this.detectInNumber(value);
      case "boolean":
        return value;
      case "object":
        if (value === null) return null;
        if (depth >= this.maxDepth)
          throw new MaskingFailure(`JSON nested deeper than ${this.maxDepth} levels`);
        if (Array.isArray(value)) return this.mapArray(value, (item) => this.walk(item, path, depth + 1));
        return this.mapObject(value, (key, child) => {
          const childPath = path === "" ? key.toLowerCase() : `${path}.${key.toLowerCase()}`;
          const strategy = this.ruleFor(key, childPath);
          return strategy === undefined
            ? this.walk(child, childPath, depth + 1)
            : this.maskWhole(child, strategy, depth + 1);
        });
      default:
        throw new MaskingFailure(`a ${typeof value} is not a JSON value`);
    }
  }

  /** A value under a field rule: every leaf through `strategy`. */
  private maskWhole(value: JsonValue, strategy: MaskingStrategy, depth: number): JsonValue {
    switch (typeof value) {
      case "string":
        this.rewritten++;
        return strategy.apply(value);
      case "number":
      case "boolean":
        this.rewritten++;
        return strategy.apply(String(value));
      case "object":
        if (value === null) return null;
        if (depth >= this.maxDepth)
          throw new MaskingFailure(`JSON nested deeper than ${this.maxDepth} levels`);
        if (Array.isArray(value))
          return this.mapArray(value, (item) => this.maskWhole(item, strategy, depth + 1));
        return this.mapObject(value, (_key, child) => this.maskWhole(child, strategy, depth + 1));
      default:
        throw new MaskingFailure(`a ${typeof value} is not a JSON value`);
    }
  }

  private ruleFor(key: string, path: string): MaskingStrategy | undefined {
    if (this.byPath.size > 0) {
      const strategy = this.byPath.get(path);
      if (strategy !== undefined) return strategy;
    }
    return this.byName.size > 0 ? this.byName.get(key.toLowerCase()) : undefined;
  }

  private detectInNumber(value: number): JsonValue {
    if (!this.values.detects) return value;
    const text = String(value);
    const masked = this.values.maskText(text);
    if (masked === text) return value;
    this.rewritten++;
    return masked;
  }

  private mapArray(items: readonly JsonValue[], mapItem: (item: JsonValue) => JsonValue): JsonValue {
    let changed = false;
    const out = items.map((item) => {
      const masked = mapItem(item);
      if (masked !== item) changed = true;
      return masked;
    });
    return changed ? out : (items as JsonValue[]);
  }

  private mapObject(
    object: { readonly [key: string]: JsonValue },
    mapChild: (key: string, child: JsonValue) => JsonValue,
  ): JsonValue {
    let changed = false;
    const out: { [key: string]: JsonValue } = {};
    for (const key of Object.keys(object)) {
      const child = object[key]!;
      const masked = mapChild(key, child);
      const maskedKey = this.values.detects ? (this.values.maskText(key, false) ?? key) : key;
      if (Object.hasOwn(out, maskedKey)) {
        throw new MaskingFailure("two keys of one JSON object mask to the same text");
      }
      // defineProperty, not assignment: a "__proto__" key from JSON.parse must stay an own property.
      Object.defineProperty(out, maskedKey, {
        value: masked,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      if (maskedKey !== key) this.rewritten++;
      if (masked !== child || maskedKey !== key) changed = true;
    }
    return changed ? out : (object as JsonValue);
  }
}
