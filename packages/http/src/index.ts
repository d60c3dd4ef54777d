export * from "./auth";
export * from "./common";
export * from "./errors";
export * from "./health";
export * from "./metrics";
export * from "./readiness";
export * from "./server";
export * from "./shutdown";
