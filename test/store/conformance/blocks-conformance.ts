import { describe, expect } from "vitest";
import { conformanceCases, type StoreImplementation } from "./conformance-harness.js";

export function describeBlocksConformance(implementation: StoreImplementation): void {
  const test = conformanceCases(implementation);

  describe("principal blocks", () => {
    test("blocks, keeps the first block's record, lists newest first, unblocks", async ({ stores }) => {
      const { blocks } = stores;
      expect(await blocks.isBlocked("agent-1")).toBe(false);
      expect(await blocks.list()).toEqual([]);
      const before = Date.now();
      expect(await blocks.block("agent-1", "alice", "leaked token")).toBe(true);
      expect(await blocks.block("agent-1", "bob", "again")).toBe(false);
      expect(await blocks.isBlocked("agent-1")).toBe(true);
      expect(await blocks.isBlocked("agent-2")).toBe(false);
      const [only] = await blocks.list();
      expect(only).toMatchObject({ principal: "agent-1", blockedBy: "alice", reason: "leaked token" });
      expect(Date.parse(only!.blockedAt)).toBeGreaterThanOrEqual(before - 1000);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await blocks.block("agent-2", "alice", "")).toBe(true);
      expect((await blocks.list()).map((b) => b.principal)).toEqual(["agent-2", "agent-1"]);
      expect(await blocks.unblock("agent-1")).toBe(true);
      expect(await blocks.unblock("agent-1")).toBe(false);
      expect(await blocks.isBlocked("agent-1")).toBe(false);
      expect((await blocks.list()).map((b) => b.principal)).toEqual(["agent-2"]);
    });

    test("keeps blocks across a restart", async (state) => {
      await state.stores.blocks.block("agent-1", "alice", "r");
      const stores = await state.reopen();
      expect(await stores.blocks.isBlocked("agent-1")).toBe(true);
    });
  });
}
