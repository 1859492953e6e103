/**
 * What masking did to one operation's result, as counts only (never a value): the `mask` trace span reads it
 * (src/tracing/operation-tracing.ts). One tally per session masker, reset when each operation's result
 * completes, so counting costs a few integer additions and allocates nothing per row or per statement.
 */
export class MaskTally {
  /** Values rewritten (column rules and content detections). */
  valuesMasked = 0;
  /** Rows (or chunks) in which at least one value was rewritten. */
  rowsMasked = 0;
  /** Spans the content detectors confirmed, masked or not. */
  detectorHits = 0;
  /** The result was withheld because it could not be masked safely. */
  withheld = false;
  /** performance.now() of the first masked row or withholding; 0 while nothing was masked. */
  startedAt = 0;

  /** True once masking changed or withheld something since the last reset. */
  get touched(): boolean {
    return this.startedAt !== 0;
  }

  /** A row or chunk was masked: the first one starts the span. */
  noteMaskedRow(values: number): void {
    if (this.startedAt === 0) this.startedAt = performance.now();
    this.rowsMasked++;
    this.valuesMasked += values;
  }

  noteWithheld(): void {
    if (this.startedAt === 0) this.startedAt = performance.now();
    this.withheld = true;
  }

  reset(): void {
    this.valuesMasked = 0;
    this.rowsMasked = 0;
    this.detectorHits = 0;
    this.withheld = false;
    this.startedAt = 0;
  }
}
