import { computeEventHash, type HashedEvent } from "../audit/event-hash.js";
import type { ChainBreak, ChainHead } from "../audit/verify-chain.js";
import { readJournalFile } from "./audit-journal-lines.js";

/** The journal checked against the index. */
export interface JournalVerification {
  readonly problem?: ChainBreak;
  /** Journal events the index does not hold yet (a running gateway's last moment, or a crash not yet replayed). */
  readonly unindexed: number;
}

/**
 * Checks the audit journal (`file` and its rotated `file.old`) against the index whose head is `indexHead`:
 * every line hashes to what it claims, lines follow each other without a gap, a line the index also holds has
 * the index's hash for that seq, and the first line the index lacks continues the index's last event. An edited,
 * deleted, inserted or reordered line is found this way; a run of lines the index never held, rewritten with
 * freshly computed hashes, is not (see docs/audit.md: only an external anchor catches that).
 */
export function verifyJournal(
  file: string,
  indexHead: ChainHead,
  indexedHashAt: (seq: number) => string | undefined,
): JournalVerification {
  const rotated = readJournalFile(`${file}.old`, { cutTornTail: false });
  const current = readJournalFile(file, { cutTornTail: false });
  for (const [name, contents] of [
    [`${file}.old`, rotated],
    [file, current],
  ] as const) {
    if (contents.damagedAt !== undefined) {
      const after = contents.events[contents.events.length - 1]?.seq ?? indexHead.seq;
      return {
        unindexed: 0,
        problem: {
          seq: after + 1,
          problem: `${name} has a line at byte ${contents.damagedAt} that is not an audit event`,
        },
      };
    }
  }
  const events = [...rotated.events, ...current.events];
  let previous: HashedEvent | undefined;
  let unindexed = 0;
  for (const event of events) {
    const problem = journalLineProblem(event, previous, indexHead, indexedHashAt);
    if (problem !== undefined) return { unindexed, problem };
    if (event.seq > indexHead.seq) unindexed++;
    previous = event;
  }
  return { unindexed };
}

function journalLineProblem(
  event: HashedEvent,
  previous: HashedEvent | undefined,
  indexHead: ChainHead,
  indexedHashAt: (seq: number) => string | undefined,
): ChainBreak | undefined {
  if (computeEventHash(event) !== event.hash) {
    return {
      seq: event.seq,
      problem: `journal event ${event.seq} does not match its hash: the line was altered`,
    };
  }
  if (previous !== undefined && (event.seq !== previous.seq + 1 || event.prevHash !== previous.hash)) {
    return {
      seq: previous.seq + 1,
      problem: `the journal line after event ${previous.seq} is event ${event.seq} and does not link to it: lines were deleted, inserted or reordered`,
    };
  }
  if (event.seq <= indexHead.seq) {
    const indexed = indexedHashAt(event.seq);
    // "pruned": retention deleted that event from the index (sqlite-store-verification.ts).
    if (indexed !== event.hash && indexed !== "pruned") {
      return {
        seq: event.seq,
        problem: `journal event ${event.seq} differs from the index's event ${event.seq}: one of them was altered`,
      };
    }
    return undefined;
  }
  if (previous === undefined || previous.seq === indexHead.seq) {
    if (event.seq !== indexHead.seq + 1 || event.prevHash !== indexHead.hash) {
      return {
        seq: indexHead.seq + 1,
        problem: `the index ends at event ${indexHead.seq} but the journal goes on with event ${event.seq}, which does not link to it: journal lines were deleted or altered`,
      };
    }
  }
  return undefined;
}
