import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseCheckpointText } from "../../src/audit/checkpoint-note.js";
import { startCheckpointer } from "../../src/audit/checkpointer.js";
import {
  generateSignerKey,
  openNote,
  parseSignerKey,
  parseVerifierKey,
} from "../../src/audit/signed-note.js";

// Issue 17 §3: the head is signed every N events *or* T seconds. The event count is exercised by the gateway
// tests; this drives the time rule with the checkpointer's own timer under fake timers (no waiting, no timing).

afterEach(() => {
  vi.useRealTimers();
});

describe("checkpoints by time", () => {
  it("signs the head once `every` has passed with fewer than every_events new events, and not when idle", async () => {
    vi.useFakeTimers();
    const signer = parseSignerKey(generateSignerKey("latch-test", randomBytes(32)));
    let head = { seq: 3, hash: "a".repeat(64) };
    const recorded: { note: string; seq: number }[] = [];
    const checkpointer = startCheckpointer({
      signer,
      head: () => head,
      record: async (event) => {
        recorded.push({ note: event.data.note, seq: event.data.seq });
        head = { seq: head.seq + 1, hash: "c".repeat(64) }; // the checkpoint event itself
      },
      everyEvents: 1000,
      everyMs: 60_000,
      now: () => Date.now(),
    });
    try {
      head = { seq: 5, hash: "b".repeat(64) }; // two events, far below every_events
      await vi.advanceTimersByTimeAsync(59_000);
      expect(recorded).toEqual([]);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(recorded.map((entry) => entry.seq)).toEqual([5]);
      const opened = openNote(recorded[0]!.note, parseVerifierKey(signer.verifierKey));
      expect(opened.verified).toBe(true);
      expect(parseCheckpointText(opened.text)).toMatchObject({
        origin: "latch-test",
        seq: 5,
        hash: "b".repeat(64),
      });
      // Nothing written since (the checkpoint event is not news): no further checkpoint, however long.
      await vi.advanceTimersByTimeAsync(10 * 60_000);
      expect(recorded).toHaveLength(1);
    } finally {
      checkpointer.stop();
    }
  });
});
