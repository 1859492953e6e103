/**
 * Cuts a MySQL byte stream into messages: 3-byte little-endian payload length, 1-byte sequence id, payload. A
 * payload of exactly 0xFFFFFF bytes continues in the next packet (16 MiB continuation); the message ends at the
 * first shorter packet. Pure and synchronous, bounded, and once out of sync it stays out of sync (no guessing).
 */
import { LatchError } from "../../errors.js";

/**
 * One logical message: every fragment joined. `raw` is the exact bytes of all its packets, for forwarding;
 * both are views into the pushed chunks (or the reader's own buffer), stable for as long as they are held.
 */
export interface MysqlMessage {
  /** Sequence id of the first packet. */
  readonly sequenceId: number;
  /** Sequence id of the last packet (the next packet in the exchange carries this + 1). */
  readonly lastSequenceId: number;
  readonly payload: Buffer;
  readonly raw: Buffer;
}

export const MAX_PACKET_PAYLOAD = 0xffffff;
const HEADER_BYTES = 4;
const EMPTY = Buffer.alloc(0);

export class MysqlProtocolViolation extends LatchError {
  constructor(readonly reason: string) {
    super("protocol_violation", { reason });
    this.name = "MysqlProtocolViolation";
  }
}

export interface PacketReaderOptions {
  /** Largest payload of one logical message (all its continuation packets together). */
  readonly maxMessageBytes: number;
}

export class PacketReader {
  private readonly maxMessageBytes: number;
  private buffer: Buffer = EMPTY;
  private offset = 0;
  private end = 0;
  private ownsBuffer = false;
  private failure: MysqlProtocolViolation | undefined;
  /** What the last complete scan() found (fields, not an object: scan runs twice for every packet). */
  private scannedFragments = 0;
  private scannedBytes = 0;
  private scannedPayload = 0;

  constructor(options: PacketReaderOptions) {
    if (!Number.isInteger(options.maxMessageBytes) || options.maxMessageBytes < 1)
      throw new RangeError("maxMessageBytes must be a positive integer");
    this.maxMessageBytes = options.maxMessageBytes;
  }

  /** Bytes held but not yet returned. */
  get buffered(): number {
    return this.end - this.offset;
  }

