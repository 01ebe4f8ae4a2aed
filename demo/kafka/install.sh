#!/usr/bin/env bash
# Installs the demo's Kafka broker jars into the cache, keyed by the hash of
# pom.xml, and prints exactly one line on stdout:
#
#     DEMO_KAFKA_HOME=<dir>        (the jars are in <dir>/libs)
#
# Everything else goes to stderr. Idempotent: a finished install is reused at
# once; an interrupted one is never reused (it is built in a temp dir and
# renamed into place only when complete, under a lock).
#
# Environment:
#   PROPWATCH_CACHE        cache root (default ~/.cache/propwatch)
#   DEMO_KAFKA_M2_REPO     Maven local repository (default <cache>/kafka/m2)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/pom.xml"
CACHE_ROOT="${PROPWATCH_CACHE:-$HOME/.cache/propwatch}"
BASE="$CACHE_ROOT/kafka"

log() { echo "[kafka/install] $*" >&2; }

[ -f "$POM" ] || { log "missing $POM"; exit 1; }
HASH="$(sha256sum "$POM" | cut -c1-16)"
HOME_DIR="$BASE/$HASH"

# Fast path: the final dir only ever appears by an atomic rename of a
# complete install, so its existence is enough.
if [ -f "$HOME_DIR/.complete" ] && [ -d "$HOME_DIR/libs" ]; then
  echo "DEMO_KAFKA_HOME=$HOME_DIR"
  exit 0
fi

# --- toolchain: a Java runtime (>= 11) and Maven, from Debian if missing -----
java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local v
  v="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)"
  [ -n "$v" ] && [ "${v%%.*}" -ge 11 ] 2>/dev/null
}
need=()
java_ok || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing from apt: ${need[*]}"
  # shellcheck source=SCRIPTDIR/../../scripts/lib/apt.sh
  . "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/apt.sh"
  apt_install "${need[@]}"
  java_ok || { log "no usable java after install"; exit 1; }
  command -v mvn >/dev/null 2>&1 || { log "no mvn after install"; exit 1; }
fi

# --- build under a lock --------------------------------------------------------
mkdir -p "$BASE"
exec 9>"$BASE/.lock"
if ! flock -w 900 9; then
  log "timed out waiting for the install lock $BASE/.lock"
  exit 1
fi

# Another process may have finished while we waited.
if [ -f "$HOME_DIR/.complete" ] && [ -d "$HOME_DIR/libs" ]; then
  echo "DEMO_KAFKA_HOME=$HOME_DIR"
  exit 0
fi
# A leftover without the marker is not trusted.
rm -rf "$HOME_DIR" "$BASE"/.tmp.* 2>/dev/null || true

M2_REPO="${DEMO_KAFKA_M2_REPO:-$BASE/m2}"
TMP="$(mktemp -d "$BASE/.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "resolving Kafka jars into $HOME_DIR (Maven repo $M2_REPO); this takes a minute on a cold cache"
cp "$POM" "$TMP/pom.xml"
start=$(date +%s)
# Run on a copy so nothing (target/) is written into the source tree. Maven
# is quiet (-q); whatever it does say goes to stderr without colour codes.
ok=1
(cd "$TMP" && mvn -B -q -ntp -Dstyle.color=never -Dmaven.repo.local="$M2_REPO" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$TMP/libs") \
    >"$TMP/mvn.log" 2>&1 || ok=0
sed 's/\x1b\[[0-9;]*m//g' "$TMP/mvn.log" | grep -v '^[[:space:]]*$' >&2 || true
rm -f "$TMP/mvn.log"
[ "$ok" = 1 ] || { log "mvn dependency:copy-dependencies failed"; exit 1; }
n=$(find "$TMP/libs" -name '*.jar' | wc -l)
for must in kafka_2.13- kafka-clients- kafka-tools- kafka-metadata- reload4j- slf4j-reload4j-; do
  ls "$TMP/libs/$must"*.jar >/dev/null 2>&1 || { log "jar $must* missing after resolve"; exit 1; }
done
sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" >"$TMP/kafka.version"
rm -f "$TMP/pom.xml"
touch "$TMP/.complete"
chmod 755 "$TMP"
mv -T "$TMP" "$HOME_DIR"
trap - EXIT INT TERM
log "installed $n jars in $(( $(date +%s) - start ))s"
echo "DEMO_KAFKA_HOME=$HOME_DIR"
