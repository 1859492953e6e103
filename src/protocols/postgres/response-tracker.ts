import type { Operation } from "../../operation/operation.js";
import type { RowCeiling } from "../../operation/statement-preview.js";
import type { OperationResult } from "../../pipeline/pipeline-types.js";
import { decodeBackend, readCommandTagRows } from "./decode-backend.js";
import type { Frame } from "./messages.js";

/**
 * What the client is waiting for, in order. Server responses belong to the oldest forwarded entry; answers the
 * gateway makes itself (denials) wait behind everything forwarded before them, so the client sees responses in
 * the order it sent requests.
 */
export type PendingEntry =
  | {
      readonly kind: "forwarded";
      readonly operation: Operation | undefined;
      /** False for a batch ended by Flush: its responses finish with the next ReadyForQuery. */
      readonly endsWithReady: boolean;
      readonly startedAt: number;
      rows: number;
      readonly tags: string[];
      error: { code: string; message: string } | undefined;
      /** Statement names the batch removed: freed only once the server confirms the batch (PreparedRegistry). */
      readonly removedNames?: readonly string[];
      /** RowDescription/NoData answers seen so far, and which of them answer gateway-inserted Describes. */
      describeAnswers?: number;
      readonly hiddenAnswers?: ReadonlySet<number>;
      /** Held to a row ceiling (row-ceiling.ts): its command tags wait until the count is judged. */
      readonly ceiling?: CeilingState;
    }
  /**
   * A statement the gateway sent on its own (a query that can only fail, or BEGIN/COMMIT/ROLLBACK around a
   * statement held to a row ceiling); its replies are swallowed, errors kept in `errors` when given.
   */
  | { readonly kind: "poison"; readonly errors?: Buffer[] }
  /** Bytes the gateway answers itself; built when sent, so a ReadyForQuery carries the current status. */
  | { readonly kind: "synthetic"; readonly build: () => Buffer };

/** A statement held to a row ceiling (row-ceiling.ts). */
export interface CeilingState {
  readonly ceiling: RowCeiling;
  /** Latch sent BEGIN (the client was idle): Latch ends the transaction too. */
  readonly opened: boolean;
  /** CommandComplete frames of the statement, withheld until the count is judged. */
  readonly heldTags: Buffer[];
}

export class ResponseTracker {
  private readonly queue: PendingEntry[] = [];

  get head(): PendingEntry | undefined {
    return this.queue[0];
  }

  get idle(): boolean {
    return this.queue.length === 0;
  }

  push(entry: PendingEntry): void {
    this.queue.push(entry);
  }

  shift(): PendingEntry | undefined {
    return this.queue.shift();
  }

  /** ReadyForQuery completes every Flush-ended entry before it and the first entry that waited for it. */
  finishThroughReady(complete: (entry: ForwardedEntry) => void): void {
    for (let head = this.head; head?.kind === "forwarded"; head = this.head) {
      this.queue.shift();
      complete(head);
      if (head.endsWithReady) return;
    }
  }

  /** Gateway-made answers now at the front go out. */
  drainSynthetic(toClient: Buffer[]): void {
    for (let head = this.head; head?.kind === "synthetic"; head = this.head) {
      this.queue.shift();
      toClient.push(head.build());
    }
  }

  /** Forwarded entries still waiting when the session ends. */
  drainForwarded(): Extract<PendingEntry, { kind: "forwarded" }>[] {
    const left = this.queue.filter((entry) => entry.kind === "forwarded");
    this.queue.length = 0;
    return left;
  }
}

export type ForwardedEntry = Extract<PendingEntry, { kind: "forwarded" }>;

/** Command tags name what ran; SELECT tags repeat the DataRow count already seen, others report affected rows. */
export function noteCommandComplete(entry: ForwardedEntry, frame: Frame): void {
  const decoded = decodeBackend(frame);
  if (decoded.kind !== "CommandComplete") return;
  entry.tags.push(decoded.tag);
  const counted = readCommandTagRows(decoded.tag);
  if (counted !== undefined && !decoded.tag.startsWith("SELECT")) entry.rows += counted;
}

export function resultOf(entry: Extract<PendingEntry, { kind: "forwarded" }>, now: number): OperationResult {
  return {
    durationMs: now - entry.startedAt,
    rows: entry.rows,
    commandTags: entry.tags,
    ...(entry.error === undefined ? {} : { error: entry.error }),
  };
}
