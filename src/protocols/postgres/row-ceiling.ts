import { LatchError } from "../../errors.js";
import type { RowCeiling } from "../../operation/statement-preview.js";
import { decodeBackend, readCommandTagRows } from "./decode-backend.js";
import { encodeReadyForQuery } from "./encode-backend.js";
import { encodeQuery } from "./encode-frontend.js";
import { errorFrame } from "./errors.js";
import type { TransactionStatus } from "./messages.js";
import type { CeilingState, ForwardedEntry, ResponseTracker } from "./response-tracker.js";

/**
 * An approved statement held to the row count its preview showed (docs/approvals.md, "Preview, then
 * commit"). It runs inside a transaction Latch controls, and its command tag is judged before anything is
 * kept:
 *
 * - client not in a transaction: Latch sends BEGIN before it, and COMMIT after it when the count is within
 *   the ceiling, ROLLBACK when it is not (or the statement failed);
 * - client in a transaction: over the ceiling, Latch fails the client's transaction (the query that can only
 *   fail, as for any denial inside a transaction), so no COMMIT can keep the statement's rows; within it,
 *   nothing is added. A SAVEPOINT would let the client commit the rest of its transaction; a denial never
 *   does that anywhere else in Latch, so neither does this.
 *
 * The client hears the statement's own tag (or the COMMIT's error, or the ceiling error) and a ReadyForQuery
 * with the real status, only after the decision. Client messages wait in the reader meanwhile.
 */

/** Fail closed: a Flush-ended batch gets no ReadyForQuery, where the count would be judged. */
export const CEILING_NEEDS_SYNC = new LatchError("feature_refused", {
  feature: "a statement held to a row ceiling in a batch ended by Flush",
  why: "its row count is judged before Sync; send Sync after it",
});

const BEGIN = encodeQuery("BEGIN /* latch: row ceiling */");
const COMMIT = encodeQuery("COMMIT /* latch: row ceiling */");
const ROLLBACK = encodeQuery("ROLLBACK /* latch: row ceiling */");

/**
 * Called before the statement's frames are forwarded. Returns the state to put on its tracker entry, or
 * undefined when nothing needs guarding (the client's transaction already failed: nothing will run).
 */
export function openCeiling(
  ceiling: RowCeiling,
  status: TransactionStatus,
  toServer: Buffer[],
  tracker: ResponseTracker,
): CeilingState | undefined {
  if (status === "E") return undefined;
  const opened = status === "I";
  if (opened) {
    toServer.push(BEGIN);
    tracker.push({ kind: "poison" });
  }
  return { ceiling, opened, heldTags: [] };
}

export interface CeilingVerdict {
  /** Sent to the server now, in order, ahead of anything the client sends next. */
  readonly toServer: Buffer[];
  /** The row count the statement's tags reported. */
  readonly rows: number;
  /** Set when the statement was refused for its count. */
  readonly refusal?: LatchError;
}

/**
 * Judges the finished statement: sends the COMMIT/ROLLBACK/failing query as needed, and queues what the
 * client gets once the server answered it. `poison` is the query that can only fail.
 */
export function settleCeiling(
  entry: ForwardedEntry,
  state: CeilingState,
  status: () => TransactionStatus,
  tracker: ResponseTracker,
  poison: Buffer,
  onCommitted: (commitError: { code: string; message: string } | undefined) => void,
): CeilingVerdict {
  const rows = state.heldTags.reduce((sum, raw) => {
    const decoded = decodeBackend({ type: raw[0]!, raw, body: raw.subarray(5) });
    return decoded.kind === "CommandComplete" ? sum + (readCommandTagRows(decoded.tag) ?? 0) : sum;
  }, 0);
  const { ceiling } = state;
  const failed = entry.error !== undefined || status() === "E";
  const over = !failed && rows > ceiling.maxRows;
  const refusal = over
    ? new LatchError("row_ceiling_exceeded", {
        rows,
        previewed: ceiling.previewedRows,
        ceiling: ceiling.maxRows,
        request: ceiling.requestId === "" ? "" : `, request ${ceiling.requestId}`,
      })
    : undefined;
  const toServer: Buffer[] = [];
  const commitErrors: Buffer[] = [];
  if (state.opened) {
    toServer.push(over || failed ? ROLLBACK : COMMIT);
    tracker.push({ kind: "poison", errors: commitErrors });
  } else if (over) {
    toServer.push(poison);
    tracker.push({ kind: "poison" });
  }
  tracker.push({
    kind: "synthetic",
    build: () => {
      const commitError = firstError(commitErrors);
      onCommitted(commitError === undefined ? undefined : commitError.fields);
      const answer =
        refusal !== undefined
          ? [errorFrame(refusal)]
          : commitError !== undefined
            ? [commitError.raw]
            : state.heldTags;
      return Buffer.concat([...answer, encodeReadyForQuery(status())]);
    },
  });
  return { toServer, rows, ...(refusal === undefined ? {} : { refusal }) };
}

function firstError(
  frames: readonly Buffer[],
): { raw: Buffer; fields: { code: string; message: string } } | undefined {
  const raw = frames[0];
  if (raw === undefined) return undefined;
  const decoded = decodeBackend({ type: raw[0]!, raw, body: raw.subarray(5) });
  if (decoded.kind !== "ErrorResponse") return undefined;
  return { raw, fields: { code: decoded.fields.code, message: decoded.fields.message.slice(0, 512) } };
}
