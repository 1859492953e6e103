/**
 * Result rows of both protocols, located without copying and rebuilt with some values replaced:
 * text rows (COM_QUERY) are one length-encoded string per column, 0xFB for NULL; binary rows (COM_STMT_EXECUTE)
 * are 0x00, a NULL bitmap whose first two bits are reserved, then each non-NULL value in its type's encoding.
 * Pure; a row that does not match its columns is a protocol violation (the masker withholds the result).
 */
import { COLUMN_TYPE } from "./column-definition.js";
import { MysqlProtocolViolation } from "./packet-reader.js";
import { PayloadWriter } from "./packet-writer.js";

/**
 * Where each value sits: for column i, spans[3i] is the start of its encoding (-1 for NULL), spans[3i+1] and
 * spans[3i+2] the start and end of its data (a string's bytes, a number's fixed bytes).
 */
export type RowSpans = number[];

/** A replacement per column: undefined keeps the value, null makes it NULL, a Buffer replaces its data. */
export type RowReplacements = (Buffer | null | undefined)[];

export function locateTextRow(payload: Buffer, columns: number, spans: RowSpans): void {
  let at = 0;
  for (let i = 0; i < columns; i++) {
    if (at >= payload.length) throw new MysqlProtocolViolation("a text row has fewer values than columns");
    if (payload[at] === 0xfb) {
      spans[3 * i] = -1;
      at++;
      continue;
    }
    // A value under 251 bytes has a one-byte length: read in line, without lenencAt's pair.
    const first = payload[at]!;
    let length = first;
    let prefix = 1;
    if (first >= 0xfb) [length, prefix] = lenencAt(payload, at);
    spans[3 * i] = at;
    spans[3 * i + 1] = at + prefix;
    spans[3 * i + 2] = at + prefix + length;
    at += prefix + length;
    if (at > payload.length) throw new MysqlProtocolViolation("a text row value runs past the row");
  }
  if (at !== payload.length) throw new MysqlProtocolViolation("a text row has more values than columns");
}

export function rebuildTextRow(
  payload: Buffer,
  columns: number,
  spans: RowSpans,
  replaced: RowReplacements,
): Buffer {
  // Sized first and written once: no Buffer per value on the hot path.
  let size = 0;
  for (let i = 0; i < columns; i++) {
    const value = replaced[i];
    const start = spans[3 * i]!;
    if (value === null || (value === undefined && start === -1)) size += 1;
    else if (value === undefined) size += spans[3 * i + 2]! - start;
    else size += lenencSize(value.length) + value.length;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < columns; i++) {
    const value = replaced[i];
    const start = spans[3 * i]!;
    if (value === null || (value === undefined && start === -1)) out[at++] = 0xfb;
    else if (value === undefined) at += payload.copy(out, at, start, spans[3 * i + 2]!);
    else {
      at = writeLenenc(out, at, value.length);
      at += value.copy(out, at);
    }
  }
  return out;
}

function lenencSize(value: number): number {
  return value < 251 ? 1 : value < 0x10000 ? 3 : value < 0x1000000 ? 4 : 9;
}

function writeLenenc(out: Buffer, at: number, value: number): number {
  if (value < 251) {
    out[at] = value;
    return at + 1;
  }
  if (value < 0x10000) {
    out[at] = 0xfc;
    out.writeUInt16LE(value, at + 1);
    return at + 3;
  }
  if (value < 0x1000000) {
    out[at] = 0xfd;
    out.writeUIntLE(value, at + 1, 3);
    return at + 4;
  }
  out[at] = 0xfe;
  out.writeBigUInt64LE(BigInt(value), at + 1);
  return at + 9;
}

/** Fixed widths of binary-protocol values; 0 marks a length-encoded value, -1 a 1-byte length then bytes. */
const BINARY_WIDTH = new Map<number, number>([
  [COLUMN_TYPE.TINY, 1],
  [COLUMN_TYPE.SHORT, 2],
  [COLUMN_TYPE.YEAR, 2],
  [COLUMN_TYPE.LONG, 4],
  [COLUMN_TYPE.INT24, 4],
  [COLUMN_TYPE.FLOAT, 4],
  [COLUMN_TYPE.LONGLONG, 8],
  [COLUMN_TYPE.DOUBLE, 8],
  [COLUMN_TYPE.DATE, -1],
  [COLUMN_TYPE.DATETIME, -1],
  [COLUMN_TYPE.TIMESTAMP, -1],
  [COLUMN_TYPE.NEWDATE, -1],
  [COLUMN_TYPE.TIME, -1],
  [COLUMN_TYPE.DECIMAL, 0],
  [COLUMN_TYPE.NEWDECIMAL, 0],
  [COLUMN_TYPE.VARCHAR, 0],
  [COLUMN_TYPE.BIT, 0],
  [COLUMN_TYPE.JSON, 0],
  [COLUMN_TYPE.ENUM, 0],
  [COLUMN_TYPE.SET, 0],
  [COLUMN_TYPE.TINY_BLOB, 0],
  [COLUMN_TYPE.MEDIUM_BLOB, 0],
  [COLUMN_TYPE.LONG_BLOB, 0],
  [COLUMN_TYPE.BLOB, 0],
  [COLUMN_TYPE.VAR_STRING, 0],
  [COLUMN_TYPE.STRING, 0],
  [COLUMN_TYPE.GEOMETRY, 0],
]);

