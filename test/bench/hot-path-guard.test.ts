import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  countHotPath,
  GUARD_TRANSACTIONS,
  type HotPathRig,
  parseStraceSummary,
  STRACE,
  startHotPathRig,
} from "../../bench/hot-path-counters.js";
import {
  flattenCounts,
  type HotPathBaseline,
  judge,
  readBaseline,
  UPDATE_COMMAND,
} from "../../bench/hot-path-guard.js";
import { LATCH_CLI } from "../../bench/start-latch.js";

// Captured from strace 6.1 (`strace -f -c -qq -o FILE`).
const STRACE_SUMMARY = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 41.20    0.012000           3      3100           write
 30.00    0.009000           4      2100           read
  0.00    0.000000           0        23         4 futex
  0.00    0.000000           0      3500           epoll_pwait
------ ----------- ----------- --------- --------- ----------------
100.00    0.021000           2      8723         4 total
`;

const baseline = (counters: Record<string, number>): HotPathBaseline => ({
  about: "",
  workload: "",
  tolerance: 0.2,
  updatedAt: "2026-12-01T00:00:00Z",
  gitCommit: "0123456789abcdef0123",
  counters,
});

describe("hot-path guard verdicts", () => {
  it("reads calls per syscall from strace's summary, with and without an errors column", () => {
    expect(parseStraceSummary(STRACE_SUMMARY)).toEqual({
      write: 3100,
      read: 2100,
      futex: 23,
      epoll_pwait: 3500,
    });
  });

  it("fails on a rise over 20% and says what rose, by how much, and how to update the baseline", () => {
    const verdict = judge(
      { "simple.writeSyscalls": 3.9, "simple.readSyscalls": 2.1 },
      baseline({
        "simple.writeSyscalls": 3.1,
        "simple.readSyscalls": 2.1,
      }),
    );
    expect(verdict.rises).toEqual(["simple.writeSyscalls"]);
    expect(verdict.message).toContain("simple.writeSyscalls rose by more than 20%");
    expect(verdict.message).toContain("+25.8%");
    expect(verdict.message).toContain(UPDATE_COMMAND);
  });

  it("passes a rise within the tolerance", () => {
    expect(judge({ "simple.writeSyscalls": 3.7 }, baseline({ "simple.writeSyscalls": 3.1 })).rises).toEqual(
      [],
    );
  });

  it("passes a fall but says the baseline is stale when it is over 20%", () => {
    const verdict = judge(
      { "prepared.heapBytesAllocated": 10_000 },
      baseline({ "prepared.heapBytesAllocated": 33_000 }),
    );
    expect(verdict.rises).toEqual([]);
    expect(verdict.stale).toEqual(["prepared.heapBytesAllocated"]);
    expect(verdict.message).toMatch(/baseline is stale.*bench:baseline/);
  });

  it("fails when a counter is in the baseline but no longer measured, or new", () => {
    expect(judge({}, baseline({ "simple.readSyscalls": 2 })).missing).toEqual(["simple.readSyscalls"]);
    expect(judge({ "simple.readSyscalls": 2 }, baseline({})).missing).toEqual(["simple.readSyscalls"]);
  });
});

// The guard itself: counts on the compiled gateway (CI builds before testing), not times.
describe("hot-path guard: per-transaction counts of latch serve against bench/baseline/hot-path.json", () => {
  let rig: HotPathRig | undefined;
  beforeAll(async () => {
    if (!existsSync(STRACE)) throw new Error(`${STRACE} is missing: apt-get install strace`);
    if (!existsSync(LATCH_CLI)) throw new Error(`${LATCH_CLI} is missing: run \`npm run build\` first`);
    rig = await startHotPathRig();
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it(`pgbench -S -c 1 -t ${GUARD_TRANSACTIONS}, simple and prepared: no counter rose by more than 20%`, async () => {
    const counts = await countHotPath(rig!, GUARD_TRANSACTIONS);
    const verdict = judge(flattenCounts(counts), readBaseline());
    console.log(
      `${verdict.message}\nfull syscall breakdown per transaction: ${JSON.stringify(counts.syscalls)}`,
    );
    if (verdict.rises.length > 0 || verdict.missing.length > 0) expect.fail(verdict.message);
  }, 180_000);
});
