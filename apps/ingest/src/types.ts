import type { NodeBindings } from "./body";

/** The Hono environment of the ingest app. */
export interface IngestEnv {
  Bindings: NodeBindings;
  Variables: {
    /** The key the request authenticated with, set by apiKeyAuth. */
    apiKey?: string;
    /** Set once the ingest service took over, so it alone counts that request's rejections. */
    counted?: boolean;
  };
}
