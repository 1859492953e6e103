/**
 * Cuts a PostgreSQL byte stream into frames, and reads frame bodies with bounds checks.
 *
 * Pure and synchronous: chunks in, complete frames out. Every declared length is checked against its cap as
 * soon as the header is visible, before any body byte is buffered, and once a length is invalid the reader is
 * out of sync for good: it never tries to resynchronise, because any guess would let a peer smuggle bytes.
 */
import { LatchError } from "../../errors.js";
import type { Frame } from "./messages.js";

/** The peer broke the protocol. Framing or decoding cannot continue safely; the reason names what was wrong. */
export class ProtocolViolation extends LatchError {
  readonly reason: string;

  constructor(reason: string) {
    super("protocol_violation", { reason });
    this.name = "ProtocolViolation";
    this.reason = reason;
  }
}

/** PostgreSQL's own cap on a startup packet (MAX_STARTUP_PACKET_LENGTH in pqcomm.h). */
export const MAX_STARTUP_PACKET_BYTES = 10_000;
/** A startup packet is at least its length and a request code or protocol version. */
export const MIN_STARTUP_PACKET_BYTES = 8;
/** A typed frame's length counts only itself when the body is empty. */
export const MIN_TYPED_LENGTH = 4;

const STARTUP_HEADER_BYTES = 4; // int32 length
const TYPED_HEADER_BYTES = 5; // type byte + int32 length
const EMPTY = Buffer.alloc(0);

export interface FrameReaderOptions {
  /** Largest declared length accepted for a typed frame (the length field counts itself, not the type byte). */
  readonly maxFrameBytes: number;
  /** True while the client may still send untyped startup-phase packets (SSLRequest, StartupMessage...). */
  readonly startup: boolean;
}

export class FrameReader {
  private readonly maxFrameBytes: number;
  private startup: boolean;
  /** Holds unread bytes in [offset, end). Either a pushed chunk (borrowed) or a buffer this reader allocated. */
  private buffer: Buffer = EMPTY;
  private offset = 0;
  private end = 0;
  /** A borrowed chunk belongs to the caller: it is never written into, only read and sliced. */
  private ownsBuffer = false;
  private failure: ProtocolViolation | undefined;

  constructor(options: FrameReaderOptions) {
    if (!Number.isInteger(options.maxFrameBytes) || options.maxFrameBytes < MIN_TYPED_LENGTH) {
      throw new RangeError(`maxFrameBytes must be an integer >= ${MIN_TYPED_LENGTH}`);
    }
    this.maxFrameBytes = options.maxFrameBytes;
    this.startup = options.startup;
  }

  /** Bytes held but not yet returned as frames. */
  get buffered(): number {
    return this.end - this.offset;
  }

  /** Type byte of the next typed frame once its first byte has arrived (undefined before, or in startup mode). */
  peekType(): number | undefined {
    return this.startup || this.end === this.offset ? undefined : this.buffer[this.offset];
  }

  /**
   * Adds bytes from the stream. Frames returned by next() before this call become invalid (their memory may be
   * reused), so consume them first. Throws the reader's ProtocolViolation once it is out of sync, or a new one
   * when these bytes complete the header of a frame whose length is invalid.
   */
  push(chunk: Buffer): void {
    this.throwIfOutOfSync();
    if (chunk.length === 0) return;
    const leftover = this.end - this.offset;
    if (leftover === 0) {
      // Nothing pending: read straight from the caller's chunk, no copy.
      this.buffer = chunk;
      this.offset = 0;
      this.end = chunk.length;
      this.ownsBuffer = false;
      return;
    }
    // A partial frame is pending: judge its header (which may straddle the two buffers) before keeping the body.
    this.checkPendingHeader(chunk);
    this.append(chunk, leftover);
  }

