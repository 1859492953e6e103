import { computeEventHash, GENESIS_HASH } from "./event-hash.js";

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

/** The outcome of recomputing a chain. */
export interface ChainVerification {
  readonly ok: boolean;
  readonly events: number;
  /** First broken link, when not ok. */
  readonly firstBadSeq?: number;
  readonly problem?: string;
}

export interface ChainVerificationReport extends ChainVerification {
  /** Last event read: on success the chain head an operator can anchor with `--expect-head SEQ:HASH`. */
  readonly head: ChainHead;
}

/**
 * Walks events in seq order (streamed: only the previous hash is kept) and recomputes every link:
 * - a seq gap means events were deleted;
 * - a prev_hash that does not match the previous event's hash means events were deleted, inserted or
 *   reordered;
 * - a hash that does not match the event's own fields means the event (or its hash) was edited.
 * Deleting events from the END leaves a valid shorter chain, which the chain alone cannot reveal; the store
 * therefore keeps the head in a separate record (`recordedHead`, updated in the same transaction as every
 * append) and the last event must match it. Someone able to rewrite both can still truncate or rewrite the
 * log: only a head kept outside the store (an operator's `--expect-head`) catches that.
 */
export function verifyEventChain(
  rows: Iterable<StoredEventRow>,
  recordedHead: ChainHead | undefined,
): ChainVerificationReport {
  let head = EMPTY_CHAIN_HEAD;
  let events = 0;
  const broken = (firstBadSeq: number, problem: string): ChainVerificationReport => ({
    ok: false,
    events,
    firstBadSeq,
    problem,
    head,
  });

  for (const row of rows) {
    const expectedSeq = head.seq + 1;
    if (row.seq !== expectedSeq) {
      return row.seq > expectedSeq
        ? broken(
            expectedSeq,
            `event ${expectedSeq} is missing (the next event is ${row.seq}): events were deleted`,
          )
        : broken(row.seq, `event ${row.seq} appears after event ${head.seq}: events are out of order`);
    }
    if (row.prevHash !== head.hash) {
      return broken(
        row.seq,
        `its prev_hash does not match the hash of event ${head.seq}: events were deleted, inserted or reordered`,
      );
    }
    if (computeEventHash(row) !== row.hash) {
      return broken(
        row.seq,
        "its hash does not match its contents: its time, kind, session, data or hash was edited",
      );
    }
    head = { seq: row.seq, hash: row.hash };
    events++;
  }

  if (recordedHead === undefined) return broken(head.seq + 1, "the chain_head record is missing");
  if (recordedHead.seq > head.seq) {
    return broken(
      head.seq + 1,
      `the log ends at event ${head.seq} but chain_head records event ${recordedHead.seq}: events were removed from the end`,
    );
  }
  if (recordedHead.seq < head.seq) {
    return broken(
      recordedHead.seq + 1,
      `chain_head records event ${recordedHead.seq} but the log continues to ${head.seq}: events were added outside the gateway, or chain_head was edited`,
    );
  }
  if (recordedHead.hash !== head.hash) {
    return broken(head.seq, "the last event's hash differs from the one recorded in chain_head");
  }
  return { ok: true, events, head };
}
