/**
 * What a preview found out about a held write (docs/approvals.md, "Preview, then commit"): the statement ran
 * once inside a transaction Latch rolled back, on its own upstream connection with the session's credential.
 * Protocol-neutral: the PostgreSQL runner fills it in, policy reads `rows`, approvers read the rest.
 */

export interface PreviewTableRows {
  /** "schema.table". */
  readonly table: string;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
}

export interface PreviewSample {
  readonly columns: readonly string[];
  /** Masked with the connection's masking rules; text form, null for SQL NULL. */
  readonly rows: readonly (readonly (string | null)[])[];
  /** More rows changed than are shown, or the byte cap cut the sample. */
  readonly truncated: boolean;
}

export type StatementPreview =
  | {
      readonly status: "ran";
      /**
       * Rows the statement changed: its command tag's count, or the per-table total when that is larger (a
       * write inside a CTE is not in the outer statement's tag). What `context.preview.rows` is.
       */
      readonly rows: number;
      /** The command tag's count: what the real run is checked against (the row ceiling). */
      readonly tagRows: number;
      readonly commandTag: string;
      /** Per table, from the transaction's own statistics (pg_stat_xact_user_tables): cascades and triggers too. */
      readonly tables: readonly PreviewTableRows[];
      /** EXPLAIN text, cut at approvals.preview.plan_bytes. */
      readonly plan: string;
      /** Absent when the statement type allows no RETURNING (or the sample could not be built). */
      readonly sample?: PreviewSample;
      readonly durationMs: number;
      /** Epoch ms. */
      readonly at: number;
      /** Said to the approver, e.g. that a CTE's writes are counted per table only. */
      readonly notes?: readonly string[];
    }
  | {
      /** `refused`: not previewed on purpose (side effects outside the transaction); `failed`: it could not run. */
      readonly status: "refused" | "failed";
      readonly reason: string;
      readonly at: number;
    };

/** What Cedar sees as `context.preview` (only when a preview ran). */
export interface PreviewFacts {
  readonly rows: number;
}

export interface RowSlack {
  readonly rows: number;
  readonly percent: number;
}

/** The row ceiling an approval carries: what the preview counted plus the configured slack. */
export interface RowCeiling {
  readonly maxRows: number;
  readonly previewedRows: number;
  /** The request whose approval carries it (empty when the statement was allowed outright on its preview). */
  readonly requestId: string;
}

export function rowCeilingOf(
  preview: StatementPreview | undefined,
  slack: RowSlack,
  requestId: string,
): RowCeiling | undefined {
  if (preview?.status !== "ran") return undefined;
  const maxRows = preview.tagRows + slack.rows + Math.floor((preview.tagRows * slack.percent) / 100);
  return { maxRows, previewedRows: preview.tagRows, requestId };
}

/** Runs a preview of one operation; never rejects (a failure is a `failed` preview). */
export type OperationPreviewer = () => Promise<StatementPreview>;

/** What the audit record keeps of a preview: the counts or why there was none (plan and sample stay out). */
export function previewSummary(preview: StatementPreview): Record<string, unknown> {
  if (preview.status !== "ran") return { status: preview.status, reason: preview.reason };
  return { status: "ran", rows: preview.rows, commandTag: preview.commandTag, tables: preview.tables };
}
