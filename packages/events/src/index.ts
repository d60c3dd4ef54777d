export * from "./event-scan";
export * from "./fast-event";
export * from "./json-scan";
export * from "./schema";
export * from "./validate";
