/**
 * Property tests: whatever bytes arrive, in whatever chunks, the reader and decoders only ever throw
 * ProtocolViolation, always make progress, and never hold more than one frame's worth of bytes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBackend } from "../../../src/protocols/postgres/decode-backend.js";
import { decodeFrontend, decodeStartupPhase } from "../../../src/protocols/postgres/decode-frontend.js";
import {
  encodeBackendKeyData,
  encodeCommandComplete,
  encodeErrorResponse,
  encodeNegotiateProtocolVersion,
  encodeNoticeResponse,
  encodeParameterStatus,
  encodeReadyForQuery,
} from "../../../src/protocols/postgres/encode-backend.js";
import {
  encodeCancelRequest,
  encodeFrontend,
  encodeSSLRequest,
  encodeStartupMessage,
} from "../../../src/protocols/postgres/encode-frontend.js";
import {
  FrameReader,
  type FrameReaderOptions,
  ProtocolViolation,
} from "../../../src/protocols/postgres/frame-reader.js";
import type { Frame, FrontendMessage } from "../../../src/protocols/postgres/messages.js";
import { cstr, int32, toBuffer, typed } from "../../support/naive-pg-bytes.js";
import { cut, snapshot } from "./split-feed.js";

const RUNS = 400;

function expectViolation(error: unknown): void {
  if (!(error instanceof ProtocolViolation)) throw error;
}

/** Decodes a frame with every decoder that could see it; only ProtocolViolation may escape. */
function decodeEverywhere(frame: Frame, reader: FrameReader): void {
  if (frame.type === 0) {
    try {
      if (decodeStartupPhase(frame).kind === "StartupMessage") reader.expectTyped();
    } catch (error) {
      expectViolation(error);
    }
    return;
  }
  for (const decode of [decodeFrontend, decodeBackend]) {
    try {
      decode(frame);
    } catch (error) {
      expectViolation(error);
    }
  }
}

/** Runs a stream to its end or its first framing violation, checking progress and the memory bound. */
function runStream(chunks: readonly Buffer[], options: FrameReaderOptions): void {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const reader = new FrameReader(options);
  let frames = 0;
  try {
    for (const chunk of chunks) {
      reader.push(chunk);
      for (let frame = reader.next(); frame !== undefined; frame = reader.next()) {
        // Every frame consumes at least 4 bytes, so more frames than bytes/4 would mean no progress.
        frames++;
        expect(frames).toBeLessThanOrEqual(total / 4);
        expect(frame.raw.length).toBeLessThanOrEqual(options.maxFrameBytes + 1);
        decodeEverywhere(frame, reader);
      }
      expect(reader.buffered).toBeLessThanOrEqual(options.maxFrameBytes + 5);
    }
  } catch (error) {
    expectViolation(error);
    // Out of sync for good: the same error again, and nothing held.
    expect(() => reader.next()).toThrow(error as Error);
    expect(reader.buffered).toBe(0);
  }
}

const options = fc.record({
  maxFrameBytes: fc.integer({ min: 4, max: 600 }),
  startup: fc.boolean(),
});

/** Cut points for a stream of `length` bytes, sorted, possibly repeated (empty chunks). */
function cutsFor(length: number): fc.Arbitrary<number[]> {
  return fc
    .array(fc.integer({ min: 0, max: length }), { maxLength: 12 })
    .map((points) => points.sort((a, b) => a - b));
}

const text = fc.string({ unit: "binary", maxLength: 24 }).map((s) => s.replaceAll("\0", ""));
const bytes = fc.uint8Array({ maxLength: 40 }).map((array) => Buffer.from(array));
const formatCode = fc.constantFrom(0, 1);

const bindMessage: fc.Arbitrary<FrontendMessage> = fc
  .record({
    portal: text,
    statement: text,
    params: fc.array(fc.option(bytes, { nil: null }), { maxLength: 6 }),
    formatStyle: fc.constantFrom("none", "one", "each"),
    format: formatCode,
    resultFormats: fc.array(formatCode, { maxLength: 4 }),
  })
  .map(({ portal, statement, params, formatStyle, format, resultFormats }) => ({
    kind: "Bind",
    portal,
    statement,
    paramFormats: formatStyle === "none" ? [] : formatStyle === "one" ? [format] : params.map(() => format),
    params,
    resultFormats,
  }));

const frontendMessage: fc.Arbitrary<FrontendMessage> = fc.oneof(
  text.map((sql) => ({ kind: "Query", sql })),
  fc
    .record({
      name: text,
      sql: text,
      paramTypes: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 4 }),
    })
    .map((m) => ({ kind: "Parse", ...m })),
  bindMessage,
  fc.record({ target: fc.constantFrom("S", "P"), name: text }).map((m) => ({ kind: "Describe", ...m })),
  fc.record({ target: fc.constantFrom("S", "P"), name: text }).map((m) => ({ kind: "Close", ...m })),
  fc.record({ portal: text, maxRows: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }).map((m) => ({
    kind: "Execute",
    ...m,
  })),
  fc.constantFrom<FrontendMessage>(
    { kind: "Sync" },
    { kind: "Flush" },
    { kind: "Terminate" },
    { kind: "CopyDone" },
  ),
  bytes.map((data) => ({ kind: "CopyData", data })),
  text.map((message) => ({ kind: "CopyFail", message })),
  bytes.map((data) => ({ kind: "PasswordMessage", data })),
) as fc.Arbitrary<FrontendMessage>;

