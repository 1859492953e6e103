import { afterEach, describe, expect, it, vi } from "vitest";
import {
  FrameReader,
  MAX_STARTUP_PACKET_BYTES,
  ProtocolViolation,
} from "../../../src/protocols/postgres/frame-reader.js";
import { cstr, int32, startupMessage, toBuffer, typed, untyped } from "../../support/naive-pg-bytes.js";
import { cut, feed, feedExpectingError, splitPoints } from "./split-feed.js";

const MAX = 1024;
const typedOptions = { maxFrameBytes: MAX, startup: false };

function rawFrames(frame: { type: number; body: Buffer; raw: Buffer }) {
  return { type: frame.type, body: frame.body.toString("hex"), raw: frame.raw.toString("hex") };
}

function violation(error: unknown): string {
  expect(error).toBeInstanceOf(ProtocolViolation);
  return (error as ProtocolViolation).reason;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("FrameReader typed framing", () => {
  const frames = [
    typed("Q", cstr("SELECT 1")),
    typed("S"),
    typed(
      "d",
      Array.from({ length: 300 }, (_, i) => i & 0xff),
    ),
    typed("X"),
  ];
  const stream = toBuffer(frames.flat());
  const expected = frames.map((bytes) => ({
    type: bytes[0],
    body: toBuffer(bytes.slice(5)).toString("hex"),
    raw: toBuffer(bytes).toString("hex"),
  }));

  it("returns the same frames whichever byte the stream is split at", () => {
    for (const points of splitPoints(stream.length)) {
      const { results, leftover } = feed(cut(stream, points), typedOptions, rawFrames);
      expect(results, `split at ${points.join(",")}`).toEqual(expected);
      expect(leftover).toBe(0);
    }
  });

  it("returns all 3-way splits of a short stream identically", () => {
    const short = toBuffer([...typed("Q", cstr("x")), ...typed("S"), ...typed("H")]);
    const want = feed([short], typedOptions, rawFrames).results;
    expect(want).toHaveLength(3);
    for (const points of splitPoints(short.length)) {
      expect(feed(cut(short, points), typedOptions, rawFrames).results).toEqual(want);
    }
  });

  it("returns frames as subarrays of the pushed chunk when they arrive whole", () => {
    const reader = new FrameReader(typedOptions);
    reader.push(stream);
    const frame = reader.next()!;
    expect(frame.raw.buffer).toBe(stream.buffer);
    expect(frame.raw.byteOffset).toBe(stream.byteOffset);
  });

  it("never writes into a chunk the caller pushed, at any 2- or 3-way split", () => {
    const short = toBuffer([...typed("S"), ...typed("Q", cstr("SELECT 1")), ...typed("H"), ...typed("S")]);
    for (const points of splitPoints(short.length)) {
      const chunks = cut(short, points);
      const before = chunks.map((chunk) => Buffer.from(chunk));
      feed(chunks, typedOptions, rawFrames);
      expect(chunks, `split at ${points.join(",")}`).toEqual(before);
    }
  });

  it("reports what it holds in `buffered` and nothing more", () => {
    const reader = new FrameReader(typedOptions);
    reader.push(stream.subarray(0, 20));
    expect(reader.buffered).toBe(20);
    expect(reader.next()).toMatchObject({ type: 0x51 }); // Query is 14 bytes
    expect(reader.buffered).toBe(6);
    expect(reader.next()).toMatchObject({ type: 0x53 });
    expect(reader.next()).toBeUndefined();
    expect(reader.buffered).toBe(1);
  });

  it("accepts a frame whose length is exactly the limit", () => {
    const body = new Array(MAX - 4).fill(7);
    const { results } = feed([toBuffer(typed("d", body))], typedOptions, (f) => f.body.length);
    expect(results).toEqual([MAX - 4]);
  });

  it.each([
    [3, "frame length 3 is below the minimum 4"],
    [0, "frame length 0 is below the minimum 4"],
    [-1, "frame length -1 is below the minimum 4"],
    [-0x80000000, "frame length -2147483648 is below the minimum 4"],
    [MAX + 1, `frame of ${MAX + 1} bytes exceeds the limit of ${MAX}`],
    [0x7fffffff, `frame of 2147483647 bytes exceeds the limit of ${MAX}`],
  ])("refuses declared length %d at every split of the header", (length, reason) => {
    const header = toBuffer([0x51, ...int32(length), 1, 2, 3]);
    for (const points of splitPoints(header.length)) {
      expect(violation(feedExpectingError(cut(header, points), typedOptions, rawFrames))).toBe(reason);
    }
  });

  it("refuses a 1 GiB header before any body arrives, without allocating for it", () => {
    const allocations: number[] = [];
    const allocUnsafe = Buffer.allocUnsafe;
    vi.spyOn(Buffer, "allocUnsafe").mockImplementation((size: number) => {
      allocations.push(size);
      return allocUnsafe(size);
    });
    const reader = new FrameReader({ maxFrameBytes: 16 * 1024 * 1024, startup: false });
    reader.push(toBuffer([0x51, ...int32(2 ** 30)]));
    expect(() => reader.next()).toThrow("frame of 1073741824 bytes exceeds the limit of 16777216");
    expect(reader.buffered).toBe(0);

    // The same header split so that it completes inside a push with body bytes behind it: refused by push().
    const second = new FrameReader({ maxFrameBytes: 16 * 1024 * 1024, startup: false });
    second.push(toBuffer([0x51, 0x40]));
    expect(second.next()).toBeUndefined();
    expect(() => second.push(Buffer.alloc(64 * 1024))).toThrow(ProtocolViolation);
    expect(second.buffered).toBe(0);
    expect(Math.max(0, ...allocations)).toBeLessThan(1024);
  });

  it("refuses a bad header in push() even when the caller pushes twice without next()", () => {
    const reader = new FrameReader(typedOptions);
    reader.push(toBuffer([0x51, 0, 0]));
    expect(() => reader.push(toBuffer([0, 2, ...new Array(100).fill(0)]))).toThrow(
      "frame length 2 is below the minimum 4",
    );
  });

  it("stays out of sync after a violation: the same error from next() and push()", () => {
    const reader = new FrameReader(typedOptions);
    reader.push(toBuffer([0x51, ...int32(2), ...typed("S")]));
    let first: unknown;
    try {
      reader.next();
    } catch (error) {
      first = error;
    }
    expect(first).toBeInstanceOf(ProtocolViolation);
    expect(() => reader.next()).toThrow(first as Error);
    expect(() => reader.push(toBuffer(typed("S")))).toThrow(first as Error);
    expect(reader.buffered).toBe(0);
  });

  it("is a LatchError with the protocol_violation code and SQLSTATE 08P01", () => {
    const error = new ProtocolViolation("frame length 3 is below the minimum 4");
    expect(error.code).toBe("protocol_violation");
    expect(error.sqlstate).toBe("08P01");
    expect(error.message).toBe("protocol violation: frame length 3 is below the minimum 4");
  });
});

describe("FrameReader startup framing", () => {
  const startupOptions = { maxFrameBytes: 16 * 1024, startup: true };

  it("reads a startup packet, then typed frames after expectTyped(), at every split", () => {
    const startup = startupMessage([
      ["user", "alice"],
      ["database", "prod"],
    ]);
    const stream = toBuffer([...startup, ...typed("Q", cstr("SELECT 1")), ...typed("S")]);
    const expected = [
      { type: 0, body: toBuffer(startup.slice(4)).toString("hex"), raw: toBuffer(startup).toString("hex") },
      { type: 0x51, body: toBuffer(cstr("SELECT 1")).toString("hex"), raw: expect.any(String) },
      { type: 0x53, body: "", raw: "5300000004" },
    ];
    for (const points of splitPoints(stream.length)) {
      const { results } = feed(cut(stream, points), startupOptions, (frame, reader) => {
        if (frame.type === 0) reader.expectTyped();
        return rawFrames(frame);
      });
      expect(results, `split at ${points.join(",")}`).toEqual(expected);
    }
  });

  it("accepts a startup packet of exactly 10000 bytes", () => {
    const packet = untyped(int32(196608), new Array(MAX_STARTUP_PACKET_BYTES - 8).fill(0x61));
    const { results } = feed([toBuffer(packet)], startupOptions, (f) => f.raw.length);
    expect(results).toEqual([10_000]);
  });

  it.each([
    [10_001, "startup packet of 10001 bytes exceeds the limit of 10000"],
    [0x7fffffff, "startup packet of 2147483647 bytes exceeds the limit of 10000"],
    [7, "startup packet length 7 is below the minimum 8"],
    [4, "startup packet length 4 is below the minimum 8"],
    [-8, "startup packet length -8 is below the minimum 8"],
  ])("refuses startup length %d at every split of the header", (length, reason) => {
    const header = toBuffer([...int32(length), ...int32(196608)]);
    for (const points of splitPoints(header.length)) {
      expect(violation(feedExpectingError(cut(header, points), startupOptions, rawFrames))).toBe(reason);
    }
  });

  it("caps startup packets at maxFrameBytes when that is the smaller limit", () => {
    const reader = new FrameReader({ maxFrameBytes: 100, startup: true });
    reader.push(toBuffer(int32(101)));
    expect(() => reader.next()).toThrow("startup packet of 101 bytes exceeds the limit of 100");
  });
});
