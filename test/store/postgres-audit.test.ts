import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { computeEventHash } from "../../src/audit/event-hash.js";
import { EMPTY_CHAIN_HEAD } from "../../src/audit/verify-chain.js";
import { createPgAuditReader, verifyPgStore } from "../../src/store/postgres/pg-audit-reader.js";
import { createPgAuditSink } from "../../src/store/postgres/pg-audit-sink.js";
import { migratePgStore, PG_SCHEMA_VERSION } from "../../src/store/postgres/pg-migrations.js";
import type { AuditEventInput } from "../../src/store/store.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { operation, sessionStart } from "./store-fixtures.js";

/**
 * The PostgreSQL audit log beyond the conformance suite (issue 11): hashes computed in the store match the
 * gateway's own, several replicas append to one intact chain, migration is safe when replicas start at once,
 * tampering is found, and an outage is refused and then recovered from without a restart.
 */
let cluster: PgCluster;
let databases = 0;
const pools: pg.Pool[] = [];

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "trust" });
}, 60_000);
afterAll(async () => {
  for (const pool of pools) await pool.end().catch(() => undefined);
  await cluster?.stop();
}, 60_000);

async function freshDatabase(): Promise<string> {
  const name = `latch_audit_${++databases}`;
  await cluster.query(`CREATE DATABASE ${name} ENCODING 'UTF8' TEMPLATE template0`);
  return name;
}

function replicaPool(database: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ host: "127.0.0.1", port: cluster.port, user: "postgres", database, max });
  pool.on("error", () => undefined);
  pools.push(pool);
  return pool;
}

async function migratedReplica(database: string) {
  const pool = replicaPool(database);
  await migratePgStore(pool);
  return { pool, sink: createPgAuditSink(pool, EMPTY_CHAIN_HEAD), reader: createPgAuditReader(pool) };
}

describe("PostgreSQL audit log", () => {
  it("computes in the store exactly the hash the gateway computes, for awkward text", async () => {
    const { sink, reader } = await migratedReplica(await freshDatabase());
    const awkward = [
      'quote " and \\ backslash',
      "tab\tnewline\ncr\r",
      "\u0001\u001f\u007f",
      "é 日本 😀",
      "\u2028\u2029",
    ];
    const events: AuditEventInput[] = awkward.map((text, i) => ({
      kind: "operation",
      sessionId: `s-${text}-${i}`,
      data: { text, nested: { list: [text, i, null, true] } },
    }));
    await sink.append(events);
    const read = await reader.events({ limit: 100 });
    expect(read).toHaveLength(awkward.length);
    for (const event of read) {
      const recomputed = computeEventHash({ ...event, dataJson: canonicalJson(event.data) });
      expect(recomputed).toBe(event.hash);
    }
    expect(await reader.verifyChain()).toMatchObject({ ok: true, events: awkward.length });
  });

  it("two replicas migrating at once: one applies the schema, the other finds it done", async () => {
    const database = await freshDatabase();
    const results = await Promise.all([
      migratePgStore(replicaPool(database)),
      migratePgStore(replicaPool(database)),
    ]);
    expect(results.map((r) => r.from).sort()).toEqual([0, PG_SCHEMA_VERSION]);
    const { rows } = await replicaPool(database).query(
      "SELECT count(*)::int AS n FROM latch_schema_migrations",
    );
    expect(rows[0].n).toBe(PG_SCHEMA_VERSION);
  });

  it("three replicas appending at once build one intact chain holding every event", async () => {
    const database = await freshDatabase();
    const replicas = await Promise.all([1, 2, 3].map(() => migratedReplica(database)));
    await Promise.all(
      replicas.map(({ sink }, r) =>
        Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            sink.append([sessionStart(`r${r}-s${i}`, `agent-${r}`), operation(`r${r}-s${i}`, `SELECT ${i}`)]),
          ),
        ),
      ),
    );
    const report = await replicas[0]!.reader.verifyChain();
    expect(report).toMatchObject({ ok: true, events: 240 });
    // Each group stayed together: a session_start is always followed by its own operation.
    const events = await replicas[1]!.reader.events({ limit: 1000 });
    for (let i = 0; i < events.length; i += 2) expect(events[i + 1]!.sessionId).toBe(events[i]!.sessionId);
    expect((await replicas[2]!.reader.listSessions({ subject: "agent-1", limit: 1000 })).length).toBe(40);
  });

  it("finds an edited event, a relabelled session and a cut tail", async () => {
    const database = await freshDatabase();
    const { pool, sink } = await migratedReplica(database);
    await sink.append([
      sessionStart("s1", "mallory"),
      operation("s1", "DELETE FROM users", "deny"),
      operation("s1", "SELECT 1"),
    ]);
    expect((await verifyPgStore(pool)).ok).toBe(true);
    const admin = replicaPool(database, 1);
    await admin.query("ALTER TABLE latch_audit_events DISABLE TRIGGER USER");
    await admin.query("UPDATE latch_sessions SET subject = 'alice' WHERE id = 's1'");
    expect(await verifyPgStore(pool)).toMatchObject({ ok: false, part: "sessions" });
    await admin.query("UPDATE latch_sessions SET subject = 'mallory' WHERE id = 's1'");
    await admin.query("UPDATE latch_audit_events SET data = replace(data, 'deny', 'allow') WHERE seq = 2");
    expect(await verifyPgStore(pool)).toMatchObject({ ok: false, part: "chain", firstBadSeq: 2 });
    await admin.query("UPDATE latch_audit_events SET data = replace(data, 'allow', 'deny') WHERE seq = 2");
    await admin.query("DELETE FROM latch_audit_events WHERE seq = 3");
    expect(await verifyPgStore(pool)).toMatchObject({ ok: false, part: "head" });
  });

  it("refuses appends to the audit log's rows through SQL (append-only triggers)", async () => {
    const { pool, sink } = await migratedReplica(await freshDatabase());
    await sink.append([operation("s1", "SELECT 1")]);
    await expect(pool.query("UPDATE latch_audit_events SET kind = 'x'")).rejects.toThrow(/append-only/);
    await expect(pool.query("DELETE FROM latch_audit_events")).rejects.toThrow(/append-only/);
    await expect(pool.query("TRUNCATE latch_audit_events")).rejects.toThrow(/append-only/);
    await expect(pool.query("UPDATE latch_chain_head SET seq = 0")).rejects.toThrow(/append-only/);
  });

  it("an outage of the store refuses appends (reported by health) and they flow again when it is back", async () => {
    const database = await freshDatabase();
    const { sink, reader } = await migratedReplica(database);
    await sink.append([operation("s1", "SELECT 1")]);
    await cluster.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
    await cluster.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [
      database,
    ]);
    await expect(sink.append([operation("s1", "SELECT 2")])).rejects.toMatchObject({
      code: "audit_unavailable",
    });
    expect(sink.health()).toMatchObject({ state: "refusing" });
    expect(sink.health().reason).not.toMatch(/postgres:\/\//);
    await cluster.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
    await sink.append([operation("s1", "SELECT 3")]);
    expect(sink.health().state).toBe("ok");
    expect(
      (await reader.events({ limit: 10 })).map(
        (e) => (e.data as { statements: { text: string }[] }).statements[0]!.text,
      ),
    ).toEqual(["SELECT 1", "SELECT 3"]);
    expect(await reader.verifyChain()).toMatchObject({ ok: true, events: 2 });
  });
});
