import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createSqliteLiveSessionStore,
  type SqliteLiveSessionStore,
} from "../../src/store/sqlite-live-sessions.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import { tempDir } from "./store-fixtures.js";

/**
 * Issue 12: a heartbeat writes each session whose last activity changed and leaves the others' last_activity
 * alone (counted by a trigger on the column in the real store file), however many sessions are live.
 */
const T0 = Date.parse("2026-12-01T12:00:00.000Z");
const N = 50;
let file: string;
let cleanup: () => void;
let store: SqliteLiveSessionStore;
let probe: Database.Database;

beforeEach(async () => {
  let dir: string;
  ({ dir, cleanup } = tempDir());
  file = path.join(dir, "latch.db");
  createSqliteStore(file).close(); // migrated
  probe = new Database(file);
  probe.exec(`CREATE TABLE activity_writes (id TEXT NOT NULL, at INTEGER);
    CREATE TRIGGER count_activity_writes AFTER UPDATE OF last_activity ON live_sessions
    BEGIN INSERT INTO activity_writes VALUES (new.id, new.last_activity); END;`);
  store = createSqliteLiveSessionStore(file);
  for (let i = 0; i < 2 * N; i++) await store.add(newSession(`s${i}`));
});
afterEach(() => {
  store.close();
  probe.close();
  cleanup();
});

function newSession(id: string) {
  return {
    id,
    gatewayId: "gw-a",
    protocol: "postgres",
    connection: "app",
    subject: "agent-1",
    groups: ["agents"],
    clientAddress: "127.0.0.1:5000",
    startedAt: new Date(T0).toISOString(),
  };
}

/** Rows whose last_activity was written since the last call, by id. */
function takeWrites(): Record<string, number> {
  const rows = probe.prepare("SELECT id, at FROM activity_writes").all() as { id: string; at: number }[];
  probe.exec("DELETE FROM activity_writes");
  return Object.fromEntries(rows.map((row) => [row.id, row.at]));
}

async function activityOf(): Promise<Record<string, string>> {
  return Object.fromEntries((await store.list()).map((s) => [s.id, s.lastActivityAt]));
}

describe("SQLite live-session heartbeat", () => {
  it("updates all N touched sessions and does not rewrite the untouched ones", async () => {
    // Every session is reported (as the registry does); only the first N had traffic since they started.
    const activity = new Map<string, number>();
    for (let i = 0; i < 2 * N; i++) activity.set(`s${i}`, i < N ? T0 + 1_000 + i : T0);
    expect(await store.heartbeat("gw-a", T0 + 5_000, activity)).toBe(2 * N);
    const writes = takeWrites();
    expect(Object.keys(writes).sort()).toEqual(Array.from({ length: N }, (_, i) => `s${i}`).sort());
    for (let i = 0; i < N; i++) expect(writes[`s${i}`]).toBe(T0 + 1_000 + i);
    const listed = await activityOf();
    expect(listed.s0).toBe(new Date(T0 + 1_000).toISOString());
    expect(listed[`s${N}`]).toBe(new Date(T0).toISOString());

    // Next beat: one session had traffic, one reports an older time; only the first is written.
    activity.set("s3", T0 + 9_000);
    activity.set("s4", T0);
    await store.heartbeat("gw-a", T0 + 10_000, activity);
    expect(takeWrites()).toEqual({ s3: T0 + 9_000 });
    expect((await activityOf()).s4).toBe(new Date(T0 + 1_004).toISOString());

    // Nothing changed: no session's activity is rewritten, yet every one is still marked seen.
    await store.heartbeat("gw-a", T0 + 15_000, activity);
    expect(takeWrites()).toEqual({});
    const seen = new Set((await store.list()).map((s) => s.lastSeen));
    expect([...seen]).toEqual([new Date(T0 + 15_000).toISOString()]);
  });

  it("a store opened afresh (nothing remembered) still writes only what moved forward", async () => {
    const activity = new Map([
      ["s0", T0 + 2_000],
      ["s1", T0 + 3_000],
    ]);
    await store.heartbeat("gw-a", T0 + 5_000, activity);
    takeWrites();
    store.close();
    store = createSqliteLiveSessionStore(file);
    await store.heartbeat("gw-a", T0 + 10_000, new Map([...activity, ["s2", T0 + 4_000]]));
    expect(takeWrites()).toEqual({ s2: T0 + 4_000 });
  });

  it("a session removed and its id reported again is not written (it is gone), others are", async () => {
    await store.heartbeat("gw-a", T0 + 5_000, new Map([["s0", T0 + 1_000]]));
    expect(await store.remove("s0")).toBe(true);
    takeWrites();
    await store.heartbeat(
      "gw-a",
      T0 + 10_000,
      new Map([
        ["s0", T0 + 2_000],
        ["s1", T0 + 2_000],
      ]),
    );
    expect(takeWrites()).toEqual({ s1: T0 + 2_000 });
    expect(await store.heartbeat("gw-a", T0 + 15_000)).toBe(2 * N - 1);
  });
});
