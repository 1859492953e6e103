// Preloaded into `latch serve` by the hot-path counters (node --import): on SIGUSR2 it writes the bytes the
// main isolate has allocated on the V8 heap so far (live heap now + everything garbage collections freed) to
// $LATCH_ALLOC_PROBE_FILE, as JSON with a sequence number. Bench tooling only; never loaded in production.
import { writeFileSync } from "node:fs";
import { GCProfiler, getHeapStatistics } from "node:v8";

const file = process.env.LATCH_ALLOC_PROBE_FILE;
if (file) {
  let freed = 0;
  let collections = 0;
  let sequence = 0;
  let profiler = new GCProfiler();
  profiler.start();
  process.on("SIGUSR2", () => {
    const data = profiler.stop();
    for (const gc of data?.statistics ?? []) {
      freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
      collections += 1;
    }
    profiler = new GCProfiler();
    profiler.start();
    sequence += 1;
    const allocatedBytes = getHeapStatistics().used_heap_size + freed;
    writeFileSync(file, JSON.stringify({ sequence, allocatedBytes, collections }));
  });
}
