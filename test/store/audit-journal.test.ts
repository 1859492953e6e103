import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditJournal } from "../../src/audit/audit-journal.js";
import { EMPTY_CHAIN_HEAD } from "../../src/audit/verify-chain.js";
import { configSchema } from "../../src/config/schema.js";
import { openGatewayAuditLog } from "../../src/store/gateway-audit-log.js";
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

describe("gateway audit log (journal + SQLite index thread)", () => {
  it("replays journal lines into the index on start, and the chain verifies", async () => {
    const dataDir = tempDir();
    const config = configSchema.parse({ data_dir: dataDir });
    const first = await openGatewayAuditLog(config);
    first.log.append([event(1), event(2)]);
    await first.log.flush();
    first.log.append([event(3)]);
    first.reader.close();
    await first.log.close();
    const store = createSqliteStore(path.join(dataDir, "latch.db"));
    const indexed = store.head();
    store.close();
    expect(indexed.seq).toBe(3);
    // A crash after the journal write but before the index got the event: only the journal holds event 4.
    const { journal } = AuditJournal.open(path.join(dataDir, "audit.journal"), indexed);
    journal.append([event(4)]);
    journal.close();
    const second = await openGatewayAuditLog(config);
    expect(second.reader.events({ limit: 10 }).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(second.reader.verifyChain().ok).toBe(true);
    second.reader.close();
    await second.log.close();
  });

  it("fails closed once the index cannot be written", async () => {
    const dataDir = tempDir();
    const config = configSchema.parse({ data_dir: dataDir });
    const { log, reader } = await openGatewayAuditLog(config);
    rmSync(path.join(dataDir, "latch.db"));
    log.append([event(1)]);
    await expect(log.flush()).rejects.toThrow();
    expect(() => log.append([event(2)])).toThrow(/audit log could not be written/);
    reader.close();
    await log.close();
  });
});
