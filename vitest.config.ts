import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // The store's worker threads load one bundle each instead of registering tsx per thread.
    globalSetup: ["test/support/store-worker-bundles.ts"],
    // Integration suites start their own PostgreSQL clusters and gateways; two cores are shared.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
