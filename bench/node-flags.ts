import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The deployed node flags of an app (apps/<app>/node-options, given on node's command line as
 * scripts/apps.sh and the image do); empty for a checkout without them.
 */
export function appNodeFlags(root: string, app = "ingest"): string[] {
  const file = join(root, "apps", app, "node-options");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean);
}
