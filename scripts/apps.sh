#!/usr/bin/env bash
# Starts the three apps in the background (logs and PID files under .local/) or stops them by PID.
# `start` reuses a running app and waits until every /health answers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="${SLUICE_LOCAL_DIR:-$ROOT/.local}"
RUN="$LOCAL/run"
LOGS="$LOCAL/logs"
APPS=(ingest query worker)

app_port() {
  case "$1" in
    ingest) echo "${INGEST_PORT:-8080}" ;;
    query) echo "${QUERY_PORT:-8081}" ;;
    worker) echo "${WORKER_PORT:-8082}" ;;
  esac
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# The app's own node flags into `flags` (apps/<app>/node-options: the worker's heap cap and GC threads,
# README "Scaling and sizing"), for node's command line: NODE_OPTIONS may not carry all of them.
node_flags() {
  local file="$ROOT/apps/$1/node-options"
  flags=()
  if [ -f "$file" ]; then read -r -a flags <"$file"; fi
}

start() {
  mkdir -p "$RUN" "$LOGS"
  for app in "${APPS[@]}"; do
    local pidfile="$RUN/$app.pid" port
    port="$(app_port "$app")"
    if pid_alive "$pidfile"; then echo "[apps] $app already running (pid $(cat "$pidfile"))"; continue; fi
    echo "[apps] starting $app on :$port (log: $LOGS/$app.log)"
    (
      cd "$ROOT/apps/$app"
      node_flags "$app"
      SERVER_PORT="$port" nohup setsid node "${flags[@]}" --enable-source-maps --import tsx src/main.ts >>"$LOGS/$app.log" 2>&1 </dev/null &
      echo $! >"$pidfile"
    )
  done
  for app in "${APPS[@]}"; do
    local port
    port="$(app_port "$app")"
    for _ in $(seq 1 300); do
      curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
      if ! pid_alive "$RUN/$app.pid"; then tail -n 20 "$LOGS/$app.log" >&2; echo "[apps] $app exited during start-up" >&2; exit 1; fi
      sleep 0.1
    done
    curl -fs "http://127.0.0.1:$port/health" >/dev/null || { echo "[apps] $app /health did not answer in 30 s" >&2; exit 1; }
    echo "[apps] $app healthy on :$port"
  done
}

stop() {
  for app in "${APPS[@]}"; do
    local pidfile="$RUN/$app.pid" pid
    pid_alive "$pidfile" || { rm -f "$pidfile"; continue; }
    pid="$(cat "$pidfile")"
    echo "[apps] stopping $app (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 1 ;;
esac
