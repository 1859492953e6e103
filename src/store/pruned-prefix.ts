import { CHECKPOINT_KIND } from "../audit/checkpoint-note.js";
import type { PrunedPrefix } from "../audit/verify-chain.js";

/**
 * The prefix retention deleted (audit.retention), as both stores record it (`audit_retention`,
 * `latch_audit_retention`), and the check that a kept checkpoint anchors it. Shared by every store's verification.
 */
export interface RetentionRow {
  readonly pruned_through: number | string;
  readonly anchor_hash: string;
  readonly anchor_seq: number | string;
}
export interface AnchorRow {
  readonly kind: string;
  readonly data: string;
}

export function readPruned(row: RetentionRow | undefined): PrunedPrefix | undefined {
  if (row === undefined || Number(row.pruned_through) === 0) return undefined;
  return {
    through: Number(row.pruned_through),
    anchorHash: row.anchor_hash,
    anchorSeq: Number(row.anchor_seq),
  };
}

/**
 * A pruned prefix is accepted only when a kept checkpoint event signs exactly its last event: otherwise the
 * deletion could hide anything. (The signature itself is checked by `latch audit verify --key`.)
 */
export function anchorProblem(pruned: PrunedPrefix, anchor: AnchorRow | undefined): string | undefined {
  const unanchored = `events 1..${pruned.through} were deleted, and`;
  if (anchor === undefined || anchor.kind !== CHECKPOINT_KIND || pruned.anchorSeq <= pruned.through)
    return `${unanchored} event ${pruned.anchorSeq} is not a kept checkpoint that anchors them: events were removed`;
  try {
    const data = JSON.parse(anchor.data) as { seq?: unknown; head?: unknown };
    if (data.seq === pruned.through && data.head === pruned.anchorHash) return undefined;
  } catch {
    // unreadable: not an anchor
  }
  return `${unanchored} the checkpoint at event ${pruned.anchorSeq} does not sign event ${pruned.through} with that hash: events were removed`;
}
