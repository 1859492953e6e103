import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CHECKPOINT_KEY_FILE, loadCheckpointSigner } from "../../src/audit/checkpoint-key.js";
import { checkpointText } from "../../src/audit/checkpoint-note.js";
import { startCheckpointer } from "../../src/audit/checkpointer.js";
import { computeEventHash } from "../../src/audit/event-hash.js";
import { generateSignerKey, parseSignerKey } from "../../src/audit/signed-note.js";
import { configSchema } from "../../src/config/schema.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import { operation, sessionStart, tempDir } from "../store/store-fixtures.js";
import { LATCH_CLI } from "../support/latch-serve.js";

const run = promisify(execFile);

/** The compiled CLI, as an operator or a witness runs it: exit code and stdout. */
async function latch(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [LATCH_CLI, ...args]);
    return { code: 0, out: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout + failed.stderr };
  }
}

let dir: string;
let cleanup: () => void;
let dataDir: string;
let storeFile: string;
let pub: string;

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  dataDir = path.join(dir, "data");
  mkdirSync(dataDir, { mode: 0o700 });
  storeFile = path.join(dataDir, "latch.db");
  const config = configSchema.parse({ data_dir: dataDir });
  const signer = loadCheckpointSigner(config, { create: true })!;
  const store = createSqliteStore(storeFile);
  // The real checkpointer over the real store: every 3 events, driven here instead of by its timer.
  const checkpointer = startCheckpointer({
    signer,
    head: () => store.head(),
    record: async (event) => void store.append(event),
    everyEvents: 3,
    everyMs: 3_600_000,
  });
  for (let i = 0; i < 3; i++) {
    store.append(sessionStart(`s${i}`));
    store.append(operation(`s${i}`, `SELECT ${i}`));
    store.append(operation(`s${i}`, `DELETE FROM t${i}`, "deny"));
    await checkpointer.checkpoint();
  }
  checkpointer.stop();
  store.close();
  const key = await latch("audit", "key", "--data-dir", dataDir);
  expect(key.code).toBe(0);
  pub = key.out.trim();
});
afterEach(() => cleanup());

/** Rewrites events from `from` on with recomputed hashes and moves chain_head: what a root attacker can do. */
function rewriteFrom(from: number, edit: (seq: number, data: string) => string): void {
  const db = new Database(storeFile);
  db.exec("DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS chain_head_forward_only");
  const rows = db.prepare("SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq").all(from) as {
    seq: number;
    ts: string;
    kind: string;
    session_id: string | null;
    data: string;
    prev_hash: string;
  }[];
  let prev =
    (db
      .prepare("SELECT hash FROM audit_events WHERE seq = ?")
      .pluck()
      .get(from - 1) as string) ?? "0".repeat(64);
  const update = db.prepare("UPDATE audit_events SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?");
  for (const row of rows) {
    const data = edit(row.seq, row.data);
    const hash = computeEventHash({
      prevHash: prev,
      seq: row.seq,
      ts: row.ts,
      kind: row.kind,
      sessionId: row.session_id,
      dataJson: data,
    });
    update.run(data, prev, hash, row.seq);
    prev = hash;
  }
  db.prepare("UPDATE chain_head SET hash = ? WHERE id = 1").run(prev);
  db.close();
}

