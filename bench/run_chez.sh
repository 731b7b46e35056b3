#!/usr/bin/env bash
# run_chez.sh STAGE: the Chez Scheme binding's benchmark, a report, never a
# test. Each round runs the same work through (sagittarius socket) on Chez
# (bench/bench_chez.sps) and through the C ABI from C (bench/bench_chez_ref.c),
# interleaved (even rounds C first); printed: medians of the per-round
# numbers and of the per-round ratios. The ping-pong is also run both ways
# inside one Chez process, in blocks taken in turns (bench_chez.sps
# interleaved, over bench_chez_ref.c built as a shared object): where a
# process's two threads run, and what else runs there, is settled early and
# moves a round trip's time from process to process by more than the
# binding costs.
#   make bench                                    (STAGE = build/stage)
#   BENCH_SCALE=0.1 bash bench/run_chez.sh build/stage   (a quick run)
#   BENCH_ROUNDS=9 ...                            (more rounds; at least 5)
set -euo pipefail
STAGE=${1:?usage: run_chez.sh STAGE}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$CC" -std=c99 -O2 -Wall -Wextra -o "$OUT/bench_chez_ref" "$ROOT/bench/bench_chez_ref.c" "${PKG[@]}" -pthread
"$CC" -std=c99 -O2 -Wall -Wextra -shared -fPIC -o "$OUT/libbench_chez_ref.so" "$ROOT/bench/bench_chez_ref.c" "${PKG[@]}" -pthread
CHEZLIBDIR=$(pkg-config --variable=chezlibdir sagsocket)

SCALE=${BENCH_SCALE:-1}
bench_sizes "$SCALE"
LINEFILE=$OUT/lines.txt
line_file "$LINEFILE"

chez() { timeout 600 scheme --libdirs "$CHEZLIBDIR" --program "$ROOT/bench/bench_chez.sps" "$@"; }
ref() { timeout 600 "$OUT/bench_chez_ref" "$@"; }

echo "sagsocket Chez bench: (sagittarius socket) on Chez $(scheme --version 2>&1) vs the C ABI from C"
echo "  BENCH_SCALE=$SCALE ($BULK bytes, $PINGS round trips, $LINES lines), $ROUNDS interleaved rounds"
echo "  A report, not a test."
R=$OUT/chez-rounds.txt
: >"$R"
for ((r = 0; r < ROUNDS; r++)); do
  if ((r % 2 == 0)); then
    cb=$(ref bulk "$BULK"); sb=$(chez bulk "$BULK")
    cp=$(ref pingpong "$PINGS"); sp=$(chez pingpong "$PINGS")
  else
    sb=$(chez bulk "$BULK"); cb=$(ref bulk "$BULK")
    sp=$(chez pingpong "$PINGS"); cp=$(ref pingpong "$PINGS")
  fi
  read -r ic iz ir <<<"$(chez interleaved "$PINGS" "$OUT/libbench_chez_ref.so")"
  read -r cg _ <<<"$(ref getline "$LINEFILE")"
  fl=$(chez filelines "$LINEFILE" "$LINES")
  sl=$(chez lines "$LINEFILE" "$LINES")
  il=$(chez inlines "$LINEFILE" "$LINES")
  echo "$cb $sb $cp $sp $cg $fl $sl $il $ic $iz $ir" >>"$R"
  echo "  round $((r + 1)): bulk C ${cb}s Chez ${sb}s; ping-pong C ${cp}s Chez ${sp}s; in one process C ${ic}s Chez ${iz}s a round trip (blocks' ratio ${ir}); lines getline ${cg}s, file ${fl}s, socket-port ${sl}s, socket-input-port ${il}s" >&2
done

awk -v w=48 -v bulk="$BULK" -v pings="$PINGS" -v lines="$LINES" "$BENCH_AWK"'
  { n++; cb[n] = $1; sb[n] = $2; cp[n] = $3; sp[n] = $4; cg[n] = $5; fl[n] = $6; sl[n] = $7; il[n] = $8
    ic[n] = $9; iz[n] = $10; ir[n] = $11
    rb[n] = $1 / $2; rp[n] = $4 / $3; rl[n] = $6 / $7; ri[n] = $6 / $8; rg[n] = $5 / $7 }
  END {
    printf "\n%-48s %16s %16s %8s %s\n", "measurement", "C ABI from C", "Chez", "ratio", "goal"
    bulk_row("bulk %.2f GiB in 64 KiB socket-send", bulk, median(cb, n), median(sb, n), median(rb, n),
      ">= 0.90 (Chez/C throughput)")
    pingpong_row("ping-pong 1 byte x%d", pings, median(cp, n), median(sp, n), median(rp, n),
      "(each process on its own CPUs: see the next row)")
    printf "%-48s %11.2f us/rt %10.2f us/rt %8.2f %s\n", "the same in one process, blocks in turns",
      median(ic, n) * 1e6, median(iz, n) * 1e6, median(ir, n), "<= 1.05 (Chez/C latency; median over rounds of the median block ratio)"
    printf "\n%-48s %16s\n", sprintf("%d lines of 40 bytes", lines), "lines/s"
    printf "%-48s %16.0f\n", "C getline(3) on the file", lines / median(cg, n)
    printf "%-48s %16.0f\n", "Chez get-line, transcoded file port", lines / median(fl, n)
    printf "%-48s %16.0f   %.2f of the file port (goal >= 0.80)\n", "Chez get-line, transcoded socket-port",
      lines / median(sl, n), median(rl, n)
    printf "%-48s %16.0f   %.2f of the file port\n", "Chez get-line, transcoded socket-input-port",
      lines / median(il, n), median(ri, n)
  }' "$R"
