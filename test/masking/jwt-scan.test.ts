import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nextJwt } from "../../src/masking/jwt-scan.js";

/** The single regex the JWT detector used to run: the reference for what the scan must find. */
const REFERENCE = /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

function byRegex(text: string): [number, number][] {
  return [...text.matchAll(REFERENCE)].map((m) => [m.index, m.index + m[0].length]);
}

function byScan(text: string): [number, number][] {
  const spans: [number, number][] = [];
  for (let found = nextJwt(text, 0); found !== undefined; found = nextJwt(text, found[1]))
    spans.push([found[0], found[1]]);
  return spans;
}

describe("JWT scan", () => {
  it("finds what the single regex finds, on strings built from the pieces that matter", () => {
    const pieces = fc.constantFrom("eyJ", "abcde", "a", "_", "-", ".", " ", "eyJhbGci", "é", "x.eyJ");
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 30 }), (parts) => {
        const text = parts.join("");
        expect(byScan(text)).toEqual(byRegex(text));
      }),
      { numRuns: 5000 },
    );
  });

  it("finds a token after a dash, after another token and at the start", () => {
    const jwt = "eyJhbGciOi.eyJzdWIiOi.c2ln";
    const text = `${jwt} token-${jwt},x${jwt} ${jwt}`;
    expect(byScan(text)).toEqual(byRegex(text));
    expect(byScan(text)).toHaveLength(3);
  });

  it("scans a hostile 1 MiB value (dash-separated eyJ with no dot after) in one pass", () => {
    // The single regex rescanned the run from every eyJ: ~0.3 s at 16 KB, hours at this size.
    const text = `a.b. ${"-eyJ".repeat(1 << 18)}`;
    expect(byScan(text)).toEqual([]);
  });
});
