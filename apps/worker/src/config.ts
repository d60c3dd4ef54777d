import { baseEnv, port } from "@sluice/config";
import { z } from "zod";

/** Every setting of the worker app, read from the environment once in main. */
export const workerEnvSchema = z.object({
  ...baseEnv,
  SERVER_PORT: port(8082),
  METRICS_PORT: port(9102),
});

export type WorkerConfig = z.infer<typeof workerEnvSchema>;
