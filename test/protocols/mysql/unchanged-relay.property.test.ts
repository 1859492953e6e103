/**
 * The relay of a result without masking (server-relay.ts) walks packets in the reader's bytes and judges most
 * from their first byte (ResponseTracker.pushAt, PacketReader.peekPacket/skip) instead of a message each: held
 * here to the general path (next() and push) on arbitrary payload sequences, however the bytes are cut.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CAPABILITY, GATEWAY_CAPABILITIES } from "../../../src/protocols/mysql/capabilities.js";
import { PacketReader } from "../../../src/protocols/mysql/packet-reader.js";
import { encodePacket } from "../../../src/protocols/mysql/packet-writer.js";
import { ResponseTracker } from "../../../src/protocols/mysql/response-tracker.js";

type Outcome = { kinds: string[]; summary: unknown; error?: string; relayed: Buffer };

/** Payloads through next()/push, each message's raw bytes relayed: the reference. */
function general(capabilities: number, bytes: Buffer, cuts: number[]): Outcome {
  const reader = new PacketReader({ maxMessageBytes: 1 << 20 });
  const tracker = new ResponseTracker(capabilities);
  const kinds: string[] = [];
  const relayed: Buffer[] = [];
  try {
    for (const chunk of pieces(bytes, cuts)) {
      reader.push(chunk);
      for (let message = reader.next(); message !== undefined; message = reader.next()) {
        const done = tracker.push(message.payload);
        kinds.push(tracker.kind);
        relayed.push(Buffer.from(message.raw));
        if (done !== undefined) return { kinds, summary: done, relayed: Buffer.concat(relayed) };
      }
    }
  } catch (error) {
    return { kinds, summary: undefined, error: (error as Error).message, relayed: Buffer.concat(relayed) };
  }
  return { kinds, summary: undefined, relayed: Buffer.concat(relayed) };
}

/** The same through peekPacket/pushAt/skip, runs relayed as one view each. */
function unchanged(capabilities: number, bytes: Buffer, cuts: number[]): Outcome {
  const reader = new PacketReader({ maxMessageBytes: 1 << 20 });
  const tracker = new ResponseTracker(capabilities);
  const kinds: string[] = [];
  const relayed: Buffer[] = [];
  try {
    for (const chunk of pieces(bytes, cuts)) {
      reader.push(chunk);
      const view = reader.bytes;
      const start = reader.position;
      let at = start;
      let done: unknown;
      try {
        for (let length = reader.peekPacket(); length >= 0; length = reader.peekPacket()) {
          done = tracker.pushAt(view, at + 4, length);
          kinds.push(tracker.kind);
          at += 4 + length;
          reader.skip(4 + length);
          if (done !== undefined) break;
        }
      } finally {
        relayed.push(Buffer.from(view.subarray(start, at)));
      }
      if (done !== undefined) return { kinds, summary: done, relayed: Buffer.concat(relayed) };
    }
  } catch (error) {
    return { kinds, summary: undefined, error: (error as Error).message, relayed: Buffer.concat(relayed) };
  }
  return { kinds, summary: undefined, relayed: Buffer.concat(relayed) };
}

function pieces(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    if (point > from) out.push(bytes.subarray(from, point));
    from = point;
  }
  return out;
}

/** Payloads a result is made of: column counts (small and length-encoded), rows, OK, EOF, ERR, odd bytes. */
const payload = fc.oneof(
  fc.integer({ min: 1, max: 4 }).map((n) => Buffer.from([n])),
  fc.uint8Array({ minLength: 0, maxLength: 12 }).map((b) => Buffer.from(b)),
  fc.constant(Buffer.from([0xfe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00])),
  fc.constant(Buffer.from([0xfe, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00])),
  fc.constant(Buffer.from([0xfe, 0x00, 0x00, 0x02, 0x00])),
  fc.constant(Buffer.from([0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00])),
  fc.constant(Buffer.from([0xff, 0x15, 0x04, 0x23, 0x34, 0x32, 0x30, 0x30, 0x30, 0x78])),
  fc.constant(Buffer.from([0xfc, 0x02, 0x00])),
  fc.uint8Array({ minLength: 9, maxLength: 20 }).map((b) => Buffer.from([0xfe, ...b])),
);

describe("relay of unchanged packets", () => {
  it("tracks, ends and relays every answer as the general path does, however the bytes are cut", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(payload, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(400), { maxLength: 6 }),
        (deprecateEof, payloads, cuts) => {
          const capabilities = deprecateEof
            ? GATEWAY_CAPABILITIES
            : GATEWAY_CAPABILITIES & ~CAPABILITY.DEPRECATE_EOF;
          const bytes = Buffer.concat(payloads.map((p, i) => encodePacket(p, (i + 1) & 0xff)));
          const expected = general(capabilities, bytes, cuts);
          const actual = unchanged(capabilities, bytes, cuts);
          expect(actual.kinds).toEqual(expected.kinds);
          expect(actual.summary).toEqual(expected.summary);
          expect(actual.error).toEqual(expected.error);
          expect(actual.relayed.equals(expected.relayed)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("leaves a message in continuation packets to next() (peekPacket -2) and consumes nothing for it", () => {
    const reader = new PacketReader({ maxMessageBytes: 1 << 25 });
    reader.push(encodePacket(Buffer.alloc(0xffffff + 3, 0x41), 1));
    const position = reader.position;
    expect(reader.peekPacket()).toBe(-2);
    expect(reader.position).toBe(position);
    expect(reader.next()?.payload.length).toBe(0xffffff + 3);
    expect(reader.peekPacket()).toBe(-1);
  });
});
