import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Made once per run: the store workers' bundles (instead of tsx in every worker thread) and an initdb'd
    // PostgreSQL data directory that test clusters copy (instead of initdb per cluster).
    globalSetup: ["test/support/store-worker-bundles.ts", "test/support/pg-template.ts"],
    // Integration suites start their own PostgreSQL clusters and gateways; two cores are shared.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
