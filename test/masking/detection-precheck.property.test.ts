import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { censusOf, emptyCensus, takeCensus } from "../../src/masking/byte-census.js";
import { BUILTIN_DETECTORS, type Detector, findSpans } from "../../src/masking/detectors.js";
import { compileMaskingProfiles } from "../../src/masking/masking-profile.js";
import { ValueMasker } from "../../src/masking/value-masker.js";

const detectors = Object.values(BUILTIN_DETECTORS);
/** The straightforward scan: every pattern over the whole value, no census shortcut. */
const unfiltered: Detector[] = detectors.map((detector) => ({ ...detector, mayMatch: () => true }));

/** Pieces that build near-misses of every pattern: digit groups, separators, prefixes of secrets. */
const fragment = fc.oneof(
  fc.stringMatching(/^\d{1,5}$/),
  fc.constantFrom(" ", "-", ".", "+", "(", ")", "@", "_", ":", "/", "\n", "é", "€", "\u00a0"),
  fc.constantFrom("4242", "123", "45", "6789", "555", "0132", "212", "+1", "+44", "(415)", "10.0.", "255."),
  fc.constantFrom(
    "AKIA",
    "ASIA",
    "ghp_",
    "github_pat_",
    "xoxb-",
    "sk_live_",
    "rk_test_",
    "eyJ",
    "GB82",
    "DE89",
  ),
  fc.constantFrom("-----BEGIN ", "RSA ", "PRIVATE KEY-----", "-----END ", "ada", "example", ".com", ".io"),
  fc.stringMatching(/^[A-Z0-9]{1,8}$/),
  fc.stringMatching(/^[a-z]{1,6}$/),
);
const adversarial = fc.array(fragment, { maxLength: 24 }).map((parts) => parts.join(""));
const values = fc.oneof(
  adversarial,
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 40 }),
);

function spansOf(text: string, list: readonly Detector[]) {
  return findSpans(text, list, censusOf(text));
}

describe("census pre-check", () => {
  it("never hides a match: same spans as scanning every pattern", () => {
    fc.assert(
      fc.property(values, (text) => {
        expect(spansOf(text, detectors)).toEqual(spansOf(text, unfiltered));
      }),
      { numRuns: 3000 },
    );
  });

  it("each detector alone agrees with its unfiltered scan (merging cannot hide a pre-check miss)", () => {
    fc.assert(
      fc.property(values, fc.integer({ min: 0, max: detectors.length - 1 }), (text, index) => {
        expect(spansOf(text, [detectors[index]!])).toEqual(spansOf(text, [unfiltered[index]!]));
      }),
      { numRuns: 3000 },
    );
  });

  it("agrees on latin1 views of raw bytes (binary values are scanned that way)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        const text = Buffer.from(bytes).toString("latin1");
        const census = takeCensus(bytes, 0, bytes.length, emptyCensus());
        expect(findSpans(text, detectors, census)).toEqual(findSpans(text, unfiltered, census));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    "4242 4242 4242 4242",
    "ssn 123-45-6789",
    "123 45 6789",
    "+1 415-555-0132",
    "(212) 555-0188",
    "415.555.0132",
    "+44 20 7946 0958",
    "+1 (415) 555-0132",
    `github_pat_${"a".repeat(22)}`,
    "key AKIAIOSFODNN7EXAMPLE",
  ])("lets %j through to its pattern", (text) => {
    expect(spansOf(text, detectors).length).toBeGreaterThan(0);
  });

  it("rules out a timestamp without running the number patterns", () => {
    const census = censusOf("2024-05-17 12:34:56.789+00");
    for (const name of ["card", "ssn", "phone"])
      expect(BUILTIN_DETECTORS[name]!.mayMatch(census)).toBe(false);
  });
});

function masker(strategy: "partial" | "redact" | "null" | "hash"): ValueMasker {
  const profile = compileMaskingProfiles(
    ["p"],
    {
      p: {
        detectors: ["all"],
        custom_detectors: [],
        columns: [],
        strategy,
        keep_last: 4,
        hash_key: { env: "UNUSED" },
        on_derived: "mask",
        strict: false,
      },
    } as never,
    () => "0123456789abcdef0123",
  );
  return new ValueMasker(profile.detectors);
}

describe("masking spans in bytes", () => {
  it.each(["partial", "redact", "null", "hash"] as const)("matches the string path under %s", (strategy) => {
    const values = masker(strategy);
    fc.assert(
      fc.property(adversarial, fc.boolean(), (text, nullable) => {
        const bytes = Buffer.from(`<${text}>`, "utf8");
        const outcome = values.detect(bytes, 1, bytes.length - 1, nullable);
        const expected = values.maskText(text, nullable);
        if (expected === text) expect(outcome.changed).toBe(false);
        else if (outcome.changed) {
          expect(outcome.value === null ? null : outcome.value.toString("utf8")).toBe(expected);
        } else expect.unreachable(`expected ${JSON.stringify(expected)}`);
      }),
      { numRuns: 1500 },
    );
  });
});
