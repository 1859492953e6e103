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
  BUILTIN_MIN_LENGTH,
  builtinCandidates,
  type Detector,
  findSpans,
} from "../../src/masking/detectors.js";
import { nextEmail, nextEmailInBytes } from "../../src/masking/email-scan.js";
import { compileMaskingProfiles } from "../../src/masking/masking-profile.js";
import { SpanFinder } from "../../src/masking/span-finder.js";
import { InPlace } from "../../src/masking/strategies.js";
import { ValueMasker } from "../../src/masking/value-masker.js";
import { takeCensus as takeCensusBefore } from "./reference/byte-census-before.js";
import { nextEmail as nextEmailBefore } from "./reference/email-scan-before.js";
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
  // Timestamps and their pieces: many digits in runs of phone characters that hold no shape.
  fc.constantFrom("2024-05-17 12:34:56.789+00", "2024-05-17", " 12:34", ":56.789+00", "+00", "12:"),
  fc.stringMatching(/^[A-Z0-9]{1,8}$/),
  fc.stringMatching(/^[a-z]{1,6}$/),
  // Digit groups joined by separators, around the shapes' thresholds (groups of 3, 9/10/13 digits, prefixes).
  fc.stringMatching(/^[+(]?\d{1,4}\)?([ .-]{1,2}\d{1,4}){0,4}$/),
  fc.constantFrom("(212) 555-0188", "415.555.0132", "+44 20 7946 0958", "123 45 678", "12-345-678"),
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

  it("admits no value shorter than BUILTIN_MIN_LENGTH bytes (scan() skips their census)", () => {
    const short = fc.oneof(
      values.map((text) => Buffer.from(text).subarray(0, BUILTIN_MIN_LENGTH - 1)),
      fc.uint8Array({ maxLength: BUILTIN_MIN_LENGTH - 1 }).map((bytes) => Buffer.from(bytes)),
      fc.constantFrom(...["a@b.c", "1.2.3", "12345", "AKIA1", "xox-1", "-----"].map((t) => Buffer.from(t))),
    );
    fc.assert(
      fc.property(short, (bytes) => {
        const census = takeCensus(bytes, 0, bytes.length, emptyCensus());
        expect(builtinCandidates(census)).toBe(0);
        for (const detector of builtins) expect(detector.mayMatch(census)).toBe(false);
      }),
      { numRuns: 3000 },
    );
    // The shortest address is admitted: the bound is not higher than it must be.
    expect(builtinCandidates(censusOf("a@b.cd"))).not.toBe(0);
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
      strategy: { ...entry.strategy, applyInPlace: () => InPlace.Refused },
    }));
    const bytes = Buffer.from("mail ada@example.com");
    expect(() => new ValueMasker(refusing).detect(bytes, 0, bytes.length)).toThrow(/could not mask/);
    expect(() => new ValueMaskerBefore(refusing).detect(bytes, 0, bytes.length)).toThrow(/could not mask/);
  });
});

/** The shapes census() follows are exact where a detector asks: a card chain of 13 digits, a prefixed run of 10. */
const CARD_CHAIN_MIN = 13;
const PREFIXED_RUN_MIN = 10;

describe("byte census", () => {
  it("answers as the census before, inside a larger buffer, cut anywhere", () => {
    const rawValues = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString("latin1"));
    fc.assert(
      fc.property(fc.oneof(values, rawValues), fc.nat(), fc.nat(), (text, a, b) => {
        const bytes = Buffer.from(`x${text}-`, "utf8");
        const start = a % bytes.length;
        const end = start + (b % (bytes.length - start + 1));
        const now = takeCensus(bytes, start, end, emptyCensus());
        const then = takeCensusBefore(bytes, start, end, emptyCensus());
        expect(builtinCandidates(now)).toBe(builtinCandidates(then));
        const { longestCardChain, longestPrefixedPhoneRun, ...counts } = now;
        const { longestCardChain: chainThen, longestPrefixedPhoneRun: runThen, ...countsThen } = then;
        expect(counts).toEqual(countsThen);
        // Below what a detector asks a chain or run may be left out (0 or less); ssnShape and phoneShape are exact.
        if (chainThen >= CARD_CHAIN_MIN) expect(longestCardChain).toBe(chainThen);
        else expect(longestCardChain).toBeLessThan(CARD_CHAIN_MIN);
        if (runThen >= PREFIXED_RUN_MIN) expect(longestPrefixedPhoneRun).toBe(runThen);
        else expect(longestPrefixedPhoneRun).toBeLessThan(PREFIXED_RUN_MIN);
      }),
      { numRuns: 4000 },
    );
  });

  it("follows the shapes of a run that holds one after a timestamp's runs that hold none", () => {
    for (const text of [
      "2024-05-17 12:34:56.789+00 4242 4242 4242 4242",
      "2024-05-17 12:34:56.789+00 ssn 123-45-6789",
      "2024-05-17 12:34:56.789+00 (212) 555-0188",
      "at 12:34 +1 415-555-0132",
    ]) {
      const census = censusOf(text);
      expect(builtinCandidates(census)).toBe(
        builtinCandidates(takeCensusBefore(Buffer.from(text), 0, text.length, emptyCensus())),
      );
      expect(builtinCandidates(census) & 0b1011).not.toBe(0);
    }
  });
});

