/**
 * Retention of the audit log (audit.retention): events older than a cutoff are deleted up to a signed
 * checkpoint, which stays and anchors the first kept event, so the rest of the chain still verifies.
 */
export interface PrunePlan {
  /** Events 1..through go (those already pruned included). */
  readonly through: number;
  /** The hash of event `through`: the prev_hash of the first kept event. */
  readonly anchorHash: string;
  /** The kept audit_checkpoint event that signs (through, anchorHash). */
  readonly anchorSeq: number;
  /** How many events this prune deletes. */
  readonly events: number;
  /** The time of event `through` (every deleted event is at least this old). */
  readonly throughTs: string;
}

export interface AuditRetention {
  /**
   * What a prune now would delete: events older than `before` (ISO-8601), up to the newest checkpoint whose
   * signed event is older than that and not after `maxSeq` (the lowest export cursor). Undefined: nothing.
   */
  plan(before: string, maxSeq: number): Promise<PrunePlan | undefined>;
  /** Deletes what `plan` said (and the sessions whose session_start goes with it); returns events deleted. */
  prune(plan: PrunePlan): Promise<number>;
}
