import { createHash } from "node:crypto";
import { describe, expect } from "vitest";
import type { PendingSignIn } from "../../../src/store/pending-sign-in-store.js";
import { conformanceCases, type StoreImplementation } from "./conformance-harness.js";

const hash = (id: string) => createHash("sha256").update(id).digest("hex");
const T0 = 1_700_000_000_000;
const oidc: PendingSignIn = {
  kind: "oidc",
  provider: "corp",
  data: { state: "st", nonce: "no", verifier: "ve", returnTo: "/console/audit", redirectUri: "https://l/cb" },
  createdAt: T0,
  expiresAt: T0 + 600_000,
};
const saml: PendingSignIn = { ...oidc, kind: "saml", provider: "okta", data: { returnTo: "/console/" } };

export function describePendingSignInsConformance(implementation: StoreImplementation): void {
  const test = conformanceCases(implementation);

  describe("pending console sign-ins", () => {
    test("takes a pending sign-in once, with everything it was saved with", async ({ stores }) => {
      const store = stores.pendingSignIns;
      expect(await store.save(hash("a"), oidc, 100)).toBe(true);
      expect(await store.save(hash("s"), saml, 100)).toBe(true);
      expect(await store.take(hash("a"), T0 + 1)).toEqual(oidc);
      expect(await store.take(hash("a"), T0 + 1)).toBeUndefined();
      expect(await store.take(hash("unknown"), T0 + 1)).toBeUndefined();
      expect(await store.take(hash("s"), T0 + 1)).toEqual(saml);
    });

    test("of concurrent takes of one id exactly one gets it", async ({ stores }) => {
      const store = stores.pendingSignIns;
      await store.save(hash("race"), oidc, 100);
      const results = await Promise.all(Array.from({ length: 8 }, () => store.take(hash("race"), T0 + 1)));
      expect(results.filter((result) => result !== undefined)).toEqual([oidc]);
    });

    test("an expired one is refused as expired, then gone; sweeps remove only expired ones", async ({
      stores,
    }) => {
      const store = stores.pendingSignIns;
      await store.save(hash("old"), { ...oidc, expiresAt: T0 + 10 }, 100);
      await store.save(hash("older"), { ...oidc, expiresAt: T0 + 10 }, 100);
      await store.save(hash("new"), oidc, 100);
      expect(await store.take(hash("old"), T0 + 10)).toBe("expired");
      expect(await store.take(hash("old"), T0 + 10)).toBeUndefined();
      expect(await store.sweep(T0 + 10)).toBe(1);
      expect(await store.take(hash("older"), T0 + 10)).toBeUndefined();
      expect(await store.take(hash("new"), T0 + 10)).toEqual(oidc);
    });

    test("a save sweeps expired ones and refuses beyond the bound of unexpired ones", async ({ stores }) => {
      const store = stores.pendingSignIns;
      expect(await store.save(hash("1"), { ...oidc, expiresAt: T0 + 10 }, 2)).toBe(true);
      expect(await store.save(hash("2"), oidc, 2)).toBe(true);
      expect(await store.save(hash("3"), oidc, 2)).toBe(false);
      expect(await store.take(hash("3"), T0)).toBeUndefined();
      // Saved at T0 + 10, "1" is expired: swept, so there is room again.
      expect(await store.save(hash("4"), { ...oidc, createdAt: T0 + 10 }, 2)).toBe(true);
      expect(await store.take(hash("1"), T0)).toBeUndefined();
    });

    test("keeps pending sign-ins across a restart", async (state) => {
      await state.stores.pendingSignIns.save(hash("r"), oidc, 100);
      const stores = await state.reopen();
      expect(await stores.pendingSignIns.take(hash("r"), T0 + 1)).toEqual(oidc);
    });
  });
}
