# Sourced by scripts that start a propwatch tap on port 0: reads the bound
# port of one listener from the tap's `listening:` log line.
#   port=$(tap_port LOGFILE otlp-http|otlp-grpc|admin) || ...
# Polls for up to 10 s; prints nothing and returns 1 when the line never came.
tap_port() {
  local log=$1 listener=$2 port="" _
  for _ in $(seq 100); do
    port=$(sed -n "s/.*${listener}=[^ ]* (port \\([0-9]*\\)).*/\\1/p" "$log")
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.1
  done
  return 1
}
