/**
 * The span finder and the masker built on it (issue 12) against what they replaced: findSpans() and the
 * ValueMasker of before (test/masking/reference/value-masker-before.ts). Same spans, same masked bytes, same
 * detector hits, for random and adversarial values: near-misses of every pattern, non-ASCII, raw bytes, long
 * values, values inside a larger buffer cut at every boundary, and custom detectors (one named like a
 * built-in, whose strategy then decides by name as before).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { censusOf, emptyCensus, takeCensus } from "../../src/masking/byte-census.js";
import {
  BUILTIN_DETECTOR_BITS,
  BUILTIN_DETECTORS,
  builtinCandidates,
  type Detector,
  findSpans,
} from "../../src/masking/detectors.js";
import { compileMaskingProfiles } from "../../src/masking/masking-profile.js";
import { SpanFinder } from "../../src/masking/span-finder.js";
import { ValueMasker } from "../../src/masking/value-masker.js";
import { ValueMasker as ValueMaskerBefore } from "./reference/value-masker-before.js";

const builtins = Object.values(BUILTIN_DETECTORS);

const fragment = fc.oneof(
  fc.stringMatching(/^\d{1,5}$/),
  fc.constantFrom(" ", "-", ".", "+", "(", ")", "@", "_", ":", "/", "\n", "é", "€", "\u00a0", "𝟘", "\u0000"),
  fc.constantFrom("4242", "4242 4242 4242 4242", "123-45-6789", "555", "(415)", "+1", "10.0.0.", "255."),
  fc.constantFrom("AKIA", "ghp_", "github_pat_", "xoxb-", "sk_live_", "eyJ", "GB82 WEST 1234 5698 7654 32"),
  fc.constantFrom(
    "-----BEGIN ",
    "RSA ",
    "PRIVATE KEY-----",
    "-----END ",
    "ada@example.com",
    "x@y.io",
    ".com",
  ),
  fc.stringMatching(/^[A-Z0-9]{1,8}$/),
  fc.stringMatching(/^[a-z]{1,6}$/),
);
const adversarial = fc.array(fragment, { maxLength: 24 }).map((parts) => parts.join(""));
/** Long values: a few fragments repeated (hundreds to thousands of characters). */
const long = fc
  .tuple(fc.array(fragment, { minLength: 1, maxLength: 6 }), fc.integer({ min: 20, max: 400 }))
  .map(([parts, times]) => parts.join("").repeat(times));
const values = fc.oneof(
  { arbitrary: adversarial, weight: 6 },
  { arbitrary: fc.string({ maxLength: 60 }), weight: 2 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }), weight: 1 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 1 },
  { arbitrary: long, weight: 1 },
);

const custom: Detector[] = [
  { name: "order", pattern: /\bORD-\d{4,}\b/g, mayMatch: () => true },
  { ...BUILTIN_DETECTORS.email!, mayMatch: () => true }, // not the built-in object: asked on its own
];
/** A random non-empty selection of detectors in a random order, built-ins and others mixed. */
const detectorList = fc
  .shuffledSubarray([...builtins, ...custom], { minLength: 1 })
  .chain((list) => fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }));

function finderSpans(text: string, list: readonly Detector[]) {
  const finder = new SpanFinder(list);
  const census = censusOf(text);
  const candidates = finder.candidates(census);
  const count = finder.mayFind(census, candidates) ? finder.find(text, census, candidates) : 0;
  return Array.from({ length: count }, (_, i) => ({
    start: finder.starts[i]!,
    end: finder.ends[i]!,
    detector: list[finder.owners[i]!]!.name,
  }));
}

