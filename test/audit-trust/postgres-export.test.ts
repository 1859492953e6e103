import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAuditExporter } from "../../src/audit-export/audit-exporter.js";
import type { ExportSink } from "../../src/audit-export/export-sink.js";
import { openPostgresStores } from "../../src/store/postgres/open-postgres-stores.js";
import type { AuditEvent } from "../../src/store/store.js";
import type { Stores } from "../../src/store/stores.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

// Audit export on the PostgreSQL store replicas share, against a real throwaway cluster: the cursor lives in
// the store, and a per-sink lease lets one replica at a time export a sink; when the holder dies (stops renewing
// without giving the lease up) another replica takes over from the saved cursor.
let cluster: PgCluster;
let a: Stores;
let b: Stores;

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "trust" });
  await cluster.query("CREATE DATABASE latch_export ENCODING 'UTF8' TEMPLATE template0");
  const store = {
    url: `postgres://postgres@127.0.0.1:${cluster.port}/latch_export`,
    tls: "disable" as const,
    pool_size: 4,
  };
  a = await openPostgresStores(store, { gatewayId: "replica-a" });
  b = await openPostgresStores(store, { gatewayId: "replica-b" });
}, 120_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await cluster?.stop();
}, 60_000);

/** A receiver that takes every batch and confirms it; `seqs` is what it received, in order. */
const collector = (): ExportSink & { readonly seqs: number[] } => {
  const seqs: number[] = [];
  return {
    name: "collector",
    seqs,
    async send(events: readonly AuditEvent[]) {
      seqs.push(...events.map((event) => event.seq));
      return events.at(-1)?.seq ?? 0;
    },
    close: async () => undefined,
  };
};

const append = async (count: number) => {
  await a.audit.append(
    Array.from({ length: count }, (_, i) => ({
      kind: "gateway_start" as const,
      sessionId: null,
      data: { i },
    })),
  );
  await a.audit.flush();
};

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("audit export on the PostgreSQL store", () => {
  it("one replica exports a sink; when it dies another takes over from the stored cursor, nothing lost", async () => {
    await append(30);
    const sinkA = collector();
    const sinkB = collector();
    // A "dies": its exporter stops without giving the lease up, as a killed process would.
    const { release: _released, ...cursorsWithoutRelease } = a.exportCursors!;
    const exporterA = startAuditExporter({
      sinks: [sinkA],
      reader: a.auditReader,
      cursors: cursorsWithoutRelease,
      headSeq: () => a.audit.head().seq,
      pollMs: 20,
      leaseMs: 400,
    });
    await until("replica A to export the first events", () => sinkA.seqs.length === 30);
    const exporterB = startAuditExporter({
      sinks: [sinkB],
      reader: b.auditReader,
      cursors: b.exportCursors!,
      headSeq: () => b.audit.head().seq,
      pollMs: 20,
      leaseMs: 400,
    });
    await append(10);
    await until("replica A to export the next events", () => sinkA.seqs.length === 40);
    // B stood by all along: A held the lease and renewed it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sinkB.seqs).toEqual([]);
    expect(await b.exportCursors!.get("collector")).toBe(40);

    await exporterA.stop();
    await append(15);
    await until("replica B to take over", () => sinkB.seqs.length === 15);
    expect(sinkA.seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(sinkB.seqs).toEqual(Array.from({ length: 15 }, (_, i) => i + 41));
    expect(await a.exportCursors!.get("collector")).toBe(55);
    expect(exporterB.status()[0]).toMatchObject({ sink: "collector", lagEvents: 0 });

    // A clean stop gives the lease up: a claim by another holder succeeds at once.
    await exporterB.stop();
    expect(await a.exportCursors!.claim!("collector", 60_000)).toBe(true);
    expect(await b.exportCursors!.claim!("collector", 60_000)).toBe(false);
  }, 90_000);
});
