import type { TimeContext } from "./build-context.js";

/**
 * `context.local_time`: the same fields as `context.time`, in the configured `policy.time_zone`. Intl knows
 * the zone's rules (daylight saving included), so "09:00 in Berlin" means 09:00 on the wall clock all year.
 * Every zone's offset is a whole number of minutes, so one computation serves a whole UTC minute, as for
 * `context.time` (decision-keys.ts memoises per minute).
 */

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

export type LocalTimeOf = (now: Date) => TimeContext;

/** Throws a RangeError naming the zone when Intl does not know it (config validation uses this too). */
export function localTimeIn(timeZone: string): LocalTimeOf {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    weekday: "short",
  });
  return (now) => {
    const parts: Record<string, string> = {};
    for (const part of format.formatToParts(now)) parts[part.type] = part.value;
    return {
      hour: Number(parts.hour),
      minute: Number(parts.minute),
      weekday: WEEKDAYS[parts.weekday ?? ""] ?? 0,
      date: `${parts.year}-${parts.month}-${parts.day}`,
    };
  };
}

/** True when Intl knows the zone name ("Europe/Berlin", "UTC"). */
export function isTimeZone(timeZone: string): boolean {
  try {
    localTimeIn(timeZone);
    return true;
  } catch {
    return false;
  }
}
