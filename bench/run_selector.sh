#!/usr/bin/env bash
# run_selector.sh STAGE: builds bench/bench_selector.c against the
# libsagsocket installed in STAGE (STAGE/lib/pkgconfig/sagsocket.pc) with -O2
# and runs it. A report of same-run ratios of the socket selector against
# raw epoll (and the library's read-select), never a test.
#   bash bench/run_selector.sh build/stage                  (after make stage)
#   BENCH_SCALE=0.1 bash bench/run_selector.sh build/stage  (a quick run)
#   BENCH_ROUNDS=9 ...                                      (more rounds; >= 5)
#   BENCH_VERBOSE=1 ...                                     (every round's values)
#   BENCH_CLOCK=cpu ...                                     (CPU time, not wall clock)
set -euo pipefail

STAGE=${1:?usage: run_selector.sh STAGE   (the prefix libsagsocket is installed in)}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$CC" -std=c11 -O2 -Wall -Wextra -o "$OUT/bench_selector" "$ROOT/bench/bench_selector.c" "${PKG[@]}" -pthread

# Bounded: a full-size run takes a few minutes on loopback.
exec timeout "${BENCH_TIMEOUT:-1200}" "$OUT/bench_selector"
