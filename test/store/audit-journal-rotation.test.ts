import * as fs from "node:fs";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EMPTY_CHAIN_HEAD } from "../../src/audit/verify-chain.js";
import { AuditJournal } from "../../src/store/audit-journal.js";
import type { AuditEventInput } from "../../src/store/store.js";

// Issue 10: rotation closed the journal, renamed it and opened a new file; when that open failed (a full disk),
// the journal kept a closed descriptor and every later append failed until a restart.
vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>();
  return { ...actual, openSync: vi.fn(actual.openSync) };
});

const dirs: string[] = [];
afterEach(() => {
  vi.mocked(fs.openSync).mockRestore();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const journalFile = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "latch-rotation-"));
  dirs.push(dir);
  return path.join(dir, "audit.journal");
};
const MIB = "x".repeat(1024 * 1024);
const event = (n: number): AuditEventInput => ({
  kind: "protocol_error",
  sessionId: null,
  data: { n, pad: MIB },
});
/** Past the 16 MiB rotation threshold. */
const fill = (journal: AuditJournal, from: number) =>
  journal.append(Array.from({ length: 17 }, (_, i) => event(from + i)));

/** The next open of `file` fails as on a full disk; every other open goes through. */
function failNextOpenOf(file: string): void {
  const actual = vi.mocked(fs.openSync).getMockImplementation()!;
  vi.mocked(fs.openSync).mockImplementationOnce((target, ...rest) => {
    if (target !== file) return actual(target, ...rest);
    throw Object.assign(new Error(`ENOSPC: no space left on device, open '${file}'`), { code: "ENOSPC" });
  });
}

describe("audit journal rotation", () => {
  it("keeps appending to the open file when its successor cannot be opened, and rotates on a later call", () => {
    const file = journalFile();
    const { journal } = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    const first = fill(journal, 1);

    failNextOpenOf(file);
    expect(() => journal.indexedUpTo(first.at(-1)!.seq)).toThrow(/ENOSPC/);
    // Nothing acknowledged is lost and appends go on: to the file already open, now named .old.
    const during = journal.append([event(100)]);
    expect(during[0]!.prevHash).toBe(first.at(-1)!.hash);
    expect(existsSync(file)).toBe(false);

    // The next batch the index takes retries the open: the new file gets the appends from then on.
    journal.indexedUpTo(during[0]!.seq);
    expect(statSync(file).size).toBe(0);
    const after = journal.append([event(101)]);
    expect(statSync(file).size).toBeGreaterThan(0);
    // .old is dropped once the index holds what it ends with.
    journal.indexedUpTo(during[0]!.seq);
    expect(existsSync(`${file}.old`)).toBe(false);
    journal.close();

    const reopened = AuditJournal.open(file, { seq: during[0]!.seq, hash: during[0]!.hash });
    expect(reopened.missing.map((e) => e.seq)).toEqual([after[0]!.seq]);
    reopened.journal.close();
  });

  it("a start-up between the failed open and the retry finds the whole journal in .old", () => {
    const file = journalFile();
    const { journal } = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    const first = fill(journal, 1);
    failNextOpenOf(file);
    expect(() => journal.indexedUpTo(first.at(-1)!.seq)).toThrow(/ENOSPC/);
    const during = journal.append([event(100)]);
    journal.close(); // a restart here

    const reopened = AuditJournal.open(file, EMPTY_CHAIN_HEAD);
    expect(reopened.missing.map((e) => e.seq)).toEqual([...first, ...during].map((e) => e.seq));
    expect(reopened.journal.chainHead).toMatchObject({ seq: during[0]!.seq, hash: during[0]!.hash });
    reopened.journal.append([event(101)]);
    reopened.journal.close();
  });
});
