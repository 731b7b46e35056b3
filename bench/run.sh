#!/usr/bin/env bash
# run.sh STAGE: builds bench/bench.c against the libsagsocket installed in
# STAGE (STAGE/lib/pkgconfig/sagsocket.pc) with -O2 and runs it. A report of
# same-run ratios against raw POSIX calls, never a test.
#   make bench                              (STAGE = build/stage)
#   BENCH_SCALE=0.1 bash bench/run.sh build/stage   (a quick run)
#   BENCH_ROUNDS=9 ...                      (more rounds; at least 5)
set -euo pipefail

STAGE=${1:?usage: run.sh STAGE   (the prefix libsagsocket is installed in)}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$CC" -std=c99 -O2 -Wall -Wextra -o "$OUT/bench" "$ROOT/bench/bench.c" "${PKG[@]}" -pthread

# Bounded: a full-size run takes well under a minute on loopback.
exec timeout "${BENCH_TIMEOUT:-900}" "$OUT/bench"
