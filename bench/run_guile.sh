#!/usr/bin/env bash
# run_guile.sh STAGE: the Guile binding's benchmark, a report, never a test.
# Each round runs the same work through (sagittarius socket) on Guile and
# through Guile's own sockets (socket, connect, accept, send, recv!,
# read-line on the socket's port), each in a process of its own,
# interleaved (even rounds Guile's first); printed: medians of the
# per-round times and of the per-round ratios (bench/bench_guile.scm).
#   make bench                                      (STAGE = build/stage)
#   BENCH_SCALE=0.1 bash bench/run_guile.sh build/stage   (a quick run)
#   BENCH_ROUNDS=9 ...                              (more rounds; at least 5)
#   BENCH_CLOCK=cpu ...      (every time is the process's CPU time, all
#                             threads, user + system, as for bench.c)
set -euo pipefail
STAGE=${1:?usage: run_guile.sh STAGE}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
GUILELIBDIR=$(pkg-config --variable=guilelibdir sagsocket)
# a cache of its own, compiled once before the rounds
export XDG_CACHE_HOME=$OUT/guile-cache
rm -rf "$XDG_CACHE_HOME"

# Default scale 0.25: 256 MiB of bulk, 5,000 round trips, 5,000
# connections, 250,000 lines per round and side (Guile's own unbuffered
# read-line takes ~40 s for a million lines); BENCH_SCALE=1 is the issue's
# full size.
SCALE=${BENCH_SCALE:-0.25}
bench_sizes "$SCALE"
LINEFILE=$OUT/guile-lines.txt
line_file "$LINEFILE"

run() { timeout 900 guile -L "$GUILELIBDIR" "$ROOT/bench/bench_guile.scm" "$@" 2>/dev/null | tail -n 1; }
run sag connect 10 >/dev/null   # compiles the libraries and the program

# which path the binding's calls take: compiled (libguile-sagsocket.so) or
# ffi (libffi; SAGSOCKET_GUILE_FFI=1 forces it)
GPATH=$(guile -L "$GUILELIBDIR" -c '(use-modules ((sagittarius socket host) #:select (guile-binding-path)))
                                    (display guile-binding-path)' 2>/dev/null)
echo "sagsocket Guile bench: (sagittarius socket) vs Guile's own sockets, $(guile --version | head -n 1), path $GPATH${BENCH_CLOCK:+, BENCH_CLOCK=$BENCH_CLOCK}"
echo "  BENCH_SCALE=$SCALE ($BULK bytes, $PINGS round trips, $CONNS connections, $LINES lines), $ROUNDS interleaved rounds"
echo "  A report, not a test."
R=$OUT/guile-rounds.txt
: >"$R"
for ((r = 0; r < ROUNDS; r++)); do
  row=()
  for m in "bulk $BULK" "pingpong $PINGS" "connect $CONNS" "lines $LINEFILE $LINES"; do
    # shellcheck disable=SC2086,SC2207
    row+=($(run_pair guile sag "$r" $m))
  done
  # shellcheck disable=SC2207
  row+=($(run_pair guile-block sag-read-line "$r" lines "$LINEFILE" "$LINES"))
  echo "${row[*]}" >>"$R"
  echo "  round $((r + 1)): bulk ${row[0]}s / ${row[1]}s; ping-pong ${row[2]}s / ${row[3]}s; connect ${row[4]}s / ${row[5]}s; lines ${row[6]}s / ${row[7]}s; read-line, buffered Guile port ${row[8]}s / ${row[9]}s (Guile's / sagsocket)" >&2
done

awk -v w=44 -v bulk="$BULK" -v pings="$PINGS" -v conns="$CONNS" -v lines="$LINES" "$BENCH_AWK"'
  { n++; gb[n] = $1; sb[n] = $2; gp[n] = $3; sp[n] = $4; gc[n] = $5; sc[n] = $6; gl[n] = $7; sl[n] = $8; bl[n] = $9; ql[n] = $10
    rb[n] = $1 / $2; rp[n] = $4 / $3; rc[n] = $5 / $6; rl[n] = $7 / $8; rbl[n] = $9 / $10 }
  END {
    printf "\n%-44s %16s %16s %8s %s\n", "measurement", "Guile own", "sagsocket", "ratio", "goal"
    bulk_row("bulk %.2f GiB in 64 KiB sends", bulk, median(gb, n), median(sb, n), median(rb, n),
      ">= 1.0 (throughput, sagsocket/Guile)")
    pingpong_row("1-byte ping-pong x%d", pings, median(gp, n), median(sp, n), median(rp, n),
      "<= 1.0 (latency, sagsocket/Guile)")
    printf "%-44s %12.0f /s %13.0f /s %8.2f %s\n", sprintf("%d connect/accept/close", conns),
      conns / median(gc, n), conns / median(sc, n), median(rc, n), ">= 1.0 (rate)"
    printf "%-44s %12.0f /s %13.0f /s %8.2f %s\n", sprintf("%d 40-byte lines, get-line", lines),
      lines / median(gl, n), lines / median(sl, n), median(rl, n), ">= 1.0 (lines/s; Guile: read-line, port as made)"
    printf "%-44s %12.0f /s %13.0f /s %8.2f %s\n", "  read-line both, Guile port given 64 KiB buffer",
      lines / median(bl, n), lines / median(ql, n), median(rbl, n), "report"
  }' "$R"
