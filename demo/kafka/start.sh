#!/usr/bin/env bash
# start.sh DATA_DIR — start a single-node KRaft Kafka (broker + controller) on
# 127.0.0.1 as a plain background java process, wait until it serves, and
# make sure topic "orders" (1 partition) exists.
#
# Exit 0 when ready; non-zero (with the last log lines on stderr, and the
# broker it started killed) on failure.
#
# Files in DATA_DIR: server.properties, log4j.properties, kafka.pid,
# kafka.log, logs/ (the Kafka log dir; formatted on first start, kept after).
#
# Environment:
#   DEMO_KAFKA_PORT             broker port      (default 19092)
#   DEMO_KAFKA_CONTROLLER_PORT  controller port  (default 19093)
#   DEMO_KAFKA_HOME             installed jars (<dir>/libs); default: run install.sh
#   DEMO_KAFKA_HEAP             broker max heap  (default 512m)
#   DEMO_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 60)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "[kafka/start] $*" >&2; }

[ $# -eq 1 ] || { echo "usage: $0 DATA_DIR" >&2; exit 2; }
mkdir -p "$1"
DATA="$(cd "$1" && pwd)"
PORT="${DEMO_KAFKA_PORT:-19092}"
CPORT="${DEMO_KAFKA_CONTROLLER_PORT:-19093}"
HEAP="${DEMO_KAFKA_HEAP:-512m}"
TIMEOUT="${DEMO_KAFKA_START_TIMEOUT:-60}"
PIDFILE="$DATA/kafka.pid"
LOGFILE="$DATA/kafka.log"
TOPIC=orders

# --- jars -------------------------------------------------------------------
if [ -z "${DEMO_KAFKA_HOME:-}" ] || [ ! -d "${DEMO_KAFKA_HOME}/libs" ]; then
  line="$("$HERE/install.sh")"
  DEMO_KAFKA_HOME="${line#DEMO_KAFKA_HOME=}"
fi
[ -d "$DEMO_KAFKA_HOME/libs" ] || { log "no jars in $DEMO_KAFKA_HOME/libs"; exit 1; }
CP="$DEMO_KAFKA_HOME/libs/*"
command -v java >/dev/null 2>&1 || { log "java not found"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# --- already running? -------------------------------------------------------
if [ -f "$PIDFILE" ]; then
  old="$(cat "$PIDFILE" 2>/dev/null || true)"
  if alive "$old" && grep -qa 'kafka\.Kafka' "/proc/$old/cmdline" 2>/dev/null; then
    log "already running (pid $old); run stop.sh $DATA first to restart"
    exit 1
  fi
  rm -f "$PIDFILE"
fi
for p in "$PORT" "$CPORT"; do
  if port_open "$p"; then
    log "port 127.0.0.1:$p is already in use (another broker? set DEMO_KAFKA_PORT / DEMO_KAFKA_CONTROLLER_PORT)"
    exit 1
  fi
done

# --- config -----------------------------------------------------------------
cat >"$DATA/server.properties" <<EOF
# written by demo/kafka/start.sh; rewritten on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA/logs
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF

cat >"$DATA/log4j.properties" <<'EOF'
# broker logging (reload4j); stdout goes to kafka.log
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=WARN
EOF

cat >"$DATA/tools-log4j.properties" <<'EOF'
# command-line tools: warnings only, on stderr
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF

# Short-lived tool JVMs: small heap, fast start.
tool() {
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Djava.awt.headless=true -Dlog4j.configuration="file:$DATA/tools-log4j.properties" \
    -cp "$CP" "$@"
}

# --- format storage (first start only) ----------------------------------------
if [ ! -f "$DATA/logs/meta.properties" ]; then
  # A cluster id is 16 random bytes, base64url without padding; Kafka's own
  # generator also avoids a leading '-', which would read as an option.
  while :; do
    CLUSTER_ID="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    [ "${CLUSTER_ID:0:1}" != "-" ] && break
  done
  log "formatting $DATA/logs (cluster id $CLUSTER_ID)"
  if ! tool kafka.tools.StorageTool format --ignore-formatted -t "$CLUSTER_ID" -c "$DATA/server.properties" >"$DATA/format.log" 2>&1; then
    cat "$DATA/format.log" >&2
    log "storage format failed"
    exit 1
  fi
fi

# --- launch -----------------------------------------------------------------
log "starting broker on 127.0.0.1:$PORT (controller 127.0.0.1:$CPORT), log $LOGFILE"
# Keep the previous run's log as kafka.log.prev; readiness is read from a fresh kafka.log.
[ -f "$LOGFILE" ] && mv -f "$LOGFILE" "$LOGFILE.prev"
# setsid: own session, so a Ctrl-C meant for the caller's terminal does not
# reach the broker (stop.sh does that). No fd of ours is inherited, so a
# caller that captures start.sh's output is not held open by the broker.
setsid java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
  -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
  -Dlog4j.configuration="file:$DATA/log4j.properties" \
  -Dkafka.logs.dir="$DATA" \
  -cp "$CP" kafka.Kafka "$DATA/server.properties" \
  </dev/null >>"$LOGFILE" 2>&1 &
PID=$!
echo "$PID" >"$PIDFILE"
t0=$(date +%s)

fail() {
  log "$*"
  echo "----- last lines of $LOGFILE -----" >&2
  tail -n 40 "$LOGFILE" >&2 || true
  echo "-----" >&2
  if alive "$PID"; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$PID" || break; sleep 0.2; done
    if alive "$PID"; then kill -KILL "$PID" 2>/dev/null || true; fi
  fi
  rm -f "$PIDFILE"
  exit 1
}

# --- wait until the broker serves ---------------------------------------------
deadline=$(( t0 + TIMEOUT ))
started_marker="Kafka Server started"
while :; do
  alive "$PID" || fail "broker exited during start-up"
  if port_open "$PORT" && grep -q "$started_marker" "$LOGFILE"; then
    break
  fi
  [ "$(date +%s)" -lt "$deadline" ] || fail "broker not ready after ${TIMEOUT}s"
  sleep 0.3
done
log "broker up after $(( $(date +%s) - t0 ))s (pid $PID)"

# --- topic ------------------------------------------------------------------
if ! out="$(tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$PORT" \
      --create --if-not-exists --topic "$TOPIC" --partitions 1 --replication-factor 1 2>&1)"; then
  echo "$out" >&2
  fail "could not create topic $TOPIC"
fi
log "topic $TOPIC ready; kafka ready after $(( $(date +%s) - t0 ))s"
