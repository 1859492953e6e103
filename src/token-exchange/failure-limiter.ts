/**
 * Failed exchanges per client address in fixed one-minute windows: beyond the limit an address is answered 429
 * until its window ends, so nobody can use the endpoint to try forged assertions or tokens at speed. Bounded:
 * the oldest addresses are forgotten first when the table is full.
 */
const WINDOW_MS = 60_000;
const MAX_ADDRESSES = 10_000;

export function createFailureLimiter(options: { maxPerWindow: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const windows = new Map<string, { start: number; failures: number }>();
  const current = (address: string) => {
    const found = windows.get(address);
    return found !== undefined && now() - found.start < WINDOW_MS ? found : undefined;
  };
  return {
    /** Seconds until `address` may try again, or 0 when it may now. */
    retryAfterSeconds(address: string): number {
      const window = current(address);
      if (window === undefined || window.failures < options.maxPerWindow) return 0;
      return Math.max(1, Math.ceil((window.start + WINDOW_MS - now()) / 1000));
    },
    failed(address: string): void {
      const window = current(address);
      if (window !== undefined) {
        window.failures += 1;
        return;
      }
      windows.delete(address);
      while (windows.size >= MAX_ADDRESSES) windows.delete(windows.keys().next().value as string);
      windows.set(address, { start: now(), failures: 1 });
    },
  };
}
