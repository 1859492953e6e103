import { hash } from "node:crypto";

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
  const input = `[${JSON.stringify(fields.prevHash)},${fields.seq},${JSON.stringify(fields.ts)},${JSON.stringify(
    fields.kind,
  )},${sessionId},${fields.dataJson}]`;
  return hash("sha256", input, "hex");
}
