const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const DURATION = /^(\d+)(ms|s|m|h|d)$/;

/**
 * Milliseconds in a config-style duration ("30s", "15m", "1h"): the same grammar the config schema accepts,
 * so a value that passed validation always parses. Anything else throws rather than guessing a unit.
 */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (match === null) throw new RangeError(`"${text}" is not a duration such as 30s, 15m or 1h`);
  const amount = Number(match[1]);
  const milliseconds = amount * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(milliseconds)) throw new RangeError(`duration "${text}" is too large`);
  return milliseconds;
}

const UNITS_LARGEST_FIRST = ["d", "h", "m", "s"] as const;

/**
 * A millisecond count as a person would write it in the config: the largest unit that divides it exactly
 * ("2h", "90m", "1500ms"), so what a message says can be pasted back into `latch.yaml`.
 */
export function formatDuration(milliseconds: number): string {
  if (Number.isSafeInteger(milliseconds) && milliseconds > 0) {
    const unit = UNITS_LARGEST_FIRST.find((name) => milliseconds % UNIT_MS[name] === 0);
    if (unit !== undefined) return `${milliseconds / UNIT_MS[unit]}${unit}`;
  }
  return `${milliseconds}ms`;
}
