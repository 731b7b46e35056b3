#!/usr/bin/env bash
# Replays the committed fuzz corpus and the seeds (make fuzz-replay, in make
# check): builds the libFuzzer targets (Tests/fuzz/build.sh; the build in
# .build-fuzz/ is kept) and runs each input of Tests/fuzz/corpus/TARGET and
# Tests/fuzz/seeds/TARGET through its target once. A crash or a failed
# oracle aborts the target, which counts as a crash.
# Prints "fuzz-corpus: N inputs replayed, C crashes" last.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/fuzz
TARGETS=(decode address strings)
if ! bash "$ROOT/Tests/fuzz/build.sh" "${TARGETS[*]}"; then
  echo "fuzz-corpus: 0 inputs replayed, 1 crashes (the targets did not build)"
  exit 1
fi
total=0 crashes=0
for t in "${TARGETS[@]}"; do
  files=()
  for d in "$ROOT/Tests/fuzz/corpus/$t" "$ROOT/Tests/fuzz/seeds/$t"; do
    [ -d "$d" ] && for f in "$d"/*; do [ -f "$f" ] && files+=("$f"); done
  done
  [ ${#files[@]} -eq 0 ] && { echo "fuzz $t: no inputs"; crashes=$((crashes + 1)); continue; }
  log=$OUT/replay-$t.log
  # Given files (not folders), libFuzzer runs each once and stops at the
  # first that fails.
  timeout 600 "$OUT/fuzz_$t" -runs=1 "${files[@]}" > "$log" 2>&1
  rc=$?
  ran=$(grep -c '^Executed ' "$log")
  total=$((total + ran))
  if [ "$rc" -ne 0 ] || [ "$ran" -ne ${#files[@]} ]; then
    crashes=$((crashes + 1))
    echo "fuzz $t: FAILED after $ran of ${#files[@]} inputs (exit $rc); the end of $log:"
    tail -n 15 "$log" | sed 's/^/    /'
  else
    echo "fuzz $t: ${#files[@]} inputs, no crash"
  fi
done
echo "fuzz-corpus: $total inputs replayed, $crashes crashes"
[ "$crashes" -eq 0 ]
