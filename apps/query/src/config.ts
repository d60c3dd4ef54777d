import { baseEnv, port } from "@sluice/config";
import { z } from "zod";

/** Every setting of the query app, read from the environment once in main. */
export const queryEnvSchema = z.object({
  ...baseEnv,
  SERVER_PORT: port(8081),
  METRICS_PORT: port(9103),
});

export type QueryConfig = z.infer<typeof queryEnvSchema>;