describe("span finder", () => {
  it("builtinCandidates asks exactly each built-in's mayMatch", () => {
    fc.assert(
      fc.property(values, (text) => {
        const census = censusOf(text);
        const bits = builtinCandidates(census);
        for (const detector of builtins) {
          expect((bits & BUILTIN_DETECTOR_BITS.get(detector)!) !== 0).toBe(detector.mayMatch(census));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("finds what findSpans finds, for any detectors in any order", () => {
    fc.assert(
      fc.property(values, detectorList, (text, list) => {
        expect(finderSpans(text, list)).toEqual(findSpans(text, list, censusOf(text)));
      }),
      { numRuns: 3000 },
    );
  });

  it("finds what findSpans finds in latin1 views of raw bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = Buffer.from(bytes).toString("latin1");
        const census = takeCensus(bytes, 0, bytes.length, emptyCensus());
        const finder = new SpanFinder(builtins);
        const count = finder.find(text, census, finder.candidates(census));
        expect(count).toBe(findSpans(text, builtins, census).length);
      }),
      { numRuns: 2000 },
    );
  });

  it("merges many overlapping spans as findSpans does (the sorted path past the insertion sort)", () => {
    const text = Array.from({ length: 60 }, (_, i) => `4242 4242 4242 4242 ${i}@ex.io 10.0.0.${i}`).join(" ");
    expect(finderSpans(text, [...builtins, ...custom])).toEqual(
      findSpans(text, [...builtins, ...custom], censusOf(text)),
    );
  });
});

type Strategy = "partial" | "redact" | "null" | "hash";
const strategyOf = fc.constantFrom<Strategy>("partial", "redact", "null", "hash");

/** A profile of every built-in (each with its own strategy) and two custom detectors, one named "email". */
const profileOf = fc
  .tuple(strategyOf, fc.array(strategyOf, { minLength: builtins.length, maxLength: builtins.length }))
  .map(([fallback, each]) =>
    compileMaskingProfiles(
      ["p"],
      {
        p: {
          detectors: builtins.map((detector, i) => ({ name: detector.name, strategy: each[i] })),
          custom_detectors: [
            { name: "order", pattern: "\\bORD-\\d{4,}\\b", flags: "", strategy: fallback },
            { name: "email", pattern: "[a-z]+@[a-z]+\\.io", flags: "i" },
          ],
          columns: [],
          strategy: fallback,
          keep_last: 4,
          hash_key: { env: "UNUSED" },
          on_derived: "mask",
          strict: false,
        },
      } as never,
      () => "0123456789abcdef0123",
    ),
  );

function outcome(result: { changed: boolean; value?: Buffer | null }) {
  return result.changed
    ? { changed: true, value: result.value === null ? null : result.value!.toString("hex") }
    : result;
}

describe("value masker", () => {
  it("masks every value as before, inside a larger buffer, cut anywhere", () => {
    fc.assert(
      fc.property(
        profileOf,
        values,
        fc.uint8Array({ maxLength: 8 }),
        fc.uint8Array({ maxLength: 8 }),
        fc.boolean(),
        (profile, text, before, after, nullable) => {
          const now = new ValueMasker(profile.detectors);
          const then = new ValueMaskerBefore(profile.detectors);
          const value = Buffer.from(text, "utf8");
          const bytes = Buffer.concat([before, value, after]);
          // Every cut of the value: a prefix, a suffix and the whole (a value split across reads).
          for (const [start, end] of [
            [before.length, before.length + value.length],
            [before.length, before.length + (value.length >> 1)],
            [before.length + (value.length >> 1), before.length + value.length],
          ] as const) {
            const copy = Buffer.from(bytes);
            expect(outcome(now.detect(copy, start, end, nullable))).toEqual(
              outcome(then.detect(bytes, start, end, nullable)),
            );
            expect(copy.equals(bytes)).toBe(true); // the scanned buffer is never written
          }
          expect(now.maskText(text, nullable)).toBe(then.maskText(text, nullable));
          expect(now.finds(text)).toBe(then.finds(text));
          expect(now.tally.detectorHits).toBe(then.tally.detectorHits);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("refuses a value it cannot mask as before (a strategy that cannot mask in place)", () => {
    const profile = compileMaskingProfiles(["p"], {
      p: { detectors: ["email"], custom_detectors: [], columns: [], strategy: "partial", keep_last: 4 },
    } as never);
    const refusing = profile.detectors.map((entry) => ({
      ...entry,
      strategy: { ...entry.strategy, applyInPlace: () => false },
    }));
    const bytes = Buffer.from("mail ada@example.com");
    expect(() => new ValueMasker(refusing).detect(bytes, 0, bytes.length)).toThrow(/could not mask/);
    expect(() => new ValueMaskerBefore(refusing).detect(bytes, 0, bytes.length)).toThrow(/could not mask/);
  });
});
