/**
 * `new Date(now).toISOString()`, the audit events' `ts`, without a Date and a formatted string per event: the
 * text of the last millisecond is kept, and within the same second only its last four characters
 * (`sssZ`) change. A new second (or a clock that stepped back) is formatted by toISOString itself, so the
 * text is always exactly what toISOString gives (extended `+YYYYYY` years included: they end the same way).
 */
let lastMillis = Number.NaN;
let lastText = "";
let second = Number.NaN;
/** The text of `second` up to and including the `.` before the milliseconds. */
let secondPrefix = "";
/** `000Z` … `999Z`, built on first use. */
const millisSuffixes: string[] = [];

export function isoTime(now: number = Date.now()): string {
  if (now === lastMillis) return lastText;
  const inSecond = now - Math.floor(now / 1000) * 1000;
  const thisSecond = now - inSecond;
  if (thisSecond !== second || !Number.isSafeInteger(now)) {
    lastText = new Date(now).toISOString();
    secondPrefix = lastText.slice(0, -4);
    second = thisSecond;
  } else {
    let suffix = millisSuffixes[inSecond];
    if (suffix === undefined) {
      suffix = `${String(inSecond).padStart(3, "0")}Z`;
      millisSuffixes[inSecond] = suffix;
    }
    lastText = secondPrefix + suffix;
  }
  lastMillis = now;
  return lastText;
}
