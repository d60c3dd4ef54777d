export * from "./client";
export * from "./event-rows";
export * from "./migrations";
export * from "./sql";
export * from "./tab-separated";