/** Bytes of the NULL bitmap of a binary row with `columns` columns (offset 2). */
export function nullBitmapBytes(columns: number): number {
  return (columns + 7 + 2) >> 3;
}

export function locateBinaryRow(payload: Buffer, types: readonly number[], spans: RowSpans): void {
  const columns = types.length;
  const bitmap = nullBitmapBytes(columns);
  if (payload[0] !== 0x00 || payload.length < 1 + bitmap)
    throw new MysqlProtocolViolation("a binary row without its header and NULL bitmap");
  let at = 1 + bitmap;
  for (let i = 0; i < columns; i++) {
    const bit = i + 2;
    if ((payload[1 + (bit >> 3)]! & (1 << (bit & 7))) !== 0) {
      spans[3 * i] = -1;
      continue;
    }
    const width = BINARY_WIDTH.get(types[i]!);
    if (width === undefined)
      throw new MysqlProtocolViolation(`a binary row holds a value of unknown type ${types[i]}`);
    let dataStart: number;
    let dataEnd: number;
    if (width > 0) {
      dataStart = at;
      dataEnd = at + width;
    } else if (width === -1) {
      if (at >= payload.length) throw new MysqlProtocolViolation("a binary row is truncated");
      dataStart = at + 1;
      dataEnd = dataStart + payload[at]!;
    } else {
      const [length, prefix] = lenencAt(payload, at);
      dataStart = at + prefix;
      dataEnd = dataStart + length;
    }
    if (dataEnd > payload.length) throw new MysqlProtocolViolation("a binary row value runs past the row");
    spans[3 * i] = at;
    spans[3 * i + 1] = dataStart;
    spans[3 * i + 2] = dataEnd;
    at = dataEnd;
  }
  if (at !== payload.length) throw new MysqlProtocolViolation("a binary row has bytes after its last value");
}

/**
 * A binary row with replacements: a Buffer replaces the data of a length-encoded value (only those may be
 * given one), null sets the value's NULL bit and drops its bytes.
 */
export function rebuildBinaryRow(
  payload: Buffer,
  types: readonly number[],
  spans: RowSpans,
  replaced: RowReplacements,
): Buffer {
  const columns = types.length;
  const bitmapLength = nullBitmapBytes(columns);
  const bitmap = Buffer.from(payload.subarray(1, 1 + bitmapLength));
  const parts: Buffer[] = [Buffer.of(0x00), bitmap];
  for (let i = 0; i < columns; i++) {
    const start = spans[3 * i]!;
    if (start === -1) continue;
    const value = replaced[i];
    if (value === undefined) parts.push(payload.subarray(start, spans[3 * i + 2]!));
    else if (value === null) {
      const bit = i + 2;
      bitmap[bit >> 3]! |= 1 << (bit & 7);
    } else {
      if (BINARY_WIDTH.get(types[i]!) !== 0)
        throw new MysqlProtocolViolation("only a length-encoded binary value can be replaced by bytes");
      parts.push(new PayloadWriter().lenencString(value).build());
    }
  }
  return Buffer.concat(parts);
}

/** A length-encoded integer at `at`: its value and the bytes it takes. */
function lenencAt(payload: Buffer, at: number): [number, number] {
  const first = payload[at];
  if (first === undefined) throw new MysqlProtocolViolation("a row is truncated");
  if (first < 0xfb) return [first, 1];
  if (first === 0xfc && at + 3 <= payload.length) return [payload.readUInt16LE(at + 1), 3];
  if (first === 0xfd && at + 4 <= payload.length) return [payload.readUIntLE(at + 1, 3), 4];
  if (first === 0xfe && at + 9 <= payload.length) {
    const value = payload.readBigUInt64LE(at + 1);
    if (value > BigInt(payload.length)) throw new MysqlProtocolViolation("a row value runs past the row");
    return [Number(value), 9];
  }
  throw new MysqlProtocolViolation("a row holds an invalid length");
}
