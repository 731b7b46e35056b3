#!/usr/bin/env bash
# The library's concurrent paths under ThreadSanitizer.
#   Tests/tsan/run.sh STAGE
# 1. builds libsagsocket with Swift's -sanitize=thread (debug, into
#    .build-tsan/, kept between runs so only changed sources are rebuilt),
#    with -DSAG_TSAN: its locks are then pthread mutexes, which TSan sees
#    (Sources/SagSocketCore/Internals/TSanMutex.swift says why); and with the Swift
#    runtime linked dynamically, not statically as in the release library:
#    libswiftCore.so exports __tsan_on_initialize, through which TSan lets the
#    runtime report its one-time initializations (swift_once), where the
#    static runtime's copy is hidden and lazy globals show as races;
# 2. builds Tests/tsan/races.c with -fsanitize=thread, with the clang of the
#    same Swift toolchain (the TSan runtimes must match), and canary.c, a
#    deliberate race;
# 3. runs both; counts TSan's reports. The canary must give exactly one
#    (TSan is on and its reports are counted), races.c none.
# Prints "tsan: N tests, R reports" last; exits non-zero on a failure.
set -u
TAG=tsan
NAME=races
# shellcheck source=Tests/c/lib.sh
. "$(dirname "$0")/../c/lib.sh"
test_setup "$@"
TOOLBIN=$(dirname "$(readlink -f "$(command -v swift)")")
CLANG=$TOOLBIN/clang
SWIFTLIBS=$(readlink -f "$TOOLBIN/../lib/swift/linux")
T=$ROOT/build/tsan
MAP=$ROOT/build/sagsocket.map
mkdir -p "$T/lib"

die() { echo "tsan: 0 tests, 0 reports (FAILED: $*)"; exit 1; }
[ -x "$CLANG" ] || die "no clang beside swift ($CLANG)"
[ -f "$MAP" ] || die "no $MAP (make lib writes it)"

echo "== build the library with -sanitize=thread (.build-tsan)"
( cd "$ROOT" && nice swift build -c debug --scratch-path .build-tsan \
    -Xswiftc -sanitize=thread -Xswiftc -DSAG_TSAN -Xcc -DSAG_TSAN --product sagsocket \
    -Xlinker --version-script="$MAP" -Xlinker -soname=libsagsocket.so.1 2>&1 | tail -n 3 ) \
  || die "swift build failed"
cp "$ROOT/.build-tsan/debug/libsagsocket.so" "$T/lib/libsagsocket.so.1" || die "no library"
ln -sf libsagsocket.so.1 "$T/lib/libsagsocket.so"
nm -D "$T/lib/libsagsocket.so.1" | grep -q ' U __tsan_read' || die "the library is not instrumented"

echo "== build the tests with -fsanitize=thread"
# The static TSan runtime brings libdispatch interceptors, hence the
# toolchain's libdispatch and BlocksRuntime.
LINK=(-L"$T/lib" -lsagsocket -lpthread -L"$SWIFTLIBS" -ldispatch -lBlocksRuntime
      -Wl,-rpath,"$SWIFTLIBS")
"$CLANG" -std=c11 -Wall -Wextra -g -O1 -fsanitize=thread -I"$STAGE/include" \
  -o "$T/races" "$HERE/races.c" "${LINK[@]}" || die "build of races.c failed"
"$CLANG" -std=c11 -Wall -g -O1 -fsanitize=thread -o "$T/canary" "$HERE/canary.c" -lpthread \
  -L"$SWIFTLIBS" -ldispatch -lBlocksRuntime -Wl,-rpath,"$SWIFTLIBS" || die "build of canary.c failed"

reports() { cat "$1".* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer:'; }

echo "== canary (one deliberate race)"
rm -f "$T"/canary.log.*
TSAN_OPTIONS="halt_on_error=0 exitcode=0 log_path=$T/canary.log" timeout 60 "$T/canary" >/dev/null
nc=$(reports "$T/canary.log")
echo "  canary: $nc report(s)"
[ "$nc" = 1 ] || fail "the canary's race gave $nc reports, expected 1"

echo "== races"
rm -f "$T"/races.log.*
LD_LIBRARY_PATH="$T/lib" TSAN_OPTIONS="halt_on_error=0 exitcode=0 log_path=$T/races.log" \
  run_clean timeout -s KILL 300 "$T/races" | tee "$T/races.out"
rc=${PIPESTATUS[0]}
[ "$rc" -ne 0 ] && explain_rc races "$rc" "SIGALRM=14 is the 240 s watchdog"
nr=$(reports "$T/races.log")
ntests=$(sed -n 's/^tests: \([0-9]*\)$/\1/p' "$T/races.out")
if [ "$nr" != 0 ]; then
  fail "$nr ThreadSanitizer report(s); the first:"
  cat "$T"/races.log.* | sed -n '/^WARNING: ThreadSanitizer/,/^SUMMARY/p' | head -n 60
fi
[ -n "$ntests" ] || { fail "races printed no test count"; ntests=0; }
echo "tsan: $ntests tests, $nr reports"
[ ${#failures[@]} -eq 0 ] || { for f in "${failures[@]}"; do echo "  - $f"; done; exit 1; }
