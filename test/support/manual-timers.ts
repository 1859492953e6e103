import type { BatcherTimers } from "../../src/pipeline/audit-batcher.js";

/**
 * BatcherTimers the test drives: `endTurn()` runs what was deferred to the end of the turn, `advance(ms)` the
 * timeouts that fall due. Nothing runs by itself. With `{ turnsAsMicrotasks: true }` the end of a turn comes
 * as a microtask, so code that awaits a durable append settles without the test stepping every turn.
 */
export class ManualTimers implements BatcherTimers {
  private turns: (() => void)[] = [];
  private timeouts = new Map<number, { at: number; run: () => void }>();
  private seq = 0;
  private time = 0;
  /** How many times afterTurn was asked for. */
  turnsScheduled = 0;

  constructor(private readonly options: { turnsAsMicrotasks?: boolean } = {}) {}

  setTimeout(run: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timeouts.set(id, { at: this.time + ms, run });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timeouts.delete(handle as number);
  }

  afterTurn(run: () => void): void {
    this.turnsScheduled += 1;
    if (this.options.turnsAsMicrotasks === true) queueMicrotask(run);
    else this.turns.push(run);
  }

  endTurn(): void {
    const runs = this.turns;
    this.turns = [];
    for (const run of runs) run();
  }

  advance(ms: number): void {
    this.time += ms;
    const due = [...this.timeouts]
      .filter(([, timer]) => timer.at <= this.time)
      .sort((a, b) => a[1].at - b[1].at);
    for (const [id, timer] of due) {
      this.timeouts.delete(id);
      timer.run();
    }
  }

  now(): number {
    return this.time;
  }

  /** Timeouts armed and not yet run or cleared. */
  get pendingTimeouts(): number {
    return this.timeouts.size;
  }
}
