export * from "./client";
export * from "./migrations";
export * from "./sql";
