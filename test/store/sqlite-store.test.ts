import { rmSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chainEvents } from "../../src/audit/event-hash.js";
import { isLatchError } from "../../src/errors.js";
import { openSqliteAuditReader } from "../../src/store/sqlite-audit-reader.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.js";
import { operation, sessionEnd, sessionStart, tempDir } from "./store-fixtures.js";

let dir: string;
let cleanup: () => void;
let file: string;
const open: { close(): void }[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  file = path.join(dir, "latch.db");
});
afterEach(() => {
  for (const handle of open.splice(0)) handle.close();
  cleanup();
});

function store(options?: Parameters<typeof createSqliteStore>[1]): SqliteStore {
  const opened = createSqliteStore(file, options);
  open.push(opened);
  return opened;
}

/** A raw connection, as an attacker with write access to the file would have. */
function raw(): Database.Database {
  const db = new Database(file);
  open.push(db);
  return db;
}

function reader() {
  const opened = openSqliteAuditReader(file);
  open.push(opened);
  return opened;
}

/** Ten events across two sessions, then the store is closed. */
function writeSampleLog(): void {
  const s = createSqliteStore(file);
  s.append(sessionStart("s1"));
  s.append(operation("s1", "SELECT * FROM users"));
  s.append(operation("s1", "DELETE FROM users", "deny"));
  s.append(sessionStart("s2", "agent-2"));
  s.append(operation("s2", "select name from users"));
  s.append(operation("s1", "UPDATE users SET name = 'x'", "approval"));
  s.append(sessionEnd("s1"));
  s.append(operation("s2", "DROP TABLE users", "deny"));
  s.append({ kind: "operation_result", sessionId: "s2", data: { rows: 0, durationMs: 1 } });
  s.append({ kind: "gateway_stop", sessionId: null, data: {} });
  s.close();
}

function dropTriggers(db: Database.Database): void {
  db.exec("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;");
}

// Appending, reading back, the sessions index and search are in the conformance suite every store runs
// (conformance/, run for SQLite by sqlite-conformance.test.ts). Here: what only SQLite has or can show.

