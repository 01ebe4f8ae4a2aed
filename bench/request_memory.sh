#!/usr/bin/env bash
# Peak memory a large OTLP/HTTP request costs the tap (docs/deploy.md,
# "Memory"): builds OTLP/protobuf requests of about SIZE bytes of small
# spans, posts one, then N at once, to a tap on loopback, and prints the
# tap's peak RSS (VmHWM) before and after each.
#   bench/request_memory.sh PATH/TO/propwatch [SIZE_BYTES=15000000] [N=4]
# The tap runs with the trace store off and one tracked span per trace, so
# what grows is the request path (body, decoded span records, buffers).
set -euo pipefail
# shellcheck source=../scripts/lib/tap_port.sh
. "$(dirname "$0")/../scripts/lib/tap_port.sh"
propwatch=${1:?usage: $0 PATH/TO/propwatch [SIZE_BYTES] [N]}
size=${2:-15000000}
n=${3:-4}
work=$(mktemp -d "${TMPDIR:-/tmp}/propwatch-reqmem.XXXXXX")
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# OTLP/protobuf by hand (field numbers from the OTLP trace proto): one
# resource (service.name=big), spans of 1,000 per trace, parent chains.
python3 - "$size" "$n" "$work" <<'PY'
import struct, sys
size, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def varint(v):
    b = bytearray()
    while True:
        byte, v = v & 0x7F, v >> 7
        b.append(byte | (0x80 if v else 0))
        if not v:
            return bytes(b)
def field(num, wire, value):
    key = varint(num << 3 | wire)
    if wire == 2:
        return key + varint(len(value)) + value
    if wire == 1:
        return key + struct.pack("<Q", value)
    return key + varint(value)
resource = field(1, 2, field(1, 2, b"service.name") + field(2, 2, field(1, 2, b"big")))
for r in range(n + 1):
    spans, total, i = [], 0, 0
    while total < size:
        trace = struct.pack(">QQ", r + 1, i // 1000 + 1)
        span = struct.pack(">Q", (r << 40) + i + 1)
        parent = struct.pack(">Q", (r << 40) + i) if i % 1000 else b""
        s = field(1, 2, trace) + field(2, 2, span) + (field(4, 2, parent) if parent else b"")
        s += field(5, 2, b"op") + field(6, 0, 2) + field(7, 1, 1_700_000_000_000_000_000)
        s += field(8, 1, 1_700_000_001_000_000_000)
        spans.append(field(2, 2, s))
        total += len(spans[-1])
        i += 1
    body = field(1, 2, field(1, 2, resource) + field(2, 2, b"".join(spans)))
    open(f"{out}/req{r}.pb", "wb").write(body)
    if r == 0:
        print(f"request: {len(body)} bytes, {i} spans")
PY

"$propwatch" --admin-address=127.0.0.1:0 --otlp-grpc-address=127.0.0.1:0 \
  --otlp-http-address=127.0.0.1:0 --trace-store-max-traces=0 --max-spans-per-trace=1 \
  2>"$work/tap.log" &
pid=$!
port=$(tap_port "$work/tap.log" otlp-http) || { cat "$work/tap.log"; exit 1; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
post() { curl -sf -o /dev/null -H 'Content-Type: application/x-protobuf' \
  --data-binary "@$1" "http://127.0.0.1:$port/v1/traces"; }

echo "peak RSS before:          $(hwm) kB"
post "$work/req0.pb"
echo "after 1 request:          $(hwm) kB"
for r in $(seq "$n"); do post "$work/req$r.pb" & done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
echo "after $n concurrent:       $(hwm) kB"
