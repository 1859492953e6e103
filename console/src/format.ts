/** Times and durations for people: no epoch milliseconds on screen. */
const dateTime = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export function when(value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : dateTime.format(date);
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const hours = Math.floor(m / 60);
  return m % 60 === 0 ? `${hours} h` : `${hours} h ${m % 60} min`;
}

/** "in 4 min 10 s" / "expired 2 min ago". */
export function timeLeft(until: number, now = Date.now()): string {
  const left = until - now;
  return left >= 0 ? `${duration(left)} left` : `expired ${duration(-left)} ago`;
}

export function ago(value: number | string, now = Date.now()): string {
  const at = new Date(value).getTime();
  return Number.isNaN(at) ? String(value) : `${duration(Math.max(0, now - at))} ago`;
}

/** A datetime-local input's value as ISO (the input has no zone: it is the viewer's local time). */
export function localInputToIso(value: string): string | undefined {
  if (value === "") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
