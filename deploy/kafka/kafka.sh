#!/usr/bin/env bash
# The real Apache Kafka broker (KRaft, one combined broker+controller JVM) for hedge-monitor's demo
# and integration tests, fetched from Maven Central by this directory's pom.xml.
#
# Usage: kafka.sh fetch|start|stop|kill|status|restart|logs|wipe
#   fetch    download the broker jars into the cache (skipped when already there)
#   start    fetch if needed, format storage once, start the broker, wait until it answers metadata
#   stop     SIGTERM (controlled shutdown), SIGKILL after HEDGE_KAFKA_STOP_TIMEOUT seconds
#   kill     SIGKILL at once (crash tests); the data stays and the next start recovers it
#   status   exit 0 when running and answering metadata, 1 when running but not answering, 3 when not running
#   restart  stop then start
#   logs     print the tail of the broker log
#   wipe     stop, then delete this port's run directory (data, logs, rendered config)
#
# Environment (all optional):
#   HEDGE_KAFKA_PORT             client listener port on 127.0.0.1 (default 9092)
#   HEDGE_KAFKA_CONTROLLER_PORT  KRaft controller port (default HEDGE_KAFKA_PORT + 1)
#   HEDGE_CACHE_DIR              cache root (default <project>/.cache); jars and maven repo in kafka/
#   HEDGE_KAFKA_RUN_DIR          data/logs/pid directory (default <cache>/kafka/run-<port>)
#   HEDGE_KAFKA_HEAP_OPTS        JVM heap flags (default "-Xms256m -Xmx512m")
#   HEDGE_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 90)
#   HEDGE_KAFKA_STOP_TIMEOUT     seconds to wait for a graceful stop before SIGKILL (default 30)
#   JAVA_HOME                    Java 17+ to use (default: java on PATH)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$SCRIPT_DIR/../.." && pwd)"

PORT="${HEDGE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${HEDGE_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
CACHE_DIR="${HEDGE_CACHE_DIR:-$PROJECT_DIR/.cache}"
KAFKA_CACHE="$CACHE_DIR/kafka"
RUN_DIR="${HEDGE_KAFKA_RUN_DIR:-$KAFKA_CACHE/run-$PORT}"
HEAP_OPTS="${HEDGE_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
START_TIMEOUT="${HEDGE_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${HEDGE_KAFKA_STOP_TIMEOUT:-30}"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$SCRIPT_DIR/pom.xml")"
LIB_DIR="$KAFKA_CACHE/lib-$KAFKA_VERSION"
MAVEN_REPO="$KAFKA_CACHE/m2"

DATA_DIR="$RUN_DIR/data"
LOG_DIR="$RUN_DIR/logs"
CONFIG_FILE="$RUN_DIR/server.properties"
PID_FILE="$RUN_DIR/kafka.pid"
OUT_FILE="$LOG_DIR/kafka.out"

if [ -n "${JAVA_HOME:-}" ]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="java"; fi
if [ -n "${HEDGE_PYTHON:-}" ]; then
  PYTHON="$HEDGE_PYTHON"
elif [ -x "$PROJECT_DIR/.venv/bin/python" ]; then
  PYTHON="$PROJECT_DIR/.venv/bin/python"
else
  PYTHON="python3"
fi

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }

now_ms() { date +%s%3N; }
elapsed_s() { local start_ms="$1"; awk -v ms="$(($(now_ms) - start_ms))" 'BEGIN { printf "%.1f", ms / 1000 }'; }

jars_present() { [ -f "$LIB_DIR/.complete" ]; }

fetch() {
  if jars_present; then
    say "Kafka $KAFKA_VERSION jars already in $LIB_DIR"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  mkdir -p "$KAFKA_CACHE"
  local started tmp_dir mvn_log
  started="$(now_ms)"
  tmp_dir="$LIB_DIR.partial.$$"
  mvn_log="$KAFKA_CACHE/fetch.log"
  say "fetching Kafka $KAFKA_VERSION from Maven Central into $LIB_DIR"
  rm -rf "$tmp_dir"
  if ! mvn -B -q -f "$SCRIPT_DIR/pom.xml" -Dmaven.repo.local="$MAVEN_REPO" -Dstyle.color=never \
      dependency:copy-dependencies -DoutputDirectory="$tmp_dir" >"$mvn_log" 2>&1; then
    tail -n 40 "$mvn_log" >&2
    rm -rf "$tmp_dir"
    die "maven could not fetch Kafka $KAFKA_VERSION (full log: $mvn_log)"
  fi
  ls "$tmp_dir"/kafka_2.13-*.jar >/dev/null 2>&1 || die "no kafka_2.13 jar in $tmp_dir"
  touch "$tmp_dir/.complete"
  # Another fetch may have finished first; either copy is complete, keep the one in place.
  mv -T "$tmp_dir" "$LIB_DIR" 2>/dev/null || rm -rf "$tmp_dir"
  say "fetched $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $(elapsed_s "$started") s"
}

# The pid of our broker when it is alive, else nothing (a stale pid file is ignored).
running_pid() {
  [ -f "$PID_FILE" ] || return 0
  local pid
  pid="$(cat "$PID_FILE")"
  if [ -z "$pid" ] || [ ! -r "/proc/$pid/cmdline" ]; then return 0; fi
  # Guard against pid reuse: the process must be a JVM started with our rendered config.
  if tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF "$CONFIG_FILE"; then
    printf '%s\n' "$pid"
  fi
}

