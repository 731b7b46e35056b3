#!/usr/bin/env bash
# Builds the libFuzzer targets of Tests/fuzz into build/fuzz/.
#   Tests/fuzz/build.sh
# The core and the C layer are built in debug (the syscall seam that the
# decode target uses exists only there) with -sanitize=fuzzer, which adds
# libFuzzer's coverage instrumentation, into .build-fuzz/ (kept between
# runs); each target is one Swift file linked with their object files.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT=$ROOT/build/fuzz
mkdir -p "$OUT"
nice swift build -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -O \
  --target SagSocketCABI 2>&1 | tail -n 1
B=.build-fuzz/debug
objs=("$B"/CSagSocketShims.build/*.o "$B"/SagSocketCore.build/*.o "$B"/SagSocketCABI.build/*.o)
for t in "${@:-decode address strings}"; do
  for name in $t; do
    nice swiftc -sanitize=fuzzer -parse-as-library -g -O \
      -I "$B/Modules" -I Sources/CSagSocketShims/include -I include \
      -Xcc -fmodule-map-file=Sources/CSagSocketShims/include/module.modulemap \
      -o "$OUT/fuzz_$name" "Tests/fuzz/$name.swift" "${objs[@]}"
    echo "built $OUT/fuzz_$name"
  done
done
