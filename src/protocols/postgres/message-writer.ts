/**
 * A small growable writer for PostgreSQL messages: begin() reserves the header, end() fills in the length.
 * Encoders refuse values the wire cannot carry instead of emitting a truncated or wrapped field.
 */

/** An encoder was handed a value the protocol cannot represent (a NUL inside a string, a count over 65535...). */
export class UnencodableValue extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnencodableValue";
  }
}

const INT16_MAX_UNSIGNED = 0xffff;

export class MessageWriter {
  private buffer: Buffer;
  private size = 0;
  /** Where the open message's length field starts, or -1 when no message is open. */
  private lengthAt = -1;

  constructor(initialCapacity = 64) {
    this.buffer = Buffer.allocUnsafe(initialCapacity);
  }

  /** Opens a message. `type` is the type byte, or undefined for startup-phase packets that have none. */
  begin(type: number | undefined): this {
    if (this.lengthAt !== -1) throw new Error("MessageWriter: begin() called while a message is open");
    if (type !== undefined) this.uint8(type);
    this.lengthAt = this.size;
    this.ensure(4);
    this.size += 4; // filled by end()
    return this;
  }

  /** Closes the open message by writing its length (which counts itself but not the type byte). */
  end(): this {
    if (this.lengthAt === -1) throw new Error("MessageWriter: end() called with no open message");
    this.buffer.writeInt32BE(this.size - this.lengthAt, this.lengthAt);
    this.lengthAt = -1;
    return this;
  }

  uint8(value: number): this {
    this.checkRange(value, 0, 0xff, "byte");
    this.ensure(1);
    this.buffer[this.size++] = value;
    return this;
  }

  /** Counts and format codes: PostgreSQL reads them as unsigned 16-bit. */
  uint16(value: number): this {
    this.checkRange(value, 0, INT16_MAX_UNSIGNED, "int16");
    this.ensure(2);
    this.buffer.writeUInt16BE(value, this.size);
    this.size += 2;
    return this;
  }

  int16(value: number): this {
    this.checkRange(value, -0x8000, 0x7fff, "int16");
    this.ensure(2);
    this.buffer.writeInt16BE(value, this.size);
    this.size += 2;
    return this;
  }

  int32(value: number): this {
    this.checkRange(value, -0x80000000, 0x7fffffff, "int32");
    this.ensure(4);
    this.buffer.writeInt32BE(value, this.size);
    this.size += 4;
    return this;
  }

  /** OIDs are unsigned 32-bit on the wire. */
  uint32(value: number): this {
    this.checkRange(value, 0, 0xffffffff, "uint32");
    this.ensure(4);
    this.buffer.writeUInt32BE(value, this.size);
    this.size += 4;
    return this;
  }

  /** A UTF-8 string with its NUL terminator. A NUL inside would end the field early on the other side. */
  cstring(value: string, what: string): this {
    if (value.includes("\0")) throw new UnencodableValue(`${what} contains a NUL character`);
    const length = Buffer.byteLength(value, "utf8");
    this.ensure(length + 1);
    this.size += this.buffer.write(value, this.size, length, "utf8");
    this.buffer[this.size++] = 0;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.ensure(value.length);
    this.buffer.set(value, this.size);
    this.size += value.length;
    return this;
  }

  /** The bytes written so far. The writer must not be used afterwards (the result shares its memory). */
  finish(): Buffer {
    if (this.lengthAt !== -1) throw new Error("MessageWriter: finish() called with a message still open");
    return this.buffer.subarray(0, this.size);
  }

  private ensure(extra: number): void {
    const needed = this.size + extra;
    if (needed <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.size);
    this.buffer = grown;
  }

  private checkRange(value: number, min: number, max: number, what: string): void {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new UnencodableValue(`${value} does not fit the ${what} range ${min}..${max}`);
    }
  }
}

/** Builds one complete message; the callback writes the body. */
export function buildMessage(
  type: number | undefined,
  writeBody: (writer: MessageWriter) => void,
  capacityHint = 64,
): Buffer {
  const writer = new MessageWriter(capacityHint);
  writer.begin(type);
  writeBody(writer);
  return writer.end().finish();
}

/** Type byte of a message from its protocol letter. */
export function typeCode(letter: string): number {
  return letter.charCodeAt(0);
}
