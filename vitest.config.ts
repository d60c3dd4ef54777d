import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// Unit tests (`*.test.ts`) use fakes only; integration tests (`*.int.test.ts`) talk to the real
// Kafka and ClickHouse started by `make services`. Integration files isolate themselves (own topics,
// groups, databases, private brokers) and mostly wait on services, so three run at once: that halves
// the suite's wall time on two cores. The image replay (`test/image.int.test.ts`, ~40 s of pnpm
// deploys) is its own project, run by `make test-images` in CI, so a warm `make test` stays short.
const IMAGE_REPLAY = "test/image.int.test.ts";

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
          // Vitest's default leaves a core idle (one worker on two cores), which doubles the unit run.
          maxWorkers: availableParallelism(),
          // Unit files keep no module-level state, so a worker reuses its module cache across files:
          // importing the apps' module graphs again for every file was 40 % of the unit run.
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["{apps,packages}/*/src/**/*.int.test.ts", "test/**/*.int.test.ts", "loadtest/**/*.int.test.ts"],
          exclude: [IMAGE_REPLAY, "**/node_modules/**"],
          environment: "node",
          fileParallelism: true,
          globalSetup: ["test/sweep-topics.ts"],
          maxWorkers: 3,
          // The files isolate themselves by names (topics, groups, databases), not by module state, so
          // they share each worker's module cache too: the per-file imports were ~20 % of its CPU.
          isolate: false,
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "images",
          include: [IMAGE_REPLAY],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
