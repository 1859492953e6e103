/**
 * Follows the server's answer to one command so the session knows when it is complete: OK, ERR, or result sets
 * (column count, column definitions, [EOF], rows, EOF/OK), repeated while the server sets MORE_RESULTS_EXISTS.
 * Pure: one payload at a time in, "more" or "done" (with rows and the first error) out.
 */
import { CAPABILITY } from "./capabilities.js";
import { MysqlProtocolViolation } from "./packet-reader.js";
import { PayloadCursor } from "./payload-cursor.js";
import { decodeEof, decodeErr, decodeOk, SERVER_STATUS } from "./response-packets.js";

export interface ResponseSummary {
  readonly rows: number;
  readonly affectedRows: number;
  readonly status: number;
  readonly error?: { readonly code: string; readonly message: string };
}

type State = "first" | "columns" | "columnsEof" | "rows";

export class ResponseTracker {
  private state: State = "first";
  private columnsLeft = 0;
  private rows = 0;
  private affectedRows = 0;
  private readonly deprecateEof: boolean;

  constructor(capabilities: number) {
    this.deprecateEof = (capabilities & CAPABILITY.DEPRECATE_EOF) !== 0;
  }

  /** Feeds one server payload; returns the summary once the command's answer is complete. */
  push(payload: Buffer): ResponseSummary | undefined {
    const header = payload[0];
    switch (this.state) {
      case "first": {
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
        if (--this.columnsLeft === 0) this.state = this.deprecateEof ? "rows" : "columnsEof";
        return undefined;
      case "columnsEof":
        if (header !== 0xfe) throw new MysqlProtocolViolation("expected EOF after the column definitions");
        this.state = "rows";
        return undefined;
      case "rows": {
        if (header === 0xff) return this.failed(payload);
        if (header === 0xfe && payload.length < 0xffffff && (this.deprecateEof || payload.length < 9)) {
          const status = this.deprecateEof ? decodeOk(payload).status : decodeEof(payload).status;
          return this.next(status);
        }
        this.rows++;
        return undefined;
      }
    }
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
