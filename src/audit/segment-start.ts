/**
 * `audit_segment_start`: written by `latch audit new-segment` when an operator chooses to go on after the audit
 * store failed verification. The broken events stay where they are, as evidence; this event (chained like any
 * other) records who went on, why, and exactly which breaks it acknowledges, so a break found later that it does
 * not list still fails verification.
 */
export const SEGMENT_START_KIND = "audit_segment_start";

export interface SegmentStartData {
  /** The operator's words (`--reason`). */
  readonly reason: string;
  /** Who ran the command (OS user on the host). */
  readonly operator: string;
  /** Seqs of the chain breaks acknowledged, as verification reported them. */
  readonly breaks: readonly number[];
  /** Every problem verification reported at the time, in its words, including the parts repaired. */
  readonly found: readonly { readonly part: string; readonly seq: number; readonly problem: string }[];
  /** What was repaired rather than acknowledged: the sessions index rebuilt, a journal set aside, the head record. */
  readonly repaired: readonly string[];
}

/** The breaks a segment start lists; an unreadable body acknowledges nothing. */
export function readSegmentStart(dataJson: string): Pick<SegmentStartData, "breaks"> {
  try {
    const data = JSON.parse(dataJson) as { breaks?: unknown };
    const breaks = Array.isArray(data.breaks) ? data.breaks.filter((seq) => Number.isSafeInteger(seq)) : [];
    return { breaks: breaks as number[] };
  } catch {
    return { breaks: [] };
  }
}
