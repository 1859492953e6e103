import { hash } from "node:crypto";
import { canonicalJson } from "./canonical-json.js";
import { Utf8Scratch } from "./utf8-scratch.js";

/** prevHash of the first event in a chain. */
export const GENESIS_HASH = "0".repeat(64);

/** The fields an event hash covers; `dataJson` is the canonical JSON of the body (see canonical-json.ts). */
export interface HashedEventFields {
  readonly prevHash: string;
  readonly seq: number;
  readonly ts: string;
  readonly kind: string;
  readonly sessionId: string | null;
  readonly dataJson: string;
}

/** An event with its place in the chain and its hash: what the journal writes and every store keeps. */
export interface HashedEvent extends HashedEventFields {
  readonly hash: string;
}

/** What a writer hands in: the chain fields (seq, ts, hashes) are added by `chainEvents`. */
export interface ChainInput {
  readonly kind: string;
  readonly sessionId: string | null;
  readonly data: unknown;
}

/**
 * Chains `inputs` after `previous` (seq and hash of the last event), all stamped `ts`. The body is serialised
 * once as canonical JSON: the same text is hashed and stored. Throws (and chains nothing) when a body cannot be
 * represented (see canonical-json.ts).
 */
export function chainEvents(
  inputs: readonly ChainInput[],
  previous: { readonly seq: number; readonly hash: string },
  ts: string,
): HashedEvent[] {
  const events: HashedEvent[] = [];
  let prevHash = previous.hash;
  let seq = previous.seq;
  for (const input of inputs) {
    seq += 1;
    const fields = {
      prevHash,
      seq,
      ts,
      kind: input.kind,
      sessionId: input.sessionId,
      dataJson: canonicalJson(input.data),
    };
    const event: HashedEvent = { ...fields, hash: computeEventHash(fields) };
    events.push(event);
    prevHash = event.hash;
  }
  return events;
}

/**
 * The hash of one audit event, written so an auditor can re-implement it in a few lines:
 *
 *   hash = lowercase hex of SHA-256 over the UTF-8 bytes of the canonical JSON (RFC 8785) of the array
 *          [prevHash, seq, ts, kind, sessionId, data]
 *
 * e.g. for the first event: `["000…000",1,"2025-01-01T00:00:00.000Z","session_start","s-1",{"a":1}]`.
 * `sessionId` is JSON null when the event belongs to no session. The stored `data` column already holds the
 * canonical JSON of the body, so the bytes hashed are exactly
 * `[` + json(prevHash) + `,` + seq + `,` + json(ts) + `,` + json(kind) + `,` + json(sessionId) + `,` + data + `]`.
 * A JSON array is self-delimiting, so no two different field tuples produce the same input.
 */
export function computeEventHash(fields: HashedEventFields): string {
  const sessionId = fields.sessionId === null ? "null" : JSON.stringify(fields.sessionId);
  const head = `[${JSON.stringify(fields.prevHash)},${fields.seq},${JSON.stringify(fields.ts)},${JSON.stringify(
    fields.kind,
  )},${sessionId},`;
  // The same bytes as hashing the joined string, without V8 copying the joined string (see utf8-scratch.ts).
  const input = hashInput.reset().append(head).append(fields.dataJson).appendByte(0x5d).bytes();
  return hash("sha256", input, "hex");
}

const hashInput = new Utf8Scratch();
