import { baseEnv, port } from "@sluice/config";
import { z } from "zod";

/** Every setting of the ingest app, read from the environment once in main. */
export const ingestEnvSchema = z.object({
  ...baseEnv,
  SERVER_PORT: port(8080),
  METRICS_PORT: port(9101),
});

export type IngestConfig = z.infer<typeof ingestEnvSchema>;
