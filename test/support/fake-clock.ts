import type { Clock } from "../../src/session/clock.js";

/** A clock the test moves: `advance(ms)` runs every timer that falls due, in time order. No sleeping. */
export class FakeClock implements Clock {
  private time: number;
  private timers: { at: number; seq: number; run: () => void }[] = [];
  private seq = 0;

  constructor(start = Date.UTC(2026, 0, 6, 10, 30)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  after(ms: number, run: () => void): () => void {
    const timer = { at: this.time + Math.max(ms, 0), seq: this.seq++, run };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.run();
    }
    this.time = until;
  }

  get pending(): number {
    return this.timers.length;
  }
}