  /**
   * Adds bytes. The bytes of a message once returned are never written again (the reader only appends past
   * what it holds, or moves to a new buffer, and a pushed chunk is never written to), so a message may be kept
   * and forwarded as it is, without a copy, across later pushes; the chunk must not be changed by the caller.
   */
  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    const leftover = this.end - this.offset;
    if (leftover === 0) {
      this.buffer = chunk;
      this.offset = 0;
      this.end = chunk.length;
      this.ownsBuffer = false;
    } else {
      this.append(chunk, leftover);
    }
    // Judge every fragment header now visible, before the caller can push more body bytes.
    this.scan();
  }

  /** The next complete message, or undefined when more bytes are needed. */
  next(): MysqlMessage | undefined {
    if (this.failure) throw this.failure;
    if (!this.scan()) {
      if (this.end === this.offset) this.release();
      return undefined;
    }
    const fragments = this.scannedFragments;
    const totalBytes = this.scannedBytes;
    const payloadBytes = this.scannedPayload;
    const raw = this.buffer.subarray(this.offset, this.offset + totalBytes);
    let payload: Buffer;
    if (fragments === 1) payload = raw.subarray(HEADER_BYTES);
    else {
      payload = Buffer.allocUnsafe(payloadBytes);
      let at = 0;
      let pos = 0;
      while (at < payloadBytes || pos < totalBytes) {
        const length = raw.readUIntLE(pos, 3);
        raw.copy(payload, at, pos + HEADER_BYTES, pos + HEADER_BYTES + length);
        at += length;
        pos += HEADER_BYTES + length;
      }
    }
    const sequenceId = raw[3]!;
    this.offset += totalBytes;
    return { sequenceId, lastSequenceId: (sequenceId + fragments - 1) & 0xff, payload, raw };
  }

  /**
   * For a relay that forwards packets unchanged without a message object for each: the payload length of the
   * next message when it is complete and one packet (its header at `position` of `bytes`), -1 when more bytes
   * are needed, -2 when it spans continuation packets (read it with next()). Consumes nothing; throws as next().
   */
  peekPacket(): number {
    if (this.failure) throw this.failure;
    if (!this.scan()) return -1;
    return this.scannedFragments === 1 ? this.scannedPayload : -2;
  }

  /** The buffer the next message lies in (see peekPacket); its bytes up to `position + buffered` are final. */
  get bytes(): Buffer {
    return this.buffer;
  }

  /** Where the next message starts in `bytes`. */
  get position(): number {
    return this.offset;
  }

  /**
   * Consumes `count` bytes: whole packets peekPacket found complete. Like a message next() returned, they are
   * never written again, so a view of them may be kept and forwarded.
   */
  skip(count: number): void {
    if (count < 0 || count > this.end - this.offset) throw new RangeError("skip past the buffered bytes");
    this.offset += count;
    if (this.offset === this.end) this.release();
  }

  /**
   * Walks the fragment headers of the pending message: false while incomplete, true with the scanned* fields
   * set once complete; throws (sticky) when the declared total exceeds the cap or sequence ids within the
   * message do not follow each other.
   */
  private scan(): boolean {
    let pos = this.offset;
    let payloadBytes = 0;
    let fragments = 0;
    let firstSequence = -1;
    for (;;) {
      if (this.end - pos < HEADER_BYTES) return false;
      const buffer = this.buffer;
      const length = buffer[pos]! | (buffer[pos + 1]! << 8) | (buffer[pos + 2]! << 16);
      const sequence = buffer[pos + 3]!;
      if (firstSequence === -1) firstSequence = sequence;
      else if (sequence !== ((firstSequence + fragments) & 0xff))
        this.fail(
          `continuation packet has sequence id ${sequence}, expected ${(firstSequence + fragments) & 0xff}`,
        );
      payloadBytes += length;
      fragments++;
      if (payloadBytes > this.maxMessageBytes)
        this.fail(`message of at least ${payloadBytes} bytes exceeds the limit of ${this.maxMessageBytes}`);
      pos += HEADER_BYTES + length;
      if (this.end < pos) return false;
      if (length < MAX_PACKET_PAYLOAD) {
        this.scannedFragments = fragments;
        this.scannedBytes = pos - this.offset;
        this.scannedPayload = payloadBytes;
        return true;
      }
    }
  }

  private fail(reason: string): never {
    this.failure = new MysqlProtocolViolation(reason);
    this.release();
    throw this.failure;
  }

  private append(chunk: Buffer, leftover: number): void {
    const needed = leftover + chunk.length;
    if (this.ownsBuffer && this.buffer.length - this.end >= chunk.length) {
      chunk.copy(this.buffer, this.end);
      this.end += chunk.length;
      return;
    }
    // Never moved down within the old buffer: messages already returned may still point into it (see push).
    // Doubling keeps a trickling message linear; the cap checked in scan() bounds the total.
    const limit =
      this.maxMessageBytes + HEADER_BYTES * (1 + Math.ceil(this.maxMessageBytes / MAX_PACKET_PAYLOAD));
    const grown = Buffer.allocUnsafe(Math.max(needed, Math.min(2 * leftover, limit)));
    this.buffer.copy(grown, 0, this.offset, this.end);
    this.buffer = grown;
    this.ownsBuffer = true;
    chunk.copy(this.buffer, leftover);
    this.offset = 0;
    this.end = needed;
  }

  /** Hands back what is buffered (for a reader that replaces this one after a TLS upgrade) and empties it. */
  drain(): Buffer {
    const rest = Buffer.from(this.buffer.subarray(this.offset, this.end));
    this.release();
    return rest;
  }

  private release(): void {
    this.buffer = EMPTY;
    this.offset = 0;
    this.end = 0;
    this.ownsBuffer = false;
  }
}