describe("signed checkpoints through the compiled CLI", () => {
  it("the generated key is owner-only; verify --key checks chain and every checkpoint", async () => {
    expect(statSync(path.join(dataDir, CHECKPOINT_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(pub).toMatch(/^latch-audit\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/);
    const verified = await latch("audit", "verify", "--data-dir", dataDir, "--key", pub);
    expect(verified.out).toContain("audit chain OK: 12 events");
    expect(verified.out).toContain("checkpoints OK: 3 signed by latch-audit, latest pins events 1..11");
    expect(verified.code).toBe(0);
  });

  it("prints the latest checkpoint as a C2SP signed note a witness can check later", async () => {
    const printed = await latch("audit", "checkpoint", "--data-dir", dataDir);
    expect(printed.code).toBe(0);
    expect(printed.out).toMatch(
      /^latch\.audit\.checkpoint\/v1\norigin latch-audit\nseq 11\nhead [0-9a-f]{64}\ntime \S+\n\n\u2014 latch-audit [A-Za-z0-9+/]+=*\n$/u,
    );
    const kept = path.join(dir, "witness.note");
    writeFileSync(kept, printed.out);
    const ok = await latch("audit", "verify", "--data-dir", dataDir, "--key", pub, "--checkpoint", kept);
    expect(ok.code).toBe(0);
    // The verifier key from a file works the same.
    writeFileSync(path.join(dir, "pub"), `${pub}\n`);
    expect((await latch("audit", "verify", "--data-dir", dataDir, "--key", path.join(dir, "pub"))).code).toBe(
      0,
    );
  });

  it("an edited event fails the chain", async () => {
    const db = new Database(storeFile);
    db.exec("DROP TRIGGER audit_events_no_update");
    db.prepare("UPDATE audit_events SET data = replace(data, 'deny', 'allow') WHERE seq = 3").run();
    db.close();
    const result = await latch("audit", "verify", "--data-dir", dataDir, "--key", pub);
    expect(result.code).toBe(1);
    expect(result.out).toContain("audit chain BROKEN at event 3: its hash does not match its contents");
  });

  it("history rewritten with every hash recomputed: the chain verifies, the signed heads do not", async () => {
    rewriteFrom(3, (seq, data) => (seq === 3 ? data.replace("deny", "allow") : data));
    const result = await latch("audit", "verify", "--data-dir", dataDir, "--key", pub);
    expect(result.out).toContain("audit chain OK");
    expect(result.out).toContain(
      "checkpoint at event 4 BROKEN: its signed head hash differs from event 3 in the log: the log was rewritten",
    );
    expect(result.code).toBe(1);
  });

  it("a checkpoint forged with another key, or with its signature altered, is caught", async () => {
    const forger = parseSignerKey(generateSignerKey("latch-audit", Buffer.alloc(32, 7)));
    rewriteFrom(8, (seq, data) => {
      if (seq !== 8) return data;
      const body = JSON.parse(data) as { seq: number; head: string; time: string };
      const note = forger.sign(
        checkpointText({ origin: "latch-audit", seq: body.seq, hash: body.head, time: body.time }),
      );
      return JSON.stringify(
        { ...body, note, keyName: "latch-audit" },
        Object.keys({ ...body, note, keyName: "" }).sort(),
      );
    });
    let result = await latch("audit", "verify", "--data-dir", dataDir, "--key", pub);
    expect(result.out).toContain("checkpoint at event 8 BROKEN: no signature by latch-audit");
    expect(result.code).toBe(1);

    rewriteFrom(4, (seq, data) => {
      if (seq !== 4) return data;
      // Same key name and key hash, one bit of the signature flipped.
      return data.replace(
        /(\\u2014 latch-audit |— latch-audit )(\S{8})(\S)/u,
        (_m, a: string, b: string, c: string) => `${a}${b}${c === "A" ? "B" : "A"}`,
      );
    });
    result = await latch("audit", "verify", "--data-dir", dataDir, "--key", pub);
    expect(result.out).toContain(
      "checkpoint at event 4 BROKEN: the signature by latch-audit does not verify",
    );
    expect(result.code).toBe(1);
  });

  it("a witness's kept checkpoint catches a log cut off and re-grown after it", async () => {
    const kept = path.join(dir, "witness.note");
    writeFileSync(kept, (await latch("audit", "checkpoint", "--data-dir", dataDir)).out);
    // The attacker also rewrites the checkpoint events (dropping them would do): only the witness's copy is left.
    rewriteFrom(2, (seq, data) => (seq === 2 ? data.replace("SELECT 0", "SELECT 42") : data));
    const result = await latch("audit", "verify", "--data-dir", dataDir, "--key", pub, "--checkpoint", kept);
    expect(result.out).toContain(`${kept}: its signed head hash differs from event 11`);
    expect(result.code).toBe(1);
    expect(readFileSync(kept, "utf8")).toContain("seq 11");
  });
});
