import { readlinkSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/** How much lower than the gateway's own priority background store threads run (nice steps, Linux). */
export const BACKGROUND_NICE_STEPS = 10;

/**
 * Lowers the calling thread's scheduling priority by `steps` nice levels, relative to what it has now.
 * Why: the audit index thread commits SQLite batches of up to 2,000 events; on a small machine its bursts
 * land on the core that serves a client and show up as 0.2-1 ms stalls at p99. The journal already made the
 * events durable, so the index may trail: under contention the kernel now runs the event loop first, and the
 * index still gets its share (nice 10 is about a tenth of nice 0's weight, never zero).
 *
 * Linux only: a thread's id comes from /proc/thread-self, and setpriority(2) on a thread id moves that thread
 * alone. Elsewhere, or when it fails, nothing changes and the reason is returned: priority is a tuning, never a
 * reason to refuse to start.
 */
export function lowerThreadPriority(steps: number = BACKGROUND_NICE_STEPS): ThreadPriorityResult {
  let threadId: number;
  try {
    // "/proc/thread-self" -> "<pid>/task/<tid>"
    threadId = Number(readlinkSync("/proc/thread-self").split("/").pop());
  } catch {
    return { changed: false, reason: "no /proc/thread-self (not Linux)" };
  }
  if (!Number.isInteger(threadId) || threadId <= 0) return { changed: false, reason: "unreadable thread id" };
  try {
    const before = getPriority(threadId);
    const after = Math.min(19, before + steps);
    if (after !== before) setPriority(threadId, after);
    return { changed: after !== before, threadId, before, after: getPriority(threadId) };
  } catch (error) {
    return { changed: false, reason: (error as Error).message };
  }
}

export type ThreadPriorityResult =
  | { readonly changed: boolean; readonly threadId: number; readonly before: number; readonly after: number }
  | { readonly changed: false; readonly reason: string };
