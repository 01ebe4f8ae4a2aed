# shellcheck shell=bash
# Sourced by the check scripts under tests/: one PASS/FAIL line per check and
# the closing "N passed, N failed" line CI reads.
#   check NAME COMMAND...   runs COMMAND (output kept in $work/last.log and
#                           shown, last 40 lines, when it fails)
#   check_summary LABEL     prints "LABEL: N passed, N failed"; false if any failed
# REQUIRES: $work is a writable directory.
passed=0 failed=0
check() {
  local name=$1
  shift
  if "$@" >"$work/last.log" 2>&1; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    sed 's/^/    /' "$work/last.log" | tail -n 40
    failed=$((failed + 1))
  fi
}
check_summary() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}
