/**
 * A reusable byte buffer that strings are written into as UTF-8, for code that turns a few strings into bytes
 * and hands them on synchronously (hashing, one write(2)). Concatenating the strings first would make V8 flatten
 * the joined string into a new heap copy (twice per audit event: the hash input and the journal line); writing
 * the pieces one by one into this buffer allocates nothing on the V8 heap. The bytes are valid only until the
 * next `reset`: use one scratch per purpose and never keep `bytes()` across an await.
 */
export class Utf8Scratch {
  private buffer: Buffer;
  private length = 0;

  constructor(initialBytes = 16 * 1024) {
    this.buffer = Buffer.allocUnsafeSlow(initialBytes);
  }

  reset(): this {
    this.length = 0;
    return this;
  }

  append(text: string): this {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair, 2 units, takes 4).
    this.reserve(text.length * 3);
    this.length += this.buffer.write(text, this.length, "utf8");
    return this;
  }

  appendByte(byte: number): this {
    this.reserve(1);
    this.buffer[this.length++] = byte;
    return this;
  }

  /** The bytes written since the last reset (a view, not a copy). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}
