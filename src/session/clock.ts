/**
 * Time as the session layer sees it, injectable so tests move time themselves instead of sleeping. Timers
 * never keep the process alive: a session's limits are no reason not to exit.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `run` once after `ms` (negative: as soon as possible). Returns the function that cancels it. */
  after(ms: number, run: () => void): () => void;
}

/** setTimeout's own ceiling: longer delays fire at once, so they are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, run) {
    let timer: NodeJS.Timeout;
    const arm = (remaining: number) => {
      timer = setTimeout(
        () => (remaining > MAX_TIMER_MS ? arm(remaining - MAX_TIMER_MS) : run()),
        Math.min(Math.max(remaining, 0), MAX_TIMER_MS),
      );
      timer.unref();
    };
    arm(ms);
    return () => clearTimeout(timer);
  },
};
