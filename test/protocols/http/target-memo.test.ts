import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRequestTarget, targetUnder } from "../../../src/protocols/http/request-target.js";
import { frontTargetUnder, parseFrontTarget } from "../../../src/protocols/http/target-memo.js";

const PIECES = ["a", "B", "/", "//", ".", "..", "%2e", "%2F", "%41", "%C3%A9", "é", ";", "?", "&", "=", "+"];
const PIECES_MORE = ["q=1", "%26", "_method=x", "%00", "%zz", "~", " ", "%20", "\\", "#", "Ä", "%E2%84%AA"];
const targetArb = fc
  .array(fc.constantFrom(...PIECES, ...PIECES_MORE), { maxLength: 12 })
  .map((parts) => `/${parts.join("")}`);

describe("remembered request targets", () => {
  it("give what parsing again gives, first time and remembered, under every connection rule", () => {
    let remembered = 0;
    fc.assert(
      fc.property(
        targetArb,
        fc.constantFrom("sensitive", "insensitive" as const),
        fc.constantFrom(0 as const, 1 as const),
        (raw, pathCase, skip) => {
          const fresh = parseRequestTarget(raw, { pathCase: "sensitive" });
          const first = parseFrontTarget(raw);
          const again = parseFrontTarget(raw);
          expect(first).toEqual(fresh);
          expect(again).toEqual(fresh);
          if (!fresh.ok || !again.ok) return;
          if (again === first) remembered += 1;
          const under = targetUnder(fresh.target, skip, { pathCase });
          expect(frontTargetUnder(again.target, skip, { pathCase })).toEqual(under);
          expect(frontTargetUnder(again.target, skip, { pathCase })).toEqual(under);
        },
      ),
      { numRuns: 3000, seed: 20261203 },
    );
    expect(remembered).toBeGreaterThan(300);
  });

  it("two raw targets with the same canonical form keep their own entries", () => {
    const plain = parseFrontTarget("/api/v1/x");
    const dotted = parseFrontTarget("/api/./v1//x");
    expect(plain).toEqual(dotted);
    expect(parseFrontTarget("/api/./v1//x")).toBe(dotted);
    expect(parseFrontTarget("/api/v1/x")).toBe(plain);
    expect(plain).not.toBe(dotted);
  });

  it("a remembered target cannot be changed by one request for the next", () => {
    const parsed = parseFrontTarget("/api/items?b=2&a=1");
    if (!parsed.ok) throw new Error("refused");
    expect(() => (parsed.target.segments as string[]).push("admin")).toThrow(TypeError);
    expect(() => (parsed.target.query as [string, string][]).pop()).toThrow(TypeError);
    expect(() => {
      (parsed.target.query[0] as [string, string])[1] = "3";
    }).toThrow(TypeError);
    expect(() => {
      (parsed.target as { path: string }).path = "/admin";
    }).toThrow(TypeError);
    const under = frontTargetUnder(parsed.target, 1, { pathCase: "insensitive" });
    if (!under.ok) throw new Error("refused");
    expect(() => (under.target.segments as string[]).push("admin")).toThrow(TypeError);
    expect(parseFrontTarget("/api/items?b=2&a=1")).toEqual(
      parseRequestTarget("/api/items?b=2&a=1", { pathCase: "sensitive" }),
    );
  });

  it("refusals, long targets and more targets than it keeps are parsed every time, still the same", () => {
    const refused = parseFrontTarget("/a/%2e%2e/%2e%2e/etc");
    expect(refused.ok).toBe(false);
    expect(parseFrontTarget("/a/%2e%2e/%2e%2e/etc")).not.toBe(refused);
    const long = `/${"x".repeat(600)}`;
    expect(parseFrontTarget(long)).not.toBe(parseFrontTarget(long));
    expect(parseFrontTarget(long)).toEqual(parseRequestTarget(long, { pathCase: "sensitive" }));
    for (let i = 0; i < 1000; i++) {
      const raw = `/many/${i}?n=${i}`;
      expect(parseFrontTarget(raw)).toEqual(parseRequestTarget(raw, { pathCase: "sensitive" }));
    }
  });
});
