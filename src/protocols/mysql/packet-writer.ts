/** Frames a payload as MySQL packets: split at 0xFFFFFF, an empty packet after an exact multiple. */
import { MAX_PACKET_PAYLOAD } from "./packet-reader.js";

export function encodePacket(payload: Buffer, sequenceId: number): Buffer {
  const fragments = Math.floor(payload.length / MAX_PACKET_PAYLOAD) + 1;
  const out = Buffer.allocUnsafe(payload.length + 4 * fragments);
  let at = 0;
  for (let i = 0; i < fragments; i++) {
    const start = i * MAX_PACKET_PAYLOAD;
    const length = Math.min(MAX_PACKET_PAYLOAD, payload.length - start);
    out.writeUIntLE(length, at, 3);
    out[at + 3] = (sequenceId + i) & 0xff;
    payload.copy(out, at + 4, start, start + length);
    at += 4 + length;
  }
  return out;
}

/** Sequence id after a packet written with `sequenceId` (continuations included). */
export function nextSequenceId(payloadLength: number, sequenceId: number): number {
  return (sequenceId + Math.floor(payloadLength / MAX_PACKET_PAYLOAD) + 1) & 0xff;
}

/**
 * Builds a payload: fixed integers little-endian, length-encoded integers and strings, NUL-terminated strings.
 */
export class PayloadWriter {
  private parts: Buffer[] = [];

  u8(value: number): this {
    this.parts.push(Buffer.from([value & 0xff]));
    return this;
  }

  u16(value: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16LE(value);
    this.parts.push(b);
    return this;
  }

  u32(value: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(value >>> 0);
    this.parts.push(b);
    return this;
  }

  bytes(value: Buffer | Uint8Array): this {
    this.parts.push(Buffer.from(value));
    return this;
  }

  zeros(count: number): this {
    this.parts.push(Buffer.alloc(count));
    return this;
  }

  nulString(value: string | Buffer): this {
    this.parts.push(typeof value === "string" ? Buffer.from(value, "utf8") : value, Buffer.from([0]));
    return this;
  }

  lenencInt(value: number): this {
    if (value < 251) return this.u8(value);
    if (value < 0x10000) return this.u8(0xfc).u16(value);
    if (value < 0x1000000) {
      const b = Buffer.allocUnsafe(4);
      b[0] = 0xfd;
      b.writeUIntLE(value, 1, 3);
      this.parts.push(b);
      return this;
    }
    const b = Buffer.allocUnsafe(9);
    b[0] = 0xfe;
    b.writeBigUInt64LE(BigInt(value), 1);
    this.parts.push(b);
    return this;
  }

  lenencString(value: string | Buffer): this {
    const b = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    return this.lenencInt(b.length).bytes(b);
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}
