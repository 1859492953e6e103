import { describe, expect, it } from "vitest";
import { isoTime } from "../../src/audit/iso-time.js";

// The journal's `ts` comes from a cached prefix; it must be exactly Date#toISOString for any sequence of
// clock readings: the same millisecond again, the next one, a new second, a step back, other eras.
describe("isoTime", () => {
  it("is toISOString for every reading of a clock that repeats, advances, crosses seconds and steps back", () => {
    const base = Date.UTC(2026, 11, 2, 7, 59, 59, 990);
    const readings: number[] = [];
    for (let t = base; t < base + 25; t++) readings.push(t, t);
    readings.push(base + 1000, base + 1001, base + 5, base + 6, base - 1, base + 3_600_000 + 7);
    readings.push(
      0,
      1,
      999,
      1000,
      -1,
      -999,
      -1000,
      -1001,
      8.64e15,
      8.64e15 - 1,
      -62198755200000,
      253402300800000,
    );
    for (const now of readings) expect(isoTime(now)).toBe(new Date(now).toISOString());
  });

  it("throws for a time toISOString cannot format, as toISOString does", () => {
    expect(() => isoTime(8.64e15 + 1)).toThrow(RangeError);
  });

  it("reads the clock by default", () => {
    const before = Date.now();
    const text = isoTime();
    const after = Date.now();
    expect(Date.parse(text)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(text)).toBeLessThanOrEqual(after);
  });
});
