#!/usr/bin/env bash
# `make dev`: the three apps in the foreground with pretty logs, each line prefixed with its app.
# Ctrl-C (or SIGTERM) stops the apps; Kafka and ClickHouse keep running for the next `make dev`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pids=()

# The app's own node flags into `flags` (apps/<app>/node-options: the worker's heap cap and GC threads,
# README "Scaling and sizing"), for node's command line: NODE_OPTIONS may not carry all of them.
node_flags() {
  local file="$ROOT/apps/$1/node-options"
  flags=()
  if [ -f "$file" ]; then read -r -a flags <"$file"; fi
}

run_app() { # name port
  node_flags "$1"
  (cd "$ROOT/apps/$1" && SERVER_PORT="$2" LOG_PRETTY=true exec node "${flags[@]}" --enable-source-maps --import tsx src/main.ts) \
    > >(sed -u "s/^/[$1] /") 2>&1 &
  pids+=($!)
}

shutdown() {
  trap - INT TERM
  echo "[dev] stopping apps"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap shutdown INT TERM

run_app ingest "${INGEST_PORT:-8080}"
run_app query "${QUERY_PORT:-8081}"
run_app worker "${WORKER_PORT:-8082}"
echo "[dev] ingest :${INGEST_PORT:-8080}  query :${QUERY_PORT:-8081}  worker :${WORKER_PORT:-8082}  (Ctrl-C to stop)"
wait
