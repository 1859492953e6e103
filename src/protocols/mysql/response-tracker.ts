/**
 * Follows the server's answer to one command so the session knows when it is complete: OK, ERR, or result sets
 * (column count, column definitions, [EOF], rows, EOF/OK), repeated while the server sets MORE_RESULTS_EXISTS.
 * Pure: one payload at a time in, "more" or "done" (with rows and the first error) out.
 */
import { CAPABILITY } from "./capabilities.js";
import { MysqlProtocolViolation } from "./packet-reader.js";
import { PayloadCursor } from "./payload-cursor.js";
import { decodeErr, decodeOk, eofStatusOf, okStatusOf, SERVER_STATUS } from "./response-packets.js";

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
    if (this.mode === "prepare") {
      this.kind = "prepare";
      return this.pushPrepare(payload);
    }
    const header = payload[0];
    switch (this.state) {
      case "first": {
        this.kind = header === 0xff ? "err" : header === 0x00 ? "ok" : "column-count";
        if (header === 0x00) return this.afterOk(payload);
        if (header === 0xff) return this.failed(payload);
        if (header === 0xfb)
          throw new MysqlProtocolViolation("the server asked for a LOCAL INFILE, which was not negotiated");
        const count = new PayloadCursor(payload, "column count").lenencInt();
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
        if (header === 0xff) return this.failed(payload);
        if (header === 0xfe && payload.length < 0xffffff && (this.deprecateEof || payload.length < 9)) {
          this.kind = "end";
          const status = this.deprecateEof ? okStatusOf(payload) : eofStatusOf(payload);
          return this.next(status);
        }
        this.rows++;
        return undefined;
      }
    }
  }

  /**
   * As push, for a payload of `length` bytes at `start` of `bytes`: column definitions, rows and a column count
   * below 251 are judged from their first byte and length alone (no view made: the relay of a result without
   * masking calls this once per packet); any other packet is pushed as a view.
   */
  pushAt(bytes: Buffer, start: number, length: number): ResponseSummary | undefined {
    if (this.mode === "command") {
      const header = length === 0 ? -1 : bytes[start]!;
      if (this.state === "columns") {
        this.kind = "column";
        if (--this.columnsLeft === 0) this.state = this.deprecateEof ? "rows" : "columnsEof";
        return undefined;
      }
      if (
        this.state === "rows" &&
        header !== 0xff &&
        !(header === 0xfe && length < 0xffffff && (this.deprecateEof || length < 9))
      ) {
        this.kind = "row";
        this.rows++;
        return undefined;
      }
      if (this.state === "first" && header > 0x00 && header < 0xfb) {
        // A length-encoded integer below 251 is its first byte: the column count.
        this.kind = "column-count";
        this.columnsLeft = header;
        this.state = "columns";
        return undefined;
      }
    }
    return this.push(bytes.subarray(start, start + length));
  }

  /** PREPARE_OK (id, column and parameter counts), then the parameter and column definitions, each list + EOF. */
  private pushPrepare(payload: Buffer): ResponseSummary | undefined {
    if (this.prepareLeft === undefined) {
      if (payload[0] === 0xff) return this.failed(payload);
      if (payload[0] !== 0x00 || payload.length < 12)
        throw new MysqlProtocolViolation("invalid COM_STMT_PREPARE answer");
      this.statementId = payload.readUInt32LE(1);
      const columns = payload.readUInt16LE(5);
      const params = payload.readUInt16LE(7);
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

  private afterOk(payload: Buffer): ResponseSummary | undefined {
    const ok = decodeOk(payload);
    this.affectedRows += ok.affectedRows;
    return this.next(ok.status);
  }

  private next(status: number): ResponseSummary | undefined {
    if (status & SERVER_STATUS.MORE_RESULTS_EXISTS) {
      this.state = "first";
      return undefined;
    }
    return { rows: this.rows, affectedRows: this.affectedRows, status };
  }

  private failed(payload: Buffer): ResponseSummary {
    const err = decodeErr(payload);
    return {
      rows: this.rows,
      affectedRows: this.affectedRows,
      status: 0,
      error: { code: String(err.code), message: err.message },
    };
  }
}
