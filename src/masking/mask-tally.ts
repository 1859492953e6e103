/**
 * What masking did to one operation's result, as counts only (never a value): the `mask` trace span reads it
 * (src/tracing/operation-tracing.ts). PostgreSQL and MySQL keep one tally per session masker, reset when each
 * operation's result completes, so counting costs a few integer additions and allocates nothing per row or per
 * statement. HTTP and MCP mask a whole body at once on a masker shared by every session of the connection, so
 * they make a tally per operation, and only when tracing is on (`pipeline.traceMask` set).
 *
 * What a "row" is depends on the payload: a result row (PostgreSQL, MySQL, MCP sql_query), the whole body
 * (HTTP: one JSON document or text body), a content block or the structured content (MCP proxied tools).
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

  /**
   * A row or chunk was masked: the first one starts the span, at `since` when given (a whole-body masker learns
   * that something changed only at its end, and the span should cover the masking).
   */
  noteMaskedRow(values: number, since = 0): void {
    if (this.startedAt === 0) this.startedAt = since === 0 ? performance.now() : since;
    this.rowsMasked++;
    this.valuesMasked += values;
  }

  noteWithheld(since = 0): void {
    if (this.startedAt === 0) this.startedAt = since === 0 ? performance.now() : since;
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
