import { CHECKPOINT_KIND, type CheckpointEventData, checkpointText } from "./checkpoint-note.js";
import type { NoteSigner } from "./signed-note.js";
import type { ChainHead } from "./verify-chain.js";

export interface CheckpointerOptions {
  readonly signer: NoteSigner;
  /** The durable chain head (the store's audit writer). */
  readonly head: () => ChainHead;
  /** Writes the checkpoint event through the gateway's one ordered writer; resolves once durable. */
  readonly record: (event: {
    kind: typeof CHECKPOINT_KIND;
    sessionId: null;
    data: CheckpointEventData;
  }) => Promise<void>;
  readonly everyEvents: number;
  readonly everyMs: number;
  readonly now?: () => number;
  readonly onError?: (error: unknown) => void;
}

export interface Checkpointer {
  /** Signs the head now if anything was written since the last checkpoint. */
  checkpoint(): Promise<void>;
  stop(): void;
}

/** How often the head is looked at: a checkpoint is at most this late after its N-th event. */
const TICK_MS = 1000;

/**
 * Signs the chain head every `everyEvents` events or `everyMs`, whichever comes first, and records the signed
 * note as an `audit_checkpoint` event. It only reads the head on a timer, so the statement path pays nothing;
 * the checkpoint event itself does not count as news (an idle gateway writes no checkpoints).
 */
export function startCheckpointer(options: CheckpointerOptions): Checkpointer {
  const now = options.now ?? Date.now;
  let lastSeq = options.head().seq;
  let lastAt = now();
  let running: Promise<void> | undefined;
  const sign = async (): Promise<void> => {
    const head = options.head();
    if (head.seq <= lastSeq) return;
    const time = new Date(now()).toISOString();
    const note = options.signer.sign(
      checkpointText({ origin: options.signer.name, seq: head.seq, hash: head.hash, time }),
    );
    await options.record({
      kind: CHECKPOINT_KIND,
      sessionId: null,
      data: { note, seq: head.seq, head: head.hash, time, keyName: options.signer.name },
    });
    // The checkpoint event itself (head.seq + 1 when nothing came between) is not news.
    lastSeq = head.seq + 1;
    lastAt = now();
  };
  const checkpoint = (): Promise<void> => {
    running ??= sign().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(
    () => {
      const due = options.head().seq - lastSeq;
      if (due >= options.everyEvents || (due > 0 && now() - lastAt >= options.everyMs))
        checkpoint().catch((error: unknown) => options.onError?.(error));
    },
    Math.min(TICK_MS, options.everyMs),
  );
  timer.unref();
  return { checkpoint, stop: () => clearInterval(timer) };
}
