/**
 * Feeds a byte stream through a FrameReader cut into chunks at every possible place, decoding each frame as
 * soon as it is returned (frames are only valid until the next push) and snapshotting the result.
 */
import { FrameReader, type FrameReaderOptions } from "../../../src/protocols/postgres/frame-reader.js";
import type { Frame } from "../../../src/protocols/postgres/messages.js";

/** Turns a frame into a value to compare; called before the next push, may switch the reader's mode. */
export type FrameHandler = (frame: Frame, reader: FrameReader) => unknown;

/** Every way to cut `length` bytes into 2 chunks, and into 3 chunks when the stream is short enough. */
export function splitPoints(length: number, threeWayUpTo = 48): number[][] {
  const cuts: number[][] = [];
  for (let i = 0; i <= length; i++) cuts.push([i]);
  if (length <= threeWayUpTo) {
    for (let i = 1; i < length; i++) for (let j = i + 1; j < length; j++) cuts.push([i, j]);
  }
  return cuts;
}

/** Cuts a stream into fresh copies, so the reader cannot depend on chunks sharing memory with the original. */
export function cut(stream: Buffer, points: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, stream.length]) {
    chunks.push(Buffer.from(stream.subarray(start, point)));
    start = point;
  }
  return chunks;
}

/** Pushes the chunks and drains after each push; returns the handler's snapshots and the bytes left over. */
export function feed(
  chunks: readonly Buffer[],
  options: FrameReaderOptions,
  handle: FrameHandler,
): { results: unknown[]; leftover: number } {
  const reader = new FrameReader(options);
  const results: unknown[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let frame = reader.next(); frame !== undefined; frame = reader.next()) {
      results.push(snapshot(handle(frame, reader)));
    }
  }
  return { results, leftover: reader.buffered };
}

/** Like feed(), but returns the first error thrown instead (by the reader or the handler). */
export function feedExpectingError(
  chunks: readonly Buffer[],
  options: FrameReaderOptions,
  handle: FrameHandler,
): unknown {
  try {
    feed(chunks, options, handle);
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Deep copy that detaches Buffers from the reader's memory, so later pushes cannot change what was decoded. */
export function snapshot(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(snapshot);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, snapshot(v)]));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, snapshot(v)]));
  }
  return value;
}
