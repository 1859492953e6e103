import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { createJsonMasker, type JsonValue } from "../../src/masking/json-masker.js";
import { MaskingFailure } from "../../src/masking/masking-failure.js";
import { compileMaskingProfiles } from "../../src/masking/masking-profile.js";
import { createStrategy } from "../../src/masking/strategies.js";

function detectorsOf(masking: unknown) {
  return compileMaskingProfiles(["p"], configSchema.parse({ masking: { p: masking } }).masking).detectors;
}

const redact = createStrategy({ strategy: "redact", keepLast: 0 });
const partial = createStrategy({ strategy: "partial", keepLast: 4 });
const toNull = createStrategy({ strategy: "null", keepLast: 0 });

describe("JSON masker: content detection", () => {
  const masker = createJsonMasker({ detectors: detectorsOf({ detectors: ["ssn", "email", "card"] }) });

  it("masks detected spans in string leaves at any depth and keeps the shape", () => {
    const input = JSON.parse(
      '{"user":{"name":"Ada","contact":["ada@example.com","call me"]},"note":"ssn 123-45-6789","n":3,"ok":true,"x":null}',
    );
    expect(masker.mask(input)).toEqual({
      user: { name: "Ada", contact: ["***@******e.com", "call me"] },
      note: "ssn ***-**-6789",
      n: 3,
      ok: true,
      x: null,
    });
  });

  it("turns a number holding a card number into the masked string", () => {
    expect(masker.mask({ card: 4242424242424242, id: 42 })).toEqual({ card: "************4242", id: 42 });
  });

  it("masks keys too, and refuses two keys that mask to the same text", () => {
    expect(masker.mask({ "ada@example.com": 1 })).toEqual({ "***@******e.com": 1 });
    expect(() => masker.mask({ "ada@example.com": 1, "bob@example.com": 2 })).toThrow(MaskingFailure);
  });

  it("returns the very same value when nothing was masked, and never modifies its input", () => {
    const clear = JSON.parse('{"a":[1,"two",{"b":false}],"c":"d"}');
    expect(masker.mask(clear)).toBe(clear);
    const dirty = { a: ["123-45-6789"], b: { c: "clear" } };
    const before = structuredClone(dirty);
    const masked = masker.mask(dirty) as { a: string[]; b: object };
    expect(dirty).toEqual(before);
    expect(masked.a).toEqual(["***-**-6789"]);
    expect(masked.b).toBe(dirty.b);
  });

  it("makes a string null when a detection's strategy is null", () => {
    const nulling = createJsonMasker({
      detectors: detectorsOf({ detectors: [{ name: "ssn", strategy: "null" }] }),
    });
    expect(nulling.mask(["ssn 123-45-6789", "fine"])).toEqual([null, "fine"]);
    // A key cannot be null: it is redacted.
    expect(nulling.mask({ "123-45-6789": "x" })).toEqual({ "[redacted]": "x" });
  });

  it("masks a top-level string", () => {
    expect(masker.mask("mail ada@example.com")).toBe("mail ***@******e.com");
  });
});

describe("JSON masker: field rules", () => {
  it("masks the whole value under a field name at any depth, case-insensitively", () => {
    const masker = createJsonMasker({ detectors: [], fields: new Map([["ssn", partial]]) });
    expect(
      masker.mask({
        SSN: "123456789",
        people: [{ ssn: 123456789 }, { name: "x", Ssn: null }],
        other: "123456789",
      }),
    ).toEqual({
      SSN: "*****6789",
      people: [{ ssn: "*****6789" }, { name: "x", Ssn: null }],
      other: "123456789",
    });
  });

  it("masks every leaf of an object or array under a field rule", () => {
    const masker = createJsonMasker({ detectors: [], fields: new Map([["secret", redact]]) });
    expect(masker.mask({ secret: { a: "x", b: [1, true, null] }, open: "y" })).toEqual({
      secret: { a: "[redacted]", b: ["[redacted]", "[redacted]", null] },
      open: "y",
    });
  });

  it("matches a dotted path from the root only, through arrays", () => {
    const masker = createJsonMasker({ detectors: [], fields: new Map([["customer.ssn", redact]]) });
    expect(
      masker.mask({ customer: [{ ssn: "1" }, { ssn: "2" }], ssn: "3", other: { customer: { ssn: "4" } } }),
    ).toEqual({
      customer: [{ ssn: "[redacted]" }, { ssn: "[redacted]" }],
      ssn: "3",
      other: { customer: { ssn: "4" } },
    });
  });

  it("applies a null strategy as JSON null", () => {
    const masker = createJsonMasker({ detectors: [], fields: new Map([["token", toNull]]) });
    expect(masker.mask({ token: "abc", keep: "def" })).toEqual({ token: null, keep: "def" });
  });

  it("runs content detection beside field rules", () => {
    const masker = createJsonMasker({
      detectors: detectorsOf({ detectors: ["email"] }),
      fields: new Map([["name", redact]]),
    });
    expect(masker.mask({ name: "Ada", mail: "ada@example.com" })).toEqual({
      name: "[redacted]",
      mail: "***@******e.com",
    });
  });
});

describe("JSON masker: fails closed", () => {
  const masker = createJsonMasker({ detectors: detectorsOf({ detectors: ["ssn"] }), maxDepth: 8 });

  it("refuses nesting deeper than maxDepth", () => {
    let deep: JsonValue = "123-45-6789";
    for (let i = 0; i < 10; i++) deep = [deep];
    expect(() => masker.mask(deep)).toThrow(/deeper than 8/);
  });

  it("refuses values that are not JSON", () => {
    expect(() => masker.mask({ a: undefined } as unknown as JsonValue)).toThrow(MaskingFailure);
  });

  it("keeps a __proto__ key an own property", () => {
    const input = JSON.parse('{"__proto__":{"ssn":"123-45-6789"}}');
    const masked = masker.mask(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
    expect(Object.hasOwn(masked, "__proto__")).toBe(true);
    expect(JSON.stringify(masked)).toBe('{"__proto__":{"ssn":"***-**-6789"}}');
  });

  it("is inactive without rules and passes everything through", () => {
    const none = createJsonMasker({ detectors: [] });
    expect(none.active).toBe(false);
    const value = { ssn: "123-45-6789" };
    expect(none.mask(value)).toBe(value);
  });
});
