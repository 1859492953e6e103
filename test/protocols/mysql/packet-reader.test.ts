import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MysqlProtocolViolation, PacketReader } from "../../../src/protocols/mysql/packet-reader.js";
import { encodePacket } from "../../../src/protocols/mysql/packet-writer.js";
import { naiveMessage, naivePacket } from "../../support/naive-mysql-bytes.js";
import { cut, splitPoints } from "../postgres/split-feed.js";

function drain(chunks: Buffer[], maxMessageBytes = 1 << 20) {
  const reader = new PacketReader({ maxMessageBytes });
  const out: { seq: number; last: number; payload: string; raw: string }[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let m = reader.next(); m !== undefined; m = reader.next())
      out.push({
        seq: m.sequenceId,
        last: m.lastSequenceId,
        payload: m.payload.toString("hex"),
        raw: m.raw.toString("hex"),
      });
  }
  return { out, leftover: reader.buffered };
}

const stream = Buffer.concat([
  naivePacket(0, [0x03, ...Buffer.from("SELECT 1")]),
  naivePacket(0, []),
  naivePacket(7, [0x0e]),
  naivePacket(255, Buffer.from("wrap")),
]);

describe("PacketReader", () => {
  it("returns the same messages however the stream is cut (every offset, and every pair of offsets)", () => {
    const whole = drain([stream]);
    expect(whole.out.map((m) => m.seq)).toEqual([0, 0, 7, 255]);
    expect(whole.leftover).toBe(0);
    for (const points of splitPoints(stream.length)) expect(drain(cut(stream, points))).toEqual(whole);
  });

  it("never writes over a message it returned, however later chunks are cut (messages are kept uncopied)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 40 }),
        (lengths, cuts) => {
          const packets = lengths.map((length, i) => encodePacket(Buffer.alloc(length, i + 1), i & 0xff));
          const bytes = Buffer.concat(packets);
          const reader = new PacketReader({ maxMessageBytes: 1 << 20 });
          const kept: { raw: Buffer; payload: Buffer; copy: string }[] = [];
          let at = 0;
          for (let c = 0; at < bytes.length; c++) {
            const size = cuts[c % cuts.length]!;
            reader.push(Buffer.from(bytes.subarray(at, at + size)));
            at += size;
            for (let m = reader.next(); m !== undefined; m = reader.next())
              kept.push({ raw: m.raw, payload: m.payload, copy: m.raw.toString("hex") });
            for (const k of kept) {
              expect(k.raw.toString("hex")).toBe(k.copy);
              expect(k.payload.equals(k.raw.subarray(4))).toBe(true);
            }
          }
          expect(kept.map((k) => k.copy)).toEqual(packets.map((p) => p.toString("hex")));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("joins 16 MiB continuation packets into one message, with raw bytes as sent", () => {
    const payload = Buffer.alloc(0xffffff + 10, 0x61);
    const bytes = naiveMessage(3, payload);
    const { out } = drain(
      [bytes.subarray(0, 100), bytes.subarray(100, 0xffffff + 2), bytes.subarray(0xffffff + 2)],
      32 << 20,
    );
    expect(out).toHaveLength(1);
    expect(out[0]!.seq).toBe(3);
    expect(out[0]!.last).toBe(4);
    expect(Buffer.from(out[0]!.payload, "hex").equals(payload)).toBe(true);
    expect(out[0]!.raw).toBe(bytes.toString("hex"));
  });

  it("ends an exact multiple of 0xFFFFFF with an empty packet, and the writer agrees with the naive builder", () => {
    const payload = Buffer.alloc(0xffffff, 0x62);
    const bytes = encodePacket(payload, 9);
    expect(bytes.equals(naiveMessage(9, payload))).toBe(true);
    expect(bytes.length).toBe(payload.length + 8);
    const { out } = drain([bytes], 32 << 20);
    expect(out).toHaveLength(1);
    expect(out[0]!.last).toBe(10);
  });

  it("refuses a declared length over the cap as soon as the header arrives, and stays out of sync", () => {
    const reader = new PacketReader({ maxMessageBytes: 100 });
    expect(() => reader.push(Buffer.from([101, 0, 0, 0]))).toThrow(MysqlProtocolViolation);
    expect(() => reader.push(Buffer.from([1, 0, 0, 0, 1]))).toThrow(/exceeds the limit/);
    expect(() => reader.next()).toThrow(MysqlProtocolViolation);
  });

  it("refuses continuation packets whose sequence ids do not follow", () => {
    const first = naivePacket(0, Buffer.alloc(0)).subarray(0, 4);
    first.writeUIntLE(0xffffff, 0, 3);
    const reader = new PacketReader({ maxMessageBytes: 64 << 20 });
    reader.push(Buffer.concat([first, Buffer.alloc(0xffffff)]));
    expect(() => reader.push(naivePacket(5, [1]))).toThrow(/sequence id 5, expected 1/);
  });

  it("never throws anything but a protocol violation and never holds more than the cap (fuzz)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const reader = new PacketReader({ maxMessageBytes: 256 });
        try {
          for (const chunk of chunks) {
            reader.push(Buffer.from(chunk));
            for (let m = reader.next(); m !== undefined; m = reader.next())
              expect(m.payload.length).toBeLessThanOrEqual(256);
            expect(reader.buffered).toBeLessThanOrEqual(256 + 8);
          }
        } catch (error) {
          expect(error).toBeInstanceOf(MysqlProtocolViolation);
        }
      }),
      { numRuns: 500 },
    );
  });
});
