#!/usr/bin/env bash
# Descriptor exhaustion, through the C ABI of an installed libsagsocket.
#   Tests/exhaustion/run.sh STAGE
# Builds Tests/exhaustion/exhaustion.c against the installed header and runs
# it (it lowers its own RLIMIT_NOFILE) with no descriptor open beyond 0-2.
# Prints "exhaustion: N passed, M failed" last; exits non-zero on a failure.
set -u
TAG=exhaustion
NAME=exhaustion
# shellcheck source=Tests/c/lib.sh
. "$(dirname "$0")/../c/lib.sh"
test_setup "$@"
HERE=$(cd "$(dirname "$0")" && pwd)

echo "== build"
stage_pkg
if ! cc -std=c11 -Wall -Wextra -O1 -g -o "$BIN" "$HERE/exhaustion.c" "${PKG[@]}" -lpthread; then
  echo "exhaustion: 0 passed, 1 failed (build failed)"
  exit 1
fi

echo "== run"
LOG="$OUT/exhaustion.log"
run_clean timeout -s KILL 70 "$BIN" | tee "$LOG"
rc=${PIPESTATUS[0]}
counts=$(tail -n 1 "$LOG" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
if [ -z "$counts" ]; then
  explain_rc exhaustion "$rc" "SIGALRM=14 is the 60 s watchdog"
  echo "exhaustion: 0 passed, 1 failed (no summary)"
  exit 1
fi
read -r np nf <<<"$counts"
[ "$rc" -ne 0 ] && [ "$nf" = 0 ] && nf=1
echo "exhaustion: $np passed, $nf failed"
[ "$nf" = 0 ]
