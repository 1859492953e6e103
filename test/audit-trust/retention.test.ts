import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadCheckpointSigner } from "../../src/audit/checkpoint-key.js";
import { startCheckpointer } from "../../src/audit/checkpointer.js";
import { startAuditPruner } from "../../src/audit-retention/audit-pruner.js";
import { runAuditVerify } from "../../src/cli/commands/audit.js";
import { configSchema } from "../../src/config/schema.js";
import { createSqliteAuditRetention } from "../../src/store/sqlite-audit-retention.js";
import { createSqliteExportCursors } from "../../src/store/sqlite-export-cursors.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.js";
import { operation, sessionStart, tempDir } from "../store/store-fixtures.js";
import { LATCH_CLI } from "../support/latch-serve.js";

const run = promisify(execFile);

let dir: string;
let cleanup: () => void;
let dataDir: string;
let storeFile: string;
let configFile: string;
let store: SqliteStore;
let pub: string;

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  dataDir = path.join(dir, "data");
  mkdirSync(dataDir, { mode: 0o700 });
  storeFile = path.join(dataDir, "latch.db");
  configFile = path.join(dir, "latch.yaml");
  writeFileSync(
    configFile,
    "data_dir: ./data\naudit:\n  retention: 400d\n  export:\n    - { type: syslog, name: siem, address: 127.0.0.1:6514 }\n",
  );
  const signer = loadCheckpointSigner(configSchema.parse({ data_dir: dataDir }), { create: true })!;
  pub = signer.verifierKey;
  store = createSqliteStore(storeFile);
  const checkpointer = startCheckpointer({
    signer,
    head: () => store.head(),
    record: async (event) => void store.append(event),
    everyEvents: 3,
    everyMs: 3_600_000,
  });
  // Checkpoints at events 4, 8 and 12 sign events 3, 7 and 11.
  for (let i = 0; i < 3; i++) {
    store.append(sessionStart(`s${i}`));
    store.append(operation(`s${i}`, `SELECT ${i}`));
    store.append(operation(`s${i}`, `DELETE FROM t${i}`, "deny"));
    await checkpointer.checkpoint();
  }
  checkpointer.stop();
});
afterEach(() => {
  vi.restoreAllMocks();
  store.close();
  cleanup();
});

function quietly<T>(work: () => Promise<T>): Promise<{ result: T; out: string }> {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  return work().then(
    (result) => {
      spy.mockRestore();
      return { result, out };
    },
    (error: unknown) => {
      spy.mockRestore();
      throw error;
    },
  );
}

describe("audit retention", () => {
  it("prunes to a signed checkpoint never past an export cursor, and the pruned log still verifies", async () => {
    const retention = createSqliteAuditRetention(storeFile);
    const cursors = createSqliteExportCursors(storeFile);
    await cursors.set("siem", 6);
    // A day from now every event is older than a retention of 1h.
    const later = Date.now() + 86_400_000;
    const pruner = startAuditPruner({
      retention,
      retentionMs: 3_600_000,
      sinks: ["siem"],
      cursors,
      now: () => later,
      everyMs: 3_600_000,
      record: async (data) => void store.append({ kind: "audit_pruned", sessionId: null, data }),
    });
    try {
      // The dry run (compiled CLI) sees the same plan: only up to the checkpoint of event 3, as siem has had 6.
      const { stdout } = await run(process.execPath, [
        LATCH_CLI,
        "audit",
        "prune",
        "--dry-run",
        "--config",
        configFile,
        "--retention",
        "1ms",
      ]);
      expect(stdout).toContain("would delete 3 events, through event 3 (");
      expect(stdout).toContain("the checkpoint at event 4 stays and anchors the rest");
      expect(stdout).toContain("export sink siem: delivered through event 6");

      expect(await pruner.pruneNow()).toMatchObject({ through: 3, anchorSeq: 4, events: 3 });
      await cursors.set("siem", 1000);
      expect(await pruner.pruneNow()).toMatchObject({ through: 11, anchorSeq: 12, events: 8 });
      expect(await pruner.pruneNow()).toBeUndefined();
    } finally {
      pruner.stop();
      retention.close();
      cursors.close();
    }
    const db = new Database(storeFile, { readonly: true });
    expect(db.prepare("SELECT min(seq) FROM audit_events").pluck().get()).toBe(12);
    // The sessions whose start went are gone from the index with it.
    expect(db.prepare("SELECT count(*) FROM sessions").pluck().get()).toBe(0);
    db.close();

    const { stdout: verified } = await run(process.execPath, [
      LATCH_CLI,
      "audit",
      "verify",
      "--data-dir",
      dataDir,
      "--key",
      pub,
    ]);
    expect(verified).toContain("audit chain OK: 3 events");
    expect(verified).toContain("pruned by retention: events 1..11, anchored by the checkpoint at event 12");
    expect(verified).toContain("checkpoints OK: 1 signed by latch-audit, latest pins events 1..11");
  });

  it("refuses a deleted prefix that no checkpoint anchors", async () => {
    const retention = createSqliteAuditRetention(storeFile);
    const plan = await retention.plan(new Date(Date.now() + 60_000).toISOString(), 1000);
    expect(plan).toMatchObject({ through: 11, anchorSeq: 12 });
    await retention.prune(plan!);
    retention.close();
    expect((await quietly(() => runAuditVerify({ dataDir }))).result).toBe(0);

    store.append(operation("s9", "SELECT 9"));
    // Someone deletes the anchoring checkpoint too, moving the retention record along.
    const db = new Database(storeFile);
    db.prepare("UPDATE audit_retention SET pruned_through = 12 WHERE id = 1").run();
    db.prepare("DELETE FROM audit_events WHERE seq = 12").run();
    db.close();
    const broken = await quietly(() => runAuditVerify({ dataDir }));
    expect(broken.result).toBe(1);
    expect(broken.out).toContain(
      "events 1..12 were deleted, and event 12 is not a kept checkpoint that anchors them",
    );
  });
});
