import { defineConfig } from "vitest/config";

// Unit tests (`*.test.ts`) use fakes only; integration tests (`*.int.test.ts`) talk to the real
// Kafka and ClickHouse started by `make services`. Integration files isolate themselves (own topics,
// groups, databases, private brokers) and mostly wait on services, so three run at once: that halves
// the suite's wall time on two cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "{apps,packages}/*/src/**/*.test.ts",
            "scripts/**/*.test.ts",
            "test/**/*.test.ts",
            "{loadtest,bench}/**/*.test.ts",
          ],
          exclude: ["**/*.int.test.ts", "**/node_modules/**"],
          environment: "node",
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["{apps,packages}/*/src/**/*.int.test.ts", "test/**/*.int.test.ts", "loadtest/**/*.int.test.ts"],
          environment: "node",
          fileParallelism: true,
          maxWorkers: 3,
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
