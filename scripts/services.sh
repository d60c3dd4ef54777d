#!/usr/bin/env bash
# Installs, starts and stops the real Kafka broker (KRaft, from Maven Central jars) and Debian's
# ClickHouse server for local runs and tests. Every command is idempotent: a running service is
# reused, never started twice. Data, logs and PID files live under .local/.
#
#   scripts/services.sh install|start|stop|status|restart-kafka|stop-kafka|start-kafka|stop-clickhouse|start-clickhouse
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="${SLUICE_LOCAL_DIR:-$ROOT/.local}"
RUN="$LOCAL/run"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
# Extra JVM flags, word-split (tests' short-lived private brokers skip the optimising JIT).
KAFKA_JVM_EXTRA="${KAFKA_JVM_EXTRA:-}"
CH_HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-8123}"
CH_TCP_PORT="${CLICKHOUSE_TCP_PORT:-9000}"
KAFKA_DIR="$LOCAL/kafka"
# Jars are shared by every instance (tests start private brokers under their own SLUICE_LOCAL_DIR).
KAFKA_LIBS="${KAFKA_LIBS:-$ROOT/.local/kafka/libs}"
CH_DIR="$LOCAL/clickhouse"
CH_BIN="${CLICKHOUSE_SERVER_BIN:-/usr/sbin/clickhouse-server}"
# How long a stop waits after SIGTERM before SIGKILL (tests shorten it for private servers).
STOP_GRACE_SECONDS="${STOP_GRACE_SECONDS:-30}"

log() { printf '[services] %s\n' "$*"; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

pid_alive() { # pidfile
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

port_open() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

install_clickhouse() {
  if [ -x "$CH_BIN" ] && command -v clickhouse-client >/dev/null; then return; fi
  log "installing clickhouse-server and clickhouse-client from Debian"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

install_kafka() {
  local stamp="$KAFKA_LIBS/.pom.sha" want
  want="$(sha256sum "$ROOT/infra/kafka/pom.xml" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  command -v mvn >/dev/null || die "maven (mvn) is required to fetch the Kafka broker jars"
  log "fetching Kafka broker jars with maven"
  rm -rf "$KAFKA_LIBS"
  mvn -q -B -f "$ROOT/infra/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_LIBS" -DincludeScope=runtime
  echo "$want" >"$stamp"
}

start_kafka() {
  local pidfile="$RUN/kafka.pid" props="$KAFKA_DIR/server.properties"
  if pid_alive "$pidfile"; then log "kafka already running (pid $(cat "$pidfile"))"; return; fi
  if port_open "$KAFKA_PORT"; then log "port $KAFKA_PORT already serves a broker; reusing it"; return; fi
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs" "$RUN"
  sed -e "s#@DATA@#$KAFKA_DIR/data#" -e "s#@PORT@#$KAFKA_PORT#g" \
    -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    "$ROOT/infra/kafka/server.properties" >"$props"
  local jvm=(java "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 $KAFKA_JVM_EXTRA
    -Djava.awt.headless=true "-Dlog4j.configuration=file:$ROOT/infra/kafka/log4j.properties"
    "-Dkafka.logs.dir=$KAFKA_DIR/logs" -cp "$KAFKA_LIBS/*")
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    log "formatting kafka storage"
    local cluster_id
    cluster_id="$("${jvm[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$props" >"$KAFKA_DIR/logs/format.out" 2>&1 ||
      die "kafka storage format failed, see $KAFKA_DIR/logs/format.out"
  fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT"
  nohup setsid "${jvm[@]}" kafka.Kafka "$props" >"$KAFKA_DIR/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

start_clickhouse() {
  local pidfile="$RUN/clickhouse.pid"
  if pid_alive "$pidfile"; then log "clickhouse already running (pid $(cat "$pidfile"))"; return; fi
  if port_open "$CH_HTTP_PORT"; then log "port $CH_HTTP_PORT already serves clickhouse; reusing it"; return; fi
  mkdir -p "$CH_DIR"/{data,tmp,log,user_files,format_schemas} "$RUN"
  cp "$ROOT/infra/clickhouse/users.xml" "$CH_DIR/users.xml"
  sed -e "s#@ROOT@#$CH_DIR#g" -e "s#@USERS@#$CH_DIR/users.xml#" -e "s#@HTTP_PORT@#$CH_HTTP_PORT#" \
    -e "s#@TCP_PORT@#$CH_TCP_PORT#" "$ROOT/infra/clickhouse/config.xml" >"$CH_DIR/config.xml"
  log "starting clickhouse on 127.0.0.1:$CH_HTTP_PORT"
  (
    cd "$CH_DIR"
    nohup setsid "$CH_BIN" --config-file="$CH_DIR/config.xml" >"$CH_DIR/log/stdout.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
  )
}

wait_clickhouse() {
  for _ in $(seq 1 300); do
    if [ "$(curl -s "http://127.0.0.1:$CH_HTTP_PORT/ping" 2>/dev/null)" = "Ok." ]; then log "clickhouse ready"; return; fi
    sleep 0.1
  done
  tail -n 20 "$CH_DIR/log/clickhouse-server.err.log" >&2 2>/dev/null || true
  die "clickhouse did not answer /ping within 30 s"
}

wait_kafka() {
  # A broker with many leftover partitions loads its logs for over a minute before it listens, so
  # the wait is long; a broker that exits stops it at once.
  for _ in $(seq 1 3000); do
    if port_open "$KAFKA_PORT"; then
      # The port opens before the broker has finished recovering; the topic tool waits for metadata.
      (cd "$ROOT" && KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" pnpm -s exec tsx packages/kafka/src/cli/ensure-topics.ts) && { log "kafka ready"; return; }
      die "kafka topics could not be created"
    fi
    if [ -f "$RUN/kafka.pid" ] && ! pid_alive "$RUN/kafka.pid"; then
      tail -n 30 "$KAFKA_DIR/logs/stdout.log" "$KAFKA_DIR/logs/server.log" >&2 2>/dev/null || true
      die "kafka exited during start-up"
    fi
    sleep 0.1
  done
  die "kafka did not open port $KAFKA_PORT within 300 s"
}

stop_pid() { # name pidfile
  local pidfile="$2" pid
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return; fi
  pid="$(cat "$pidfile")"
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((STOP_GRACE_SECONDS * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$1 did not stop in $STOP_GRACE_SECONDS s; killing"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
}

status() {
  for s in kafka clickhouse; do
    if pid_alive "$RUN/$s.pid"; then echo "$s: running (pid $(cat "$RUN/$s.pid"))"; else echo "$s: stopped"; fi
  done
}

case "${1:-}" in
  install) install_clickhouse; install_kafka ;;
  start)
    install_clickhouse; install_kafka
    start_clickhouse; start_kafka
    wait_clickhouse; wait_kafka ;;
  stop) stop_pid kafka "$RUN/kafka.pid"; stop_pid clickhouse "$RUN/clickhouse.pid" ;;
  stop-kafka) stop_pid kafka "$RUN/kafka.pid" ;;
  start-kafka) start_kafka; wait_kafka ;;
  restart-kafka) stop_pid kafka "$RUN/kafka.pid"; start_kafka; wait_kafka ;;
  stop-clickhouse) stop_pid clickhouse "$RUN/clickhouse.pid" ;;
  start-clickhouse) start_clickhouse; wait_clickhouse ;;
  status) status ;;
  *) die "usage: $0 install|start|stop|status|start-kafka|stop-kafka|restart-kafka|start-clickhouse|stop-clickhouse" ;;
esac
