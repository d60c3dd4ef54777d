export * from "./auth";
export * from "./errors";
export * from "./health";
export * from "./observe";
export * from "./reflection";
export * from "./server";
