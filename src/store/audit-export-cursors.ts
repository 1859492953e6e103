/**
 * Where each audit export sink has got to: every event up to `seq` was delivered to it. Kept in the store so a
 * restart resumes where it stopped, and so retention never deletes what a sink has not had yet.
 */
export interface AuditExportCursors {
  /** 0 for a sink never seen. */
  get(sink: string): Promise<number>;
  /** Moves a sink's cursor forward (never back). */
  set(sink: string, seq: number): Promise<void>;
  /** Every sink's cursor. */
  all(): Promise<ReadonlyMap<string, number>>;
  /**
   * On a store several replicas share: takes or renews this gateway's lease on `sink` for `leaseMs` and
   * resolves whether it holds it, so only one replica exports a sink at a time and another takes over once the
   * holder stops renewing (it died or lost the store). Absent: one process owns every sink (the embedded store).
   */
  claim?(sink: string, leaseMs: number): Promise<boolean>;
  /** Gives the lease up at a clean stop, so another replica takes over at once. */
  release?(sink: string): Promise<void>;
}
