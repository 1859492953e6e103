/**
 * A small admin connection on Latch's own codec (mysql2 is a development dependency only): logs in like the
 * session upstream does, then runs text queries one at a time and returns their rows as strings. Used by the
 * gateway for its own SQL (per-session users); never relays client bytes.
 */
import type net from "node:net";
import type tls from "node:tls";
import { CAPABILITY, REQUIRED_CLIENT_CAPABILITIES } from "./capabilities.js";
import { decodeColumnDefinition } from "./column-definition.js";
import { COMMAND } from "./command-codes.js";
import type { PacketReader } from "./packet-reader.js";
import { MysqlProtocolViolation } from "./packet-reader.js";
import { encodePacket } from "./packet-writer.js";
import { PayloadCursor } from "./payload-cursor.js";
import { decodeErr, decodeOk } from "./response-packets.js";
import { connectMysqlUpstream, type MysqlUpstreamTarget } from "./upstream.js";

/** A server error answering one admin statement: the MySQL error number is kept so callers can branch on it. */
export class MysqlAdminError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(`${errno}: ${message}`);
    this.name = "MysqlAdminError";
  }
}

export interface AdminResult {
  readonly rows: (string | null)[][];
  readonly affectedRows: number;
  /** Column names of a result set (empty for an OK answer). */
  readonly columns?: readonly string[];
  /** Rows the server sent, also those past `keepRows` (not kept). */
  readonly rowCount?: number;
}

/** No DEPRECATE_EOF, no multi-statements: the simplest result layout, one statement per query. */
const ADMIN_CAPABILITIES =
  REQUIRED_CLIENT_CAPABILITIES |
  CAPABILITY.LONG_PASSWORD |
  CAPABILITY.LONG_FLAG |
  CAPABILITY.TRANSACTIONS |
  CAPABILITY.PLUGIN_AUTH_LENENC_CLIENT_DATA;
const UTF8MB4_GENERAL_CI = 45;
const MAX_ADMIN_MESSAGE_BYTES = 1 << 20;

/**
 * Collects one text-protocol answer: OK, ERR, or column count, column definitions, EOF, rows, EOF. Pure.
 */
export class TextResultCollector {
  private state: "first" | "columns" | "columnsEof" | "rows" = "first";
  private columns = 0;
  private columnsLeft = 0;
  private readonly rows: (string | null)[][] = [];
  private readonly names: string[] = [];
  private rowCount = 0;

  /** `keepRows`: rows past it are counted and dropped (a preview's RETURNING may send every deleted row). */
  constructor(private readonly keepRows = Number.POSITIVE_INFINITY) {}

  /** Returns the result (or throws the server's error) once complete; undefined while more is to come. */
  push(payload: Buffer): AdminResult | undefined {
    const header = payload[0];
    if (this.state === "first") {
      if (header === 0x00) return { rows: [], affectedRows: decodeOk(payload).affectedRows };
      if (header === 0xff) throw serverError(payload);
      const count = new PayloadCursor(payload, "column count").lenencInt();
      if (count === null || count === 0 || header === 0xfb)
        throw new MysqlProtocolViolation("invalid column count");
      this.columns = this.columnsLeft = count;
      this.state = "columns";
      return undefined;
    }
    if (this.state === "columns") {
      this.names.push(decodeColumnDefinition(payload).name);
      if (--this.columnsLeft === 0) this.state = "columnsEof";
      return undefined;
    }
    if (this.state === "columnsEof") {
      if (header !== 0xfe) throw new MysqlProtocolViolation("expected EOF after the column definitions");
      this.state = "rows";
      return undefined;
    }
    if (header === 0xff) throw serverError(payload);
    if (header === 0xfe && payload.length < 9)
      return { rows: this.rows, affectedRows: 0, columns: this.names, rowCount: this.rowCount };
    if (++this.rowCount > this.keepRows) return undefined;
    const cursor = new PayloadCursor(payload, "row");
    const row: (string | null)[] = [];
    for (let i = 0; i < this.columns; i++) {
      if (payload[cursor.offset] === 0xfb) {
        cursor.offset++;
        row.push(null);
      } else row.push(cursor.lenencString());
    }
    this.rows.push(row);
    return undefined;
  }
}

