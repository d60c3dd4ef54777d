import { deleteStaleTestTopics, testKafka, testLogger } from "@sluice/testing";

// Runs once before the integration files: topics older than any run still going are leftovers.
const STALE_AFTER_MS = 2 * 3_600_000;

export default async function sweepStaleTopics(): Promise<void> {
  const deleted = await deleteStaleTestTopics(testKafka("sluice-test-sweep"), STALE_AFTER_MS);
  if (deleted.length > 0) testLogger.info({ topics: deleted.length }, "deleted stale test topics");
}
