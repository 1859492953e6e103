/**
 * Reads a MySQL payload with bounds checks: every read past the end throws a protocol violation. The payload is
 * `payload` whole, or the window `start`..`end` of it: a packet read in place in the reader's bytes, with no
 * view made for it (the response tracker reads every answer's closing OK or EOF so). `offset` counts from the
 * start of `payload`, so with a window it starts at `start`.
 */
import { MysqlProtocolViolation } from "./packet-reader.js";

export class PayloadCursor {
  offset: number;

  constructor(
    readonly payload: Buffer,
    private readonly what: string,
    start = 0,
    /** Where the payload (the window) ends in `payload`. */
    readonly end = payload.length,
  ) {
    this.offset = start;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(count: number): void {
    if (count < 0 || this.offset + count > this.end)
      throw new MysqlProtocolViolation(`${this.what} is truncated`);
  }

  u8(): number {
    this.need(1);
    return this.payload[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const value = this.payload.readUInt16LE(this.offset);
    this.offset += 2;
    return value;
  }

  u24(): number {
    this.need(3);
    const value = this.payload.readUIntLE(this.offset, 3);
    this.offset += 3;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = this.payload.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  bytes(count: number): Buffer {
    this.need(count);
    const value = this.payload.subarray(this.offset, this.offset + count);
    this.offset += count;
    return value;
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  nulBytes(): Buffer {
    const end = this.payload.indexOf(0, this.offset);
    if (end === -1 || end >= this.end)
      throw new MysqlProtocolViolation(`${this.what}: string without terminator`);
    const value = this.payload.subarray(this.offset, end);
    this.offset = end + 1;
    return value;
  }

  nulString(): string {
    return this.nulBytes().toString("utf8");
  }

  /** A length-encoded integer; null for the NULL marker 0xFB (only meaningful in rows). */
  lenencInt(): number | null {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) {
      this.need(8);
      const value = this.payload.readBigUInt64LE(this.offset);
      this.offset += 8;
      if (value > BigInt(Number.MAX_SAFE_INTEGER))
        throw new MysqlProtocolViolation(`${this.what}: length-encoded integer too large`);
      return Number(value);
    }
    throw new MysqlProtocolViolation(`${this.what}: invalid length-encoded integer prefix 0xff`);
  }

  lenencBytes(): Buffer | null {
    const length = this.lenencInt();
    return length === null ? null : this.bytes(length);
  }

  lenencString(): string {
    const value = this.lenencBytes();
    if (value === null) throw new MysqlProtocolViolation(`${this.what}: unexpected NULL`);
    return value.toString("utf8");
  }
}
