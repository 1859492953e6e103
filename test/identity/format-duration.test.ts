import { describe, expect, it } from "vitest";
import { assertGrantWindow } from "../../src/approvals/approval-rules.js";
import { formatDuration, parseDuration } from "../../src/identity/parse-duration.js";

describe("formatDuration (issue 18)", () => {
  it("says a duration in the largest unit that divides it exactly", () => {
    expect(formatDuration(7_200_000)).toBe("2h");
    expect(formatDuration(3_600_000)).toBe("1h");
    expect(formatDuration(5_400_000)).toBe("90m");
    expect(formatDuration(86_400_000)).toBe("1d");
    expect(formatDuration(30_000)).toBe("30s");
    expect(formatDuration(1_500)).toBe("1500ms");
    expect(formatDuration(0)).toBe("0ms");
  });

  it("round-trips through parseDuration", () => {
    for (const ms of [1, 999, 1_000, 61_000, 60_000, 3_600_000, 5_400_000, 172_800_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });

  it("the grant-window error reads in config units, not milliseconds", () => {
    expect(() => assertGrantWindow(7_200_000, 3_600_000)).toThrow(
      "a grant window of 2h exceeds the configured maximum (approvals.max_grant = 1h)",
    );
  });
});
