import type { ChainHead } from "./verify-chain.js";

/**
 * A signed checkpoint: the chain head (seq and hash of one event) at a time, as the text of a C2SP signed note
 * (signed-note.ts). The text is line-based so a witness can read it without Latch:
 *
 *   latch.audit.checkpoint/v1
 *   origin <key name>
 *   seq <n>
 *   head <64 hex digits: the hash of event n>
 *   time <ISO-8601 UTC>
 *
 * Because every event hash covers the one before it, a valid signature over (seq, head) pins events 1..seq.
 */
export const CHECKPOINT_KIND = "audit_checkpoint";
const HEADER = "latch.audit.checkpoint/v1";

export interface Checkpoint extends ChainHead {
  readonly origin: string;
  readonly time: string;
}

/** The body of an `audit_checkpoint` event: the signed note and, for search, what it says. */
export type CheckpointEventData = {
  readonly note: string;
  readonly seq: number;
  readonly head: string;
  readonly time: string;
  readonly keyName: string;
};

export function checkpointText(checkpoint: Checkpoint): string {
  return `${HEADER}\norigin ${checkpoint.origin}\nseq ${checkpoint.seq}\nhead ${checkpoint.hash}\ntime ${checkpoint.time}\n`;
}

/** Reads the text of a checkpoint note; undefined when it is not one. */
export function parseCheckpointText(text: string): Checkpoint | undefined {
  const match =
    /^latch\.audit\.checkpoint\/v1\norigin (\S+)\nseq (\d{1,15})\nhead ([0-9a-f]{64})\ntime (\S+)\n$/.exec(
      text,
    );
  if (match === null) return undefined;
  return { origin: match[1]!, seq: Number(match[2]), hash: match[3]!, time: match[4]! };
}
