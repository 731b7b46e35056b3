#!/usr/bin/env bash
# The long fuzz runs (opt-in: make fuzz). Builds the targets, then runs each
# in turn (never two at once), under nice, for RUNS executions (10 million
# unless given), starting from the seeds and the committed corpus; then
# merges what was new into Tests/fuzz/corpus/TARGET (the inputs that add
# coverage, which make check replays). Logs in build/fuzz/TARGET.log; prints
# the executions, coverage and crashes of each.
#   Tests/fuzz/run.sh [RUNS] [TARGET...]
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-10000000}
shift || true
TARGETS=("${@:-decode}")
[ $# -eq 0 ] && TARGETS=(decode address strings)
bash "$ROOT/Tests/fuzz/build.sh" "${TARGETS[*]}" || exit 1
OUT=$ROOT/build/fuzz
status=0
for t in "${TARGETS[@]}"; do
  work=$OUT/work-$t
  corpus=$ROOT/Tests/fuzz/corpus/$t
  mkdir -p "$work" "$corpus"
  log=$OUT/$t.log
  # Crash files of earlier runs are not this run's: they are moved aside.
  mkdir -p "$OUT/old-crashes"
  mv "$OUT"/crash-"$t"-* "$OUT/old-crashes/" 2>/dev/null
  start=$(date +%s)
  opts=()
  [ "$t" = decode ] && opts=(-max_len=1024) # 32 chunks of at most 16 bytes cut the first 512
  nice -n 19 "$OUT/fuzz_$t" "${opts[@]}" -runs="$RUNS" -print_final_stats=1 -artifact_prefix="$OUT/crash-$t-" \
    "$work" "$corpus" "$ROOT/Tests/fuzz/seeds/$t" > "$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  total=$(sed -n 's/^INFO: Loaded 1 modules *(\([0-9]*\) inline 8-bit counters.*/\1/p' "$log" | head -n 1)
  cov=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 of '"$total"' edges, \2 features/p')
  crashes=$(ls "$OUT"/crash-"$t"-* 2>/dev/null | wc -l)
  # Keep only the inputs that add coverage to what the corpus has.
  "$OUT/fuzz_$t" -merge=1 "$corpus" "$work" "$ROOT/Tests/fuzz/seeds/$t" >/dev/null 2>&1
  echo "fuzz $t: ${execs:-?} executions in ${secs} s, coverage ${cov:-?}, $crashes crashes (exit $rc), corpus $(ls "$corpus" | wc -l) inputs"
  [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] || status=1
done
exit $status
