import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadCheckpointSigner } from "../../src/audit/checkpoint-key.js";
import { startCheckpointer } from "../../src/audit/checkpointer.js";
import { LIVE_SESSION_MARGIN_MS, planPrune } from "../../src/audit-retention/audit-pruner.js";
import { configSchema } from "../../src/config/schema.js";
import { createSqliteAuditRetention } from "../../src/store/sqlite-audit-retention.js";
import { createSqliteLiveSessionStore } from "../../src/store/sqlite-live-sessions.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import { operation, sessionStart, tempDir } from "../store/store-fixtures.js";
import { LATCH_CLI } from "../support/latch-serve.js";

const run = promisify(execFile);
const HOUR = 3_600_000;
const T0 = Date.parse("2026-06-01T00:00:00.000Z");

let dir: string;
let cleanup: () => void;
let dataDir: string;
let storeFile: string;
let configFile: string;

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  dataDir = path.join(dir, "data");
  mkdirSync(dataDir, { mode: 0o700 });
  storeFile = path.join(dataDir, "latch.db");
  configFile = path.join(dir, "latch.yaml");
  writeFileSync(configFile, "data_dir: ./data\naudit:\n  retention: 1h\n");
  const signer = loadCheckpointSigner(configSchema.parse({ data_dir: dataDir }), { create: true })!;
  const store = createSqliteStore(storeFile);
  const checkpointer = startCheckpointer({
    signer,
    head: () => store.head(),
    record: async (event) => void store.append(event),
    everyEvents: 3,
    everyMs: HOUR,
  });
  // Session s<i> runs at T0 + i hours; checkpoints at events 4, 8 and 12 sign events 3, 7 and 11.
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(T0 + i * HOUR);
      store.append(sessionStart(`s${i}`));
      store.append(operation(`s${i}`, `SELECT ${i}`));
      store.append(operation(`s${i}`, `DELETE FROM t${i}`, "deny"));
      await checkpointer.checkpoint();
    }
  } finally {
    vi.useRealTimers();
    checkpointer.stop();
    store.close();
  }
});
afterEach(() => cleanup());

function liveSession(id: string, startedAt: number) {
  return {
    id,
    gatewayId: "gw-1",
    protocol: "postgres",
    connection: "analytics",
    subject: "agent-1",
    groups: ["agents"],
    clientAddress: "127.0.0.1:50000",
    startedAt: new Date(startedAt).toISOString(),
  };
}

describe("audit retention and sessions still open", () => {
  it("stops before the oldest live session's start, and goes on once it has ended", async () => {
    const retention = createSqliteAuditRetention(storeFile);
    const liveSessions = createSqliteLiveSessionStore(storeFile);
    // Ten hours on, a retention of 1h would take everything up to the last checkpoint (event 11).
    const options = { retention, retentionMs: HOUR, sinks: [], liveSessions, now: () => T0 + 10 * HOUR };
    try {
      expect(await planPrune(options)).toMatchObject({ through: 11, anchorSeq: 12 });

      // s1 began at T0 + 1h and is still open: only s0 (before it) may go; s1's session_start (event 5) stays.
      await liveSessions.add(liveSession("s1", T0 + HOUR));
      expect(await planPrune(options)).toMatchObject({ through: 3, anchorSeq: 4, events: 3 });

      // The dry run (compiled CLI) reports the same plan and names the session that holds it back.
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
      expect(stdout).toContain(
        `held back to ${new Date(T0 + HOUR - LIVE_SESSION_MARGIN_MS).toISOString()} by session s1, still open`,
      );

      // A session stamped up to the margin after its own session_start (another replica's clock) still holds that event back.
      await liveSessions.remove("s1");
      await liveSessions.add(liveSession("s2", T0 + 2 * HOUR + LIVE_SESSION_MARGIN_MS / 2));
      expect(await planPrune(options)).toMatchObject({ through: 7, anchorSeq: 8 });

      await liveSessions.remove("s2");
      expect(await planPrune(options)).toMatchObject({ through: 11, anchorSeq: 12 });
    } finally {
      retention.close();
      liveSessions.close();
    }
  });
});
