import { describe, expect, it } from "vitest";
import { ColumnProvenance, UNKNOWN_PROVENANCE } from "../../../src/sql/postgres/column-provenance.js";

function fakeCatalog() {
  const calls: number[] = [];
  let version = 1;
  const lookup = async (oid: number) => {
    calls.push(oid);
    return new Map([[1, `public.t${oid}.c_v${version}`]]);
  };
  return { calls, lookup, bump: () => version++ };
}

describe("column provenance", () => {
  it("is unknown until warmed, then resolves synchronously", async () => {
    const catalog = fakeCatalog();
    const provenance = new ColumnProvenance(catalog.lookup);
    expect(provenance.resolve(100, 1)).toBe(UNKNOWN_PROVENANCE);
    await provenance.warm([100, 0, 100]);
    expect(catalog.calls).toEqual([100]);
    expect(provenance.resolve(100, 1)).toBe("public.t100.c_v1");
    expect(provenance.resolve(100, 2)).toBeUndefined();
    expect(provenance.warm([100])).toBeUndefined();
  });

  it("expires entries after the TTL and forgets everything on invalidate", async () => {
    const catalog = fakeCatalog();
    let now = 0;
    const provenance = new ColumnProvenance(catalog.lookup, { ttlMs: 1000, now: () => now });
    await provenance.warm([7]);
    now = 1500;
    expect(provenance.resolve(7, 1)).toBe(UNKNOWN_PROVENANCE);
    await provenance.warm([7]);
    catalog.bump();
    provenance.invalidate();
    expect(provenance.resolve(7, 1)).toBe(UNKNOWN_PROVENANCE);
    await provenance.warm([7]);
    expect(provenance.resolve(7, 1)).toBe("public.t7.c_v2");
  });

  it("does not cache a lookup that raced with an invalidation", async () => {
    const catalog = fakeCatalog();
    const provenance = new ColumnProvenance(catalog.lookup);
    const warming = provenance.warm([9]);
    catalog.bump();
    provenance.invalidate();
    await warming;
    expect(provenance.resolve(9, 1)).toBe("public.t9.c_v2");
  });

  it("propagates a failed lookup (the relay then fails the result closed)", async () => {
    const provenance = new ColumnProvenance(async () => {
      throw new Error("catalog down");
    });
    await expect(provenance.warm([5])).rejects.toThrow("catalog down");
    expect(provenance.resolve(5, 1)).toBe(UNKNOWN_PROVENANCE);
  });
});
