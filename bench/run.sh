#!/usr/bin/env bash
# run.sh STAGE: builds bench/bench.c against the libsagsocket installed in
# STAGE (STAGE/lib/pkgconfig/sagsocket.pc) with -O2 and runs it. A report of
# same-run ratios against raw POSIX calls, never a test.
#   make bench                              (STAGE = build/stage)
#   BENCH_SCALE=0.1 bash bench/run.sh build/stage   (a quick run)
#   BENCH_ROUNDS=9 ...                      (more rounds; at least 5)
#   BENCH_CLOCK=cpu ...                     (times by CPU time, user + system)
set -euo pipefail

STAGE=${1:?usage: run.sh STAGE   (the prefix libsagsocket is installed in)}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$CC" -std=c99 -O2 -Wall -Wextra -o "$OUT/bench" "$ROOT/bench/bench.c" "${PKG[@]}" -pthread

# Bounded: a full-size run takes well under a minute on loopback.
timeout "${BENCH_TIMEOUT:-900}" "$OUT/bench"
# The installed library's size, stripped, and its debug information apart.
real=$(readlink -f "$STAGE/lib/libsagsocket.so")
size=$(stat -c %s "$real")
debug=$(stat -c %s "$(dirname "$real")/.debug/$(basename "$real").debug" 2>/dev/null || echo 0)
awk -v s="$size" -v d="$debug" 'BEGIN {
  printf "installed libsagsocket.so: %.1f MB stripped (goal <= 10 MB: %s), debug information apart: %.1f MB\n",
    s / 1e6, s <= 10e6 ? "met" : "MISSED", d / 1e6 }' 
