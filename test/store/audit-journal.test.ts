import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { computeEventHash } from "../../src/audit/event-hash.js";
import { EMPTY_CHAIN_HEAD } from "../../src/audit/verify-chain.js";
import { AuditJournal } from "../../src/store/audit-journal.js";
import { openSqliteAuditReader } from "../../src/store/sqlite-audit-reader.js";
import { openSqliteAuditSink } from "../../src/store/sqlite-audit-sink.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import type { AuditEventInput } from "../../src/store/store.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "latch-journal-"));
  dirs.push(dir);
  return dir;
}
const event = (i: number): AuditEventInput => ({
  kind: "protocol_error",
  sessionId: null,
  data: { code: "x", n: i },
});

describe("audit journal", () => {
  it("chains events and hands the index exactly what it lacks after a crash", () => {
    const dir = tempDir();
    const file = path.join(dir, "audit.journal");
    const { journal } = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    const written = journal.append([event(1), event(2), event(3)]);
    expect(written.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(written[1]!.prevHash).toBe(written[0]!.hash);
    journal.close();
    // The index got event 1 only before the "crash".
    const reopened = AuditJournal.open(file, { seq: 1, hash: written[0]!.hash });
    expect(reopened.missing.map((e) => e.seq)).toEqual([2, 3]);
    expect(reopened.missing[1]!.dataJson).toBe('{"code":"x","n":3}');
    expect(reopened.journal.chainHead).toMatchObject({ seq: 3, hash: written[2]!.hash });
    reopened.journal.close();
  });

  it("writes each line as JSON.stringify of its fields and hashes the very body bytes it wrote", () => {
    const dir = tempDir();
    const file = path.join(dir, "audit.journal");
    const { journal } = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    // Multi-byte and escaped bodies of several lengths, so a body's bytes are not its string's length.
    const bodies: AuditEventInput[] = [
      { kind: "operation", sessionId: "s-é", data: { n: 1, text: "SELECT '日本' -- 😀" } },
      { kind: "protocol_error", sessionId: null, data: { code: 'q"\\\n\u0001', lone: "\ud800" } },
      { kind: "operation", sessionId: "s-1", data: { long: `${"x".repeat(70_000)}é` } },
      { kind: "session_end", sessionId: "s-1", data: {} },
    ];
    const written = [...journal.append(bodies.slice(0, 2)), ...journal.append(bodies.slice(2))];
    journal.close();
    const lines = readFileSync(file, "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(4);
    written.forEach((e, i) => {
      expect(e.dataJson).toBe(JSON.stringify(bodies[i]!.data));
      expect(e.hash).toBe(computeEventHash(e));
      expect(lines[i]).toBe(
        `{"seq":${e.seq},"ts":${JSON.stringify(e.ts)},"kind":${JSON.stringify(e.kind)},"sessionId":${JSON.stringify(e.sessionId)},"prevHash":"${e.prevHash}","hash":"${e.hash}","data":${e.dataJson}}`,
      );
      expect(e.ts).toBe(new Date(Date.parse(e.ts)).toISOString());
    });
    const reopened = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    expect(reopened.missing).toEqual(written);
    reopened.journal.close();
  });

  it("cuts a torn last line (crash mid-write): it was never acknowledged", () => {
    const dir = tempDir();
    const file = path.join(dir, "audit.journal");
    const { journal } = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    journal.append([event(1)]);
    journal.close();
    appendFileSync(file, '{"seq":2,"ts":"2026-');
    const reopened = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    expect(reopened.missing.map((e) => e.seq)).toEqual([1]);
    expect(readFileSync(file, "utf8").endsWith("}\n")).toBe(true);
    reopened.journal.close();
  });

  it("refuses to replay a line altered in place, links intact (issue 10: deny edited to allow)", () => {
    const dir = tempDir();
    const file = path.join(dir, "audit.journal");
    const { journal } = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    journal.append([
      event(1),
      { kind: "operation", sessionId: "s", data: { verdict: { decision: "deny" } } },
    ]);
    journal.append([event(3)]);
    journal.close();
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.replace('"decision":"deny"', '"decision":"allow"'));
    // The index holds nothing yet (a kill -9 before indexing): every line is replayed, and checked.
    expect(() => AuditJournal.open(file, EMPTY_CHAIN_HEAD)).toThrow(/event 2 does not match its hash/);
    writeFileSync(file, text);
    const intact = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    expect(intact.missing.map((e) => e.seq)).toEqual([1, 2, 3]);
    intact.journal.close();
  });

  it("refuses to start when the journal does not continue the index", () => {
    const dir = tempDir();
    const file = path.join(dir, "audit.journal");
    const { journal } = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    journal.append([event(1), event(2)]);
    journal.close();
    expect(() => AuditJournal.open(file, { seq: 1, hash: "f".repeat(64) })).toThrow(
      /does not continue the audit store/,
    );
  });
});

/** The sink of the embedded store: the journal beside latch.db, the index in a worker thread. */
function openSink(dataDir: string) {
  return openSqliteAuditSink(path.join(dataDir, "latch.db"), path.join(dataDir, "audit.journal"));
}

describe("SQLite audit sink (journal + SQLite index thread)", () => {
  it("replays journal lines into the index on start, and the chain verifies", async () => {
    const dataDir = tempDir();
    const first = await openSink(dataDir);
    await first.append([event(1), event(2)]);
    await first.flush();
    await first.append([event(3)]);
    await first.close();
    const store = createSqliteStore(path.join(dataDir, "latch.db"));
    const indexed = store.head();
    store.close();
    expect(indexed.seq).toBe(3);
    // A crash after the journal write but before the index got the event: only the journal holds event 4.
    const { journal } = AuditJournal.open(path.join(dataDir, "audit.journal"), indexed);
    journal.append([event(4)]);
    journal.close();
    const second = await openSink(dataDir);
    const reader = openSqliteAuditReader(path.join(dataDir, "latch.db"));
    expect((await reader.events({ limit: 10 })).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect((await reader.verifyChain()).ok).toBe(true);
    reader.close();
    await second.close();
  });

  it("the events of an append are in the journal (durable) when its Promise resolves", async () => {
    const dataDir = tempDir();
    const sink = await openSink(dataDir);
    await sink.append([event(1), event(2)]);
    const lines = readFileSync(path.join(dataDir, "audit.journal"), "utf8").trim().split("\n");
    expect(lines.map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual([1, 2]);
    await sink.close();
  });

  it("fails closed once the index cannot be written", async () => {
    const dataDir = tempDir();
    const log = await openSink(dataDir);
    rmSync(path.join(dataDir, "latch.db"));
    await log.append([event(1)]);
    await expect(log.flush()).rejects.toThrow();
    await expect(log.append([event(2)])).rejects.toThrow(/audit log could not be written/);
    await expect(log.check()).rejects.toThrow();
    await log.close();
  });
});
