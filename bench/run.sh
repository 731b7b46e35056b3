#!/usr/bin/env bash
# run.sh STAGE: builds bench/bench.c against the libsagsocket installed in
# STAGE (STAGE/lib/pkgconfig/sagsocket.pc) with -O2 and runs it. A report of
# same-run ratios against raw POSIX calls, never a test.
#   make bench                              (STAGE = build/stage)
#   BENCH_SCALE=0.1 bash bench/run.sh build/stage   (a quick run)
#   BENCH_ROUNDS=9 ...                      (more rounds; at least 5)
set -euo pipefail

STAGE=${1:?usage: run.sh STAGE   (the prefix libsagsocket is installed in)}
STAGE=$(cd "$STAGE" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/bench
CC=${CC:-cc}

export PKG_CONFIG_PATH=$STAGE/lib/pkgconfig
export LD_LIBRARY_PATH=$STAGE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

mkdir -p "$OUT"
read -r -a PKG <<<"$(pkg-config --cflags --libs sagsocket)"
"$CC" -std=c99 -O2 -Wall -Wextra -o "$OUT/bench" "$ROOT/bench/bench.c" "${PKG[@]}" -pthread

# Bounded: a full-size run takes well under a minute on loopback.
exec timeout "${BENCH_TIMEOUT:-900}" "$OUT/bench"
