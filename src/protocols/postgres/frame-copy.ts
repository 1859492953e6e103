import type { Frame } from "./messages.js";

/** A frame that outlives the reader's buffer (kept across an await, or past the next push). */
export function copyFrame(frame: Frame): Frame {
  const raw = Buffer.from(frame.raw);
  return { type: frame.type, raw, body: raw.subarray(raw.length - frame.body.length) };
}
