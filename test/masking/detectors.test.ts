import { describe, expect, it } from "vitest";
import { censusOf } from "../../src/masking/byte-census.js";
import { isIban, isPaymentCard, isSocialSecurityNumber } from "../../src/masking/detector-validators.js";
import { BUILTIN_DETECTORS, customDetector, findSpans } from "../../src/masking/detectors.js";

function detect(name: string, text: string): string[] {
  const detector = BUILTIN_DETECTORS[name]!;
  return findSpans(text, [detector], censusOf(text)).map((span) => text.slice(span.start, span.end));
}

describe("content detectors", () => {
  it.each([
    ["card", "paid with 4242 4242 4242 4242 today", ["4242 4242 4242 4242"]],
    ["card", "4242-4242-4242-4242", ["4242-4242-4242-4242"]],
    ["card", "amex 3782 822463 10005", ["3782 822463 10005"]],
    ["card", "5555555555554444", ["5555555555554444"]],
    ["ssn", "ssn 123-45-6789.", ["123-45-6789"]],
    ["ssn", "123 45 6789", ["123 45 6789"]],
    ["email", "mail ada@example.com now", ["ada@example.com"]],
    ["phone", "call +1 415-555-0132 or (212) 555-0188", ["+1 415-555-0132", "(212) 555-0188"]],
    ["iban", "GB82 WEST 1234 5698 7654 32", ["GB82 WEST 1234 5698 7654 32"]],
    ["iban", "DE89370400440532013000", ["DE89370400440532013000"]],
    ["aws_access_key", "key=AKIAIOSFODNN7EXAMPLE;", ["AKIAIOSFODNN7EXAMPLE"]],
    ["github_token", `t ghp_${"a".repeat(36)}`, [`ghp_${"a".repeat(36)}`]],
    ["slack_token", "xoxb-123456789012-abcdefABCDEF", ["xoxb-123456789012-abcdefABCDEF"]],
    ["stripe_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", ["sk_live_4eC39HqLyjWDarjtT1zdp7dc"]],
    [
      "jwt",
      "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sig_part-1",
      ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sig_part-1"],
    ],
    [
      "private_key",
      "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
      ["-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"],
    ],
    [
      "private_key",
      "-----BEGIN PRIVATE KEY-----\nMIIEtruncated",
      ["-----BEGIN PRIVATE KEY-----\nMIIEtruncated"],
    ],
    ["ipv4", "from 10.0.12.255 via 192.168.1.1", ["10.0.12.255", "192.168.1.1"]],
  ])("%s finds what it should in %j", (name, text, expected) => {
    expect(detect(name, text)).toEqual(expected);
  });

  it.each([
    ["card", "order 4242424242424241"], // Luhn fails
    ["card", "order 1234-5678-9012-3456"], // Luhn fails and leading 1
    ["card", "0000000000000000"],
    ["card", "4242 4242-4242 4242"], // mixed separators
    ["card", "ts 2024-01-15 12:30:45.123456"],
    ["ssn", "000-12-3456"],
    ["ssn", "666-12-3456"],
    ["ssn", "900-12-3456"],
    ["ssn", "123-00-4567"],
    ["ssn", "123-45-0000"],
    ["ssn", "123-45 6789"],
    ["ssn", "2024-01-1234"],
    ["phone", "id 4155550132"],
    ["iban", "GB82WEST12345698765433"], // mod 97 fails
    ["ipv4", "version 1.2.3.4.5"],
    ["ipv4", "999.1.1.1"],
    ["aws_access_key", "AKIA-short"],
    ["email", "not an email@ address"],
  ])("%s leaves %j clear", (name, text) => {
    expect(detect(name, text)).toEqual([]);
  });

  it("validators follow their rules", () => {
    expect(isPaymentCard("4000 0566 5566 5556")).toBe(true);
    expect(isPaymentCard("4000 0566 5566 5557")).toBe(false);
    expect(isSocialSecurityNumber("899-99-9999")).toBe(true);
    expect(isSocialSecurityNumber("999-99-9999")).toBe(false);
    expect(isIban("GB82WEST12345698765432")).toBe(true);
    expect(isIban("GB82")).toBe(false);
  });

  it("merges overlapping spans and orders them", () => {
    const detectors = [BUILTIN_DETECTORS.email!, customDetector("tag", "example\\.com", "")];
    const text = "x ada@example.com y";
    expect(findSpans(text, detectors, censusOf(text))).toEqual([{ start: 2, end: 17, detector: "email" }]);
  });

  it("refuses a custom pattern that matches the empty string", () => {
    expect(() => customDetector("bad", "a*", "")).toThrow(/empty string/);
  });
});