answers_metadata() { "$PYTHON" "$SCRIPT_DIR/probe.py" --quiet --timeout 2 127.0.0.1 "$PORT"; }

port_in_use() {
  "$PYTHON" - "$1" <<'PY'
import socket, sys
with socket.socket() as s:
    s.settimeout(1)
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

log_tail() {
  local file
  for file in "$LOG_DIR/server.log" "$OUT_FILE" "$LOG_DIR/storage-tool.log"; do
    if [ -s "$file" ]; then
      printf -- '--- last lines of %s\n' "$file" >&2
      tail -n "${1:-40}" "$file" >&2
    fi
  done
}

java_opts() {
  # G1 with short pauses as in Kafka's own kafka-run-class.sh; logs to files via log4j2.xml.
  # shellcheck disable=SC2086 # HEAP_OPTS holds several flags on purpose
  printf '%s\n' $HEAP_OPTS \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$SCRIPT_DIR/log4j2.xml" "-Dkafka.logs.dir=$LOG_DIR"
}

render_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  sed -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" -e "s|@DATA_DIR@|$DATA_DIR|g" \
    "$SCRIPT_DIR/server.properties" >"$CONFIG_FILE"
}

format_storage_once() {
  [ -f "$DATA_DIR/meta.properties" ] && return 0
  local cluster_id opts
  mapfile -t opts < <(java_opts)
  cluster_id="$("$JAVA" "${opts[@]}" -Dkafka.log.file=storage-tool.log -cp "$LIB_DIR/*" \
    kafka.tools.StorageTool random-uuid)"
  say "formatting KRaft storage in $DATA_DIR (cluster id $cluster_id)"
  if ! "$JAVA" "${opts[@]}" -Dkafka.log.file=storage-tool.log -cp "$LIB_DIR/*" \
      kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$CONFIG_FILE" \
      >"$LOG_DIR/storage-format.out" 2>&1; then
    cat "$LOG_DIR/storage-format.out" >&2
    die "formatting storage failed"
  fi
}

start() {
  local started pid opts deadline
  started="$(now_ms)"
  pid="$(running_pid)"
  if [ -n "$pid" ]; then
    if answers_metadata; then
      say "already running (pid $pid) on 127.0.0.1:$PORT"
      return 0
    fi
    say "pid $pid is up but not answering yet; waiting"
  else
    if port_in_use "$PORT" || port_in_use "$CONTROLLER_PORT"; then
      die "port $PORT or $CONTROLLER_PORT on 127.0.0.1 is taken by another process"
    fi
    fetch >/dev/null
    "$JAVA" -version 2>&1 | head -n 1 | grep -qE '"(1[7-9]|[2-9][0-9])[."]' \
      || die "Kafka $KAFKA_VERSION needs Java 17 or newer; set JAVA_HOME"
    render_config
    format_storage_once
    mapfile -t opts < <(java_opts)
    # Detached from our stdin/stdout so callers capturing our output (pytest) are not held open.
    nohup "$JAVA" "${opts[@]}" -cp "$LIB_DIR/*" kafka.Kafka "$CONFIG_FILE" \
      </dev/null >>"$OUT_FILE" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"
  fi
  deadline=$(($(date +%s) + START_TIMEOUT))
  until answers_metadata; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail 60
      rm -f "$PID_FILE"
      die "broker exited during startup"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log_tail 60
      die "broker did not answer metadata on 127.0.0.1:$PORT within ${START_TIMEOUT}s (pid $pid left running; run stop)"
    fi
    sleep 0.3
  done
  say "started Kafka $KAFKA_VERSION (pid $pid) on 127.0.0.1:$PORT in $(elapsed_s "$started") s; logs in $LOG_DIR"
}

wait_gone() {
  local pid="$1" deadline_s="$2" deadline
  deadline=$(($(date +%s) + deadline_s))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.2
  done
  return 0
}

stop() {
  local pid started
  pid="$(running_pid)"
  if [ -z "$pid" ]; then
    rm -f "$PID_FILE"
    say "not running on port $PORT"
    return 0
  fi
  started="$(now_ms)"
  kill -TERM "$pid" 2>/dev/null || true
  if wait_gone "$pid" "$STOP_TIMEOUT"; then
    say "stopped (pid $pid) in $(elapsed_s "$started") s"
  else
    say "pid $pid still up after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
  fi
  rm -f "$PID_FILE"
}

kill_now() {
  local pid
  pid="$(running_pid)"
  if [ -z "$pid" ]; then
    say "not running on port $PORT"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
  rm -f "$PID_FILE"
  say "killed (pid $pid)"
}

status() {
  local pid
  pid="$(running_pid)"
  if [ -z "$pid" ]; then
    say "not running on port $PORT"
    return 3
  fi
  if answers_metadata; then
    say "running (pid $pid) on 127.0.0.1:$PORT, Kafka $KAFKA_VERSION: $("$PYTHON" "$SCRIPT_DIR/probe.py" 127.0.0.1 "$PORT")"
    return 0
  fi
  say "running (pid $pid) but not answering metadata on 127.0.0.1:$PORT"
  return 1
}

wipe() {
  stop
  rm -rf "$RUN_DIR"
  say "deleted $RUN_DIR"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  kill) kill_now ;;
  status) status ;;
  restart) stop; start ;;
  logs) log_tail "${2:-100}" 2>&1 ;;
  wipe) wipe ;;
  *)
    sed -n '5,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