function serverError(payload: Buffer): MysqlAdminError {
  const err = decodeErr(payload);
  return new MysqlAdminError(err.code, err.message);
}

/** One logged-in admin connection; queries are queued and run one at a time. */
export class MysqlAdminConnection {
  private queue: Promise<unknown> = Promise.resolve();
  private current:
    | { collector: TextResultCollector; resolve: (r: AdminResult) => void; reject: (e: Error) => void }
    | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: net.Socket | tls.TLSSocket,
    private readonly packets: PacketReader,
    private readonly queryTimeoutMs: number,
  ) {
    socket.on("data", (chunk: Buffer) => {
      try {
        packets.push(chunk);
        this.drain();
      } catch (error) {
        this.fail(error as Error);
      }
    });
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("the admin connection closed")));
  }

  /**
   * Logs in as `target.user` with `password`, no database selected unless `options.database` names one (the
   * admin user may have none). `options.capabilities` adds client flags (a preview asks for FOUND_ROWS when its
   * session did, so both count UPDATE rows the same way).
   */
  static async open(
    target: MysqlUpstreamTarget,
    password: string,
    queryTimeoutMs: number,
    options: { readonly database?: string; readonly capabilities?: number } = {},
  ): Promise<MysqlAdminConnection> {
    const upstream = await connectMysqlUpstream(
      { ...target, database: options.database ?? "" },
      password,
      ADMIN_CAPABILITIES | (options.capabilities ?? 0),
      UTF8MB4_GENERAL_CI,
      MAX_ADMIN_MESSAGE_BYTES,
    );
    const connection = new MysqlAdminConnection(upstream.socket, upstream.packets, queryTimeoutMs);
    connection.drain();
    return connection;
  }

  get usable(): boolean {
    return this.failure === undefined;
  }

  /** Runs one statement; rejects with MysqlAdminError for a server error, or any error that broke the link. */
  query(sql: string, keepRows?: number): Promise<AdminResult> {
    const run = this.queue.then(() => this.send(sql, keepRows));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    if (this.failure === undefined && !this.socket.destroyed) {
      this.socket.end(encodePacket(Buffer.from([COMMAND.COM_QUIT]), 0));
    }
    this.failure ??= new Error("the admin connection was closed");
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private send(sql: string, keepRows?: number): Promise<AdminResult> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<AdminResult>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new Error(`admin statement timed out after ${this.queryTimeoutMs} ms`)),
        this.queryTimeoutMs,
      );
      this.current = {
        collector: new TextResultCollector(keepRows),
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const body = Buffer.concat([Buffer.from([COMMAND.COM_QUERY]), Buffer.from(sql, "utf8")]);
      this.socket.write(encodePacket(body, 0));
    });
  }

  private drain(): void {
    for (;;) {
      const message = this.packets.next();
      if (message === undefined) return;
      const current = this.current;
      if (current === undefined) throw new MysqlProtocolViolation("the server sent an unasked packet");
      let result: AdminResult | undefined;
      try {
        result = current.collector.push(Buffer.from(message.payload));
      } catch (error) {
        this.current = undefined;
        if (!(error instanceof MysqlAdminError)) throw error;
        current.reject(error);
        continue;
      }
      if (result === undefined) continue;
      this.current = undefined;
      current.resolve(result);
    }
  }

  /** Anything but a server error (timeout, socket loss, out of sync) ends the connection for good. */
  private fail(error: Error): void {
    this.failure ??= error;
    this.socket.destroy();
    const current = this.current;
    this.current = undefined;
    current?.reject(this.failure);
  }
}
