/** Reads a MySQL payload with bounds checks: every read past the end throws a protocol violation. */
import { MysqlProtocolViolation } from "./packet-reader.js";

export class PayloadCursor {
  offset = 0;

  constructor(
    readonly payload: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.payload.length - this.offset;
  }

  private need(count: number): void {
    if (count < 0 || this.offset + count > this.payload.length)
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
    if (end === -1) throw new MysqlProtocolViolation(`${this.what}: string without terminator`);
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
