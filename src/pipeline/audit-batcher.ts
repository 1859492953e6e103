import type { AuditEventInput } from "../store/store.js";

/**
 * Where the batcher writes: the store's ordered audit writer. A synchronous append (the journal) is durable
 * when it returns; an asynchronous one (a database) when its promise resolves. Either throws/rejects on failure.
 */
export interface AuditAppender {
  append(events: readonly AuditEventInput[]): void | Promise<void>;
  /** Resolves when everything appended so far is queryable. */
  flush(): Promise<void>;
}

/** setTimeout as the batcher uses it, injectable so tests drive time themselves. */
export interface BatcherTimers {
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Runs `run` after the current turn of the event loop (setImmediate). */
  afterTurn(run: () => void): void;
}

const realTimers: BatcherTimers = {
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  afterTurn: (run) => setImmediate(run),
};

const LAZY_DELAY_MS = 10;

type Outcome = (error: unknown | undefined) => void;

/**
 * Group commit for the audit log, and the one ordered writer of the gateway: every event (operations,
 * approvals, session starts and ends) goes through here, so the chain reads in the order events were queued.
 * Events appended during one turn of the event loop are written with one append at the end of the turn, and
 * only then are their callbacks told the outcome. The write still happens before anything is forwarded: a
 * caller forwards only from its callback, and a failed write reports the error to every caller in the group
 * (each then denies). While an asynchronous append is in flight, new events wait and go in the next group.
 */
export class AuditBatcher {
  private events: AuditEventInput[] = [];
  private outcomes: (Outcome | undefined)[] = [];
  private scheduled = false;
  private lazyTimer: unknown;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly log: AuditAppender,
    private readonly maxBatch = 512,
    private readonly timers: BatcherTimers = realTimers,
  ) {}

  /** Queues an event; `outcome` (if given) runs once it is durable or has failed. Never calls back synchronously. */
  append(event: AuditEventInput, outcome?: Outcome): void {
    this.events.push(event);
    this.outcomes.push(outcome);
    if (this.events.length >= this.maxBatch) queueMicrotask(() => this.flush());
    else if (!this.scheduled) {
      this.scheduled = true;
      this.timers.afterTurn(() => this.flush());
    }
  }

  /**
   * Queues an event nobody waits for (a result, after the client already has its answer): it rides along with
   * the next group, or is written within LAZY_DELAY_MS, saving a journal write per statement.
   */
  appendLazy(event: AuditEventInput, outcome?: Outcome): void {
    this.events.push(event);
    this.outcomes.push(outcome);
    this.lazyTimer ??= this.timers.setTimeout(() => this.flush(), LAZY_DELAY_MS);
  }

  /** Resolves once the event is durable; rejects if it could not be written. */
  appendDurably(event: AuditEventInput): Promise<void> {
    return new Promise((resolve, reject) =>
      this.append(event, (error) => (error === undefined ? resolve() : reject(error))),
    );
  }

  /** Sends everything queued now (or right after the append in flight). */
  flush(): void {
    this.scheduled = false;
    if (this.lazyTimer !== undefined) this.timers.clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    if (this.events.length === 0 || this.writing !== undefined) return;
    const events = this.events;
    const outcomes = this.outcomes;
    this.events = [];
    this.outcomes = [];
    const report = (failure: unknown) => {
      for (const outcome of outcomes) outcome?.(failure);
    };
    let pending: void | Promise<void>;
    try {
      pending = this.log.append(events);
    } catch (error) {
      report(error ?? new Error("audit append failed"));
      return;
    }
    if (pending === undefined) {
      report(undefined);
      return;
    }
    this.writing = pending.then(
      () => report(undefined),
      (error: unknown) => report(error ?? new Error("audit append failed")),
    );
    void this.writing.finally(() => {
      this.writing = undefined;
      if (this.events.length > 0) this.flush();
    });
  }

  /** Resolves when everything appended so far has been written (or has failed). */
  async drain(): Promise<void> {
    this.flush();
    while (this.writing !== undefined) {
      await this.writing;
      this.flush();
    }
    await this.log.flush();
  }
}