  /** The next complete frame, or undefined when more bytes are needed. Throws ProtocolViolation on a bad length. */
  next(): Frame | undefined {
    this.throwIfOutOfSync();
    const available = this.end - this.offset;
    const headerBytes = this.startup ? STARTUP_HEADER_BYTES : TYPED_HEADER_BYTES;
    if (available < headerBytes) {
      if (available === 0) this.release();
      return undefined;
    }
    const declared = this.buffer.readInt32BE(this.offset + headerBytes - 4);
    const frameBytes = this.frameBytesFor(declared);
    if (available < frameBytes) return undefined;
    const raw = this.buffer.subarray(this.offset, this.offset + frameBytes);
    const type = this.startup ? 0 : this.buffer[this.offset]!;
    this.offset += frameBytes;
    return { type, body: raw.subarray(headerBytes), raw };
  }

  /**
   * Switches to typed framing, after the StartupMessage. Bytes already buffered are read as typed frames: a
   * client may pipeline its first query behind the startup packet.
   */
  expectTyped(): void {
    this.startup = false;
  }

  private throwIfOutOfSync(): void {
    if (this.failure) throw this.failure;
  }

  /** Total frame size for a declared length, or a sticky ProtocolViolation. */
  private frameBytesFor(declared: number): number {
    if (this.startup) {
      const limit = Math.min(MAX_STARTUP_PACKET_BYTES, this.maxFrameBytes);
      if (declared < MIN_STARTUP_PACKET_BYTES) {
        this.fail(`startup packet length ${declared} is below the minimum ${MIN_STARTUP_PACKET_BYTES}`);
      }
      if (declared > limit) this.fail(`startup packet of ${declared} bytes exceeds the limit of ${limit}`);
      return declared;
    }
    if (declared < MIN_TYPED_LENGTH) {
      this.fail(`frame length ${declared} is below the minimum ${MIN_TYPED_LENGTH}`);
    }
    if (declared > this.maxFrameBytes) {
      this.fail(`frame of ${declared} bytes exceeds the limit of ${this.maxFrameBytes}`);
    }
    return declared + 1;
  }

  private fail(reason: string): never {
    this.failure = new ProtocolViolation(reason);
    this.release();
    throw this.failure;
  }

  /**
   * Validates the pending frame's header once the new chunk completes it, before merging anything, so a bad
   * length is refused even by a caller that pushes again without calling next() first.
   */
  private checkPendingHeader(chunk: Buffer): void {
    const leftover = this.end - this.offset;
    const headerBytes = this.startup ? STARTUP_HEADER_BYTES : TYPED_HEADER_BYTES;
    if (leftover + chunk.length < headerBytes) return;
    let declared = 0;
    for (let i = headerBytes - 4; i < headerBytes; i++) {
      const byte = i < leftover ? this.buffer[this.offset + i]! : chunk[i - leftover]!;
      declared = (declared << 8) | byte; // `| byte` keeps int32 semantics, so a set top bit reads as negative
    }
    this.frameBytesFor(declared);
  }

  /** Appends to the pending bytes, copying only the leftover partial frame and never writing a borrowed chunk. */
  private append(chunk: Buffer, leftover: number): void {
    const needed = leftover + chunk.length;
    if (this.ownsBuffer && this.buffer.length - this.end >= chunk.length) {
      chunk.copy(this.buffer, this.end);
      this.end += chunk.length;
      return;
    }
    if (this.ownsBuffer && this.buffer.length >= needed) {
      this.buffer.copy(this.buffer, 0, this.offset, this.end);
    } else {
      // Doubling keeps a frame that trickles in over many small chunks linear; the caps above bound the total.
      const grown = Buffer.allocUnsafe(Math.max(needed, Math.min(2 * leftover, this.pendingLimit())));
      this.buffer.copy(grown, 0, this.offset, this.end);
      this.buffer = grown;
      this.ownsBuffer = true;
    }
    chunk.copy(this.buffer, leftover);
    this.offset = 0;
    this.end = needed;
  }

  /** The most a single pending frame can need: growth beyond it is never speculative. */
  private pendingLimit(): number {
    return this.startup ? Math.min(MAX_STARTUP_PACKET_BYTES, this.maxFrameBytes) : this.maxFrameBytes + 1;
  }

