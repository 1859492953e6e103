import { scrubBytes } from "./secret-scrubber.js";

/**
 * What the upstream sends on a relayed WebSocket, with the injected secret scrubbed (docs/http.md, "WebSockets").
 * An upstream can reflect the credential it received in its 101 headers or in a frame (an echo service, a
 * debug message), so nothing from it reaches the caller unread:
 *
 * - the response head (up to the blank line) is scrubbed as text; a head over HEAD_LIMIT is refused;
 * - frames (RFC 6455 5.2) are decoded; a message's fragments are joined (up to `messageLimit`), the whole
 *   message is scrubbed and sent as one unfragmented frame, so a secret split across fragments or TCP reads is
 *   still found; control frames (ping, pong, close) are scrubbed too;
 * - anything Latch cannot read is refused, never passed: compressed frames (RSV bits; Latch does not offer
 *   permessage-deflate), masked server frames, unknown opcodes, a frame or message over the limit, and a
 *   response other than 101 (its body is not frames).
 *
 * Pure: bytes in, bytes out or a refusal; the relay owns the sockets.
 */
export type ScrubOutcome =
  | { readonly ok: true; readonly out: readonly Buffer[] }
  | { readonly ok: false; readonly reason: string };

const HEAD_LIMIT = 32 * 1024;
const CONTROL_PAYLOAD_MAX = 125;
const DATA_OPCODES = new Set([0x1, 0x2]);
const CONTROL_OPCODES = new Set([0x8, 0x9, 0xa]);

export class WebSocketScrubber {
  private buffered: Buffer = Buffer.alloc(0);
  private headDone = false;
  private message: { opcode: number; parts: Buffer[]; size: number } | undefined;
  private readonly needles: Buffer[];

  constructor(
    secrets: readonly string[],
    private readonly messageLimit: number,
  ) {
    this.needles = secrets
      .filter((s) => s.length >= 4)
      .map((s) => Buffer.from(s))
      .sort((a, b) => b.length - a.length);
  }

  /** Feeds bytes from the upstream; returns what may go to the client now. */
  push(chunk: Buffer): ScrubOutcome {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const out: Buffer[] = [];
    if (!this.headDone) {
      const end = this.buffered.indexOf("\r\n\r\n");
      if (end === -1) {
        if (this.buffered.length > HEAD_LIMIT) return refuse("the upstream's response head is too large");
        return { ok: true, out };
      }
      const head = this.buffered.subarray(0, end + 4);
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(head.toString("latin1"))?.[1];
      if (status !== "101")
        return refuse(`the upstream did not switch protocols (status ${status ?? "unreadable"})`);
      if (/^sec-websocket-extensions:/im.test(head.toString("latin1")))
        return refuse("the upstream negotiated a WebSocket extension Latch cannot read through");
      out.push(scrubBytes(head, this.needles));
      this.buffered = this.buffered.subarray(end + 4);
      this.headDone = true;
    }
    for (;;) {
      const frame = readFrame(this.buffered, this.messageLimit);
      if (frame === "more") break;
      if (typeof frame === "string") return refuse(frame);
      this.buffered = this.buffered.subarray(frame.length);
      const emitted = this.frame(frame);
      if (typeof emitted === "string") return refuse(emitted);
      if (emitted !== undefined) out.push(emitted);
    }
    return { ok: true, out };
  }

  private frame(frame: Frame): Buffer | string | undefined {
    if (CONTROL_OPCODES.has(frame.opcode)) {
      if (!frame.fin || frame.payload.length > CONTROL_PAYLOAD_MAX) return "a malformed control frame";
      let payload = scrubBytes(frame.payload, this.needles);
      if (payload.length > CONTROL_PAYLOAD_MAX) payload = payload.subarray(0, CONTROL_PAYLOAD_MAX);
      return encodeFrame(frame.opcode, payload);
    }
    if (frame.opcode === 0x0) {
      if (this.message === undefined) return "a continuation frame without a message";
    } else {
      if (!DATA_OPCODES.has(frame.opcode)) return `an unknown frame opcode ${frame.opcode}`;
      if (this.message !== undefined) return "a new message inside a fragmented one";
      this.message = { opcode: frame.opcode, parts: [], size: 0 };
    }
    const message = this.message;
    message.size += frame.payload.length;
    if (message.size > this.messageLimit)
      return `a message larger than the inspect_limit of ${this.messageLimit} bytes`;
    message.parts.push(frame.payload);
    if (!frame.fin) return undefined;
    this.message = undefined;
    return encodeFrame(message.opcode, scrubBytes(Buffer.concat(message.parts), this.needles));
  }
}

interface Frame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
  /** Bytes the frame took, header included. */
  readonly length: number;
}

/** One server frame from the front of `bytes`: "more" when incomplete, a reason when it cannot be read. */
function readFrame(bytes: Buffer, limit: number): Frame | "more" | string {
  if (bytes.length < 2) return "more";
  const first = bytes[0]!;
  const second = bytes[1]!;
  if ((first & 0x70) !== 0) return "a compressed or extended frame (RSV bits set)";
  if ((second & 0x80) !== 0) return "a masked frame from the server";
  let length = second & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return "more";
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return "more";
    const big = bytes.readBigUInt64BE(2);
    length = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
    offset = 10;
  }
  // Checked before buffering it: a declared length over the limit is refused at once.
  if (length > limit) return `a frame larger than the inspect_limit of ${limit} bytes`;
  if (bytes.length < offset + length) return "more";
  return {
    fin: (first & 0x80) !== 0,
    opcode: first & 0x0f,
    payload: bytes.subarray(offset, offset + length),
    length: offset + length,
  };
}

/** An unmasked, unfragmented server frame. */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x80 | opcode, length])
      : length < 65536
        ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
  return Buffer.concat([header, payload]);
}

function bigLength(length: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(length));
  return out;
}

function refuse(reason: string): ScrubOutcome {
  return { ok: false, reason };
}
