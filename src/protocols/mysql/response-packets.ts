/** OK, ERR and EOF packets of the command phase: decoded from the upstream, encoded for gateway answers. */
import { PayloadWriter } from "./packet-writer.js";
import { PayloadCursor } from "./payload-cursor.js";

export const SERVER_STATUS = {
  IN_TRANS: 0x0001,
  AUTOCOMMIT: 0x0002,
  MORE_RESULTS_EXISTS: 0x0008,
} as const;

export interface OkPacket {
  readonly kind: "OK";
  readonly affectedRows: number;
  readonly lastInsertId: number;
  readonly status: number;
  readonly warnings: number;
  readonly info: string;
}

export interface ErrPacket {
  readonly kind: "ERR";
  readonly code: number;
  readonly sqlState: string;
  readonly message: string;
}

export interface EofPacket {
  readonly kind: "EOF";
  readonly warnings: number;
  readonly status: number;
}

export function isErrPayload(payload: Buffer): boolean {
  return payload[0] === 0xff;
}

/** An EOF packet (0xFE, shorter than 9 bytes) as opposed to a row starting with a length-encoded 0xFE. */
export function isEofPayload(payload: Buffer): boolean {
  return payload[0] === 0xfe && payload.length < 9;
}

/** An OK packet, or the 0xFE-headed OK that ends a result set under CLIENT_DEPRECATE_EOF. */
export function decodeOk(payload: Buffer): OkPacket {
  const c = new PayloadCursor(payload, "OK packet");
  c.u8();
  const affectedRows = c.lenencInt() ?? 0;
  const lastInsertId = c.lenencInt() ?? 0;
  const status = c.remaining >= 2 ? c.u16() : 0;
  const warnings = c.remaining >= 2 ? c.u16() : 0;
  return { kind: "OK", affectedRows, lastInsertId, status, warnings, info: c.rest().toString("utf8") };
}

/**
 * The status flags of an OK packet (or the 0xFE-headed OK ending a result set), checked as decodeOk checks it
 * but without building the packet or decoding its info text: the response tracker reads one per result, in
 * place (the payload is `start`..`end` of `bytes`, by default all of it).
 */
export function okStatusOf(bytes: Buffer, start = 0, end = bytes.length): number {
  const c = new PayloadCursor(bytes, "OK packet", start, end);
  c.u8();
  c.lenencInt();
  c.lenencInt();
  return c.remaining >= 2 ? c.u16() : 0;
}

/** The status flags of an EOF packet, as decodeEof reads them (in place: `start`..`end` of `bytes`). */
export function eofStatusOf(bytes: Buffer, start = 0, end = bytes.length): number {
  return end - start >= 5 ? bytes.readUInt16LE(start + 3) : 0;
}

/**
 * The affected rows and status flags of an OK packet, read in place as decodeOk reads them (`start`..`end` of
 * `bytes`): into `into`, so the tracker reading one per statement builds nothing.
 */
export function readOkCounts(bytes: Buffer, start: number, end: number, into: OkCounts): void {
  const c = new PayloadCursor(bytes, "OK packet", start, end);
  c.u8();
  into.affectedRows = c.lenencInt() ?? 0;
  c.lenencInt();
  into.status = c.remaining >= 2 ? c.u16() : 0;
}

export interface OkCounts {
  affectedRows: number;
  status: number;
}

export function decodeErr(payload: Buffer): ErrPacket {
  const c = new PayloadCursor(payload, "ERR packet");
  c.u8();
  const code = c.u16();
  let sqlState = "HY000";
  if (c.remaining > 0 && payload[c.offset] === 0x23) {
    c.u8();
    sqlState = c.bytes(5).toString("latin1");
  }
  return { kind: "ERR", code, sqlState, message: c.rest().toString("utf8") };
}

export function decodeEof(payload: Buffer): EofPacket {
  const c = new PayloadCursor(payload, "EOF packet");
  c.u8();
  const warnings = c.remaining >= 2 ? c.u16() : 0;
  const status = c.remaining >= 2 ? c.u16() : 0;
  return { kind: "EOF", warnings, status };
}

export function encodeOk(
  ok: Partial<Omit<OkPacket, "kind">> & { readonly status: number },
  header = 0x00,
): Buffer {
  const w = new PayloadWriter()
    .u8(header)
    .lenencInt(ok.affectedRows ?? 0)
    .lenencInt(ok.lastInsertId ?? 0)
    .u16(ok.status)
    .u16(ok.warnings ?? 0);
  if (ok.info) w.bytes(Buffer.from(ok.info, "utf8"));
  return w.build();
}

export function encodeErr(err: Omit<ErrPacket, "kind">): Buffer {
  return new PayloadWriter()
    .u8(0xff)
    .u16(err.code)
    .u8(0x23)
    .bytes(Buffer.from(err.sqlState.padEnd(5, "0").slice(0, 5), "latin1"))
    .bytes(Buffer.from(err.message, "utf8"))
    .build();
}

export function encodeEof(status: number, warnings = 0): Buffer {
  return new PayloadWriter().u8(0xfe).u16(warnings).u16(status).build();
}
