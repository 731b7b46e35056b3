#!/usr/bin/env bash
# run_ports.sh STAGE: builds bench/bench_ports.c against the libsagsocket
# installed in STAGE (STAGE/lib/pkgconfig/sagsocket.pc) with -O2 and runs it.
# A report of same-run ratios of the socket ports against C stdio and raw
# POSIX calls, never a test.
#   bash bench/run_ports.sh build/stage                  (after make stage)
#   BENCH_SCALE=0.1 bash bench/run_ports.sh build/stage  (a quick run)
#   BENCH_ROUNDS=9 ...                                   (more rounds; >= 5)
#   BENCH_VERBOSE=1 ...                                  (every round's values)
set -euo pipefail

STAGE=${1:?usage: run_ports.sh STAGE   (the prefix libsagsocket is installed in)}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$CC" -std=c11 -O2 -Wall -Wextra -o "$OUT/bench_ports" "$ROOT/bench/bench_ports.c" "${PKG[@]}" -pthread

# Bounded: a full-size run takes about a minute on loopback.
exec timeout "${BENCH_TIMEOUT:-900}" "$OUT/bench_ports"
