import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration suites start their own PostgreSQL clusters and gateways; two cores are shared.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
