import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { computeEventHash } from "../../src/audit/event-hash.js";
import { AuditJournal } from "../../src/store/audit-journal.js";
import { openSqliteAuditQueries } from "../../src/store/sqlite-audit-reader.js";
import { startNewSqliteSegment } from "../../src/store/sqlite-new-segment.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import type { AuditEventInput } from "../../src/store/store.js";
import { operation, sessionEnd, sessionStart, tempDir } from "./store-fixtures.js";

/**
 * Issue 10: verification covers everything search and the API show (the chain, the sessions index derived from
 * it, the journal against the index), and `new-segment` lets an operator go on after a break without erasing it.
 */

let dir: string;
let cleanup: () => void;
let file: string;
let journalFile: string;

const EVENTS: AuditEventInput[] = [
  sessionStart("s1", "mallory"),
  operation("s1", "SELECT * FROM users"),
  operation("s1", "DELETE FROM users", "deny"),
  sessionStart("s2", "alice"),
  operation("s2", "SELECT 1"),
  sessionEnd("s1"),
];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  file = path.join(dir, "latch.db");
  journalFile = path.join(dir, "audit.journal");
});
afterEach(() => cleanup());

function indexEvents(events: readonly AuditEventInput[] = EVENTS): void {
  const store = createSqliteStore(file);
  for (const event of events) store.append(event);
  store.close();
}

function verify() {
  const queries = openSqliteAuditQueries(file, { journalFile });
  try {
    return queries.verifyChain();
  } finally {
    queries.close();
  }
}

/** Raw SQL on the index, with the append-only triggers dropped (what someone with the file can do). */
function tamper(sql: string): void {
  const db = new Database(file);
  db.exec("DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete");
  db.exec(sql);
  db.close();
}

/**
 * A journal whose first `indexed` events are in the index too and the rest only in the journal (a crash before
 * the index caught up): `total` events in all.
 */
function journalAndIndex(indexed: number, total: number): void {
  const store = createSqliteStore(file);
  const { journal } = AuditJournal.open(journalFile, store.head());
  const inputs = Array.from({ length: total }, (_, i) => operation("s9", `SELECT ${i}`));
  const hashed = journal.append(inputs);
  store.appendHashed(hashed.slice(0, indexed));
  journal.close();
  store.close();
}

const journalLines = () => readFileSync(journalFile, "utf8").trimEnd().split("\n");
const writeJournal = (lines: string[]) => writeFileSync(journalFile, `${lines.join("\n")}\n`);
const editLine = (line: string, from: string, to: string) => line.replace(from, to);

describe("the sessions index is verified against the chained events", () => {
  it("passes an untouched store", () => {
    indexEvents();
    expect(verify()).toMatchObject({ ok: true, events: 6 });
  });

  it.each([
    [
      "a relabelled subject",
      "UPDATE sessions SET subject = 'alice' WHERE id = 's1'",
      /session s1: .*subject is "alice" but its events say "mallory"/,
    ],
    [
      "a changed denied count",
      "UPDATE sessions SET denied = 0 WHERE id = 's1'",
      /session s1: .*denied is 0 but its events say 1/,
    ],
    [
      "an erased end",
      "UPDATE sessions SET ended_at = NULL, end_reason = NULL WHERE id = 's1'",
      /session s1: .*endedAt is null/,
    ],
    ["other groups", `UPDATE sessions SET groups = '["admins"]' WHERE id = 's2'`, /session s2: .*groups/],
    [
      "a deleted session",
      "DELETE FROM sessions WHERE id = 's2'",
      /session s2 has a session_start event but is missing/,
    ],
    [
      "an invented session",
      "INSERT INTO sessions (id, protocol, connection, subject, groups, client_address, started_at) VALUES ('s3', 'postgres', 'app', 'eve', '[]', 'x', 'y')",
      /session s3 is in the sessions index but no session_start event records it/,
    ],
  ])("finds %s", (_what, sql, problem) => {
    indexEvents();
    tamper(sql);
    const report = verify();
    expect(report).toMatchObject({ ok: false, part: "sessions" });
    expect(report.problem).toMatch(problem);
  });
});

