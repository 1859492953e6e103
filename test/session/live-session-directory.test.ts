import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LiveSession } from "../../src/session/live-session.js";
import { LiveSessionDirectory } from "../../src/session/live-session-directory.js";
import type { LiveSessionRecord } from "../../src/store/live-session-store.js";
import {
  createSqliteLiveSessionStore,
  type SqliteLiveSessionStore,
} from "../../src/store/sqlite-live-sessions.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import { tempDir } from "../store/store-fixtures.js";
import { FakeClock } from "../support/fake-clock.js";

/** Issue 11: each gateway keeps its sessions in the store-wide list, beats, and ends a silent gateway's sessions. */
let dir: string;
let cleanup: () => void;
let store: SqliteLiveSessionStore;
const T0 = Date.parse("2026-12-01T12:00:00.000Z");

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  const file = path.join(dir, "latch.db");
  createSqliteStore(file).close(); // migrated
  store = createSqliteLiveSessionStore(file);
});
afterEach(() => {
  store.close();
  cleanup();
});

function session(id: string, subject = "agent-1"): LiveSession {
  return {
    id,
    protocol: "postgres",
    connection: "app",
    subject,
    identity: { subject, groups: ["agents"] },
    clientAddress: "127.0.0.1:5000",
    startedAt: T0,
  } as unknown as LiveSession;
}

function directory(gatewayId: string, clock: FakeClock, stale: LiveSessionRecord[][] = []) {
  return new LiveSessionDirectory({
    store,
    gatewayId,
    clock,
    heartbeatMs: 5_000,
    staleAfterMs: 30_000,
    onStaleSessions: (sessions) => stale.push([...sessions]),
    onError: (error) => {
      throw error;
    },
  });
}

describe("LiveSessionDirectory", () => {
  it("adds and removes sessions in order, even when the end comes before the add finished", async () => {
    const clock = new FakeClock(T0);
    const a = directory("gw-a", clock);
    a.added(session("s1"));
    a.removed("s1");
    a.added(session("s2"));
    await a.stop();
    expect((await store.list()).map((s) => [s.id, s.gatewayId])).toEqual([["s2", "gw-a"]]);
  });

  it("a gateway that stops beating is found by another: its sessions are reported once, it is listed as gone", async () => {
    const clock = new FakeClock(T0);
    const stale: LiveSessionRecord[][] = [];
    const a = directory("gw-a", clock, stale);
    const b = directory("gw-b", clock, stale);
    await a.beat();
    await b.beat();
    b.added(session("b1", "mallory"));
    await b.stop(); // b dies: no more beats
    clock.advance(20_000);
    await a.beat();
    expect(stale).toEqual([]);
    expect(await a.staleGateways()).toEqual(new Set());
    clock.advance(20_000);
    await a.beat();
    expect(stale.map((batch) => batch.map((s) => [s.id, s.gatewayId, s.subject]))).toEqual([
      [["b1", "gw-b", "mallory"]],
    ]);
    expect(await a.staleGateways()).toEqual(new Set(["gw-b"]));
    await a.beat();
    expect(stale).toHaveLength(1);
    await a.stop();
  });
});
