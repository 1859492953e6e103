import { describe, expect } from "vitest";
import { conformanceCases, type StoreImplementation } from "./conformance-harness.js";

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);

export function describeMcpPinsConformance(implementation: StoreImplementation): void {
  const test = conformanceCases(implementation);

  describe("mcp tool pins", () => {
    test("pins on first use, refuses a change until accepted, then pins the new definition", async ({
      stores,
    }) => {
      const pins = stores.mcpToolPins;
      expect(await pins.list()).toEqual([]);
      const first = await pins.observe("gh", "create_issue", A, '{"d":"a"}', true);
      expect(first.state).toBe("pinned_now");
      expect(first.pin).toMatchObject({ pinnedHash: A, pinnedBy: "first-use", pendingHash: null });
      expect((await pins.observe("gh", "create_issue", A, '{"d":"a"}', true)).state).toBe("pinned");

      const changed = await pins.observe("gh", "create_issue", B, '{"d":"b"}', true);
      expect(changed).toMatchObject({ state: "changed", fresh: true });
      expect(changed.pin).toMatchObject({ pinnedHash: A, pendingHash: B, pendingDefinition: '{"d":"b"}' });
      // Seen again: still refused, but not news (one mcp_tool_changed event per change).
      expect(await pins.observe("gh", "create_issue", B, '{"d":"b"}', true)).toMatchObject({
        state: "changed",
        fresh: false,
      });
      // Trust on first use never re-pins a known tool.
      expect((await pins.observe("gh", "create_issue", B, '{"d":"b"}', true)).pin.pinnedHash).toBe(A);

      const accepted = await pins.accept("gh", "create_issue", "alice");
      expect(accepted).toHaveLength(1);
      expect(accepted[0]).toMatchObject({
        tool: "create_issue",
        pinnedHash: B,
        pinnedBy: "alice",
        pendingHash: null,
      });
      expect((await pins.observe("gh", "create_issue", B, '{"d":"b"}', true)).state).toBe("pinned");
      expect((await pins.observe("gh", "create_issue", A, '{"d":"a"}', true)).state).toBe("changed");
      expect(await pins.accept("other", undefined, "alice")).toEqual([]);
    });

    test("a change that is reverted clears the pending definition", async ({ stores }) => {
      const pins = stores.mcpToolPins;
      await pins.observe("gh", "t", A, "a", true);
      await pins.observe("gh", "t", B, "b", true);
      expect((await pins.observe("gh", "t", A, "a", true)).state).toBe("pinned");
      expect((await pins.list("gh"))[0]).toMatchObject({ pinnedHash: A, pendingHash: null });
      expect(await pins.accept("gh", "t", "alice")).toEqual([]);
    });

    test("admin pinning: a new tool waits for an accept; accept all of a connection", async ({ stores }) => {
      const pins = stores.mcpToolPins;
      const seen = await pins.observe("fs", "read", A, "r", false);
      expect(seen).toMatchObject({ state: "unaccepted", fresh: true });
      expect(seen.pin).toMatchObject({ pinnedHash: null, pendingHash: A });
      expect(await pins.observe("fs", "read", A, "r", false)).toMatchObject({
        state: "unaccepted",
        fresh: false,
      });
      await pins.observe("fs", "write", C, "w", false);
      await pins.observe("gh", "x", A, "x", true);
      const accepted = await pins.accept("fs", undefined, "bob");
      expect(accepted.map((pin) => pin.tool)).toEqual(["read", "write"]);
      expect((await pins.observe("fs", "read", A, "r", false)).state).toBe("pinned");
      expect((await pins.list()).map((pin) => `${pin.connection}/${pin.tool}`)).toEqual([
        "fs/read",
        "fs/write",
        "gh/x",
      ]);
    });

    test("keeps pins across a restart", async (state) => {
      await state.stores.mcpToolPins.observe("gh", "t", A, "a", true);
      const stores = await state.reopen();
      expect((await stores.mcpToolPins.observe("gh", "t", B, "b", true)).state).toBe("changed");
    });
  });
}
