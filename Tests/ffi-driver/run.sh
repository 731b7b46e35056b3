#!/usr/bin/env bash
# The libffi test driver of an installed libsagsocket.
#   Tests/ffi-driver/run.sh STAGE     (STAGE holds lib/, include/, lib/pkgconfig/)
# 1. generates the signature manifest from include/sagsocket_decls.h into
#    build/ffi/manifest.txt (so it can never drift from the header);
# 2. builds the driver twice into build/ffi/: plain (ffi-driver) and with
#    -fsanitize=address,undefined (ffi-driver-asan);
# 3. runs the scenarios and the bad-input sweep with the plain driver;
# 4. runs the sweep and the scenarios with the ASan/UBSan driver
#    (LeakSanitizer on: every sweep process checks for leaks after its cases,
#    the driver at exit);
# 5. runs the scenarios (and one baseline call of every function) under
#    valgrind, failing on any valgrind error or definitely lost block.
# Exits non-zero when anything failed, after saying what.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/stage.sh
. "$HERE/../../scripts/stage.sh"
use_stage ffi-driver "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH
OUT="$ROOT/build/ffi"
LIB="$STAGE/lib/libsagsocket.so"
DECLS="$ROOT/include/sagsocket_decls.h"
SOURCES=("$HERE/driver.c" "$HERE/world.c" "$HERE/sweep.c" "$HERE/scenarios.c")
mkdir -p "$OUT" || exit 1

failures=()
fail() { echo "FAIL $*"; failures+=("$*"); }
started=$SECONDS

if [ ! -e "$LIB" ]; then
  echo "ffi-driver: $LIB does not exist (run make stage)" >&2
  exit 1
fi
if ! cmp -s "$DECLS" "$STAGE/include/sagsocket_decls.h"; then
  fail "the staged sagsocket_decls.h differs from include/ (stale stage? run make stage)"
fi

# ---- 1. the manifest -----------------------------------------------------------
echo "== manifest: $OUT/manifest.txt from include/sagsocket_decls.h"
if python3 "$HERE/gen_manifest.py" "$DECLS" > "$OUT/manifest.txt.new"; then
  mv "$OUT/manifest.txt.new" "$OUT/manifest.txt"
  echo "   $(grep -c '^fn' "$OUT/manifest.txt") functions"
else
  rm -f "$OUT/manifest.txt.new"
  fail "gen_manifest.py could not describe every function of the header"
  echo "ffi-driver: ${#failures[@]} failure(s)"
  exit 1
fi

# ---- 2. two builds -----------------------------------------------------------------
CC=${CC:-cc}
FFI_CFLAGS=$(pkg-config --cflags libffi 2>/dev/null)
FFI_LIBS=$(pkg-config --libs libffi 2>/dev/null || echo -lffi)
[ -n "$FFI_LIBS" ] || FFI_LIBS=-lffi
CFLAGS=(-std=gnu11 -g -O1 -Wall -Wextra -Wno-format-truncation)
echo "== build: plain and -fsanitize=address,undefined"
# shellcheck disable=SC2086
if ! "$CC" "${CFLAGS[@]}" $FFI_CFLAGS -o "$OUT/ffi-driver" "${SOURCES[@]}" $FFI_LIBS -ldl -lpthread; then
  fail "building the plain driver"
fi
# shellcheck disable=SC2086
if ! "$CC" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
     $FFI_CFLAGS -o "$OUT/ffi-driver-asan" "${SOURCES[@]}" $FFI_LIBS -ldl -lpthread; then
  fail "building the ASan/UBSan driver"
fi

# Runs a step; its output is kept in build/ffi/NAME.log and its calls per
# status and summary line are shown. A step that outlives its bound (the
# driver's own watchdogs should have ended it) is killed.
run_step() {
  local name=$1 bound=$2
  shift 2
  local log="$OUT/$name.log"
  timeout -k 10 "$bound" "$@" > "$log" 2>&1
  local rc=$?
  grep -E '^(FAIL|CRASH|HANG|LEAK)|^==[0-9]+==|ERROR: |runtime error:' "$log" | head -n 60
  sed -n '/calls per status/,$p' "$log"
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    fail "$name: still running after $bound s (killed; see $log)"
  elif [ $rc -ne 0 ]; then
    fail "$name: exit status $rc (see $log)"
  fi
}

if [ -x "$OUT/ffi-driver" ]; then
  # ---- 3. plain: scenarios and sweep -------------------------------------------
  echo "== plain driver: scenarios and sweep"
  run_step plain 240 "$OUT/ffi-driver" --all --manifest "$OUT/manifest.txt" "$LIB"

  # ---- 5. valgrind: scenarios ---------------------------------------------------
  echo "== valgrind: scenarios and a baseline call of every function"
  if ! command -v valgrind >/dev/null 2>&1; then
    fail "valgrind is not installed"
  else
    FFI_DRIVER_SCENARIO_SECONDS=240 run_step valgrind 300 \
      valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite --suppressions="$HERE/valgrind.supp" \
        "$OUT/ffi-driver" --scenarios --manifest "$OUT/manifest.txt" "$LIB"
  fi
fi

if [ -x "$OUT/ffi-driver-asan" ]; then
  # ---- 4. ASan/UBSan: sweep -----------------------------------------------------
  echo "== ASan/UBSan driver: sweep and scenarios (LeakSanitizer on)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  FFI_DRIVER_LEAK_CHECK=1 \
    run_step asan 240 "$OUT/ffi-driver-asan" --all --manifest "$OUT/manifest.txt" "$LIB"
fi

echo "ffi-driver: ${#failures[@]} failure(s) in $((SECONDS - started)) s"
for f in "${failures[@]}"; do
  echo "  - $f"
done
[ ${#failures[@]} -eq 0 ]
