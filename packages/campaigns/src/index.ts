export * from "./publisher";
export * from "./registry";
export * from "./schema";
export * from "./store";
