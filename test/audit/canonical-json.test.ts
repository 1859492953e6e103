import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, canonicalJsonByWalk } from "../../src/audit/canonical-json.js";

describe("canonicalJson", () => {
  it("sorts keys recursively, keeps array order and drops whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1, { z: true, y: null }], c: "x" } })).toBe(
      '{"a":{"c":"x","d":[3,1,{"y":null,"z":true}]},"b":1}',
    );
  });

  it("orders keys by UTF-16 code units as RFC 8785 does", () => {
    // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB01 in UTF-16 but after it by code point.
    expect(canonicalJson({ "\uFB01": 1, "\u{1F600}": 2, a: 3, B: 4 })).toBe(
      '{"B":4,"a":3,"\u{1F600}":2,"\uFB01":1}',
    );
  });

  it("formats numbers and strings as ECMAScript JSON does", () => {
    expect(canonicalJson([-0, 1e21, 1.5, 100, 1e-7])).toBe("[0,1e+21,1.5,100,1e-7]");
    expect(canonicalJson('quote " backslash \\ newline \n tab \t nul \u0000 é')).toBe(
      '"quote \\" backslash \\\\ newline \\n tab \\t nul \\u0000 é"',
    );
    expect(canonicalJson("\uD800")).toBe('"\\ud800"');
  });

  it("omits undefined members and honours toJSON", () => {
    expect(canonicalJson({ a: undefined, b: new Date(Date.UTC(2025, 0, 2)) })).toBe(
      '{"b":"2025-01-02T00:00:00.000Z"}',
    );
  });

  it("refuses values JSON cannot carry instead of guessing", () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/\$\.a is NaN/);
    expect(() => canonicalJson({ a: [1, Number.POSITIVE_INFINITY] })).toThrow(/\$\.a\[1\]/);
    expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson([undefined])).toThrow(/undefined/);
    expect(() => canonicalJson(undefined)).toThrow(/undefined/);
  });

  it("round-trips through JSON.parse and ignores key insertion order", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        const parsed = JSON.parse(text) as unknown;
        expect(parsed).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(parsed)).toBe(text);
        expect(text).toBe(canonicalJson(reverseKeys(parsed)));
      }),
      { numRuns: 300 },
    );
  });
});

// canonicalJson hands plain trees to JSON.stringify with a sorted property list and the rest to the walk:
// the two must give the same bytes (or the same refusal) for anything, including the trees that must not take
// the native path.
describe("canonicalJson's native path against the reference walk", () => {
  const sameAsWalk = (value: unknown) => {
    let expected: string | Error;
    try {
      expected = canonicalJsonByWalk(value);
    } catch (error) {
      expected = error as Error;
    }
    if (typeof expected === "string") expect(canonicalJson(value)).toBe(expected);
    else expect(() => canonicalJson(value)).toThrow(expected.message);
  };

  it("agrees on arbitrary values, keys in any order", () => {
    fc.assert(
      fc.property(
        fc.anything({ withNullPrototype: true, withDate: true, withSparseArray: true }),
        (value) => {
          sameAsWalk(value);
          sameAsWalk(reverseKeys(value));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("agrees on the trees a property list could get wrong", () => {
    class Point {
      x = 1;
      y = 2;
    }
    const cases: unknown[] = [
      JSON.parse('{"__proto__":{"a":1},"b":2}'),
      { inner: JSON.parse('{"__proto__":1}'), other: {} },
      { constructor: "c", a: {} },
      { toString: "t", other: { x: 1 } },
      { "10": 1, "2": 2, b: { "1": 3, a: 4 } },
      { when: new Date(Date.UTC(2025, 0, 2)), a: 1 },
      { toJSON: "not a function", a: 1 },
      { point: new Point() },
      { nested: Object.assign(Object.create(null), { b: 1, a: 2 }) },
      { list: new Array<number>(3).fill(1, 0, 1).fill(3, 2) }, // a hole at [1]
      { a: undefined, b: [null, { c: undefined }] },
      { big: 1n },
      { fn: () => 1 },
      { nan: [Number.NaN] },
      { wide: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${99 - i}`, i])) },
    ];
    for (const value of cases) sameAsWalk(value);
    expect(canonicalJson(cases[0])).toBe('{"__proto__":{"a":1},"b":2}');
    expect(canonicalJson(cases[4])).toBe('{"10":1,"2":2,"b":{"1":3,"a":4}}');
  });
});

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([key, member]) => [key, reverseKeys(member)]),
    );
  }
  return value;
}