  /** Drops the reference to a drained buffer so a large one is not kept alive by an idle connection. */
  private release(): void {
    this.buffer = EMPTY;
    this.offset = 0;
    this.end = 0;
    this.ownsBuffer = false;
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
/** Strings up to this many bytes are tried on the ASCII fast path before the native decoder. */
const SHORT_ASCII_BYTES = 32;

/**
 * A cursor over one frame body. Every read checks the bounds first and reports a ProtocolViolation naming the
 * message, so a short or overlong body never turns into a RangeError or a silently wrong value.
 */
export class BodyReader {
  private cursor = 0;

  constructor(
    private readonly body: Buffer,
    /** Message name used in violation reasons, e.g. "Bind". */
    private readonly message: string,
  ) {}

  get remaining(): number {
    return this.body.length - this.cursor;
  }

  uint8(): number {
    this.need(1, "a byte");
    return this.body[this.cursor++]!;
  }

  uint16(): number {
    this.need(2, "an int16");
    const value = this.body.readUInt16BE(this.cursor);
    this.cursor += 2;
    return value;
  }

  int32(): number {
    this.need(4, "an int32");
    const value = this.body.readInt32BE(this.cursor);
    this.cursor += 4;
    return value;
  }

  uint32(): number {
    this.need(4, "an int32");
    const value = this.body.readUInt32BE(this.cursor);
    this.cursor += 4;
    return value;
  }

  /** `length` bytes as a subarray of the body (no copy). */
  bytes(length: number): Buffer {
    if (length < 0) this.violate(`negative length ${length}`);
    this.need(length, `${length} bytes`);
    const value = this.body.subarray(this.cursor, this.cursor + length);
    this.cursor += length;
    return value;
  }

  /** Everything left, as a subarray (no copy). */
  rest(): Buffer {
    const value = this.body.subarray(this.cursor);
    this.cursor = this.body.length;
    return value;
  }

  /**
   * A NUL-terminated UTF-8 string. Invalid UTF-8 is a violation: a lossy decode would let the gateway inspect
   * different text from what the server runs. A leading BOM is kept for the same reason.
   */
  cstring(what: string): string {
    const ascii = this.shortAsciiCstring();
    if (ascii !== undefined) return ascii;
    const bytes = this.cstringBytes(what);
    try {
      return strictUtf8.decode(bytes);
    } catch {
      return this.violate(`${what} is not valid UTF-8`);
    }
  }

  /** A NUL-terminated string decoded leniently (U+FFFD for bad bytes), for text that is only displayed. */
  displayCstring(what: string): string {
    return lenientUtf8.decode(this.cstringBytes(what));
  }

  /** Fails unless the whole body was read: the server rejects trailing bytes, so the gateway must too. */
  end(): void {
    if (this.cursor !== this.body.length) {
      this.violate(`${this.body.length - this.cursor} unexpected trailing bytes`);
    }
  }

  violate(problem: string): never {
    throw new ProtocolViolation(`${this.message}: ${problem}`);
  }

  /**
   * Fast path for the common short ASCII names and tags (a native decode costs more than the string itself):
   * returns undefined, without moving the cursor, unless a NUL ends an all-ASCII run within a few bytes.
   */
  private shortAsciiCstring(): string | undefined {
    const body = this.body;
    const start = this.cursor;
    const limit = Math.min(body.length, start + SHORT_ASCII_BYTES);
    let nul = start;
    while (nul < limit && body[nul]! !== 0) {
      if (body[nul]! >= 0x80) return undefined;
      nul++;
    }
    if (nul === limit) return undefined;
    let text = "";
    for (let i = start; i < nul; i++) text += String.fromCharCode(body[i]!);
    this.cursor = nul + 1;
    return text;
  }

  private cstringBytes(what: string): Buffer {
    const nul = this.body.indexOf(0, this.cursor);
    if (nul === -1) this.violate(`${what} is missing its NUL terminator`);
    const bytes = this.body.subarray(this.cursor, nul);
    this.cursor = nul + 1;
    return bytes;
  }

  private need(count: number, what: string): void {
    if (this.body.length - this.cursor < count) {
      this.violate(`expected ${what} at offset ${this.cursor}, but only ${this.remaining} bytes remain`);
    }
  }
}
