/**
 * Two small disciplines the approval service needs for asynchronous store calls: changes of one thing run one
 * at a time (`KeyedTurns`), and work nobody awaits is still awaited at shutdown (`BackgroundWork`).
 */

/** Runs each piece of work after the work already queued under the same key. */
export class KeyedTurns {
  private readonly turns = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.turns.set(key, next);
    void next
      .catch(() => undefined)
      .finally(() => {
        if (this.turns.get(key) === next) this.turns.delete(key);
      });
    return next;
  }
}

/** Work started by timers and aborts: nobody awaits it, so `settled()` does before the store closes. */
export class BackgroundWork {
  private readonly running = new Set<Promise<void>>();

  add(work: Promise<void>): void {
    this.running.add(work);
    void work.catch(() => undefined).finally(() => this.running.delete(work));
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
