/**
 * Decoders and encoders for the result-path messages masking reads and rewrites: RowDescription, DataRow,
 * CopyOutResponse, CopyData, NotificationResponse, and the field list of ErrorResponse / NoticeResponse.
 *
 * Pure and synchronous, bounded by the body they are given: every count is checked against the bytes left
 * before anything is allocated for it, and a body with bytes left over is a violation (the server never sends
 * them, so they could only be smuggled past the masker).
 */
import { BodyReader, ProtocolViolation } from "./frame-reader.js";
import { buildMessage, type MessageWriter, UnencodableValue } from "./message-writer.js";

export const ROW_DESCRIPTION = 0x54; // T
export const DATA_ROW = 0x44; // D
export const COPY_OUT_RESPONSE = 0x48; // H
export const COPY_DATA = 0x64; // d
export const COPY_DONE = 0x63; // c
export const NOTIFICATION_RESPONSE = 0x41; // A
export const ERROR_RESPONSE = 0x45; // E
export const NOTICE_RESPONSE = 0x4e; // N

/** One column of a RowDescription, named as in the protocol documentation. */
export interface FieldDescription {
  readonly name: string;
  /** OID of the table the column comes from; 0 when the value is an expression. */
  readonly tableOid: number;
  /** Attribute number within that table; 0 for expressions. */
  readonly attributeNumber: number;
  readonly typeOid: number;
  readonly typeSize: number;
  readonly typeModifier: number;
  /** 0 text, 1 binary. */
  readonly format: number;
}

/** Smallest encoding of one RowDescription field: an empty name's NUL and 18 bytes of fixed fields. */
const MIN_FIELD_DESCRIPTION_BYTES = 19;
const FIXED_FIELD_BYTES = 18;
/** Smallest encoding of one DataRow value: its int32 length (-1 for NULL). */
const MIN_VALUE_BYTES = 4;

export function decodeRowDescription(body: Buffer): FieldDescription[] {
  const reader = new BodyReader(body, "RowDescription");
  const count = reader.uint16();
  if (count * MIN_FIELD_DESCRIPTION_BYTES > reader.remaining) {
    reader.violate(`field count ${count} does not fit in ${reader.remaining} bytes`);
  }
  const fields: FieldDescription[] = [];
  for (let i = 0; i < count; i++) {
    const name = reader.cstring("column name");
    const fixed = reader.bytes(FIXED_FIELD_BYTES);
    const format = fixed.readInt16BE(16);
    if (format !== 0 && format !== 1) reader.violate(`column ${i} has unknown format code ${format}`);
    fields.push({
      name,
      tableOid: fixed.readUInt32BE(0),
      attributeNumber: fixed.readInt16BE(4),
      typeOid: fixed.readUInt32BE(6),
      typeSize: fixed.readInt16BE(10),
      typeModifier: fixed.readInt32BE(12),
      format,
    });
  }
  reader.end();
  return fields;
}

export function encodeRowDescriptionFields(fields: readonly FieldDescription[]): Buffer {
  return buildMessage(ROW_DESCRIPTION, (w) => {
    w.uint16(fields.length);
    for (const field of fields) {
      w.cstring(field.name, "column name")
        .uint32(field.tableOid)
        .int16(field.attributeNumber)
        .uint32(field.typeOid)
        .int16(field.typeSize)
        .int32(field.typeModifier)
        .int16(field.format);
    }
  });
}

/**
 * Where each value of a DataRow body lies, without copying: pairs of (start, length) in `out`, length -1 for
 * NULL. Returns the column count. `out` is grown when too small, so callers can reuse one array per session.
 */
export function locateDataRowValues(body: Buffer, out: number[]): number {
  const size = body.length;
  if (size < 2) throw new ProtocolViolation("DataRow: missing the column count");
  // Lengths read byte by byte after the bounds checks below: readInt32BE checks its offset again per value.
  const count = (body[0]! << 8) | body[1]!;
  if (count * MIN_VALUE_BYTES > size - 2) {
    throw new ProtocolViolation(`DataRow: column count ${count} does not fit in ${size - 2} bytes`);
  }
  let cursor = 2;
  for (let i = 0; i < count; i++) {
    if (size - cursor < 4) throw new ProtocolViolation(`DataRow: value ${i} has no length`);
    const length =
      (body[cursor]! << 24) | (body[cursor + 1]! << 16) | (body[cursor + 2]! << 8) | body[cursor + 3]!;
    cursor += 4;
    if (length < -1) throw new ProtocolViolation(`DataRow: value ${i} has negative length ${length}`);
    if (length > size - cursor) {
      throw new ProtocolViolation(`DataRow: value ${i} of ${length} bytes overruns the message`);
    }
    out[2 * i] = cursor;
    out[2 * i + 1] = length;
    if (length > 0) cursor += length;
  }
  if (cursor !== size) throw new ProtocolViolation(`DataRow: ${size - cursor} trailing bytes`);
  return count;
}

