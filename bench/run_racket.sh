#!/usr/bin/env bash
# run_racket.sh STAGE: the Racket door's benchmark, a report, never a test.
# Each round runs the same work through (require sagsocket) and through
# Racket's own racket/tcp (tcp-connect, tcp-accept and their ports), each
# in a process of its own, interleaved (even rounds racket/tcp first);
# printed: medians and ranges of the per-round times, medians of the
# per-round ratios, with the issue's goals (bench/bench_racket.rkt).
#   make bench                                       (STAGE = build/stage)
#   BENCH_SCALE=0.1 bash bench/run_racket.sh build/stage   (a quick run)
#   BENCH_ROUNDS=9 ...                               (more rounds; at least 5)
set -euo pipefail
STAGE=${1:?usage: run_racket.sh STAGE}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RACKETDIR=$(pkg-config --variable=racketdir sagsocket)

# Default scale 0.25: 256 MiB of bulk, 5,000 round trips, 5,000
# connections, 250,000 lines per round and side; BENCH_SCALE=1 is the
# issue's full size.
SCALE=${BENCH_SCALE:-0.25}
bench_sizes "$SCALE"
LINEFILE=$OUT/racket-lines.txt
line_file "$LINEFILE"

# the program compiled once, before the rounds, in a copy under build/
# (make install compiled the door)
PROG=$OUT/bench_racket.rkt
cp "$ROOT/bench/bench_racket.rkt" "$PROG"
PLTCOLLECTS="$RACKETDIR:" raco make "$PROG"
run() { timeout 900 racket -S "$RACKETDIR" "$PROG" "$@" 2>/dev/null | tail -n 1; }
run sag connect 10 >/dev/null

echo "sagsocket Racket bench: (require sagsocket) vs racket/tcp, $(racket --version)"
echo "  BENCH_SCALE=$SCALE ($BULK bytes, $PINGS round trips, $CONNS connections, $LINES lines), $ROUNDS interleaved rounds"
echo "  A report, not a test."
R=$OUT/racket-rounds.txt
: >"$R"
for ((r = 0; r < ROUNDS; r++)); do
  row=()
  for m in "bulk $BULK" "pingpong $PINGS" "connect $CONNS" "lines $LINEFILE $LINES"; do
    # shellcheck disable=SC2086,SC2207
    row+=($(run_pair racket sag "$r" $m))
  done
  echo "${row[*]}" >>"$R"
  echo "  round $((r + 1)): bulk ${row[0]}s / ${row[1]}s; ping-pong ${row[2]}s / ${row[3]}s; connect ${row[4]}s / ${row[5]}s; read-line ${row[6]}s / ${row[7]}s (racket/tcp / sagsocket)" >&2
done

awk -v w=40 -v bulk="$BULK" -v pings="$PINGS" -v conns="$CONNS" -v lines="$LINES" "$BENCH_AWK"'
  function lo(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] < m) m = a[i]; return m }
  function hi(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] > m) m = a[i]; return m }
  { n++; kb[n] = $1; sb[n] = $2; kp[n] = $3; sp[n] = $4; kc[n] = $5; sc[n] = $6; kl[n] = $7; sl[n] = $8
    rb[n] = $1 / $2; rp[n] = $4 / $3; rc[n] = $5 / $6; rl[n] = $7 / $8 }
  END {
    printf "\n%-40s %16s %16s %8s %s\n", "measurement", "racket/tcp", "sagsocket", "ratio", "goal"
    bulk_row("bulk %.2f GiB in 64 KiB sends", bulk, median(kb, n), median(sb, n), median(rb, n),
      ">= 1.0 (throughput, sagsocket/racket)")
    pingpong_row("1-byte ping-pong x%d", pings, median(kp, n), median(sp, n), median(rp, n),
      "<= 1.0 (latency, sagsocket/racket)")
    printf "%-40s %12.0f /s %13.0f /s %8.2f %s\n", sprintf("%d connect/accept/close", conns),
      conns / median(kc, n), conns / median(sc, n), median(rc, n), ">= 1.0 (rate)"
    printf "%-40s %12.0f /s %13.0f /s %8.2f %s\n", sprintf("%d 40-byte lines, read-line", lines),
      lines / median(kl, n), lines / median(sl, n), median(rl, n), ">= 1.0 (lines/s)"
    printf "\nranges of the per-round ratios (min - max): bulk %.2f - %.2f, ping-pong %.2f - %.2f, connect %.2f - %.2f, read-line %.2f - %.2f\n\n",
      lo(rb, n), hi(rb, n), lo(rp, n), hi(rp, n), lo(rc, n), hi(rc, n), lo(rl, n), hi(rl, n)
  }' "$R"
