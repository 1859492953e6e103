import { computeEventHash, GENESIS_HASH } from "./event-hash.js";
import { readSegmentStart, SEGMENT_START_KIND } from "./segment-start.js";

/** One event as stored: `dataJson` is the stored canonical JSON text, hashed byte for byte. */
export interface StoredEventRow {
  readonly seq: number;
  readonly ts: string;
  readonly kind: string;
  readonly sessionId: string | null;
  readonly dataJson: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** A position in the chain: the last event's seq and hash (seq 0 and the genesis hash for an empty log). */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export const EMPTY_CHAIN_HEAD: ChainHead = { seq: 0, hash: GENESIS_HASH };

/** One place where the chain does not verify. */
export interface ChainBreak {
  readonly seq: number;
  readonly problem: string;
}

/** A break an operator acknowledged with `latch audit new-segment`: the evidence stays, the chain goes on. */
export interface AcknowledgedBreak extends ChainBreak {
  /** The `audit_segment_start` event that acknowledged it. */
  readonly segmentSeq: number;
}

/** The outcome of recomputing a chain. */
export interface ChainVerification {
  readonly ok: boolean;
  /** Events that verified. */
  readonly events: number;
  /** First break nobody acknowledged, when not ok. */
  readonly firstBadSeq?: number;
  readonly problem?: string;
  /** Which part of the store the problem is in (the chain itself unless said). */
  readonly part?: StoreProblem["part"];
  /** Breaks acknowledged by a later `audit_segment_start`; they no longer fail verification. */
  readonly acknowledged?: readonly AcknowledgedBreak[];
  /** Every problem found, first one first (the fields above describe the first), when not ok. */
  readonly problems?: readonly StoreProblem[];
}

/** A problem in one part of the store. */
export interface StoreProblem extends ChainBreak {
  /** `head`: the separately kept head record disagrees with the last event. */
  readonly part: "chain" | "head" | "sessions" | "journal";
}

export interface ChainVerificationReport extends ChainVerification {
  /**
   * On success the last event, the chain head an operator can anchor with `--expect-head SEQ:HASH`; otherwise
   * the last event that verified before the first break.
   */
  readonly head: ChainHead;
  /** The last event read, intact or not (where the next event would go). */
  readonly end: ChainHead;
  /** Retention deleted events 1..through; the chain starts after them, anchored by a signed checkpoint. */
  readonly pruned?: PrunedPrefix;
}

/** A prefix deleted by retention (audit.retention): the first kept event links to `anchorHash`. */
export interface PrunedPrefix {
  readonly through: number;
  readonly anchorHash: string;
  /** The audit_checkpoint event whose signed head is (through, anchorHash). */
  readonly anchorSeq: number;
}

/** More breaks than this is a rewritten log, not an incident to acknowledge event by event. */
export const MAX_CHAIN_BREAKS = 1000;

/**
 * Walks events in seq order (streamed: only the previous event and the unacknowledged breaks are kept) and
 * recomputes every link:
 * - a seq gap means events were deleted;
 * - a prev_hash that does not match the previous event's hash means events were deleted, inserted or
 *   reordered;
 * - a hash that does not match the event's own fields means the event (or its hash) was edited.
 * After a break the walk goes on from the stored hash of the event it stopped at, so every break is found, not
 * only the first. A break is forgiven only when a later, intact `audit_segment_start` event (written by
 * `latch audit new-segment`, with the operator's reason) lists it; any other break fails verification.
 *
 * Deleting events from the END leaves a valid shorter chain, which the chain alone cannot reveal; the store
 * therefore keeps the head in a separate record (`recordedHead`, updated in the same transaction as every
 * append) and the last event must match it. Someone able to rewrite both can still truncate or rewrite the
 * log: only a head kept outside the store (an operator's `--expect-head`) catches that.
 */
export function verifyEventChain(
  rows: Iterable<StoredEventRow>,
  recordedHead: ChainHead | undefined,
  start: ChainHead = EMPTY_CHAIN_HEAD,
): ChainVerificationReport {
  const verifier = new ChainVerifier(start);
  for (const row of rows) if (!verifier.add(row)) break;
  return verifier.finish(recordedHead);
}

/**
 * `verifyEventChain` one row at a time, for stores that deliver rows asynchronously (a cursor over PostgreSQL).
 * `add` returns false once reading on is pointless (too many breaks); `finish` compares with the head record.
 */
export class ChainVerifier {
  private head: ChainHead;
  private events = 0;
  private pending: ChainBreak[] = [];
  private readonly acknowledged: AcknowledgedBreak[] = [];
  /** Where the first unacknowledged break was found, to report the head an operator saw before it. */
  private headBeforeFirstBreak: ChainHead | undefined;
  private eventsBeforeFirstBreak = 0;
  private overflow: string | undefined;

