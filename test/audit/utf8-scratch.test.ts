import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { computeEventHash } from "../../src/audit/event-hash.js";
import { Utf8Scratch } from "../../src/audit/utf8-scratch.js";

// The chain's hash input and the journal line are written piece by piece; the bytes must be exactly those of
// the joined strings the hash rule (event-hash.ts) spells out, whatever the fields hold.
const strings = [
  "",
  "session_start",
  "2026-12-02T06:00:00.000Z",
  "3f6c1a52-8d0e-4b43-9a57-4c1f0e9b2d11",
  'quote " and backslash \\',
  "tab\tnewline\ncontrol\u0001\u001f",
  "é ü ß 日本",
  "emoji 😀 pair",
  "lone \ud800 high",
  "lone \udc00 low",
  "x".repeat(79),
  `${"y".repeat(200)}é`,
  "\u007f\u0080",
];
const numbers = [
  0,
  1,
  9,
  10,
  99,
  100,
  101,
  999,
  1000,
  123456789,
  Number.MAX_SAFE_INTEGER,
  -1,
  1.5,
  -0,
  1e21,
  2 ** 53,
];

describe("Utf8Scratch", () => {
  it.each(strings)("appendJsonString writes the bytes of JSON.stringify: %j", (text) => {
    const bytes = new Utf8Scratch(4).reset().append("<").appendJsonString(text).append(">").bytes();
    expect(Buffer.from(bytes).toString("hex")).toBe(Buffer.from(`<${JSON.stringify(text)}>`).toString("hex"));
  });

  it.each(strings)("append writes the UTF-8 bytes: %j", (text) => {
    expect(Buffer.from(new Utf8Scratch(4).append(text).bytes()).equals(Buffer.from(text))).toBe(true);
  });

  it.each(numbers)("appendNumber writes String(n): %d", (value) => {
    expect(new Utf8Scratch(2).appendByte(0x3a).appendNumber(value).bytes().toString()).toBe(
      `:${String(value)}`,
    );
  });
});

describe("computeEventHash", () => {
  it("hashes the bytes of the joined canonical array, for any field values", () => {
    for (const [i, text] of strings.entries()) {
      const fields = {
        prevHash: i % 2 === 0 ? "0".repeat(64) : text,
        seq: numbers[i % numbers.length]!,
        ts: text,
        kind: strings[(i + 3) % strings.length]!,
        sessionId: i % 3 === 0 ? null : text,
        dataJson: `{"a":${JSON.stringify(text)}}`,
      };
      const joined = `[${JSON.stringify(fields.prevHash)},${fields.seq},${JSON.stringify(fields.ts)},${JSON.stringify(
        fields.kind,
      )},${fields.sessionId === null ? "null" : JSON.stringify(fields.sessionId)},${fields.dataJson}]`;
      expect(computeEventHash(fields)).toBe(createHash("sha256").update(joined, "utf8").digest("hex"));
    }
  });
});
