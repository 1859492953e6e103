/**
 * A reusable byte buffer that strings are written into as UTF-8, for code that turns a few strings into bytes
 * and hands them on synchronously (hashing, one write(2)). Concatenating the strings first would make V8 flatten
 * the joined string into a new heap copy (twice per audit event: the hash input and the journal line); writing
 * the pieces one by one into this buffer allocates nothing on the V8 heap. The bytes are valid only until the
 * next `reset`: use one scratch per purpose and never keep `bytes()` across an await.
 */
/** Strings up to this long are copied in JavaScript when ASCII: the native encoder's call costs more. */
const SHORT = 16;

/**
 * What JSON.stringify escapes in a string: quote, backslash, control characters; any surrogate too, paired or
 * not (JSON.stringify then keeps a pair and escapes a lone one). Matched natively.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters JSON.stringify escapes.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

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
    if (text.length <= SHORT && this.appendAscii(text)) return this;
    this.length += this.buffer.write(text, this.length, "utf8");
    return this;
  }

  /**
   * `text` as JSON.stringify would quote it, without building the quoted string: the pieces of an audit line
   * (hashes, times, kinds, session ids) need no escape, and one that does goes through JSON.stringify.
   */
  appendJsonString(text: string): this {
    if (NEEDS_ESCAPE.test(text)) return this.append(JSON.stringify(text));
    return this.appendByte(0x22).append(text).appendByte(0x22);
  }

  /** `String(value)`, written digit by digit for a non-negative safe integer (a seq), without a string. */
  appendNumber(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) return this.append(String(value));
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    this.reserve(digits);
    const end = this.length + digits;
    let rest = value;
    for (let at = end - 1; at >= this.length; at--) {
      this.buffer[at] = 0x30 + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    this.length = end;
    return this;
  }

  appendByte(byte: number): this {
    this.reserve(1);
    this.buffer[this.length++] = byte;
    return this;
  }

  /** Bytes written since the last reset. */
  get size(): number {
    return this.length;
  }

  /** Leaves `count` bytes to be filled later by `writeAsciiAt`; returns where they start. */
  skip(count: number): number {
    this.reserve(count);
    const at = this.length;
    this.length += count;
    return at;
  }

  /** Writes the all-ASCII `text` at `at`, over bytes already written or skipped (a hex hash into its gap). */
  writeAsciiAt(at: number, text: string): this {
    if (at + text.length > this.length) throw new RangeError("utf8 scratch: write past the bytes written");
    this.buffer.write(text, at, text.length, "latin1");
    return this;
  }

  /** Copies bytes `start` to `end` of `source` (as written there): the same bytes, not encoded again. */
  appendCopy(source: Utf8Scratch, start: number, end: number): this {
    this.reserve(end - start);
    this.length += source.buffer.copy(this.buffer, this.length, start, end);
    return this;
  }

  /** The bytes written since the last reset (a view, not a copy). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** Writes a short all-ASCII `text` byte by byte (cheaper than a call into the encoder); false if it is not. */
  private appendAscii(text: string): boolean {
    const buffer = this.buffer;
    const start = this.length;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) return false;
      buffer[start + i] = code;
    }
    this.length = start + text.length;
    return true;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}
