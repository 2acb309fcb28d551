import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Log lines of every test process go to test/artifacts/logs for the run's secret check.
    setupFiles: ["test/setup/capture-logs.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
    fileParallelism: true,
    // LanceDB's FTS index build can deadlock with a one-thread compute pool (2-core hosts).
    env: { LANCE_CPU_THREADS: process.env.LANCE_CPU_THREADS ?? "4" },
  },
});
