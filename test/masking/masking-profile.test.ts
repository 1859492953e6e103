import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { compileMaskingProfiles, qualifyColumn } from "../../src/masking/masking-profile.js";

function profiles(masking: unknown) {
  return configSchema.parse({ masking }).masking;
}

describe("masking profiles", () => {
  it("keeps the original short form working", () => {
    const compiled = compileMaskingProfiles(
      ["pii"],
      profiles({ pii: { detectors: ["ssn"], columns: ["users.notes"] } }),
    );
    expect(compiled.detectors.map((d) => d.detector.name)).toEqual(["ssn"]);
    expect([...compiled.columns.keys()]).toEqual(["public.users.notes"]);
    expect(compiled.columns.get("public.users.notes")!.apply("hello world")).toBe(
      "*****-*orld".replace("-", " "),
    );
    // Secure by default: expressions over masked columns are refused unless a profile opts into `mask`.
    expect(compiled.onDerived).toBe("deny");
    expect(compiled.strict).toBe(false);
    expect(compiled.active).toBe(true);
  });

  it("combines profiles towards more masking", () => {
    const compiled = compileMaskingProfiles(
      ["a", "b"],
      profiles({
        a: { detectors: ["all"], on_derived: "deny" },
        b: {
          columns: [{ column: "Billing.Cards.Number", strategy: "hash" }],
          hash_key: { env: "LATCH_TEST_MASK_KEY" },
          strict: true,
          custom_detectors: [{ name: "employee", pattern: "EMP-\\d{6}", strategy: "redact" }],
        },
      }),
      () => "a-key-that-is-long-enough",
    );
    expect(compiled.detectors).toHaveLength(13);
    expect(compiled.columns.get("billing.cards.number")!.apply("4242")).toMatch(/^hmac:/);
    expect(compiled.onDerived).toBe("deny");
    expect(compiled.strict).toBe(true);
  });

  it.each([
    [["missing"], {}, /not defined/],
    [["p"], { p: { detectors: ["passport"] } }, /unknown detector "passport"/],
    [["p"], { p: { columns: ["a.b.c.d"] } }, /expected schema.table.column/],
    [["p"], { p: { columns: [{ column: "t.c", strategy: "hash" }] } }, /needs hash_key/],
    [["p"], { p: { custom_detectors: [{ name: "x", pattern: "(" }] } }, /custom detector "x"/],
  ])("refuses %j", (names, masking, message) => {
    expect(() => compileMaskingProfiles(names, profiles(masking))).toThrow(message);
  });

  it("is inactive when there is nothing to mask", () => {
    expect(compileMaskingProfiles([], {}).active).toBe(false);
  });

  it("qualifies and lower-cases column names", () => {
    expect(qualifyColumn("Users.SSN")).toBe("public.users.ssn");
  });
});
