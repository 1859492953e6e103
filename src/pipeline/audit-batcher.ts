import type { DurableAuditLog } from "../store/gateway-audit-log.js";
import type { AuditEventInput } from "../store/store.js";

const LAZY_DELAY_MS = 10;

type Outcome = (error: unknown | undefined) => void;

/**
 * Group commit for the audit log. Events appended during one turn of the event loop (every session's socket
 * reads in that turn) are written to the journal with one write at setImmediate, and only then are their
 * callbacks told the outcome. The write still happens before anything is forwarded: a caller forwards only
 * from its callback, and a failed write reports the error to every caller in the group (each then denies).
 */
export class AuditBatcher {
  private events: AuditEventInput[] = [];
  private outcomes: (Outcome | undefined)[] = [];
  private scheduled = false;
  private lazyTimer: NodeJS.Timeout | undefined;
  constructor(
    private readonly log: DurableAuditLog,
    private readonly maxBatch = 512,
  ) {}

  /** Queues an event; `outcome` (if given) runs once it is durable or has failed. Never calls back synchronously. */
  append(event: AuditEventInput, outcome?: Outcome): void {
    this.events.push(event);
    this.outcomes.push(outcome);
    if (this.events.length >= this.maxBatch) queueMicrotask(() => this.flush());
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Queues an event nobody waits for (a result, after the client already has its answer): it rides along with
   * the next group, or is written within LAZY_DELAY_MS, saving a journal write per statement.
   */
  appendLazy(event: AuditEventInput, outcome?: Outcome): void {
    this.events.push(event);
    this.outcomes.push(outcome);
    this.lazyTimer ??= setTimeout(() => this.flush(), LAZY_DELAY_MS);
  }

  /** Resolves once the event is durable; rejects if it could not be written. */
  appendDurably(event: AuditEventInput): Promise<void> {
    return new Promise((resolve, reject) =>
      this.append(event, (error) => (error === undefined ? resolve() : reject(error))),
    );
  }

  /** Sends everything queued now. */
  flush(): void {
    this.scheduled = false;
    clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    if (this.events.length === 0) return;
    const events = this.events;
    const outcomes = this.outcomes;
    this.events = [];
    this.outcomes = [];
    let failure: unknown;
    try {
      this.log.append(events);
    } catch (error) {
      failure = error ?? new Error("audit append failed");
    }
    for (const outcome of outcomes) outcome?.(failure);
  }

  /** Resolves when everything appended so far has been written (or has failed). */
  async drain(): Promise<void> {
    this.flush();
    await this.log.flush();
  }
}