describe("the journal is verified against the index", () => {
  it("passes lines the index holds and lines it does not hold yet", () => {
    journalAndIndex(3, 6);
    expect(verify()).toMatchObject({ ok: true, events: 3 });
  });

  it("finds an edited line the index already holds (kept hash: its own hash fails)", () => {
    journalAndIndex(3, 6);
    const lines = journalLines();
    lines[1] = editLine(lines[1]!, "SELECT 1", "SELECT 7");
    writeJournal(lines);
    expect(verify()).toMatchObject({ ok: false, part: "journal", firstBadSeq: 2 });
  });

  it("finds an indexed line rewritten with a recomputed hash: it differs from the index", () => {
    journalAndIndex(3, 6);
    const lines = journalLines();
    lines[2] = rehash(editLine(lines[2]!, '"decision":"allow"', '"decision":"deny"'));
    writeJournal(lines);
    const report = verify();
    expect(report).toMatchObject({ ok: false, part: "journal", firstBadSeq: 3 });
    expect(report.problem).toMatch(/differs from the index's event 3/);
  });

  it("finds an edited line the index does not hold yet", () => {
    journalAndIndex(3, 6);
    const lines = journalLines();
    lines[4] = editLine(lines[4]!, '"decision":"allow"', '"decision":"deny"');
    writeJournal(lines);
    expect(verify()).toMatchObject({ ok: false, part: "journal", firstBadSeq: 5 });
  });

  it.each([
    ["deleted", (lines: string[]) => lines.filter((_, i) => i !== 4), 5],
    ["deleted first unindexed", (lines: string[]) => lines.filter((_, i) => i !== 3), 4],
    ["inserted (a copy)", (lines: string[]) => [...lines.slice(0, 5), lines[4]!, ...lines.slice(5)], 6],
    ["reordered", (lines: string[]) => [...lines.slice(0, 3), lines[4]!, lines[3]!, lines[5]!], 4],
  ])("finds a line %s", (_what, change, seq) => {
    journalAndIndex(3, 6);
    writeJournal(change(journalLines()));
    expect(verify()).toMatchObject({ ok: false, part: "journal", firstBadSeq: seq });
  });

  it("finds a line that is not an event at all", () => {
    journalAndIndex(3, 6);
    const lines = journalLines();
    lines.splice(4, 0, "not json");
    writeJournal(lines);
    expect(verify()).toMatchObject({ ok: false, part: "journal" });
  });

  it("cannot tell an unindexed tail rewritten with recomputed hashes (the documented limit)", () => {
    journalAndIndex(3, 6);
    const lines = journalLines();
    // Rewrite events 5 and 6 and chain them again: nothing inside the store can tell.
    const five = JSON.parse(rehash(editLine(lines[4]!, "SELECT 4", "SELECT 44"))) as { hash: string };
    lines[4] = rehash(editLine(lines[4]!, "SELECT 4", "SELECT 44"));
    lines[5] = rehash(lines[5]!.replace(/"prevHash":"[0-9a-f]{64}"/, `"prevHash":"${five.hash}"`));
    writeJournal(lines);
    expect(verify().ok).toBe(true);
  });
});

describe("latch audit new-segment", () => {
  const request = { reason: "INC-42: restored after disk incident", operator: "ops@host" };

  it("writes nothing when the store verifies", async () => {
    indexEvents();
    const result = await startNewSqliteSegment(file, journalFile, request);
    expect(result.segmentSeq).toBeUndefined();
    expect(verify()).toMatchObject({ ok: true, events: 6 });
  });

  it("keeps an edited event as evidence and acknowledges exactly that break", async () => {
    indexEvents();
    tamper("UPDATE audit_events SET data = replace(data, 'deny', 'allow') WHERE seq = 3");
    expect(verify()).toMatchObject({ ok: false, firstBadSeq: 3 });
    const result = await startNewSqliteSegment(file, journalFile, request);
    expect(result.segmentSeq).toBe(7);
    expect(result.after).toMatchObject({ ok: true, events: 6, acknowledged: [{ seq: 3, segmentSeq: 7 }] });
    const db = new Database(file, { readonly: true });
    const segment = db.prepare("SELECT kind, data FROM audit_events WHERE seq = 7").get() as {
      kind: string;
      data: string;
    };
    db.close();
    expect(segment.kind).toBe("audit_segment_start");
    expect(JSON.parse(segment.data)).toMatchObject({
      reason: request.reason,
      operator: "ops@host",
      breaks: [3],
    });

    // A later edit anywhere else is a break no segment acknowledged.
    tamper("UPDATE audit_events SET data = replace(data, 'SELECT 1', 'SELECT 2') WHERE seq = 5");
    expect(verify()).toMatchObject({ ok: false, firstBadSeq: 5 });
  });

  it("does not trust an edited segment start", async () => {
    indexEvents();
    tamper("UPDATE audit_events SET data = replace(data, 'deny', 'allow') WHERE seq = 3");
    await startNewSqliteSegment(file, journalFile, request);
    tamper("UPDATE audit_events SET data = replace(data, 'INC-42', 'INC-43') WHERE seq = 7");
    expect(verify()).toMatchObject({ ok: false, firstBadSeq: 3 });
  });

  it("rebuilds a tampered sessions index from the chained events", async () => {
    indexEvents();
    tamper("UPDATE sessions SET subject = 'alice' WHERE id = 's1'");
    const result = await startNewSqliteSegment(file, journalFile, request);
    expect(result.repaired).toContain("sessions index rebuilt from the chained events");
    expect(result.after.ok).toBe(true);
    const queries = openSqliteAuditQueries(file);
    expect(queries.getSession("s1")).toMatchObject({ subject: "mallory", operations: 2, denied: 1 });
    queries.close();
  });

  it("moves a head record past removed events and records what was missing", async () => {
    indexEvents();
    tamper("DELETE FROM audit_events WHERE seq = 6");
    expect(verify()).toMatchObject({ ok: false, part: "head" });
    const result = await startNewSqliteSegment(file, journalFile, request);
    expect(result.repaired).toContain("chain_head moved to event 5");
    expect(result.after).toMatchObject({ ok: true, head: { seq: 6 } });
  });

  it("sets a journal that disagrees with the index aside, never replaying it", async () => {
    journalAndIndex(3, 6);
    const lines = journalLines();
    lines[4] = editLine(lines[4]!, '"decision":"allow"', '"decision":"deny"');
    writeJournal(lines);
    const result = await startNewSqliteSegment(file, journalFile, request);
    expect(result.repaired.join("\n")).toMatch(/audit\.journal set aside as .*audit\.journal\.set-aside-/);
    expect(result.after).toMatchObject({ ok: true, head: { seq: 4 } });
  });

  it("refuses while a gateway holds the store", async () => {
    indexEvents();
    tamper("UPDATE sessions SET subject = 'alice' WHERE id = 's1'");
    const running = createSqliteStore(file);
    try {
      await expect(startNewSqliteSegment(file, journalFile, request)).rejects.toThrow(
        /already open for writing/,
      );
    } finally {
      running.close();
    }
  });
});

/** The line with its hash recomputed over its (edited) fields, as someone covering their tracks would. */
function rehash(line: string): string {
  const dataAt = line.indexOf(',"data":');
  const parsed = JSON.parse(line) as {
    seq: number;
    ts: string;
    kind: string;
    sessionId: string | null;
    prevHash: string;
  };
  const hash = computeEventHash({ ...parsed, dataJson: line.slice(dataAt + 8, -1) });
  return line.replace(/"hash":"[0-9a-f]{64}"/, `"hash":"${hash}"`);
}
