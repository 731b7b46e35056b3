#!/usr/bin/env bash
# Descriptor exhaustion, through the C ABI of an installed libsagsocket.
#   Tests/exhaustion/run.sh STAGE
# Builds Tests/exhaustion/exhaustion.c against the installed header and runs
# it (it lowers its own RLIMIT_NOFILE) with no descriptor open beyond 0-2.
# Prints "exhaustion: N passed, M failed" last; exits non-zero on a failure.
set -u
TAG=exhaustion
NAME=exhaustion
# shellcheck source=Tests/c/lib.sh
. "$(dirname "$0")/../c/lib.sh"
test_setup "$@"

build_test

run_summarized "SIGALRM=14 is the 60 s watchdog" timeout -s KILL 70 "$BIN"
