import { existsSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { verifyInWorker } from "../../src/store/sqlite-audit-reader.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import { operation, sessionStart, tempDir } from "./store-fixtures.js";

/**
 * Under the test runner a store worker loads the bundle test/support/store-worker-bundles.ts made for the run,
 * or (in watch mode, or without the bundle) registers tsx and loads the sources. Both ways must give the same
 * worker: here the verify worker answers the same report either way, over the same chain.
 */
describe("store worker threads from the sources", () => {
  const bundles = process.env.LATCH_STORE_WORKER_BUNDLES;
  afterEach(() => {
    if (bundles === undefined) delete process.env.LATCH_STORE_WORKER_BUNDLES;
    else process.env.LATCH_STORE_WORKER_BUNDLES = bundles;
  });

  it.runIf(process.env.VITEST_MODE === "RUN")(
    "runs from the run's bundles, not through tsx per thread",
    () => {
      expect(bundles).toBeDefined();
      for (const entry of ["audit-writer-worker", "sqlite-verify-worker"]) {
        expect(existsSync(path.join(bundles!, `${entry}.mjs`))).toBe(true);
      }
    },
  );

  it("verifies a chain the same through the run's bundle and through tsx", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, "latch.db");
      const store = createSqliteStore(file);
      store.append(sessionStart("s1"));
      store.appendMany([operation("s1", "SELECT 1"), operation("s1", "SELECT 2", "deny")]);
      store.close();
      const viaBundle = await verifyInWorker(file);
      delete process.env.LATCH_STORE_WORKER_BUNDLES;
      const viaTsx = await verifyInWorker(file);
      expect(viaBundle).toMatchObject({ ok: true, events: 3 });
      expect(viaTsx).toEqual(viaBundle);
    } finally {
      cleanup();
    }
  }, 60_000);
});
