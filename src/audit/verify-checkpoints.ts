import { type Checkpoint, type CheckpointEventData, parseCheckpointText } from "./checkpoint-note.js";
import { type NoteVerifier, openNote } from "./signed-note.js";

/** One `audit_checkpoint` event as the store gives it back. */
export interface StoredCheckpoint {
  /** The seq of the checkpoint event itself. */
  readonly seq: number;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface CheckpointProblem {
  /** The seq of the checkpoint event (or, for a note given on the command line, 0). */
  readonly seq: number;
  readonly problem: string;
}

export interface CheckpointReport {
  readonly checked: number;
  /** The newest checkpoint that verified. */
  readonly latest?: Checkpoint;
  readonly problems: readonly CheckpointProblem[];
}

/**
 * Checks one signed checkpoint note against `verifier` and the chain: the signature must verify, the text must
 * be a checkpoint, and the chain must hold event `seq` with exactly the signed head hash. `hashAt` gives the
 * stored hash of an event (undefined when it is not there).
 */
export async function checkCheckpointNote(
  note: string,
  verifier: NoteVerifier,
  hashAt: (seq: number) => Promise<string | undefined>,
): Promise<{ checkpoint?: Checkpoint; problem?: string }> {
  const opened = openNote(note, verifier);
  if (!opened.verified) return { problem: opened.problem ?? "the signature does not verify" };
  const checkpoint = parseCheckpointText(opened.text);
  if (checkpoint === undefined) return { problem: "the signed text is not a Latch audit checkpoint" };
  const actual = await hashAt(checkpoint.seq);
  if (actual === undefined)
    return {
      checkpoint,
      problem: `it signs event ${checkpoint.seq}, which the log does not hold: events were removed`,
    };
  if (actual !== checkpoint.hash)
    return {
      checkpoint,
      problem: `its signed head hash differs from event ${checkpoint.seq} in the log: the log was rewritten from that event or earlier`,
    };
  return { checkpoint };
}

/** Checks every checkpoint event of the chain, oldest first. */
export async function verifyCheckpoints(
  events: AsyncIterable<StoredCheckpoint>,
  verifier: NoteVerifier,
  hashAt: (seq: number) => Promise<string | undefined>,
): Promise<CheckpointReport> {
  let checked = 0;
  let latest: Checkpoint | undefined;
  const problems: CheckpointProblem[] = [];
  for await (const event of events) {
    checked++;
    const data = event.data as Partial<CheckpointEventData>;
    if (typeof data.note !== "string") {
      problems.push({ seq: event.seq, problem: "the checkpoint event holds no signed note" });
      continue;
    }
    const result = await checkCheckpointNote(data.note, verifier, hashAt);
    if (result.problem !== undefined) {
      problems.push({ seq: event.seq, problem: result.problem });
      continue;
    }
    const checkpoint = result.checkpoint!;
    if (checkpoint.seq >= event.seq || data.seq !== checkpoint.seq || data.head !== checkpoint.hash) {
      problems.push({
        seq: event.seq,
        problem: "the event's seq or head fields disagree with its signed note",
      });
      continue;
    }
    latest = checkpoint;
  }
  return { checked, ...(latest === undefined ? {} : { latest }), problems };
}
