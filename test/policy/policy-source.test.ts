import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { positionOfByteOffset, positionOfIndex, splitPolicyText } from "../../src/policy/policy-source.js";

describe("splitPolicyText", () => {
  it("splits at top-level semicolons, ignoring those in strings and comments", () => {
    const text = `// header; with a semicolon
@id("a;b") permit(principal == User::"x\\";y", action, resource);
  // between; policies
forbid(principal, action, resource) when { "q;" like "*;*" };   `;
    expect(splitPolicyText(text)).toEqual([
      { text: `@id("a;b") permit(principal == User::"x\\";y", action, resource);`, start: 28 },
      {
        text: `forbid(principal, action, resource) when { "q;" like "*;*" };`,
        start: text.indexOf("forbid"),
      },
    ]);
  });

  it("keeps trailing text that is not a policy so it cannot vanish", () => {
    expect(splitPolicyText("permit(principal, action, resource);\npermit(")).toEqual([
      { text: "permit(principal, action, resource);", start: 0 },
      { text: "permit(", start: 37 },
    ]);
    expect(splitPolicyText("  // only a comment\n")).toEqual([]);
  });

  it("agrees with Cedar's own parser on generated policy files", () => {
    const stringArb = fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s));
    const policyArb = fc
      .tuple(fc.constantFrom("permit", "forbid"), stringArb, fc.option(stringArb, { nil: undefined }))
      .map(
        ([effect, id, condition]) =>
          `@id(${id}) ${effect}(principal == User::${id}, action, resource)${condition === undefined ? "" : ` when { ${condition} == ${condition} }`};`,
      );
    const fillerArb = fc.constantFrom("\n", " ", '\n// note; ok "quoted\n', "\t\r\n");
    fc.assert(
      fc.property(fc.array(fc.tuple(fillerArb, policyArb), { maxLength: 8 }), (parts) => {
        const text = parts.map(([filler, policy]) => filler + policy).join("");
        const chunks = splitPolicyText(text);
        const cedarParts = cedar.policySetTextToParts(text);
        expect(cedarParts.type).toBe("success");
        if (cedarParts.type !== "success") return;
        expect(chunks.map((chunk) => chunk.text)).toEqual(parts.map(([, policy]) => policy));
        expect([...chunks.map((chunk) => chunk.text)].sort()).toEqual([...cedarParts.policies].sort());
        for (const chunk of chunks)
          expect(text.slice(chunk.start, chunk.start + chunk.text.length)).toBe(chunk.text);
      }),
      { numRuns: 200 },
    );
  });
});

describe("positions", () => {
  it("turns Cedar's UTF-8 byte offsets into line and column", () => {
    const text = "// ü€😀\nab€c";
    const byteOfC = Buffer.byteLength("// ü€😀\nab€");
    expect(positionOfByteOffset(text, byteOfC)).toEqual({ line: 2, column: 4 });
    expect(positionOfIndex(text, text.indexOf("c"))).toEqual({ line: 2, column: 4 });
    expect(positionOfIndex(text, 0)).toEqual({ line: 1, column: 1 });
  });
});
