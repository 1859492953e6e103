import { readFileSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { startAuditIndexer } from "../../src/store/audit-indexer-thread.js";
import { BACKGROUND_NICE_STEPS } from "../../src/store/thread-priority.js";
import { tempDir } from "./store-fixtures.js";

/** The nice value the kernel holds for one thread of this process: field 19 of /proc/self/task/<tid>/stat. */
function niceOf(threadId: number): number {
  const stat = readFileSync(`/proc/self/task/${threadId}/stat`, "utf8");
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its closing one.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[16]);
}

const mainThreadNice = (): number => niceOf(process.pid);

describe.runIf(process.platform === "linux")("audit index thread priority", () => {
  it("runs the index thread below the gateway's priority and leaves the event loop's alone", async () => {
    const { dir, cleanup } = tempDir();
    const before = mainThreadNice();
    const indexer = await startAuditIndexer(path.join(dir, "latch.db"));
    try {
      const priority = indexer.priority;
      expect(priority).toBeDefined();
      if (priority === undefined || !("threadId" in priority))
        throw new Error(`not lowered: ${JSON.stringify(priority)}`);
      expect(priority.threadId).not.toBe(process.pid);
      const expected = Math.min(19, before + BACKGROUND_NICE_STEPS);
      expect(priority.after).toBe(expected);
      // Read back from the kernel, not from what the thread reported about itself.
      expect(niceOf(priority.threadId)).toBe(expected);
      expect(mainThreadNice()).toBe(before);
    } finally {
      await indexer.close();
      cleanup();
    }
  });

  it("lowers only the calling thread, relative to its current priority", async () => {
    const source = new URL("../../src/store/thread-priority.ts", import.meta.url).href;
    const worker = new Worker(
      `import("tsx/esm/api").then(async (tsx) => {
         tsx.register();
         const { lowerThreadPriority } = await import(${JSON.stringify(source)});
         const first = lowerThreadPriority(3);
         const second = lowerThreadPriority(3);
         require("node:worker_threads").parentPort.postMessage({ first, second });
       });`,
      { eval: true },
    );
    const before = mainThreadNice();
    const reply = await new Promise<{
      first: { after: number; threadId: number };
      second: { after: number };
    }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    expect(reply.first.after).toBe(Math.min(19, before + 3));
    expect(reply.second.after).toBe(Math.min(19, before + 6));
    expect(mainThreadNice()).toBe(before);
  });
});
