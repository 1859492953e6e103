import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nextEmail } from "../../src/masking/email-scan.js";

/** The single regex the e-mail detector used to run: the reference for what the scan must find. */
const REFERENCE = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

function byRegex(text: string): [number, number][] {
  return [...text.matchAll(REFERENCE)].map((m) => [m.index, m.index + m[0].length]);
}

function byScan(text: string): [number, number][] {
  const spans: [number, number][] = [];
  for (let found = nextEmail(text, 0); found !== undefined; found = nextEmail(text, found[1]))
    spans.push([found[0], found[1]]);
  return spans;
}

describe("e-mail scan", () => {
  it("finds what the single regex finds, on strings built from the characters that matter", () => {
    const alphabet = fc.constantFrom("a", "Z", "7", ".", "@", "-", "_", "+", "%", " ", ",", "co", "com", "é");
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }), (parts) => {
        const text = parts.join("");
        expect(byScan(text)).toEqual(byRegex(text));
      }),
      { numRuns: 5000 },
    );
  });

  it("finds addresses next to each other and after a dash the previous one ended on", () => {
    const text = "a@b.co-x@d.com, first.last+tag@mail.example.org;y@z.io";
    expect(byScan(text)).toEqual(byRegex(text));
    expect(byScan(text).map(([s, e]) => text.slice(s, e))).toEqual([
      "a@b.co",
      "-x@d.com",
      "first.last+tag@mail.example.org",
      "y@z.io",
    ]);
  });

  it("scans a hostile 1 MiB value (an address, then one long run of local-part characters) in one pass", () => {
    // The single regex retried the run from every position: ~20 s at 64 KB, hours at this size.
    const text = `ada@example.com ${"x".repeat(1 << 20)}`;
    expect(byScan(text)).toEqual([[0, 15]]);
    const dots = `ada@example.com ${"a@".repeat(1 << 18)}`;
    expect(byScan(dots)).toEqual([[0, 15]]);
  });
});
