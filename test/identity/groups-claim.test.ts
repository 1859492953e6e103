import { describe, expect, it } from "vitest";
import { readGroupsClaim } from "../../src/identity/groups-claim.js";
import { parseDuration } from "../../src/identity/parse-duration.js";

describe("readGroupsClaim", () => {
  it("reads an array of strings, trimmed and without duplicates", () => {
    expect(readGroupsClaim({ groups: ["a", " b ", "a", ""] }, "groups")).toEqual(["a", "b"]);
  });

  it("splits a string on spaces and commas", () => {
    expect(readGroupsClaim({ scope: "read write,admin ,, ops" }, "scope")).toEqual([
      "read",
      "write",
      "admin",
      "ops",
    ]);
  });

  it("walks a dotted path through nested objects", () => {
    const claims = { realm_access: { roles: ["dba"] }, resource_access: { latch: { roles: "x y" } } };
    expect(readGroupsClaim(claims, "realm_access.roles")).toEqual(["dba"]);
    expect(readGroupsClaim(claims, "resource_access.latch.roles")).toEqual(["x", "y"]);
  });

  it("prefers a claim whose own name contains dots (namespaced claims)", () => {
    const claims = {
      "https://example.com/groups": ["ops"],
      https: { "//example": { "com/groups": ["no"] } },
    };
    expect(readGroupsClaim(claims, "https://example.com/groups")).toEqual(["ops"]);
  });

  it("finds a dotted claim name below the top level too (Kubernetes: kubernetes.io -> namespace)", () => {
    const claims = { "kubernetes.io": { namespace: "reports" }, kubernetes: { io: { namespace: "no" } } };
    expect(readGroupsClaim(claims, "kubernetes.io.namespace")).toEqual(["reports"]);
    expect(readGroupsClaim({ a: { "b.c": { d: ["x"] } } }, "a.b.c.d")).toEqual(["x"]);
  });

  it("yields no groups for anything else", () => {
    for (const value of [undefined, null, 7, true, { a: 1 }, ["a", 1], [["a"]]]) {
      expect(readGroupsClaim({ groups: value }, "groups")).toEqual([]);
    }
    expect(readGroupsClaim({ realm_access: ["roles"] }, "realm_access.roles")).toEqual([]);
    expect(readGroupsClaim({}, "missing.path")).toEqual([]);
  });

  it("never reads through the prototype chain", () => {
    expect(readGroupsClaim({}, "constructor.name")).toEqual([]);
    expect(readGroupsClaim({ a: {} }, "a.__proto__.toString")).toEqual([]);
    expect(readGroupsClaim(JSON.parse('{"__proto__": {"groups": ["admin"]}}'), "groups")).toEqual([]);
  });
});

describe("parseDuration", () => {
  it("parses the config duration grammar", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("0s")).toBe(0);
  });

  it("refuses anything else instead of guessing", () => {
    for (const text of ["", "15", "m", "1.5h", "-3s", "10 m", "1w", "1e3s"]) {
      expect(() => parseDuration(text)).toThrow(RangeError);
    }
    expect(() => parseDuration(`${"9".repeat(30)}d`)).toThrow(/too large/);
  });
});
