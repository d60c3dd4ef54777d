export * from "./fast-event";
export * from "./json-scan";
export * from "./schema";
export * from "./validate";
