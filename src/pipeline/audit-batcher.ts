import { canCarryResult, foldResult } from "../audit/folded-result.js";
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
  /** Milliseconds on the clock setTimeout counts in (performance.now when absent). */
  now?(): number;
}

const realTimers: BatcherTimers = {
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  afterTurn: (run) => setImmediate(run),
  now: () => performance.now(),
};

const LAZY_DELAY_MS = 10;

type Outcome = (error: unknown | undefined) => void;

/** A session's result waiting for that session's next operation to carry it (or for its deadline). */
interface HeldResult {
  readonly event: AuditEventInput;
  readonly outcome: Outcome | undefined;
  /** On the timers' clock: written standalone from then on. */
  readonly due: number;
}

/**
 * Group commit for the audit log, and the one ordered writer of the gateway: every event (operations,
 * approvals, session starts and ends) goes through here, so the chain reads in the order events were queued.
 * Events appended during one turn of the event loop are written with one append at the end of the turn, and
 * only then are their callbacks told the outcome. The write still happens before anything is forwarded: a
 * caller forwards only from its callback, and a failed write reports the error to every caller in the group
 * (each then denies). While an asynchronous append is in flight, new events wait and go in the next group.
 *
 * A session's result (`appendResult`) is held, one per session, and folded into that session's next
 * `operation` when it comes within LAZY_DELAY_MS (audit/folded-result.ts): one chained event per statement.
 * Any other event of the session, a second result, the deadline or `drain` writes it standalone first, so a
 * session's events keep their order: its result always precedes its next event.
 */
export class AuditBatcher {
  private events: AuditEventInput[] = [];
  private outcomes: (Outcome | undefined)[] = [];
  private scheduled = false;
  private lazyTimer: unknown;
  private writing: Promise<void> | undefined;
  /** Events in the last group written, and whether the appender wrote it synchronously (see appendNow). */
  private lastGroupSize = 0;
  private lastGroupSynchronous = false;
  /** appendNow wrote an event in this turn: it counts toward the turn's group (two per turn is not sequential). */
  private wroteThisTurn = false;
  /** By session, in the order they were held (Map order), so the first is always the first due. */
  private readonly held = new Map<string, HeldResult>();
  private heldTimer: unknown;

  constructor(
    private readonly log: AuditAppender,
    private readonly maxBatch = 512,
    private readonly timers: BatcherTimers = realTimers,
  ) {}

  /** Queues an event; `outcome` (if given) runs once it is durable or has failed. Never calls back synchronously. */
  append(event: AuditEventInput, outcome?: Outcome): void {
    this.enqueue(event, outcome);
    if (this.events.length >= this.maxBatch) queueMicrotask(() => this.flush());
    else if (!this.scheduled) {
      this.scheduled = true;
      this.timers.afterTurn(() => this.flush());
    }
  }

  /**
   * Like `append`, for the one event a caller waits for before it forwards (an operation): when the appender
   * is synchronous (the journal), nothing is queued, written or grouped in this turn yet, and the last group
   * held a single event (one statement at a time: nothing to share a write with), the event is written now,
   * in the caller's turn, and `outcome` runs before this returns; the turn's group is opened all the same, so
   * whatever else is appended in this turn still shares one write at its end. Otherwise exactly `append`.
   * Durability is the same either way: `outcome` runs only once the write returned.
   */
  appendNow(event: AuditEventInput, outcome: Outcome): void {
    if (
      this.scheduled ||
      this.writing !== undefined ||
      this.events.length > 0 ||
      !this.lastGroupSynchronous ||
      this.lastGroupSize !== 1
    ) {
      this.append(event, outcome);
      return;
    }
    this.enqueue(event, outcome);
    this.flush();
    this.wroteThisTurn = true;
    this.scheduled = true;
    this.timers.afterTurn(() => this.flush());
  }

  /**
   * Queues an event nobody waits for (a result, after the client already has its answer): it rides along with
   * the next group, or is written within LAZY_DELAY_MS, saving a journal write per statement.
   */
  appendLazy(event: AuditEventInput, outcome?: Outcome): void {
    this.enqueue(event, outcome);
    this.lazyTimer ??= this.timers.setTimeout(() => this.flush(), LAZY_DELAY_MS);
  }

  /**
   * Queues a session's `operation_result` nobody waits for: held until the session's next operation carries
   * it, or written standalone (lazily, as `appendLazy`) when something else of the session comes first, when
   * LAZY_DELAY_MS pass, or on `drain`. `outcome` runs when the event that holds it is durable or has failed.
   */
  appendResult(event: AuditEventInput, outcome?: Outcome): void {
    const sessionId = event.sessionId;
    if (sessionId === null) {
      this.appendLazy(event, outcome);
      return;
    }
    const earlier = this.held.get(sessionId);
    if (earlier !== undefined) {
      // Two results before an operation (pipelined statements): the older goes first, standalone.
      this.held.delete(sessionId);
      this.appendLazy(earlier.event, earlier.outcome);
    }
    this.held.set(sessionId, { event, outcome, due: this.now() + LAZY_DELAY_MS });
    this.heldTimer ??= this.timers.setTimeout(() => this.releaseDue(), LAZY_DELAY_MS);
  }

  /** Queues an event after its session's held result: folded into it when it is an operation, else before it. */
  private enqueue(event: AuditEventInput, outcome: Outcome | undefined): void {
    const held =
      event.sessionId === null || this.held.size === 0 ? undefined : this.held.get(event.sessionId);
    if (held !== undefined) {
      this.held.delete(event.sessionId!);
      if (canCarryResult(event)) event = { ...event, data: foldResult(event.data, held.event.data) };
      else this.events.push(held.event);
      // A folded result is durable (or lost) with its carrier, and told so with it.
      this.outcomes.push(held.outcome);
    }
    this.events.push(event);
    this.outcomes.push(outcome);
  }

  /** The held results whose deadline passed are written standalone; the timer is re-armed for the rest. */
  private releaseDue(): void {
    this.heldTimer = undefined;
    const now = this.now();
    let released = false;
    for (const [sessionId, held] of this.held) {
      if (held.due > now) break;
      this.held.delete(sessionId);
      this.events.push(held.event);
      this.outcomes.push(held.outcome);
      released = true;
    }
    const next = this.held.values().next();
    if (!next.done)
      this.heldTimer = this.timers.setTimeout(() => this.releaseDue(), Math.max(1, next.value.due - now));
    if (released) this.flush();
  }

  /** Every held result, standalone, queued in the order they were held. */
  private releaseAll(): void {
    if (this.heldTimer !== undefined) this.timers.clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    for (const held of this.held.values()) {
      this.events.push(held.event);
      this.outcomes.push(held.outcome);
    }
    this.held.clear();
  }

  private now(): number {
    return this.timers.now?.() ?? performance.now();
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
    const wroteThisTurn = this.wroteThisTurn;
    this.wroteThisTurn = false;
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
      this.lastGroupSize = events.length + (wroteThisTurn ? 1 : 0);
      this.lastGroupSynchronous = true;
      report(error ?? new Error("audit append failed"));
      return;
    }
    this.lastGroupSize = events.length + (wroteThisTurn ? 1 : 0);
    this.lastGroupSynchronous = pending === undefined;
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

  /** Resolves when everything appended so far, held results included, has been written (or has failed). */
  async drain(): Promise<void> {
    this.releaseAll();
    this.flush();
    while (this.writing !== undefined) {
      await this.writing;
      this.flush();
    }
    await this.log.flush();
  }
}
