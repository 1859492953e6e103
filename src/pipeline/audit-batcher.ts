import type { AuditEventInput, AuditSink } from "../store/store.js";

type Outcome = (error: unknown | undefined) => void;

/**
 * Group commit for the audit log. Events appended during one turn of the event loop (every session's socket
 * reads in that turn) are written in one transaction at setImmediate, and only then are their callbacks told
 * the outcome. The write still happens before anything is forwarded: a caller forwards only from its callback,
 * and a failed write reports the error to every caller in the group (each then denies: fail closed).
 */
export class AuditBatcher {
  private events: AuditEventInput[] = [];
  private outcomes: (Outcome | undefined)[] = [];
  private scheduled = false;

  constructor(
    private readonly sink: AuditSink,
    private readonly maxBatch = 512,
  ) {}

  /** Queues an event; `outcome` (if given) runs once it is durable or has failed. */
  append(event: AuditEventInput, outcome?: Outcome): void {
    this.events.push(event);
    this.outcomes.push(outcome);
    // Callbacks never run inside append(): callers may be mid-way through a read loop.
    if (this.events.length >= this.maxBatch) queueMicrotask(() => this.flush());
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes everything queued now; also used at shutdown. */
  flush(): void {
    this.scheduled = false;
    if (this.events.length === 0) return;
    const events = this.events;
    const outcomes = this.outcomes;
    this.events = [];
    this.outcomes = [];
    let failure: unknown;
    try {
      this.sink.appendMany(events);
    } catch (error) {
      failure = error ?? new Error("audit append failed");
    }
    for (const outcome of outcomes) outcome?.(failure);
  }
}
