import { createHash } from "node:crypto";
import { describe, expect } from "vitest";
import { conformanceCases, type StoreImplementation } from "./conformance-harness.js";

const hash = (id: string) => createHash("sha256").update(id).digest("hex");
const T0 = 1_700_000_000_000;
const alice = { subject: "alice", issuer: "https://login.example", groups: ["dba"], expiresAt: T0 + 60_000 };

export function describeConsoleSessionsConformance(implementation: StoreImplementation): void {
  const test = conformanceCases(implementation);

  describe("console sessions", () => {
    test("finds a sign-in by its hash until it expires, and not after sign-out", async ({ stores }) => {
      const store = stores.consoleSessions;
      await store.save(hash("a"), { identity: alice, expiresAt: T0 + 60_000 });
      expect(await store.find(hash("a"), T0)).toEqual({ identity: alice, expiresAt: T0 + 60_000 });
      expect(await store.find(hash("b"), T0)).toBeUndefined();
      expect(await store.find(hash("a"), T0 + 60_000)).toBeUndefined();
      await store.remove(hash("a"));
      expect(await store.find(hash("a"), T0)).toBeUndefined();
    });

    test("sweeps only expired sign-ins", async ({ stores }) => {
      const store = stores.consoleSessions;
      await store.save(hash("old"), { identity: alice, expiresAt: T0 + 10 });
      await store.save(hash("new"), { identity: alice, expiresAt: T0 + 10_000 });
      expect(await store.sweep(T0 + 10)).toBe(1);
      expect(await store.find(hash("new"), T0 + 10)).toBeDefined();
    });

    test("keeps sign-ins across a restart", async (state) => {
      const delegated = { ...alice, actors: [{ subject: "bot" }] };
      await state.stores.consoleSessions.save(hash("a"), { identity: delegated, expiresAt: T0 + 60_000 });
      const stores = await state.reopen();
      expect(await stores.consoleSessions.find(hash("a"), T0)).toEqual({
        identity: delegated,
        expiresAt: T0 + 60_000,
      });
    });
  });
}