/** `text` with every character past U+00FF (one latin1 cannot hold in a byte) replaced by `by`. */
function toLatin1(text: string, by: string): string {
  return Array.from(text, (char) => (char.codePointAt(0)! > 0xff ? by : char)).join("");
}

/** Every address from `from` on, by a scan. */
function emails(next: typeof nextEmail, text: string, from: number): [number, number][] {
  const spans: [number, number][] = [];
  for (let found = next(text, from); found !== undefined; found = next(text, found[1]))
    spans.push([found[0], found[1]]);
  return spans;
}

describe("e-mail scan", () => {
  const piece = fc.oneof(
    fc.constantFrom("a", "Z", "7", "-", "_", "+", "%", ".", "..", ".-", "-.", "@", "@@", " ", ",", ";", ":"),
    fc.constantFrom(
      "co",
      "com",
      "c",
      ".c",
      ".co",
      ".c0",
      ".7z",
      ".io-",
      "-x",
      "xn--",
      "xn--bcher-kva",
      ".xn--p1ai",
    ),
    fc.constantFrom("é", "ü", "例え", "\u00a0", "𝟘", "\u0000", "ß.de", "@例え.jp", "@bücher.de", "@x.рф"),
    fc.constantFrom(
      "ada@example.com",
      "first.last+tag@mail.example.org",
      "a@b.c",
      "a@-.co",
      "a@b..co",
      "a@.co",
    ),
    fc
      .tuple(fc.constantFrom("a", "a.", "7-", "x@", "b.", "co."), fc.integer({ min: 1, max: 300 }))
      .map(([s, n]) => s.repeat(n)),
  );
  const text = fc.array(piece, { maxLength: 30 }).map((parts) => parts.join(""));

  it("finds what the regex scan before found, from any offset and in any cut of the value", () => {
    fc.assert(
      fc.property(text, fc.nat(), fc.nat(), (value, a, b) => {
        const from = a % (value.length + 1);
        expect(emails(nextEmail, value, from)).toEqual(emails(nextEmailBefore, value, from));
        const cut = value.slice(0, b % (value.length + 1));
        expect(emails(nextEmail, cut, 0)).toEqual(emails(nextEmailBefore, cut, 0));
        const tail = value.slice(b % (value.length + 1));
        expect(emails(nextEmail, tail, 0)).toEqual(emails(nextEmailBefore, tail, 0));
      }),
      { numRuns: 4000 },
    );
  });

  it("finds the same on the bytes of a one-byte-per-character value, inside a larger buffer, cut anywhere", () => {
    fc.assert(
      fc.property(
        text,
        fc.string({ maxLength: 6 }),
        fc.string({ maxLength: 6 }),
        fc.nat(),
        fc.nat(),
        (raw, x, y, a, b) => {
          // Characters past U+00FF become "é": latin1 keeps one byte per character, as ASCII does.
          const value = toLatin1(raw, "é");
          const before = toLatin1(x, "@");
          const bytes = Buffer.from(before + value + toLatin1(y, "."), "latin1");
          const cutStart = a % (value.length + 1);
          const cutEnd = cutStart + (b % (value.length - cutStart + 1));
          const start = before.length + cutStart;
          const end = before.length + cutEnd;
          const spans: [number, number][] = [];
          const found = [0];
          for (let at = nextEmailInBytes(bytes, start, end, found); at !== -1; ) {
            spans.push([at - start, found[0]! - start]);
            at = nextEmailInBytes(bytes, found[0]!, end, found);
          }
          expect(spans).toEqual(emails(nextEmailBefore, value.slice(cutStart, cutEnd), 0));
        },
      ),
      { numRuns: 4000 },
    );
  });

  it("ends the domain where the regex did: the last label past the first that starts with two letters", () => {
    for (const value of [
      "a@b.co.x",
      "a@b.co.uk",
      "a@b.c.d",
      "a@b.cc7.d",
      "a@b.7cc",
      "a@b-.co-",
      "a@b.co.",
      "a@b.co..uk",
      "a@b.co.@x.io",
      "a@x.com例",
      "a@例.com",
      `${"l".repeat(5000)}@${"d.".repeat(3000)}com`,
      `a@${"d-".repeat(4000)}.${"z".repeat(4000)}`,
    ])
      expect(emails(nextEmail, value, 0)).toEqual(emails(nextEmailBefore, value, 0));
  });
});
