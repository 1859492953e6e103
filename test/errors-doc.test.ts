import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERRORS } from "../src/errors.js";

describe("error table", () => {
  it("docs/errors.md lists exactly the codes of src/errors.ts, with their SQLSTATEs", () => {
    const doc = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
    const documented = [...doc.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\w+)\s*\|\s*(\w{5})\s*\|/gm)].map((m) => [
      m[1],
      m[2],
      m[3],
    ]);
    const table = Object.entries(ERRORS).map(([code, spec]) => [code, spec.class, spec.sqlstate]);
    expect(documented).toEqual(table);
  });

  it("uses SQLSTATE classes that match the error class", () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      if (spec.class === "identity" && code.startsWith("token")) expect(spec.sqlstate.slice(0, 2)).toBe("28");
      if (spec.class === "denial") expect(["42", "25"]).toContain(spec.sqlstate.slice(0, 2));
      expect(spec.sqlstate).toMatch(/^[0-9A-Z]{5}$/);
    }
  });
});
