#!/usr/bin/env bash
# timed.sh GROUP COMMAND...: runs COMMAND and then prints how long it took,
# "time: GROUP S s", so that make check shows each group's time beside the
# time limits its tests set (each limit is at least twice that time here).
set -u
group=$1
shift
start=$(date +%s%N)
"$@"
rc=$?
end=$(date +%s%N)
awk -v g="$group" -v ns="$((end - start))" -v rc="$rc" \
  'BEGIN { printf "time: %s %.1f s%s\n", g, ns / 1e9, rc ? " (failed)" : "" }'
exit "$rc"
