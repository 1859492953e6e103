import type { ApprovalOutcome, ApprovalRequest } from "./approval-types.js";

interface Waiter {
  settle(outcome: ApprovalOutcome): void;
}

/**
 * Operations held in their sessions until their request is decided: each waits for its request's outcome,
 * its expiry, or its client going away (whichever comes first, once).
 */
export class ApprovalWaiters {
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(
    private readonly on: {
      /** The request reached its expiry with the operation still waiting. */
      expire(request: ApprovalRequest): void;
      /** The client went away while its operation waited. */
      abandon(request: ApprovalRequest): void;
      now(): number;
    },
  ) {}

  /** Resolves with the request's outcome, as `settle` reports it. */
  wait(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const waiter: Waiter = {
        settle: (outcome) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          this.waiters.get(request.id)?.delete(waiter);
          resolve(outcome);
        },
      };
      const onAbort = () => this.on.abandon(request);
      const timer = setTimeout(() => this.on.expire(request), Math.max(0, request.expiresAt - this.on.now()));
      const set = this.waiters.get(request.id) ?? new Set<Waiter>();
      this.waiters.set(request.id, set);
      set.add(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) onAbort();
    });
  }

  /** Tells every operation waiting on `id` its outcome. */
  settle(id: string, outcome: ApprovalOutcome): void {
    for (const waiter of [...(this.waiters.get(id) ?? [])]) waiter.settle(outcome);
    this.waiters.delete(id);
  }
}
