import { parentPort } from "node:worker_threads";

// A batch reader thread that dies on the first body it gets, holding it, for batch-reader.test.ts.
parentPort?.on("message", () => process.exit(3));
