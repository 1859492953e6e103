/**
 * Follows the server's answer to one command so the session knows when it is complete: OK, ERR, or result sets
 * (column count, column definitions, [EOF], rows, EOF/OK), repeated while the server sets MORE_RESULTS_EXISTS.
 * Pure: one payload at a time in, "more" or "done" (with rows and the first error) out.
 */
import { CAPABILITY } from "./capabilities.js";
import { MysqlProtocolViolation } from "./packet-reader.js";
import { PayloadCursor } from "./payload-cursor.js";
import {
  decodeErr,
  eofStatusOf,
  type OkCounts,
  okStatusOf,
  readOkCounts,
  SERVER_STATUS,
} from "./response-packets.js";

export interface ResponseSummary {
  readonly rows: number;
  readonly affectedRows: number;
  readonly status: number;
  readonly error?: { readonly code: string; readonly message: string };
  /** COM_STMT_PREPARE: the statement id the server assigned. */
  readonly statementId?: number;
  /** COM_STMT_PREPARE: how many parameters the statement takes. */
  readonly parameterCount?: number;
}

/** An OK packet's counts, read in place into this one object: read and used within one push, never kept. */
const OK: OkCounts = { affectedRows: 0, status: 0 };

type State = "first" | "columns" | "columnsEof" | "rows";

/** What the last payload pushed was, for a stage (masking) that acts on some packets of the answer. */
export type ResponsePacketKind =
  | "ok"
  | "err"
  | "column-count"
  | "column"
  | "columns-eof"
  | "row"
  | "end"
  | "prepare";

export class ResponseTracker {
  private state: State = "first";
  /** The kind of the payload last pushed. */
  kind: ResponsePacketKind = "ok";
  private columnsLeft = 0;
  private rows = 0;
  private affectedRows = 0;
  private readonly deprecateEof: boolean;

  /** COM_STMT_PREPARE answers: packets still to come after PREPARE_OK, and the statement id. */
  private prepareLeft: number | undefined;
  private statementId: number | undefined;
  private parameterCount = 0;

  constructor(
    capabilities: number,
    private readonly mode: "command" | "prepare" = "command",
  ) {
    this.deprecateEof = (capabilities & CAPABILITY.DEPRECATE_EOF) !== 0;
  }

  /** Feeds one server payload; returns the summary once the command's answer is complete. */
  push(payload: Buffer): ResponseSummary | undefined {
    return this.pushAt(payload, 0, payload.length);
  }

  /**
   * As push, for a payload of `length` bytes at `start` of `bytes` (the relay of a result without masking calls
   * this once per packet, on the reader's bytes): every packet is read in place, rows and column definitions
   * from their first byte and length alone, OK and EOF with a cursor window; only an ERR is read from a view.
   */
  pushAt(bytes: Buffer, start: number, length: number): ResponseSummary | undefined {
    const end = start + length;
    if (this.mode === "prepare") {
      this.kind = "prepare";
      return this.pushPrepare(bytes, start, end);
    }
    const header = length === 0 ? -1 : bytes[start]!;
    switch (this.state) {
      case "first": {
        this.kind = header === 0xff ? "err" : header === 0x00 ? "ok" : "column-count";
        if (header === 0x00) {
          readOkCounts(bytes, start, end, OK);
          this.affectedRows += OK.affectedRows;
          return this.next(OK.status);
        }
        if (header === 0xff) return this.failed(bytes, start, end);
        if (header === 0xfb)
          throw new MysqlProtocolViolation("the server asked for a LOCAL INFILE, which was not negotiated");
        // A length-encoded integer below 251 is its first byte.
        const count =
          header > 0x00 && header < 0xfb
            ? header
            : new PayloadCursor(bytes, "column count", start, end).lenencInt();
        if (count === null || count === 0) throw new MysqlProtocolViolation("invalid column count");
        this.columnsLeft = count;
        this.state = "columns";
        return undefined;
      }
      case "columns":
        this.kind = "column";
        if (--this.columnsLeft === 0) this.state = this.deprecateEof ? "rows" : "columnsEof";
        return undefined;
      case "columnsEof":
        this.kind = "columns-eof";
        if (header !== 0xfe) throw new MysqlProtocolViolation("expected EOF after the column definitions");
        this.state = "rows";
        return undefined;
      case "rows": {
        this.kind = header === 0xff ? "err" : "row";
        if (header === 0xff) return this.failed(bytes, start, end);
        if (header === 0xfe && length < 0xffffff && (this.deprecateEof || length < 9)) {
          this.kind = "end";
          const status = this.deprecateEof ? okStatusOf(bytes, start, end) : eofStatusOf(bytes, start, end);
          return this.next(status);
        }
        this.rows++;
        return undefined;
      }
    }
  }

  /** PREPARE_OK (id, column and parameter counts), then the parameter and column definitions, each list + EOF. */
  private pushPrepare(bytes: Buffer, start: number, end: number): ResponseSummary | undefined {
    if (this.prepareLeft === undefined) {
      const header = end > start ? bytes[start] : undefined;
      if (header === 0xff) return this.failed(bytes, start, end);
      if (header !== 0x00 || end - start < 12)
        throw new MysqlProtocolViolation("invalid COM_STMT_PREPARE answer");
      this.statementId = bytes.readUInt32LE(start + 1);
      const columns = bytes.readUInt16LE(start + 5);
      const params = bytes.readUInt16LE(start + 7);
      this.parameterCount = params;
      const eof = this.deprecateEof ? 0 : 1;
      this.prepareLeft = params + (params > 0 ? eof : 0) + columns + (columns > 0 ? eof : 0);
    } else this.prepareLeft--;
    if (this.prepareLeft > 0) return undefined;
    return {
      rows: 0,
      affectedRows: 0,
      status: 0,
      statementId: this.statementId,
      parameterCount: this.parameterCount,
    };
  }

  private next(status: number): ResponseSummary | undefined {
    if (status & SERVER_STATUS.MORE_RESULTS_EXISTS) {
      this.state = "first";
      return undefined;
    }
    return { rows: this.rows, affectedRows: this.affectedRows, status };
  }

  /** An ERR: the one packet read from a view of its own (its message is decoded anyway). */
  private failed(bytes: Buffer, start: number, end: number): ResponseSummary {
    const err = decodeErr(bytes.subarray(start, end));
    return {
      rows: this.rows,
      affectedRows: this.affectedRows,
      status: 0,
      error: { code: String(err.code), message: err.message },
    };
  }
}
