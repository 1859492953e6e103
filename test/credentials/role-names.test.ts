import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ephemeralRoleName,
  quoteIdentifier,
  quoteLiteral,
  roleComment,
  roleCommentPrefix,
} from "../../src/credentials/role-names.js";

describe("ephemeralRoleName", () => {
  it("shows the principal and the session", () => {
    expect(ephemeralRoleName("Alice@Example.com", "3f2a9c1e-0000-4000-8000-000000000000")).toBe(
      "latch_alice_example_com_3f2a9c1e",
    );
  });

  it("keeps only [a-z0-9_] from hostile subjects and stays within 63 bytes", () => {
    expect(ephemeralRoleName(`"; DROP ROLE x; --`, "abcdef12-...")).toBe("latch_drop_role_x_abcdef12");
    expect(ephemeralRoleName("ßßß", "abcdef12")).toBe("latch_anon_abcdef12");
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: "grapheme" }), fc.uuid(), (subject, sessionId) => {
        const name = ephemeralRoleName(subject, sessionId);
        expect(name).toMatch(/^latch_[a-z0-9_]{1,20}_[0-9a-f]{8}$/);
        expect(name).not.toMatch(/__[0-9a-f]{8}$/);
        expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
      }),
    );
  });
});

describe("quoting", () => {
  it("doubles the quote character and nothing else", () => {
    expect(quoteIdentifier('a"b')).toBe('"a""b"');
    expect(quoteLiteral("it's \\ fine")).toBe("'it''s \\ fine'");
  });

  it("refuses NUL instead of truncating", () => {
    expect(() => quoteIdentifier("a\0b")).toThrow();
    expect(() => quoteLiteral("a\0b")).toThrow();
  });
});

describe("roleComment", () => {
  it("starts with the prefix the reaper matches", () => {
    expect(
      roleComment("00112233aabbccdd", "app", "s1").startsWith(roleCommentPrefix("00112233aabbccdd", "app")),
    ).toBe(true);
    expect(
      roleComment("00112233aabbccdd", "app2", "s1").startsWith(roleCommentPrefix("00112233aabbccdd", "app")),
    ).toBe(false);
  });
});
