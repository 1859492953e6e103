import { describe, expect } from "vitest";
import type { NewLiveSession } from "../../../src/store/live-session-store.js";
import { conformanceCases, type StoreImplementation } from "./conformance-harness.js";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");

function session(id: string, overrides: Partial<NewLiveSession> = {}): NewLiveSession {
  return {
    id,
    gatewayId: "gw-a",
    protocol: "postgres",
    connection: "prod",
    subject: "agent-1",
    groups: ["agents"],
    clientAddress: "10.0.0.1:50000",
    startedAt: new Date(T0).toISOString(),
    ...overrides,
  };
}

export function describeLiveSessionsConformance(implementation: StoreImplementation): void {
  const test = conformanceCases(implementation);

  describe("live sessions", () => {
    test("adds, lists oldest first with filters, removes", async ({ stores }) => {
      const live = stores.liveSessions;
      expect(await live.list()).toEqual([]);
      await live.add(session("s1"));
      await live.add(
        session("s2", {
          gatewayId: "gw-b",
          protocol: "ssh",
          connection: "web-1",
          subject: "alice",
          groups: ["ops", "dba"],
          startedAt: new Date(T0 + 1_000).toISOString(),
        }),
      );
      expect(await live.list()).toEqual([
        {
          ...session("s1"),
          lastSeen: new Date(T0).toISOString(),
          lastActivityAt: new Date(T0).toISOString(),
        },
        {
          ...session("s2", {
            gatewayId: "gw-b",
            protocol: "ssh",
            connection: "web-1",
            subject: "alice",
            groups: ["ops", "dba"],
            startedAt: new Date(T0 + 1_000).toISOString(),
          }),
          lastSeen: new Date(T0 + 1_000).toISOString(),
          lastActivityAt: new Date(T0 + 1_000).toISOString(),
        },
      ]);
      const ids = async (filter?: Parameters<typeof live.list>[0]) =>
        (await live.list(filter)).map((s) => s.id);
      expect(await ids({ gatewayId: "gw-b" })).toEqual(["s2"]);
      expect(await ids({ subject: "agent-1" })).toEqual(["s1"]);
      expect(await ids({ connection: "web-1" })).toEqual(["s2"]);
      expect(await ids({ connection: "nope" })).toEqual([]);
      expect(await live.remove("s1")).toBe(true);
      expect(await live.remove("s1")).toBe(false);
      expect(await ids()).toEqual(["s2"]);
    });

    test("refuses a second live session with the same id", async ({ stores }) => {
      await stores.liveSessions.add(session("s1"));
      await expect(stores.liveSessions.add(session("s1", { gatewayId: "gw-b" }))).rejects.toThrow();
    });

    test("a heartbeat marks every session of its gateway as seen, never backwards", async ({ stores }) => {
      const live = stores.liveSessions;
      await live.add(session("a1"));
      await live.add(session("a2"));
      await live.add(session("b1", { gatewayId: "gw-b" }));
      expect(await live.heartbeat("gw-a", T0 + 10_000)).toBe(2);
      expect(await live.heartbeat("gw-a", T0 + 5_000)).toBe(2); // a late timer does not move it back
      expect(await live.heartbeat("gw-none", T0 + 10_000)).toBe(0);
      const seen = Object.fromEntries((await live.list()).map((s) => [s.id, s.lastSeen]));
      expect(seen).toEqual({
        a1: new Date(T0 + 10_000).toISOString(),
        a2: new Date(T0 + 10_000).toISOString(),
        b1: new Date(T0).toISOString(),
      });
    });

    test("removes the sessions of a gateway that stopped sending heartbeats, and says which", async ({
      stores,
    }) => {
      const live = stores.liveSessions;
      await live.add(session("a1"));
      await live.add(session("b1", { gatewayId: "gw-b" }));
      await live.add(session("b2", { gatewayId: "gw-b" }));
      await live.heartbeat("gw-a", T0 + 30_000);
      const removed = await live.removeStale(T0 + 15_000);
      expect(removed.map((s) => s.id)).toEqual(["b1", "b2"]);
      expect(removed[0]).toMatchObject({ gatewayId: "gw-b", subject: "agent-1" });
      expect((await live.list()).map((s) => s.id)).toEqual(["a1"]);
      expect(await live.removeStale(T0 + 15_000)).toEqual([]);
    });

    test("lists the gateways whose heartbeats stopped, only those it ever heard from", async ({ stores }) => {
      const live = stores.liveSessions;
      await live.heartbeat("gw-a", T0 + 30_000);
      await live.heartbeat("gw-b", T0 + 5_000);
      await live.heartbeat("gw-c", T0 + 1_000);
      await live.heartbeat("gw-c", T0 + 20_000);
      await live.heartbeat("gw-c", T0 + 2_000); // late timer: not moved back
      expect(await live.staleGateways(T0 + 15_000)).toEqual(["gw-b"]);
      expect(await live.staleGateways(T0 + 25_000)).toEqual(["gw-b", "gw-c"]);
      expect(await live.staleGateways(T0)).toEqual([]);
    });

    test("a heartbeat carries each session's last activity, never backwards", async ({ stores }) => {
      const live = stores.liveSessions;
      await live.add(session("a1"));
      await live.add(session("a2"));
      await live.add(session("b1", { gatewayId: "gw-b" }));
      const activityOf = async () =>
        Object.fromEntries((await live.list()).map((s) => [s.id, s.lastActivityAt]));
      expect(await activityOf()).toEqual({
        a1: new Date(T0).toISOString(),
        a2: new Date(T0).toISOString(),
        b1: new Date(T0).toISOString(),
      });
      await live.heartbeat(
        "gw-a",
        T0 + 10_000,
        new Map([
          ["a1", T0 + 7_000],
          ["b1", T0 + 9_000],
        ]),
      );
      await live.heartbeat("gw-a", T0 + 11_000, new Map([["a1", T0 + 3_000]])); // older report: kept at 7 s
      expect(await activityOf()).toEqual({
        a1: new Date(T0 + 7_000).toISOString(),
        a2: new Date(T0).toISOString(),
        b1: new Date(T0).toISOString(), // another gateway's session is not this gateway's to report
      });
    });
  });
}
