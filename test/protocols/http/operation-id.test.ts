import { describe, expect, it } from "vitest";
import { operationId } from "../../../src/protocols/http/operation-id.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("HTTP operation ids", () => {
  it("are version 4 UUIDs, distinct across many entropy refills", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const id = operationId();
      expect(id).toMatch(UUID_V4);
      ids.add(id);
    }
    expect(ids.size).toBe(5_000);
  });

  it("vary in every hex digit that is not fixed by the version and variant", () => {
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 2_000; i++) {
      const id = operationId();
      for (let c = 0; c < 36; c++) seen[c]!.add(id[c]!);
    }
    const fixed = new Set([8, 13, 14, 18, 23]);
    for (let c = 0; c < 36; c++) {
      if (fixed.has(c)) continue;
      expect(seen[c]!.size, `position ${c}`).toBe(c === 19 ? 4 : 16);
    }
  });
});
