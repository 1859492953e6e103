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
}
