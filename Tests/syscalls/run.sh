#!/usr/bin/env bash
# System calls per operation, counted by strace(1) on the installed library.
#   Tests/syscalls/run.sh STAGE
# Builds Tests/syscalls/syscalls.c, runs it under strace (its main thread
# only: the peers run in threads strace does not follow) and counts the
# calls between the program's marks. Prints
#   syscalls: recv-ready N, recv-after-select N, ping-pong N.NN, get-line N.NN per line
# and fails when a receive whose data is there takes more than one call (also
# right after a selector reported it), an exchange more than three calls a
# side, or a buffered get-line a call per hundred lines.
set -u
TAG=syscalls
NAME=syscalls
# shellcheck source=Tests/c/lib.sh
. "$(dirname "$0")/../c/lib.sh"
test_setup "$@"

command -v strace >/dev/null 2>&1 || { echo "syscalls: strace is not installed (scripts/setup.sh installs it)"; exit 1; }
build_test
TRACE="$OUT/syscalls.strace"
run_summarized "SIGALRM=14 is the 60 s watchdog" \
  timeout -s KILL 90 strace -qq -s 64 -o "$TRACE" "$BIN" || exit 1

python3 - "$TRACE" <<'PY'
import re, sys
counts, ops, current = {}, {}, None
for line in open(sys.argv[1]):
    m = re.match(r'write\(-1, "mark (\S+) (\d+)"', line)
    if m:
        name, n = m.group(1), int(m.group(2))
        current = None if name == "end" else name
        if current:
            ops[current] = ops.get(current, 0) + n
            counts.setdefault(current, 0)
        continue
    if current and re.match(r'[a-z_0-9]+\(', line):
        counts[current] += 1
want = ["recv-ready", "recv-after-select", "ping-pong", "get-line"]
missing = [w for w in want if w not in ops]
if missing:
    print("syscalls: no marks for " + ", ".join(missing))
    sys.exit(1)
per = {w: counts[w] / ops[w] for w in want}
def num(x):
    return str(int(x)) if x == int(x) else "%.2f" % x
# ping-pong's count is per call (a send and a receive each exchange):
# twice that is the calls per exchange and side.
side = 2 * per["ping-pong"]
print("syscalls: recv-ready %s, recv-after-select %s, ping-pong %.2f, get-line %.2f per line"
      % (num(per["recv-ready"]), num(per["recv-after-select"]), side, per["get-line"]))
bad = []
if per["recv-ready"] > 1: bad.append("a receive whose data is there took %s calls" % num(per["recv-ready"]))
if per["recv-after-select"] > 1: bad.append("a receive after a selector's report took %s calls" % num(per["recv-after-select"]))
# One call more in all is allowed: the switch from trying first to waiting
# first (a receive that tried, found nothing and waited) once.
if counts["ping-pong"] > 3 * ops["ping-pong"] / 2 + 1:
    bad.append("an exchange took %.2f calls a side" % side)
if per["get-line"] > 0.01: bad.append("a buffered get-line took %.2f calls" % per["get-line"])
for b in bad: print("FAIL " + b)
sys.exit(1 if bad else 0)
PY
