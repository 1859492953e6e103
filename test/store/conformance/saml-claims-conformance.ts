import { createHash } from "node:crypto";
import { describe, expect } from "vitest";
import { conformanceCases, type StoreImplementation } from "./conformance-harness.js";

const hash = (id: string) => createHash("sha256").update(id).digest("hex");
const T0 = 1_700_000_000_000;
const IDP = "https://idp.example/saml";

export function describeSamlClaimsConformance(implementation: StoreImplementation): void {
  const test = conformanceCases(implementation);

  describe("SAML assertion claims", () => {
    test("of two concurrent claims of one id exactly one wins; another issuer's same id is its own", async ({
      stores,
    }) => {
      const claims = stores.samlAssertionClaims;
      const results = await Promise.all(
        Array.from({ length: 8 }, () => claims.claim(hash("_a1"), IDP, T0 + 60_000, T0)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await claims.claim(hash("_a1"), IDP, T0 + 60_000, T0 + 1)).toBe(false);
      expect(await claims.claim(hash("_a1"), "https://other.example", T0 + 60_000, T0)).toBe(true);
      expect(await claims.claim(hash("_a2"), IDP, T0 + 60_000, T0)).toBe(true);
    });

    test("sweeps expired claims, and an id past its keep time may be claimed again", async ({ stores }) => {
      const claims = stores.samlAssertionClaims;
      expect(await claims.claim(hash("old"), IDP, T0 + 10, T0)).toBe(true);
      expect(await claims.claim(hash("kept"), IDP, T0 + 10_000, T0)).toBe(true);
      // A claim at T0 + 20 sweeps "old" (expired) but not "kept".
      expect(await claims.claim(hash("other"), IDP, T0 + 10_000, T0 + 20)).toBe(true);
      // Asked at T0 + 5 (before "old"'s keep time): only a swept row can be claimed again.
      expect(await claims.claim(hash("old"), IDP, T0 + 10, T0 + 5)).toBe(true);
      expect(await claims.claim(hash("kept"), IDP, T0 + 10_000, T0 + 5)).toBe(false);
    });

    test("keeps claims across a restart", async (state) => {
      expect(await state.stores.samlAssertionClaims.claim(hash("_r"), IDP, T0 + 60_000, T0)).toBe(true);
      const stores = await state.reopen();
      expect(await stores.samlAssertionClaims.claim(hash("_r"), IDP, T0 + 60_000, T0)).toBe(false);
    });
  });
}
