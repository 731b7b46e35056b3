# bench/lib.sh: what the bench/run*.sh scripts share; sourced (under set
# -euo pipefail) after setting STAGE. The preamble of scripts/stage.sh
# (STAGE absolute, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH, PKG), then OUT
# (build/bench, made) and CC.
# shellcheck shell=bash
# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/stage.sh"
use_stage bench "$STAGE"
stage_pkg
OUT=$ROOT/build/bench
CC=${CC:-cc}
mkdir -p "$OUT"

# bench_sizes SCALE: the sizes of a Scheme host's bench at BENCH_SCALE SCALE,
# each with a floor: BULK (1 GiB x SCALE, in whole 64 KiB sends), PINGS and
# CONNS (20,000 x SCALE), LINES (1,000,000 x SCALE); ROUNDS (BENCH_ROUNDS,
# at least 5).
bench_sizes() {
  ROUNDS=${BENCH_ROUNDS:-5}
  [ "$ROUNDS" -lt 5 ] && ROUNDS=5
  BULK=$(awk -v s="$1" 'BEGIN { n = int(1073741824 * s / 65536) * 65536; print (n < 65536 ? 65536 : n) }')
  PINGS=$(awk -v s="$1" 'BEGIN { n = int(20000 * s); print (n < 100 ? 100 : n) }')
  CONNS=$PINGS
  LINES=$(awk -v s="$1" 'BEGIN { n = int(1000000 * s); print (n < 1000 ? 1000 : n) }')
}

# run_pair REF LIB ROUND ARGS...: one round's measurement of both sides,
# `run REF ARGS...` and `run LIB ARGS...` (the calling script's run), the
# reference first in even rounds and second in odd ones; prints "ref lib".
run_pair() {
  local ref=$1 lib=$2 round=$3 a b
  shift 3
  if ((round % 2 == 0)); then a=$(run "$ref" "$@"); b=$(run "$lib" "$@")
  else b=$(run "$lib" "$@"); a=$(run "$ref" "$@"); fi
  echo "$a $b"
}

# line_file FILE: LINES lines of 40 bytes (39 characters and a linefeed).
line_file() {
  awk -v n="$LINES" 'BEGIN { for (i = 0; i < n; i++) printf "%039d\n", i }' >"$1"
}

# The awk functions the reports share, put before a report's program (with
# -v w=WIDTH, the name column's width): median(a, n) of a[1..n]; bulk_row
# and pingpong_row print the rows of a bulk transfer of `bulk` bytes and of
# `pings` round trips, a and b the two sides' median seconds, r the median
# ratio (name: a sprintf format for the size).
BENCH_AWK='
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function bulk_row(name, bulk, a, b, r, goal,   gib) {
    gib = 1073741824
    printf "%-" w "s %13.2f GiB/s %10.2f GiB/s %8.2f %s\n", sprintf(name, bulk / gib),
      bulk / gib / a, bulk / gib / b, r, goal
  }
  function pingpong_row(name, pings, a, b, r, goal) {
    printf "%-" w "s %11.2f us/rt %10.2f us/rt %8.2f %s\n", sprintf(name, pings),
      a / pings * 1e6, b / pings * 1e6, r, goal
  }
'
