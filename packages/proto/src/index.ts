// The sluice.v1 contract and the standard error details its servers attach; the gRPC health and
// reflection protocols are exported under @sluice/proto/health and @sluice/proto/reflection/*.
export * from "./gen/google/rpc/error_details_pb";
export * from "./gen/sluice/v1/event_pb";
export * from "./gen/sluice/v1/ingest_pb";
export * from "./gen/sluice/v1/query_pb";
