import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCheckpointSigner } from "../../src/audit/checkpoint-key.js";
import { startCheckpointer } from "../../src/audit/checkpointer.js";
import { startAuditPruner } from "../../src/audit-retention/audit-pruner.js";
import { configSchema } from "../../src/config/schema.js";
import { openPostgresStores } from "../../src/store/postgres/open-postgres-stores.js";
import type { Stores } from "../../src/store/stores.js";
import { operation, sessionStart, tempDir } from "../store/store-fixtures.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

// Retention on the PostgreSQL store, against a real throwaway cluster: events are deleted only up to a signed
// checkpoint and never past an export cursor, two replicas pruning at once do not prune twice, the pruned log
// still verifies, and the store refuses any other delete.
let cluster: PgCluster;
let a: Stores;
let b: Stores;
let cleanup: () => void;
const database = "latch_retention";

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "trust" });
  await cluster.query(`CREATE DATABASE ${database} ENCODING 'UTF8' TEMPLATE template0`);
  const store = {
    url: `postgres://postgres@127.0.0.1:${cluster.port}/${database}`,
    tls: "disable" as const,
    pool_size: 4,
  };
  a = await openPostgresStores(store, { gatewayId: "replica-a" });
  b = await openPostgresStores(store, { gatewayId: "replica-b" });
  let dir: string;
  ({ dir, cleanup } = tempDir());
  const signer = loadCheckpointSigner(configSchema.parse({ data_dir: dir }), { create: true })!;
  const checkpointer = startCheckpointer({
    signer,
    head: () => a.audit.head(),
    record: async (event) => {
      await a.audit.append([event]);
      await a.audit.flush();
    },
    everyEvents: 3,
    everyMs: 3_600_000,
  });
  // Checkpoints at events 4, 8 and 12 sign events 3, 7 and 11.
  for (let i = 0; i < 3; i++) {
    await a.audit.append([
      sessionStart(`s${i}`),
      operation(`s${i}`, `SELECT ${i}`),
      operation(`s${i}`, "DELETE FROM t", "deny"),
    ]);
    await a.audit.flush();
    await checkpointer.checkpoint();
  }
  checkpointer.stop();
}, 120_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await cluster?.stop();
  cleanup?.();
}, 60_000);

const pruner = (stores: Stores) =>
  startAuditPruner({
    retention: stores.retention!,
    retentionMs: 3_600_000,
    sinks: ["siem"],
    cursors: stores.exportCursors!,
    now: () => Date.now() + 86_400_000, // a day from now every event is older than 1h
    everyMs: 3_600_000,
    record: async (data) => {
      await stores.audit.append([{ kind: "audit_pruned", sessionId: null, data }]);
      await stores.audit.flush();
    },
  });

describe("audit retention on the PostgreSQL store", () => {
  it("prunes to a signed checkpoint never past an export cursor, once across replicas, and still verifies", async () => {
    await a.exportCursors!.set("siem", 6);
    const onA = pruner(a);
    const onB = pruner(b);
    try {
      // Both replicas at once: one prunes through event 3 (anchored by the checkpoint at 4), the other finds it done.
      const [first, second] = await Promise.all([onA.pruneNow(), onB.pruneNow()]);
      expect([first, second].filter((plan) => plan !== undefined).length).toBe(1);
      expect(first ?? second).toMatchObject({ through: 3, anchorSeq: 4, events: 3 });
      await a.exportCursors!.set("siem", 1000);
      expect(await onA.pruneNow()).toMatchObject({ through: 11, anchorSeq: 12, events: 8 });
      expect(await onB.pruneNow()).toBeUndefined();
    } finally {
      onA.stop();
      onB.stop();
    }
    const direct = new pg.Client({ host: "127.0.0.1", port: cluster.port, user: "postgres", database });
    await direct.connect();
    try {
      expect(Number((await direct.query("SELECT min(seq) AS min FROM latch_audit_events")).rows[0].min)).toBe(
        12,
      );
      expect(Number((await direct.query("SELECT count(*) AS n FROM latch_sessions")).rows[0].n)).toBe(0);
      // Retention's own prefix only: any other delete is still refused.
      await expect(direct.query("DELETE FROM latch_audit_events WHERE seq = 13")).rejects.toThrow(
        /append-only/,
      );
      await expect(direct.query("UPDATE latch_audit_events SET kind = 'x' WHERE seq = 13")).rejects.toThrow(
        /append-only/,
      );
      await expect(direct.query("UPDATE latch_audit_retention SET pruned_through = 1")).rejects.toThrow(
        /append-only/,
      );
    } finally {
      await direct.end();
    }
    const report = await b.auditReader.verifyChain();
    expect(report).toMatchObject({ ok: true, pruned: { through: 11, anchorSeq: 12 } });
    const pruned = await a.auditReader.events({ kind: "audit_pruned", limit: 10 });
    expect(pruned.map((event) => event.data.through)).toEqual([3, 11]);
  }, 90_000);

  it("a pruned prefix whose anchor is gone no longer verifies", async () => {
    const direct = new pg.Client({ host: "127.0.0.1", port: cluster.port, user: "postgres", database });
    await direct.connect();
    try {
      // Someone moves the pruned prefix past the anchoring checkpoint and deletes it with the rest.
      await direct.query("UPDATE latch_audit_retention SET pruned_through = 12");
      await direct.query("DELETE FROM latch_audit_events WHERE seq <= 12");
    } finally {
      await direct.end();
    }
    const report = await a.auditReader.verifyChain();
    expect(report.ok).toBe(false);
  });
});
