import { type ApprovalEvents, type ApprovalLog, describe } from "./approval-events.js";
import { decidedData, outcomeOf } from "./approval-records.js";
import type { ApprovalStore } from "./approval-store.js";
import type { ApprovalOutcome, ApprovalRequest } from "./approval-types.js";
import type { BackgroundWork } from "./serial-work.js";

/**
 * Closes the requests nobody decided: past their expiry (a timer sweeps the store, one sweep at a time), or
 * abandoned because the client that held the statement went away or the gateway restarted.
 */
export class ApprovalExpiry {
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private sweepFailing = false;
  private stopped = false;

  constructor(
    private readonly options: {
      readonly store: ApprovalStore;
      readonly events: ApprovalEvents;
      /** Tells the statements held on a request its outcome. */
      readonly settle: (requestId: string, outcome: ApprovalOutcome) => void;
      /** Where the sweeps go, so that shutdown waits for them. */
      readonly background: BackgroundWork;
      readonly now: () => number;
      readonly log?: ApprovalLog;
    },
  ) {}

  /** pending -> expired/abandoned; settles waiters with whatever the request's final state is. */
  async finish(id: string, state: "expired" | "abandoned", reason: string): Promise<void> {
    const { store, events, settle } = this.options;
    let changed: boolean;
    let request: ApprovalRequest | undefined;
    try {
      changed = await store.finishRequest(id, state, this.options.now(), reason);
      request = await store.getRequest(id);
    } catch (error) {
      this.options.log?.error({ err: error, requestId: id }, "approval store failed while closing a request");
      settle(id, {
        decision: state === "abandoned" ? "abandoned" : "denied",
        requestId: id,
        reason: `approval store unavailable: ${describe(error)}`,
      });
      return;
    }
    if (request === undefined) return;
    if (changed) {
      await events.recordQuietly("approval_decided", request.sessionId, decidedData(request));
      events.publish({ type: "request", request });
    }
    // A client that left gets "abandoned" even if a decision raced it: nobody is there to run the statement.
    settle(id, state === "abandoned" ? { decision: "abandoned", requestId: id, reason } : outcomeOf(request));
  }

  /** Closes pending requests past their expiry; runs on a timer (one sweep at a time), callable directly. */
  async expireDue(): Promise<void> {
    let pending: ApprovalRequest[];
    try {
      pending = await this.options.store.listRequests({ state: "pending", limit: 1000 });
    } catch (error) {
      // Once per outage, not once a second: /healthz and the metrics carry the state meanwhile.
      if (!this.sweepFailing)
        this.options.log?.error({ err: error }, "approval sweep could not read pending requests");
      this.sweepFailing = true;
      return;
    }
    if (this.sweepFailing) this.options.log?.warn({}, "approval sweep reads pending requests again");
    this.sweepFailing = false;
    const now = this.options.now();
    for (const request of pending)
      if (request.expiresAt <= now)
        await this.finish(request.id, "expired", "no decision before the request expired");
  }

  /**
   * Restart rule: a pending `hold` request found at startup becomes `abandoned` (the client connection that held
   * it died with the old process, so nothing could run it); pending `defer` and `upfront` requests stay pending.
   */
  async recoverHeldRequests(): Promise<void> {
    for (const request of await this.options.store.listRequests({ state: "pending", limit: 10_000 })) {
      if (request.mode === "hold")
        await this.finish(request.id, "abandoned", "the gateway restarted while the statement was held");
    }
  }

  startSweeper(intervalMs: number): void {
    if (this.stopped) return;
    this.sweeper = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = true;
      this.options.background.add(
        this.expireDue().finally(() => {
          this.sweeping = false;
        }),
      );
    }, intervalMs);
    this.sweeper.unref();
  }

  stopSweeper(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
  }
}