const backendFrames: Buffer[] = [
  toBuffer(typed("R", int32(0))),
  toBuffer(typed("R", int32(5), [1, 2, 3, 4])),
  toBuffer(typed("R", int32(10), cstr("SCRAM-SHA-256"), [0])),
  toBuffer(typed("R", int32(11), cstr("r=nonce,s=salt,i=4096"))),
  encodeParameterStatus("client_encoding", "UTF8"),
  encodeBackendKeyData(42, Buffer.alloc(32, 9)),
  encodeReadyForQuery("T"),
  encodeErrorResponse({ severity: "ERROR", code: "42501", message: "no", detail: "d", hint: "h" }),
  encodeNoticeResponse({ severity: "NOTICE", code: "00000", message: "n" }),
  encodeCommandComplete("INSERT 0 1"),
  encodeNegotiateProtocolVersion(0, ["_pq_.x", "_pq_.y"]),
];

const startupFrames: Buffer[] = [
  encodeSSLRequest(),
  encodeCancelRequest(7, Buffer.alloc(4, 1)),
  encodeStartupMessage({ user: "alice", database: "prod" }),
];

/** Overwrites, inserts or deletes single bytes, or truncates: the classic damage to a valid stream. */
const mutation = fc.record({
  op: fc.constantFrom("overwrite", "insert", "delete", "truncate"),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
});

function mutate(stream: Buffer, mutations: readonly { op: string; at: number; byte: number }[]): Buffer {
  const out = [...stream];
  for (const { op, at, byte } of mutations) {
    const index = out.length === 0 ? 0 : at % out.length;
    if (op === "overwrite" && out.length > 0) out[index] = byte;
    if (op === "insert") out.splice(index, 0, byte);
    if (op === "delete") out.splice(index, 1);
    if (op === "truncate") out.length = index;
  }
  return Buffer.from(out);
}

describe("codec properties", () => {
  it("random byte streams in random chunks only ever raise ProtocolViolation", () => {
    fc.assert(
      fc.property(
        fc
          .uint8Array({ maxLength: 1500 })
          .chain((array) => fc.tuple(fc.constant(Buffer.from(array)), cutsFor(array.length))),
        options,
        ([stream, points], opts) => runStream(cut(stream, points), opts),
      ),
      { numRuns: RUNS },
    );
  });

  it("frames with a known type byte and a random body only ever raise ProtocolViolation", () => {
    const types = [..."QPBDECSHXdcfFpRKZNvT"].map((letter) => letter.charCodeAt(0));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...types), fc.uint8Array({ maxLength: 60 })), { maxLength: 8 }),
        (frames) => {
          const stream = Buffer.concat(
            frames.map(([type, body]) => toBuffer(typed(String.fromCharCode(type), [...body]))),
          );
          runStream([stream], { maxFrameBytes: 1024, startup: false });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("mutated valid streams (frontend, backend, startup) only ever raise ProtocolViolation", () => {
    const validStream = fc.oneof(
      fc.array(frontendMessage, { minLength: 1, maxLength: 6 }).map((messages) => ({
        stream: Buffer.concat(messages.map(encodeFrontend)),
        startup: false,
      })),
      fc.array(fc.constantFrom(...backendFrames), { minLength: 1, maxLength: 6 }).map((frames) => ({
        stream: Buffer.concat(frames),
        startup: false,
      })),
      fc
        .tuple(fc.constantFrom(...startupFrames), fc.array(frontendMessage, { maxLength: 3 }))
        .map(([first, rest]) => ({
          stream: Buffer.concat([first, ...rest.map(encodeFrontend)]),
          startup: true,
        })),
    );
    fc.assert(
      fc.property(
        validStream,
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 8, max: 400 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        ({ stream, startup }, mutations, maxFrameBytes, rawCuts) => {
          const damaged = mutate(stream, mutations);
          const points = rawCuts.map((n) => n % (damaged.length + 1)).sort((a, b) => a - b);
          runStream(cut(damaged, points), { maxFrameBytes, startup });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("every encodable frontend message decodes back to itself, whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.array(frontendMessage, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (messages, rawCuts) => {
          const stream = Buffer.concat(messages.map(encodeFrontend));
          const points = rawCuts.map((n) => n % (stream.length + 1)).sort((a, b) => a - b);
          const reader = new FrameReader({ maxFrameBytes: 1 << 16, startup: false });
          const decoded: unknown[] = [];
          for (const chunk of cut(stream, points)) {
            reader.push(chunk);
            for (let frame = reader.next(); frame !== undefined; frame = reader.next()) {
              decoded.push(snapshot(decodeFrontend(frame)));
            }
          }
          expect(decoded).toEqual(messages);
          expect(reader.buffered).toBe(0);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
