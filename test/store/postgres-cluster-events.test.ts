import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterEvent } from "../../src/cluster/cluster-events.js";
import { createPgClusterEvents } from "../../src/store/postgres/pg-cluster-events.js";
import { migratePgStore } from "../../src/store/postgres/pg-migrations.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

/** Cross-replica events through PostgreSQL (issue 11): delivered to the others, caught up after a reconnect. */
let cluster: PgCluster;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "trust" });
  await cluster.query("CREATE DATABASE latch_events ENCODING 'UTF8' TEMPLATE template0");
  const pool = replicaPool();
  await migratePgStore(pool);
}, 60_000);
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await cluster?.stop();
}, 60_000);

function replicaPool(): pg.Pool {
  const pool = new pg.Pool({
    host: "127.0.0.1",
    port: cluster.port,
    user: "postgres",
    database: "latch_events",
    max: 3,
  });
  pool.on("error", () => undefined);
  closers.push(() => pool.end());
  return pool;
}

async function replica(gatewayId: string) {
  const events = createPgClusterEvents(replicaPool(), { gatewayId });
  closers.push(() => events.close());
  const received: [ClusterEvent, string][] = [];
  events.subscribe((event, origin) => received.push([event, origin]));
  await events.ready();
  return { events, received };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("PostgreSQL cluster events", () => {
  it("reach every other replica, in order, and not the one that published", async () => {
    const a = await replica("gw-a");
    const b = await replica("gw-b");
    const c = await replica("gw-c");
    await a.events.publish({ kind: "principal_blocked", principal: "mallory", by: "admin" });
    await a.events.publish({ kind: "session_kill", sessionId: "s-1", by: "admin" });
    await until(() => b.received.length === 2 && c.received.length === 2);
    expect(b.received).toEqual([
      [{ kind: "principal_blocked", principal: "mallory", by: "admin" }, "gw-a"],
      [{ kind: "session_kill", sessionId: "s-1", by: "admin" }, "gw-a"],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(a.received).toEqual([]);
  });

  it("an event published while a replica's listener was cut off is caught up after it reconnects", async () => {
    const a = await replica("gw-d");
    const b = await replica("gw-e");
    // Cut every LISTEN connection (the pools' idle connections go too; they reconnect on use).
    await cluster.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'latch_events' AND query LIKE 'LISTEN%'",
    );
    await a.events.publish({ kind: "policy_reloaded" });
    await until(() => b.received.some(([event]) => event.kind === "policy_reloaded"));
    expect(b.received.filter(([event]) => event.kind === "policy_reloaded")).toHaveLength(1);
  });

  it("does not replay what was published before the replica started", async () => {
    const a = await replica("gw-f");
    await a.events.publish({ kind: "grant_changed", grantId: "g-old" });
    const late = await replica("gw-g");
    await a.events.publish({ kind: "grant_changed", grantId: "g-new" });
    await until(() => late.received.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(late.received.map(([event]) => event)).toEqual([{ kind: "grant_changed", grantId: "g-new" }]);
  });
});
