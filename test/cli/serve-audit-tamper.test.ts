import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import { sessionStart } from "../store/store-fixtures.js";
import { LATCH_CLI, startLatchServe } from "../support/latch-serve.js";

/**
 * Issue 10, against the compiled `latch serve`: a store that does not verify (an edited event, relabelled session
 * metadata, an edited journal line after kill -9) stops the gateway at start with the part and the event named;
 * `latch audit new-segment` is the explicit, audited way on, and the next start records the head it found.
 */

const run = promisify(execFile);
let dir: string;
let config: string;
let dataDir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "latch-tamper-"));
  dataDir = path.join(dir, "data");
  config = path.join(dir, "latch.yaml");
  writeFileSync(
    config,
    `listen: { admin: "127.0.0.1:0" }\ndata_dir: ${JSON.stringify(dataDir)}\npolicies: ${JSON.stringify(dir)}\nlog_level: info\n`,
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function serveAndStop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  const child = await startLatchServe(config);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

/** Runs `latch serve` expecting it to refuse to start; resolves with its exit code and stderr. */
function serveRefused(): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [LATCH_CLI, "serve", "--config", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.includes("gateway ready")) child.kill("SIGKILL");
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr })));
}

function tamperIndex(sql: string): void {
  const db = new Database(path.join(dataDir, "latch.db"));
  db.exec("DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete");
  db.exec(sql);
  db.close();
}

const cli = (...args: string[]) => run(process.execPath, [LATCH_CLI, ...args, "--config", config]);

describe("latch serve on a store that does not verify", () => {
  it("refuses an edited event, starts again after new-segment, and records the head it found", async () => {
    await serveAndStop();
    tamperIndex(
      "UPDATE audit_events SET data = replace(data, '\"policies\":0', '\"policies\":9') WHERE seq = 1",
    );

    const refused = await serveRefused();
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /audit store does not verify \(chain, event 1: its hash does not match its contents/,
    );
    expect(refused.stderr).toMatch(/latch audit new-segment --reason/);

    const verify = await cli("audit", "verify").catch((error: { code: number; stdout: string }) => error);
    expect(verify).toMatchObject({ code: 1 });
    expect((verify as { stdout: string }).stdout).toMatch(/BROKEN at event 1/);

    const segment = await cli("audit", "new-segment", "--reason", "INC-7 test edit");
    expect(segment.stdout).toMatch(/new segment started at event 3/);
    expect(segment.stdout).toMatch(/audit chain OK again/);

    await serveAndStop();
    const { stdout } = await cli("audit", "search", "--json", "--kind", "gateway_start");
    const starts = JSON.parse(stdout) as { seq: number; data: { chainHead: { seq: number } } }[];
    expect(starts.map((event) => [event.seq, event.data.chainHead.seq])).toEqual([
      [1, 0],
      [4, 3],
    ]);
    expect((await cli("audit", "verify")).stdout).toMatch(
      /acknowledged: event 1 .* by the new segment at event 3/,
    );
  }, 60_000);

  it("refuses relabelled session metadata (mallory's history moved to alice)", async () => {
    await serveAndStop();
    const store = createSqliteStore(path.join(dataDir, "latch.db"));
    store.append(sessionStart("s-mallory", "mallory"));
    store.close();
    tamperIndex("UPDATE sessions SET subject = 'alice' WHERE id = 's-mallory'");

    const refused = await serveRefused();
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /does not verify \(sessions, .*session s-mallory: .*subject is \\?"alice\\?" but its events say \\?"mallory\\?"/,
    );
  }, 60_000);

  it("refuses a journal line edited after a kill -9", async () => {
    await serveAndStop("SIGKILL");
    const journal = path.join(dataDir, "audit.journal");
    const text = readFileSync(journal, "utf8");
    expect(text).toContain('"kind":"gateway_start"');
    writeFileSync(journal, text.replace('"policies":0', '"policies":5'));

    const refused = await serveRefused();
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /does not verify \(journal, event 1: journal event 1 does not match its hash/,
    );
  }, 60_000);
});
