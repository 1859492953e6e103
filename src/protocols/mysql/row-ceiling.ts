/**
 * An approved MySQL statement held to the row count its preview showed (docs/approvals.md, "Preview, then
 * commit", MySQL). Its count (the OK packet's affected rows, or the rows of a RETURNING) is judged before the
 * client hears success, and before anything is kept:
 *
 * - client in autocommit, no transaction open: Latch sends START TRANSACTION first (and waits for its OK:
 *   a statement must never run unguarded because the BEGIN failed), holds the statement's final packet, then
 *   COMMIT within the ceiling or ROLLBACK over it (or when the statement failed);
 * - client inside its own transaction (or autocommit off): over the ceiling, Latch rolls back the client's
 *   whole transaction and refuses everything but ROLLBACK/COMMIT until the client ends it, as PostgreSQL
 *   fails the transaction (25P02). MySQL has no failed-transaction state of its own, and a SAVEPOINT would let
 *   the client commit the rest around a refused statement, which Latch never allows elsewhere.
 *
 * Pure state and packet helpers; the session does the writing.
 */
import { LatchError } from "../../errors.js";
import type { RowCeiling } from "../../operation/statement-preview.js";
import { CAPABILITY } from "./capabilities.js";
import { COMMAND } from "./command-codes.js";
import { encodePacket } from "./packet-writer.js";
import { PayloadCursor } from "./payload-cursor.js";
import { SERVER_STATUS } from "./response-packets.js";
import type { ResponseSummary } from "./response-tracker.js";

export interface CeilingRun {
  readonly ceiling: RowCeiling;
  /** Latch opened the transaction (the client was in autocommit) and ends it. */
  readonly opened: boolean;
  /** "begin": waiting for START TRANSACTION; "statement": relaying; "settle": waiting for COMMIT/ROLLBACK. */
  stage: "begin" | "statement" | "settle";
  /** The statement's final packet as it would reach the client, held until the count is judged. */
  held?: Buffer;
  summary?: ResponseSummary;
  refusal?: LatchError;
}

const command = (sql: string) =>
  encodePacket(Buffer.concat([Buffer.from([COMMAND.COM_QUERY]), Buffer.from(sql, "utf8")]), 0);
export const START_TRANSACTION = command("START TRANSACTION /* latch: row ceiling */");
export const COMMIT = command("COMMIT /* latch: row ceiling */");
export const ROLLBACK = command("ROLLBACK /* latch: row ceiling */");

/** Autocommit on and no transaction open: the statement would commit on its own, so Latch wraps it. */
export function opensTransaction(status: number): boolean {
  return (status & SERVER_STATUS.AUTOCOMMIT) !== 0 && (status & SERVER_STATUS.IN_TRANS) === 0;
}

/** The rows a finished statement counts: a result set's rows (RETURNING), else the OK's affected rows. */
export function countedRows(summary: ResponseSummary): number {
  return Math.max(summary.rows, summary.affectedRows);
}

/** Judges the finished statement; returns what to send the server next (nothing: answer the client now). */
export function judgeCeiling(run: CeilingRun, summary: ResponseSummary): Buffer | undefined {
  run.summary = summary;
  const rows = countedRows(summary);
  const { ceiling } = run;
  const failed = summary.error !== undefined;
  if (!failed && rows > ceiling.maxRows)
    run.refusal = new LatchError("row_ceiling_exceeded", {
      rows,
      previewed: ceiling.previewedRows,
      ceiling: ceiling.maxRows,
      request: ceiling.requestId === "" ? "" : `, request ${ceiling.requestId}`,
    });
  if (run.opened) return failed || run.refusal !== undefined ? ROLLBACK : COMMIT;
  // Inside the client's transaction: over the ceiling, the whole transaction goes.
  return run.refusal === undefined ? undefined : ROLLBACK;
}

/** The sequence id of a packet's bytes (the ERR that replaces it takes the same). */
export function sequenceOf(packet: Buffer | undefined, fallback: number): number {
  return packet !== undefined && packet.length >= 4 ? packet[3]! : fallback;
}

/**
 * The held final packet with the server status after COMMIT (no longer in a transaction): the client must
 * not believe a transaction is open. Any packet that is not an OK or EOF is returned as it was.
 */
export function withStatus(packet: Buffer, status: number, capabilities: number): Buffer {
  if (packet.length < 5) return packet;
  const payload = Buffer.from(packet.subarray(4));
  const header = payload[0];
  let offset: number | undefined;
  const deprecateEof = (capabilities & CAPABILITY.DEPRECATE_EOF) !== 0;
  if (header === 0x00 || (header === 0xfe && deprecateEof)) {
    const cursor = new PayloadCursor(payload, "OK packet");
    cursor.u8();
    cursor.lenencInt();
    cursor.lenencInt();
    offset = cursor.offset;
  } else if (header === 0xfe && payload.length >= 5) offset = 3;
  if (offset === undefined || payload.length < offset + 2) return packet;
  payload.writeUInt16LE(status & ~SERVER_STATUS.MORE_RESULTS_EXISTS, offset);
  return encodePacket(payload, packet[3]!);
}

/**
 * After Latch rolled back the client's transaction: what a command may do. ROLLBACK goes through (judged and
 * recorded as always) and ends the state; COMMIT is answered with the error (nothing is left to commit) and
 * ends it; everything else is refused.
 */
export function afterRolledBack(
  code: number,
  text: string,
): "forward" | "refuse-and-end" | "refuse" | "pass" {
  // COM_RESET_CONNECTION ends the state itself, once the server reset the connection.
  const passes: number[] = [
    COMMAND.COM_PING,
    COMMAND.COM_STMT_CLOSE,
    COMMAND.COM_QUIT,
    COMMAND.COM_RESET_CONNECTION,
  ];
  if (passes.includes(code)) return "pass";
  if (code !== COMMAND.COM_QUERY) return "refuse";
  const words = text
    .replace(/\/\*.*?\*\//gs, " ")
    .trim()
    .replace(/;\s*$/, "")
    .split(/\s+/)
    .map((word) => word.toUpperCase());
  if (words[0] === "ROLLBACK" && (words.length === 1 || (words.length === 2 && words[1] === "WORK")))
    return "forward";
  if (words[0] === "COMMIT" && (words.length === 1 || (words.length === 2 && words[1] === "WORK")))
    return "refuse-and-end";
  return "refuse";
}