/** DataRow values as subarrays of the body (null = SQL NULL): copy them before the frame is released. */
export function decodeDataRow(body: Buffer): (Buffer | null)[] {
  const spans: number[] = [];
  const count = locateDataRowValues(body, spans);
  const values: (Buffer | null)[] = [];
  for (let i = 0; i < count; i++) {
    const length = spans[2 * i + 1]!;
    values.push(length === -1 ? null : body.subarray(spans[2 * i]!, spans[2 * i]! + length));
  }
  return values;
}

/** Hot path of masking (one call per masked row): sized once and filled directly, no growable writer. */
export function encodeDataRowValues(values: readonly (Uint8Array | null)[]): Buffer {
  if (values.length > 0xffff) throw new UnencodableValue(`${values.length} columns exceed 65535`);
  let size = 4 + 2;
  for (const value of values) size += 4 + (value === null ? 0 : value.length);
  if (size > 0x7fffffff) throw new UnencodableValue(`DataRow of ${size} bytes is too large`);
  const out = Buffer.allocUnsafe(size + 1);
  out[0] = DATA_ROW;
  out.writeInt32BE(size, 1);
  out.writeUInt16BE(values.length, 5);
  let cursor = 7;
  for (const value of values) {
    if (value === null) {
      out.writeInt32BE(-1, cursor);
      cursor += 4;
    } else {
      out.writeInt32BE(value.length, cursor);
      out.set(value, cursor + 4);
      cursor += 4 + value.length;
    }
  }
  return out;
}

export interface CopyOutResponse {
  /** Overall format: 0 text (rows separated by newlines), 1 binary. */
  readonly format: number;
  readonly columnFormats: readonly number[];
}

export function decodeCopyOutResponse(body: Buffer): CopyOutResponse {
  const reader = new BodyReader(body, "CopyOutResponse");
  const format = reader.uint8();
  if (format !== 0 && format !== 1) reader.violate(`unknown overall format ${format}`);
  const count = reader.uint16();
  if (count * 2 !== reader.remaining) reader.violate(`column count ${count} does not match the body`);
  const columnFormats: number[] = [];
  for (let i = 0; i < count; i++) {
    const columnFormat = reader.uint16();
    if (columnFormat !== 0 && columnFormat !== 1) reader.violate(`unknown column format ${columnFormat}`);
    columnFormats.push(columnFormat);
  }
  reader.end();
  return { format, columnFormats };
}

export function encodeCopyOutResponse(response: CopyOutResponse): Buffer {
  return buildMessage(COPY_OUT_RESPONSE, (w) => {
    w.uint8(response.format).uint16(response.columnFormats.length);
    for (const columnFormat of response.columnFormats) w.uint16(columnFormat);
  });
}

/** CopyData's body is the data itself. */
export function encodeCopyData(data: Uint8Array): Buffer {
  return buildMessage(COPY_DATA, (w) => w.bytes(data), data.length + 5);
}

export interface NotificationResponse {
  readonly processId: number;
  readonly channel: string;
  readonly payload: string;
}

export function decodeNotificationResponse(body: Buffer): NotificationResponse {
  const reader = new BodyReader(body, "NotificationResponse");
  const processId = reader.int32();
  const channel = reader.displayCstring("channel");
  const payload = reader.displayCstring("payload");
  reader.end();
  return { processId, channel, payload };
}

export function encodeNotificationResponse(notification: NotificationResponse): Buffer {
  return buildMessage(NOTIFICATION_RESPONSE, (w) =>
    w
      .int32(notification.processId)
      .cstring(notification.channel, "channel")
      .cstring(notification.payload, "payload"),
  );
}

/** One field of an ErrorResponse / NoticeResponse: its one-byte code and its (leniently decoded) text. */
export interface ResponseField {
  readonly code: number;
  readonly value: string;
}

/** Every field in arrival order, unknown codes included (the client may display any of them). */
export function decodeResponseFields(body: Buffer, message: string): ResponseField[] {
  const reader = new BodyReader(body, message);
  const fields: ResponseField[] = [];
  for (;;) {
    const code = reader.uint8();
    if (code === 0) break;
    fields.push({ code, value: reader.displayCstring(`field ${String.fromCharCode(code)}`) });
  }
  reader.end();
  return fields;
}

export function encodeResponseFields(type: number, fields: readonly ResponseField[]): Buffer {
  return buildMessage(type, (w: MessageWriter) => {
    for (const field of fields) w.uint8(field.code).cstring(field.value, "error field");
    w.uint8(0);
  });
}
