#!/usr/bin/env bash
# stop.sh DATA_DIR — stop the broker started by start.sh DATA_DIR:
# SIGTERM, wait (bounded), then SIGKILL. Idempotent: exits 0 when nothing
# runs. Keeps DATA_DIR (remove it to reset the broker's data).
#
# Environment:
#   DEMO_KAFKA_STOP_TIMEOUT   seconds to wait after SIGTERM (default 20)
set -euo pipefail

log() { echo "[kafka/stop] $*" >&2; }
[ $# -eq 1 ] || { echo "usage: $0 DATA_DIR" >&2; exit 2; }
DATA="$1"
PIDFILE="$DATA/kafka.pid"
TIMEOUT="${DEMO_KAFKA_STOP_TIMEOUT:-20}"

if [ ! -f "$PIDFILE" ]; then
  log "not running (no $PIDFILE)"
  exit 0
fi
PID="$(cat "$PIDFILE" 2>/dev/null || true)"
alive() { kill -0 "$PID" 2>/dev/null; }

case "$PID" in
  ''|*[!0-9]*) log "bad pid file $PIDFILE"; rm -f "$PIDFILE"; exit 0 ;;
esac
# Only signal the process if it is still our broker (the pid may be reused).
if ! alive || ! grep -qa 'kafka\.Kafka' "/proc/$PID/cmdline" 2>/dev/null; then
  log "not running (stale pid $PID)"
  rm -f "$PIDFILE"
  exit 0
fi

log "stopping broker pid $PID"
kill -TERM "$PID" 2>/dev/null || true
t0=$(date +%s)
while alive; do
  if [ $(( $(date +%s) - t0 )) -ge "$TIMEOUT" ]; then
    log "still running after ${TIMEOUT}s; sending SIGKILL"
    kill -KILL "$PID" 2>/dev/null || true
    for _ in $(seq 1 50); do alive || break; sleep 0.1; done
    break
  fi
  sleep 0.2
done
if alive; then
  log "pid $PID did not exit"
  exit 1
fi
rm -f "$PIDFILE"
log "stopped after $(( $(date +%s) - t0 ))s"