  /** `start`: where the chain begins (after a pruned prefix: its last event, the anchor). */
  constructor(start: ChainHead = EMPTY_CHAIN_HEAD) {
    this.head = start;
  }

  add(row: StoredEventRow): boolean {
    if (this.overflow !== undefined) return false;
    const problem = linkProblem(row, this.head);
    if (problem !== undefined) {
      if (this.headBeforeFirstBreak === undefined) {
        this.headBeforeFirstBreak = this.head;
        this.eventsBeforeFirstBreak = this.events;
      }
      this.pending.push(problem);
      if (this.pending.length > MAX_CHAIN_BREAKS) {
        this.overflow = `more than ${MAX_CHAIN_BREAKS} events do not verify: the log was rewritten`;
        return false;
      }
    } else {
      this.events++;
      if (row.kind === SEGMENT_START_KIND && this.pending.length > 0) this.acknowledge(row);
    }
    // Resynchronise on what is stored, so one edited event is one break rather than the end of verification.
    this.head = { seq: row.seq, hash: row.hash };
    return true;
  }

  finish(recordedHead: ChainHead | undefined): ChainVerificationReport {
    const head = this.head;
    const problems: StoreProblem[] = this.pending.map((found) => ({ part: "chain", ...found }));
    if (this.overflow !== undefined)
      problems.unshift({ part: "chain", seq: head.seq + 1, problem: this.overflow });
    else {
      const tail = tailProblem(head, recordedHead);
      if (tail !== undefined) problems.push({ part: "head", ...tail });
    }
    const ok = problems.length === 0;
    const first = problems[0];
    return {
      ok,
      // A broken report counts the events that verified before its first break.
      events: ok || this.headBeforeFirstBreak === undefined ? this.events : this.eventsBeforeFirstBreak,
      ...(first === undefined
        ? {}
        : { firstBadSeq: first.seq, problem: first.problem, part: first.part, problems }),
      ...(this.acknowledged.length > 0 ? { acknowledged: this.acknowledged } : {}),
      head: ok ? head : (this.headBeforeFirstBreak ?? head),
      end: head,
    };
  }

  private acknowledge(segment: StoredEventRow): void {
    const listed = new Set(readSegmentStart(segment.dataJson).breaks);
    for (const found of this.pending)
      if (listed.has(found.seq)) this.acknowledged.push({ ...found, segmentSeq: segment.seq });
    this.pending = this.pending.filter((found) => !listed.has(found.seq));
    if (this.pending.length === 0) this.headBeforeFirstBreak = undefined;
  }
}

/** What is wrong with `row` following `previous`, if anything. */
function linkProblem(row: StoredEventRow, previous: ChainHead): ChainBreak | undefined {
  const expectedSeq = previous.seq + 1;
  if (row.seq > expectedSeq) {
    return {
      seq: expectedSeq,
      problem: `event ${expectedSeq} is missing (the next event is ${row.seq}): events were deleted`,
    };
  }
  if (row.seq < expectedSeq) {
    return {
      seq: row.seq,
      problem: `event ${row.seq} appears after event ${previous.seq}: events are out of order`,
    };
  }
  if (row.prevHash !== previous.hash) {
    return {
      seq: row.seq,
      problem: `its prev_hash does not match the hash of event ${previous.seq}: events were deleted, inserted or reordered`,
    };
  }
  if (computeEventHash(row) !== row.hash) {
    return {
      seq: row.seq,
      problem: "its hash does not match its contents: its time, kind, session, data or hash was edited",
    };
  }
  return undefined;
}

/** The log's last event against the separately kept head record. */
function tailProblem(head: ChainHead, recordedHead: ChainHead | undefined): ChainBreak | undefined {
  if (recordedHead === undefined) return { seq: head.seq + 1, problem: "the chain_head record is missing" };
  if (recordedHead.seq > head.seq) {
    return {
      seq: head.seq + 1,
      problem: `the log ends at event ${head.seq} but chain_head records event ${recordedHead.seq}: events were removed from the end`,
    };
  }
  if (recordedHead.seq < head.seq) {
    return {
      seq: recordedHead.seq + 1,
      problem: `chain_head records event ${recordedHead.seq} but the log continues to ${head.seq}: events were added outside the gateway, or chain_head was edited`,
    };
  }
  if (recordedHead.hash !== head.hash)
    return { seq: head.seq, problem: "the last event's hash differs from the one recorded in chain_head" };
  return undefined;
}

/** A chain report with problems found in other parts of the store added: the first problem is the one named. */
export function withStoreProblems(
  chain: ChainVerificationReport,
  more: readonly StoreProblem[],
): ChainVerificationReport {
  const problems = [...(chain.problems ?? []), ...more];
  const [first] = problems;
  if (first === undefined) return chain;
  return { ...chain, ok: false, part: first.part, firstBadSeq: first.seq, problem: first.problem, problems };
}
