import { closeSync, existsSync, ftruncateSync, openSync, readFileSync } from "node:fs";
import type { HashedEvent } from "../audit/event-hash.js";

/** The events of one journal file, as written. */
export interface JournalFileContents {
  readonly events: HashedEvent[];
  /** Byte offset of a line that is not a journal event (an edit, or a torn write that was not the last). */
  readonly damagedAt?: number;
}

/**
 * Reads a journal file's complete lines. A torn last line (a crash mid-write) was never acknowledged: with
 * `cutTornTail` (the gateway at start) it is cut off the file, otherwise (verification, which never writes)
 * it is left alone and skipped. Reading stops at the first line that is not a journal event.
 */
export function readJournalFile(file: string, options: { cutTornTail: boolean }): JournalFileContents {
  if (!existsSync(file)) return { events: [] };
  const text = readFileSync(file, "utf8");
  const events: HashedEvent[] = [];
  let start = 0;
  for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
    const line = text.slice(start, end);
    const event = parseJournalLine(line);
    if (event === undefined) return { events, damagedAt: Buffer.byteLength(text.slice(0, start), "utf8") };
    events.push(event);
    start = end + 1;
  }
  if (options.cutTornTail && start < text.length) {
    const fd = openSync(file, "r+");
    try {
      ftruncateSync(fd, Buffer.byteLength(text.slice(0, start), "utf8"));
    } finally {
      closeSync(fd);
    }
  }
  return { events };
}

/**
 * One line as `AuditJournal.append` writes it. `dataJson` is the line's own text of the body, not a re-encoding,
 * so its hash is checked over the very bytes that were written.
 */
function parseJournalLine(line: string): HashedEvent | undefined {
  const dataAt = line.indexOf(',"data":');
  if (dataAt === -1 || !line.endsWith("}")) return undefined;
  let parsed: Partial<Omit<HashedEvent, "dataJson">>;
  try {
    parsed = JSON.parse(line) as Partial<Omit<HashedEvent, "dataJson">>;
  } catch {
    return undefined;
  }
  if (
    typeof parsed.seq !== "number" ||
    typeof parsed.ts !== "string" ||
    typeof parsed.kind !== "string" ||
    (parsed.sessionId !== null && typeof parsed.sessionId !== "string") ||
    typeof parsed.prevHash !== "string" ||
    typeof parsed.hash !== "string"
  ) {
    return undefined;
  }
  return {
    seq: parsed.seq,
    ts: parsed.ts,
    kind: parsed.kind,
    sessionId: parsed.sessionId ?? null,
    prevHash: parsed.prevHash,
    hash: parsed.hash,
    dataJson: line.slice(dataAt + 8, -1),
  };
}
