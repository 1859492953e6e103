import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { computeEventHash, GENESIS_HASH } from "../../src/audit/event-hash.js";

const base = {
  prevHash: GENESIS_HASH,
  seq: 1,
  ts: "2025-01-01T00:00:00.000Z",
  kind: "session_start",
  sessionId: "s-1" as string | null,
  dataJson: canonicalJson({ subject: "agent", groups: ["a"] }),
};

describe("computeEventHash", () => {
  it("is SHA-256 of the canonical JSON array [prevHash, seq, ts, kind, sessionId, data]", () => {
    // What an auditor would write: the body is already in sorted-key form, so plain JSON.stringify agrees.
    const auditorInput = JSON.stringify([
      GENESIS_HASH,
      1,
      "2025-01-01T00:00:00.000Z",
      "session_start",
      "s-1",
      { groups: ["a"], subject: "agent" },
    ]);
    expect(computeEventHash(base)).toBe(createHash("sha256").update(auditorInput).digest("hex"));
    expect(computeEventHash({ ...base, sessionId: null })).toBe(
      createHash("sha256").update(auditorInput.replace('"s-1"', "null")).digest("hex"),
    );
  });

  it("changes when any covered field changes", () => {
    const reference = computeEventHash(base);
    const variants = [
      { ...base, prevHash: "1".repeat(64) },
      { ...base, seq: 2 },
      { ...base, ts: "2025-01-01T00:00:00.001Z" },
      { ...base, kind: "session_end" },
      { ...base, sessionId: "s-2" },
      { ...base, sessionId: null },
      { ...base, dataJson: canonicalJson({ subject: "agent", groups: ["b"] }) },
    ];
    const hashes = new Set(variants.map(computeEventHash));
    expect(hashes.size).toBe(variants.length);
    expect(hashes.has(reference)).toBe(false);
  });

  it("cannot be confused by field contents that look like separators", () => {
    const a = computeEventHash({ ...base, kind: 'a","b', sessionId: "c" });
    const b = computeEventHash({ ...base, kind: "a", sessionId: 'b","c' });
    expect(a).not.toBe(b);
  });
});