describe("SqliteStore file format", () => {
  it("stores the body as canonical JSON (sorted keys, no whitespace)", () => {
    const s = store();
    s.append({ kind: "gateway_start", sessionId: null, data: { z: 1, a: { y: [2, 1], b: "t" } } });
    const row = raw().prepare("SELECT data FROM audit_events WHERE seq = 1").get() as { data: string };
    expect(row.data).toBe('{"a":{"b":"t","y":[2,1]},"z":1}');
  });

  it("refuses UPDATE and DELETE on audit_events while the triggers are in place", () => {
    writeSampleLog();
    const db = raw();
    expect(() => db.prepare("UPDATE audit_events SET kind = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => db.prepare("DELETE FROM audit_events WHERE seq = 10").run()).toThrow(/append-only/);
    expect(() => db.prepare("UPDATE chain_head SET seq = 3").run()).toThrow(/forward/);
  });
});

describe("SqliteStore tamper detection (verifyChain)", () => {
  it("finds data edited through raw SQL at the edited event", async () => {
    writeSampleLog();
    const db = raw();
    dropTriggers(db);
    db.prepare("UPDATE audit_events SET data = replace(data, 'DELETE', 'SELECT') WHERE seq = 3").run();
    const result = await reader().verifyChain();
    expect(result).toMatchObject({ ok: false, firstBadSeq: 3, events: 2 });
    expect(result.problem).toMatch(/hash does not match its contents/);
  });

  it("finds an edited hash at that event", async () => {
    writeSampleLog();
    const db = raw();
    dropTriggers(db);
    db.prepare("UPDATE audit_events SET hash = ? WHERE seq = 6").run("a".repeat(64));
    expect(await reader().verifyChain()).toMatchObject({ ok: false, firstBadSeq: 6 });
  });

  it("finds a deleted middle event", async () => {
    writeSampleLog();
    const db = raw();
    dropTriggers(db);
    db.prepare("DELETE FROM audit_events WHERE seq = 5").run();
    const result = await reader().verifyChain();
    expect(result).toMatchObject({ ok: false, firstBadSeq: 5 });
    expect(result.problem).toMatch(/event 5 is missing/);
  });

  it("finds two events whose seqs were swapped", async () => {
    writeSampleLog();
    const db = raw();
    dropTriggers(db);
    db.exec(`
      UPDATE audit_events SET seq = -1 WHERE seq = 4;
      UPDATE audit_events SET seq = 4 WHERE seq = 7;
      UPDATE audit_events SET seq = 7 WHERE seq = -1;`);
    const result = await reader().verifyChain();
    expect(result).toMatchObject({ ok: false, firstBadSeq: 4 });
    expect(result.problem).toMatch(/prev_hash/);
  });

  it("finds a deleted tail through chain_head, and refuses to append after it", async () => {
    writeSampleLog();
    const db = raw();
    dropTriggers(db);
    db.prepare("DELETE FROM audit_events WHERE seq >= 9").run();
    db.close();
    const result = await reader().verifyChain();
    expect(result).toMatchObject({ ok: false, firstBadSeq: 9, events: 8 });
    expect(result.problem).toMatch(/removed from the end/);
    expect(() => createSqliteStore(file)).toThrow(/ends at event 8 but chain_head records event 10/);
  });

  it("verifies with a read-only reader while the writer keeps appending", async () => {
    const s = store();
    s.append(sessionStart("s1"));
    const r = reader();
    expect(await r.verifyChain()).toMatchObject({ ok: true, events: 1 });
    for (let i = 0; i < 50; i++) s.append(operation("s1", `SELECT ${i}`));
    expect(await r.verifyChain()).toMatchObject({ ok: true, events: 51 });
    expect((await r.getSession("s1"))?.operations).toBe(50);
  });
});

describe("SqliteStore session counts", () => {
  // Counts are written once per session and batch: the totals must be those of one update per operation.
  it("counts every operation and denial of a batch, hashed or not, across sessions", async () => {
    const s = store();
    s.appendMany([sessionStart("s1"), sessionStart("s2")]);
    s.appendMany([
      operation("s1", "SELECT 1"),
      operation("s2", "SELECT 2", "deny"),
      { kind: "operation_result", sessionId: "s1", data: { operationId: "x", rows: 1 } },
      operation("s1", "SELECT 3", "deny"),
      operation("s1", "SELECT 4"),
      sessionEnd("s2"),
      operation("nobody", "SELECT 5"),
    ]);
    const head = s.head();
    const hashed = chainEvents(
      [operation("s2", "SELECT 6"), sessionStart("s3"), operation("s3", "DELETE 7", "deny")],
      head,
      new Date().toISOString(),
    );
    s.appendHashed(hashed);
    const r = reader();
    expect(await r.getSession("s1")).toMatchObject({ operations: 3, denied: 1 });
    expect(await r.getSession("s2")).toMatchObject({ operations: 2, denied: 1 });
    expect(await r.getSession("s3")).toMatchObject({ operations: 1, denied: 1 });
    expect(await r.verifyChain()).toMatchObject({ ok: true, events: 12 });
  });

  // The index thread's rows go 16 to an INSERT, the remainder one by one: the same rows in the same order.
  it("indexes a batch longer than one multi-row INSERT exactly as events appended one by one", async () => {
    const s = store();
    const inputs = [sessionStart("m1")];
    for (let i = 1; i <= 36; i++) inputs.push(operation("m1", `SELECT ${i}`, i % 7 === 0 ? "deny" : "allow"));
    inputs.push(sessionEnd("m1"));
    const hashed = chainEvents(inputs, s.head(), "2026-12-02T12:00:00.000Z");
    s.appendHashed(hashed.slice(0, 1));
    s.appendHashed(hashed.slice(1));
    const r = reader();
    const stored = await r.events({ limit: 100 });
    expect(stored.map((e) => [e.seq, e.kind, e.prevHash, e.hash])).toEqual(
      hashed.map((e) => [e.seq, e.kind, e.prevHash, e.hash]),
    );
    expect(stored.map((e) => JSON.stringify(e.data))).toEqual(hashed.map((e) => e.dataJson));
    expect(await r.getSession("m1")).toMatchObject({
      operations: 36,
      denied: 5,
      endReason: "client_terminated",
    });
    expect(await r.verifyChain()).toMatchObject({ ok: true, events: 38 });
  });

  it("refuses a batch whose chain breaks inside a multi-row INSERT, and indexes none of it", async () => {
    const s = store();
    s.append(sessionStart("m2"));
    const inputs = [];
    for (let i = 1; i <= 20; i++) inputs.push(operation("m2", `SELECT ${i}`));
    const hashed = chainEvents(inputs, s.head(), "2026-12-02T12:00:00.000Z");
    const broken = hashed.map((e, i) => (i === 9 ? { ...e, prevHash: "f".repeat(64) } : e));
    expect(() => s.appendHashed(broken)).toThrow();
    expect(s.head().seq).toBe(1);
    s.appendHashed(hashed);
    expect(await reader().verifyChain()).toMatchObject({ ok: true, events: 21 });
    expect(await reader().getSession("m2")).toMatchObject({ operations: 20, denied: 0 });
  });
});

describe("SqliteStore failures throw from append (callers fail closed)", () => {
  const expectAuditUnavailable = (fn: () => unknown) => {
    let thrown: unknown;
    try {
      fn();
    } catch (error) {
      thrown = error;
    }
    expect(isLatchError(thrown) && thrown.code === "audit_unavailable").toBe(true);
  };

  it("after close", () => {
    const s = store();
    s.append(sessionStart("s1"));
    s.close();
    expectAuditUnavailable(() => s.append(operation("s1", "SELECT 1")));
  });

  it("when the store directory is removed under it", () => {
    const s = store();
    s.append(sessionStart("s1"));
    s.check();
    rmSync(dir, { recursive: true, force: true });
    expectAuditUnavailable(() => s.append(operation("s1", "SELECT 1")));
    expectAuditUnavailable(() => s.check());
  });

  it("when another connection holds the write lock, and recovers without a gap", () => {
    const s = store({ busyTimeoutMs: 20 });
    s.append(sessionStart("s1"));
    const db = raw();
    db.exec("BEGIN IMMEDIATE");
    expectAuditUnavailable(() => s.append(operation("s1", "SELECT 1")));
    expectAuditUnavailable(() => s.check());
    db.exec("ROLLBACK");
    expect(s.append(operation("s1", "SELECT 2")).seq).toBe(2);
    expect(s.verifyChain()).toMatchObject({ ok: true, events: 2 });
  });

  it("when the body cannot be represented, without moving the chain", () => {
    const s = store();
    expectAuditUnavailable(() =>
      s.append({ kind: "gateway_start", sessionId: null, data: { n: Number.NaN } }),
    );
    expectAuditUnavailable(() => s.append({ kind: "session_start", sessionId: "s1", data: { subject: 1 } }));
    expect(s.append({ kind: "gateway_start", sessionId: null, data: {} }).seq).toBe(1);
  });

  it("when a session_start repeats a session id; neither the event nor the index row is written", () => {
    const s = store();
    s.append(sessionStart("s1"));
    expectAuditUnavailable(() => s.append(sessionStart("s1", "someone-else")));
    expect(s.events()).toHaveLength(1);
    expect(s.getSession("s1")?.subject).toBe("agent-1");
  });

  it("and a second writer on the same file is refused while the first is open", () => {
    const first = store();
    expect(() => createSqliteStore(file)).toThrow(/already open for writing/);
    first.close();
    const second = store();
    expect(second.append(sessionStart("s1")).seq).toBe(1);
  });
});
