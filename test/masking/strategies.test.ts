import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createStrategy, InPlace, keepLast, REDACTED } from "../../src/masking/strategies.js";

describe("masking strategies", () => {
  it("partial keeps the last N letters/digits and the separators", () => {
    expect(keepLast("123-45-6789", 4)).toBe("***-**-6789");
    expect(keepLast("4242-4242-4242-4242", 4)).toBe("****-****-****-4242");
    expect(keepLast("4242 4242 4242 4242", 4)).toBe("**** **** **** 4242");
    expect(keepLast("ada@example.com", 0)).toBe("***@*******.***");
  });

  it("partial gives the same answer on bytes as on text", () => {
    const partial = createStrategy({ strategy: "partial", keepLast: 4 });
    for (const value of ["123-45-6789", "4242 4242 4242 4242", "José-1234-ñ", "ab", ""]) {
      const bytes = Buffer.from(`xx${value}yy`);
      expect(partial.applyBytes!(bytes, 2, bytes.length - 2)!.toString()).toBe(partial.apply(value));
    }
  });

  it("partial in place gives the bytes of the text path for ASCII, and leaves anything else untouched", () => {
    const partial = createStrategy({ strategy: "partial", keepLast: 4 });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 40 }),
          // ASCII with one character that is not, anywhere: a refusal after stars were written is undone.
          fc
            .tuple(fc.string({ maxLength: 40 }), fc.constantFrom("é", "€", "𝟘", "\u0080"), fc.nat())
            .map(([ascii, other, at]) => {
              const cut = at % (ascii.length + 1);
              return ascii.slice(0, cut) + other + ascii.slice(cut);
            }),
          fc.stringMatching(/^[a-z0-9 .@-]{0,40}$/),
        ),
        fc.integer({ min: 0, max: 8 }),
        (value, keep) => {
          const strategy = keep === 4 ? partial : createStrategy({ strategy: "partial", keepLast: keep });
          const bytes = Buffer.from(`xx${value}yy`);
          const before = Buffer.from(bytes);
          // The unmasked bytes elsewhere, at another offset: what a refusal puts back from.
          const original = Buffer.concat([Buffer.from("pad"), before]);
          const done = strategy.applyInPlace!(bytes, 2, bytes.length - 2, original, 5);
          if (Buffer.byteLength(value) === value.length) {
            expect(bytes.toString()).toBe(`xx${keepLast(value, keep)}yy`);
            expect(done).toBe(bytes.equals(before) ? InPlace.Unchanged : InPlace.Changed);
          } else {
            expect(done).toBe(InPlace.Refused);
            expect(bytes.equals(before)).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("partial never shows more than half of a short value", () => {
    expect(keepLast("1234", 4)).toBe("**34");
    expect(keepLast("7", 4)).toBe("*");
  });

  it("redact and null", () => {
    expect(createStrategy({ strategy: "redact", keepLast: 4 }).apply("secret")).toBe(REDACTED);
    expect(createStrategy({ strategy: "null", keepLast: 4 }).apply("secret")).toBeNull();
  });

  it("hash is a keyed, deterministic HMAC", () => {
    const key = Buffer.from("0123456789abcdef-key");
    const hash = createStrategy({ strategy: "hash", keepLast: 0, hashKey: key });
    const other = createStrategy({
      strategy: "hash",
      keepLast: 0,
      hashKey: Buffer.from("another-key-of-16+bytes"),
    });
    expect(hash.apply("123-45-6789")).toBe(hash.apply("123-45-6789"));
    expect(hash.apply("123-45-6789")).toMatch(/^hmac:[0-9a-f]{32}$/);
    expect(hash.apply("123-45-6789")).not.toBe(hash.apply("123-45-6780"));
    expect(hash.apply("123-45-6789")).not.toBe(other.apply("123-45-6789"));
  });

  it("hash refuses a missing or short key", () => {
    expect(() => createStrategy({ strategy: "hash", keepLast: 0 })).toThrow(/hash_key/);
    expect(() => createStrategy({ strategy: "hash", keepLast: 0, hashKey: Buffer.from("short") })).toThrow();
  });
});
