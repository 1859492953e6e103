import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { canonicalJson } from "../audit/canonical-json.js";
import { computeEventHash, type HashedEvent, hashOfWrittenBody } from "../audit/event-hash.js";
import { isoTime } from "../audit/iso-time.js";
import { Utf8Scratch } from "../audit/utf8-scratch.js";
import type { ChainHead } from "../audit/verify-chain.js";
import { LatchError } from "../errors.js";
import { readJournalFile } from "./audit-journal-lines.js";
import type { AuditEventInput } from "./store.js";

const ROTATE_BYTES = 16 * 1024 * 1024;

/** One per process: appends are synchronous, so no two use it at once. */
const journalBytes = new Utf8Scratch(64 * 1024);

/**
 * The durability point of the audit log: an append-only file of hashed, chained events, one JSON line each,
 * written with one write(2) per group of events before any of them is acted upon. A returned append is in the
 * OS page cache, the same guarantee as SQLite WAL with synchronous=NORMAL (survives a gateway crash, not
 * necessarily a power loss), at a fraction of the cost. SQLite is the queryable index of the same events,
 * filled asynchronously; on start-up every journal line the index lacks is replayed into it, and lines the
 * index holds are dropped by rotation.
 */
export class AuditJournal {
  private fd: number;
  private size: number;
  private head: ChainHead;
  /** Last seq in the rotated file, which is deleted once the index holds it. */
  private rotatedUpTo: number | undefined;
  /** A rotation renamed the open file to `.old` but could not open its successor yet: appends still go to it. */
  private renamed = false;

  private constructor(
    private readonly file: string,
    head: ChainHead,
    rotatedUpTo: number | undefined,
  ) {
    this.fd = openSync(file, "a", 0o600);
    this.size = fstatSync(this.fd).size;
    this.head = head;
    this.rotatedUpTo = rotatedUpTo;
  }

  /**
   * Opens the journal next to an index whose head is `indexed`. Returns the events the index is missing, in
   * order, so the caller can replay them before serving.
   */
  static open(file: string, indexed: ChainHead): { journal: AuditJournal; missing: HashedEvent[] } {
    const rotated = `${file}.old`;
    const lines = [...readLines(rotated), ...readLines(file)];
    const missing: HashedEvent[] = [];
    let head = indexed;
    for (const event of lines) {
      if (event.seq <= indexed.seq) continue;
      if (event.seq !== head.seq + 1 || event.prevHash !== head.hash) {
        throw new LatchError("config_invalid", {
          detail: `audit journal ${file} does not continue the audit store at event ${head.seq} (found event ${event.seq}); keep both files and run "latch audit verify"`,
        });
      }
      // A line edited in place (deny -> allow, other statement text) keeps its links: only its own hash tells.
      // Nothing that does not hash to what it claims is ever indexed as genuine.
      if (computeEventHash(event) !== event.hash) {
        throw new LatchError("config_invalid", {
          detail: `audit journal ${file}: event ${event.seq} does not match its hash (the line was altered after it was written); the gateway does not start on it: keep the file and run "latch audit verify"`,
        });
      }
      missing.push(event);
      head = event;
    }
    const journal = new AuditJournal(file, head, existsSync(rotated) ? head.seq : undefined);
    return { journal, missing };
  }

  get chainHead(): ChainHead {
    return this.head;
  }

  /** Chains and writes the events; throws (and leaves no partial line) if the write fails. */
  append(inputs: readonly AuditEventInput[]): HashedEvent[] {
    const ts = isoTime();
    const events: HashedEvent[] = [];
    let prevHash = this.head.hash;
    let seq = this.head.seq;
    // Written piece by piece into a reused buffer: joining the lines into one string first made V8 copy it.
    const line = journalBytes.reset();
    for (const input of inputs) {
      seq += 1;
      // Throws (nothing written, nothing chained) when a body cannot be represented (canonical-json.ts).
      const dataJson = canonicalJson(input.data);
      const { kind, sessionId } = input;
      // `{"seq":…,"ts":…,"kind":…,"sessionId":…,"prevHash":"…","hash":"…","data":…}` and a newline, written
      // piece by piece: no head string and no quoted copies of the fields on the V8 heap (utf8-scratch.ts).
      line.append('{"seq":').appendNumber(seq).append(',"ts":').appendJsonString(ts);
      line.append(',"kind":').appendJsonString(kind).append(',"sessionId":');
      if (sessionId === null) line.append("null");
      else line.appendJsonString(sessionId);
      line.append(',"prevHash":"').append(prevHash).append('","hash":"');
      // The hash's 64 hex characters go in this gap once the body is written: the body is encoded to UTF-8
      // once, here, and the hash input takes a copy of these very bytes (event-hash.ts, hashOfWrittenBody).
      const hashAt = line.skip(64);
      line.append('","data":');
      const bodyAt = line.size;
      line.append(dataJson);
      const bodyEnd = line.size;
      line.append("}\n");
      const hash = hashOfWrittenBody(prevHash, seq, ts, kind, sessionId, line, bodyAt, bodyEnd);
      line.writeAsciiAt(hashAt, hash);
      // One literal, not a spread of the hashed fields: a spread copy cost ~450 heap bytes per event.
      events.push({ prevHash, seq, ts, kind, sessionId, dataJson, hash });
      prevHash = hash;
    }
    const bytes = line.bytes();
    try {
      for (let offset = 0; offset < bytes.length; ) offset += writeSync(this.fd, bytes, offset);
    } catch (cause) {
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // The next append fails too; nothing half-written is ever acknowledged.
      }
      throw new LatchError("audit_unavailable", {}, { cause });
    }
    this.size += bytes.length;
    const last = events[events.length - 1];
    if (last !== undefined) this.head = { seq: last.seq, hash: last.hash };
    return events;
  }

  /** Called as the index catches up: drops the rotated file once indexed, rotates a large current file. */
  indexedUpTo(seq: number): void {
    if (this.rotatedUpTo !== undefined && seq >= this.rotatedUpTo) {
      unlinkSync(`${this.file}.old`);
      this.rotatedUpTo = undefined;
    }
    if (this.rotatedUpTo === undefined && this.size > ROTATE_BYTES) this.rotate();
  }

  /**
   * The current file becomes `.old` and appends go to a new one. The open file is kept until its successor is
   * open: if the new file cannot be created (a full disk, no inode or descriptor left), appends go on to the
   * file already open, now named `.old`, and the next call tries the open again. A start-up in between reads
   * `.old` and a missing current file, which is the same journal.
   */
  private rotate(): void {
    if (!this.renamed) {
      renameSync(this.file, `${this.file}.old`);
      this.renamed = true;
    }
    const previous = this.fd;
    this.fd = openSync(this.file, "a", 0o600);
    this.size = 0;
    this.renamed = false;
    this.rotatedUpTo = this.head.seq;
    closeSync(previous);
  }

  /** Empties the journal once the index holds everything (start-up after replay). */
  truncateIfIndexed(indexedSeq: number): void {
    if (indexedSeq !== this.head.seq) return;
    if (this.rotatedUpTo !== undefined) {
      unlinkSync(`${this.file}.old`);
      this.rotatedUpTo = undefined;
    }
    ftruncateSync(this.fd, 0);
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function readLines(file: string): HashedEvent[] {
  const { events, damagedAt } = readJournalFile(file, { cutTornTail: true });
  if (damagedAt !== undefined) {
    throw new LatchError("config_invalid", {
      detail: `audit journal ${file} has a damaged line at byte ${damagedAt}; keep the file and run "latch audit verify"`,
    });
  }
  return events;
}
