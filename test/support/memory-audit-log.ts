import type { AuditAppender } from "../../src/pipeline/audit-batcher.js";
import type { AuditEventInput } from "../../src/store/store.js";

/**
 * An AuditAppender in memory: every append is kept as one group, in order. `fail` makes appends throw (sync)
 * or reject (async) while it returns an error; `async` makes appends return a promise the test settles with
 * `settle()` / `reject()`, oldest first, so an append can be "in flight" as long as the test wants.
 */
export class MemoryAuditLog implements AuditAppender {
  /** Every append call, in call order, whether it succeeded or not. */
  readonly groups: AuditEventInput[][] = [];
  /** Events that were written (appends that did not fail), in order. */
  readonly events: AuditEventInput[] = [];
  fail: ((events: readonly AuditEventInput[]) => Error | undefined) | undefined;
  async = false;
  flushes = 0;
  private inFlight: { events: AuditEventInput[]; resolve: () => void; reject: (error: Error) => void }[] = [];

  append(events: readonly AuditEventInput[]): void | Promise<void> {
    const group = [...events];
    this.groups.push(group);
    const failure = this.fail?.(group);
    if (!this.async) {
      if (failure !== undefined) throw failure;
      this.events.push(...group);
      return;
    }
    return new Promise<void>((resolve, reject) => {
      this.inFlight.push({
        events: group,
        resolve: () => {
          if (failure !== undefined) return reject(failure);
          this.events.push(...group);
          resolve();
        },
        reject,
      });
    });
  }

  async flush(): Promise<void> {
    this.flushes += 1;
  }

  /** Async appends not yet settled. */
  get pending(): number {
    return this.inFlight.length;
  }

  /** Completes the oldest in-flight async append (it fails if `fail` said so when it was made). */
  settle(): void {
    const next = this.inFlight.shift();
    if (next === undefined) throw new Error("no append in flight");
    next.resolve();
  }

  /** Rejects the oldest in-flight async append. */
  reject(error = new Error("store went away")): void {
    const next = this.inFlight.shift();
    if (next === undefined) throw new Error("no append in flight");
    next.reject(error);
  }

  kinds(): string[] {
    return this.events.map((event) => event.kind);
  }
}

/** Fails every append whose group holds an event of one of these kinds. */
export function failOnKinds(...kinds: string[]): (events: readonly AuditEventInput[]) => Error | undefined {
  return (events) =>
    events.some((event) => kinds.includes(event.kind))
      ? new Error(`disk full (${kinds.join(", ")})`)
      : undefined;
}
