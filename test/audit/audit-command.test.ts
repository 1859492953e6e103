import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runAuditSearch, runAuditVerify } from "../../src/cli/commands/audit.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import { operation, sessionEnd, sessionStart, tempDir } from "../store/store-fixtures.js";

let dir: string;
let cleanup: () => void;
let configFile: string;
let storeFile: string;
let output: string;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  // data_dir is relative: it must resolve against the config file's directory, not the test's cwd.
  configFile = path.join(dir, "latch.yaml");
  writeFileSync(configFile, "data_dir: ./data\n");
  storeFile = path.join(dir, "data", "latch.db");
  output = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    output += String(chunk);
    return true;
  });
  mkdirSync(path.join(dir, "data"));
  const store = createSqliteStore(storeFile);
  store.append(sessionStart("s1", "agent-1"));
  store.append(operation("s1", "SELECT * FROM users"));
  store.append(operation("s1", "DELETE FROM users", "deny"));
  store.append(sessionStart("s2", "agent-2"));
  store.append(operation("s2", "DROP TABLE users", "deny"));
  store.append(sessionEnd("s1"));
  store.close();
});
afterEach(() => {
  vi.restoreAllMocks();
  cleanup();
});

describe("latch audit verify", () => {
  it("prints OK with the head and exits 0; the printed head anchors a later verify", async () => {
    expect(await runAuditVerify({ config: configFile })).toBe(0);
    const match = /^audit chain OK: 6 events, head (6:[0-9a-f]{64})\n/.exec(output);
    expect(match).not.toBeNull();
    const head = match![1]!;
    expect(output).toContain(`--expect-head ${head}`);

    output = "";
    expect(await runAuditVerify({ dataDir: path.join(dir, "data"), expectHead: head })).toBe(0);
    expect(output).toMatch(/^audit chain OK: 6 events/);
  });

  it("exits 1 and names the event when the chain is broken", async () => {
    const db = new Database(storeFile);
    db.exec("DROP TRIGGER audit_events_no_update");
    db.prepare("UPDATE audit_events SET data = replace(data, 'deny', 'allow') WHERE seq = 3").run();
    db.close();
    expect(await runAuditVerify({ config: configFile })).toBe(1);
    expect(output).toMatch(/^audit chain BROKEN at event 3: its hash does not match its contents/);
  });

  it("exits 1 when an anchored head was rewritten away, even though the chain itself is consistent", async () => {
    expect(await runAuditVerify({ config: configFile, expectHead: `4:${"0".repeat(64)}` })).toBe(1);
    expect(output).toMatch(/^audit chain BROKEN at event 4: its hash differs from the expected head/);
    output = "";
    expect(await runAuditVerify({ config: configFile, expectHead: `9:${"0".repeat(64)}` })).toBe(1);
    expect(output).toMatch(/^audit chain BROKEN at event 7: the expected head is event 9/);
  });

  it("prints JSON with --json", async () => {
    expect(await runAuditVerify({ config: configFile, json: true })).toBe(0);
    expect(JSON.parse(output)).toMatchObject({ ok: true, events: 6, file: storeFile });
  });

  it("fails with a clear error when there is no store", async () => {
    await expect(runAuditVerify({ dataDir: path.join(dir, "elsewhere") })).rejects.toThrow(
      /cannot open store/,
    );
    await expect(runAuditVerify({ config: configFile, expectHead: "nonsense" })).rejects.toThrow(
      /--expect-head/,
    );
  });
});

describe("latch audit search", () => {
  it("prints matching events as a table with the session's subject", async () => {
    expect(await runAuditSearch({ config: configFile, decision: "deny" })).toBe(0);
    const lines = output.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^SEQ\s+TIME\s+KIND\s+SESSION\s+SUBJECT\s+DETAIL$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^3\s.*operation\s+s1\s+agent-1\s+DENY DELETE FROM users -- deny by test$/);
    expect(lines[2]).toMatch(/^5\s.*s2\s+agent-2\s+DENY DROP TABLE users/);
  });

  it("combines filters and prints JSON", async () => {
    expect(await runAuditSearch({ config: configFile, subject: "agent-1", text: "users", json: true })).toBe(
      0,
    );
    expect((JSON.parse(output) as { seq: number }[]).map((e) => e.seq)).toEqual([2, 3]);
    output = "";
    expect(
      await runAuditSearch({ config: configFile, session: "s2", after: "4", limit: "1", json: true }),
    ).toBe(0);
    expect((JSON.parse(output) as { seq: number }[]).map((e) => e.seq)).toEqual([5]);
  });

  it("rejects bad filter values", async () => {
    await expect(runAuditSearch({ config: configFile, decision: "maybe" })).rejects.toThrow(/--decision/);
    await expect(runAuditSearch({ config: configFile, kind: "nope" })).rejects.toThrow(/--kind/);
    await expect(runAuditSearch({ config: configFile, limit: "0" })).rejects.toThrow(/--limit/);
  });
});
