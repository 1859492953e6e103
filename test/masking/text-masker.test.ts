import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { compileMaskingProfiles } from "../../src/masking/masking-profile.js";
import { createRecordingMasker, createTextMasker } from "../../src/masking/text-masker.js";

function profiles(masking: unknown) {
  return configSchema.parse({ masking }).masking;
}

describe("text masker", () => {
  it("masks every detected value with its detector's strategy and leaves the rest", () => {
    const compiled = compileMaskingProfiles(
      ["pii"],
      profiles({ pii: { detectors: ["ssn", { name: "email", strategy: "redact" }] } }),
    );
    const mask = createTextMasker(compiled)!;
    expect(mask("ssn 123-45-6789 and 234-56-7890, mail ada@example.com.")).toBe(
      "ssn ***-**-6789 and ***-**-7890, mail [redacted].",
    );
    expect(mask("nothing to see here")).toBe("nothing to see here");
  });

  it("redacts where the strategy is null: text cannot become null", () => {
    const compiled = compileMaskingProfiles(
      ["pii"],
      profiles({ pii: { detectors: [{ name: "ssn", strategy: "null" }] } }),
    );
    expect(createTextMasker(compiled)!("id 123-45-6789 end")).toBe("id [redacted] end");
  });

  it("is absent when there is nothing to detect (column rules do not apply to text)", () => {
    const compiled = compileMaskingProfiles(["cols"], profiles({ cols: { columns: ["users.ssn"] } }));
    expect(createTextMasker(compiled)).toBeUndefined();
    expect(createRecordingMasker(["cols"], profiles({ cols: { columns: ["users.ssn"] } }))).toBeUndefined();
    expect(createRecordingMasker([], profiles({}))).toBeUndefined();
  });

  it("builds the recording masker from profile names, refusing unknown profiles", () => {
    const mask = createRecordingMasker(["pii"], profiles({ pii: { detectors: ["card"] } }))!;
    expect(mask("card 4242 4242 4242 4242\r\n")).toBe("card **** **** **** 4242\r\n");
    expect(() => createRecordingMasker(["nope"], profiles({}))).toThrow(/not defined/);
  });
});
