#!/usr/bin/env bash
# run_cost.sh STAGE: the instructions one operation executes in user space,
# through the library's C ABI and through the same raw calls, counted by
# valgrind's callgrind (bench/cost.c drives, bench/cgcalls.py reads the
# counts). Counts do not depend on the machine's load, so this is the
# measurement to compare builds with on a shared machine; the kernel's side
# of each system call is not counted. A report, never a test.
#   bash bench/run_cost.sh build/stage
#   COST_N=20000 bash bench/run_cost.sh build/stage   (operations a run)
set -euo pipefail

STAGE=${1:?usage: run_cost.sh STAGE   (the prefix libsagsocket is installed in)}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v valgrind >/dev/null || { echo "run_cost.sh: valgrind is not installed" >&2; exit 2; }
"$CC" -std=c99 -O2 -g -Wall -Wextra -o "$OUT/cost" "$ROOT/bench/cost.c" "${PKG[@]}" -pthread
N=${COST_N:-5000}
CG=$OUT/cost-callgrind
mkdir -p "$CG"

# count MODE N PATTERN: runs one mode under callgrind and prints, for each
# function matching PATTERN, its calls and instructions per call.
count() {
  valgrind --tool=callgrind --callgrind-out-file="$CG/$1.out" "$OUT/cost" "$1" "$2" >/dev/null 2>&1
  python3 "$ROOT/bench/cgcalls.py" "$CG/$1.out" "$3"
}

# per MODE N PATTERN OPS: the instructions of every function matching
# PATTERN, summed, per operation (OPS operations were counted: warm-up + N).
per() {
  count "$1" "$2" "$3" | awk -v ops="$4" '{ s += $5 } END { printf "%.0f", s / ops }'
}

# percall MODE N PATTERN: the instructions a call of each function matching
# PATTERN executes, summed (one of each: a cycle of those calls).
percall() {
  count "$1" "$2" "$3" | awk '{ s += $8 } END { printf "%.0f", s }'
}

w=$((N / 10 + 1))
ops=$((N + w))
lines_n=$((N * 20))
lines_ops=$((lines_n + lines_n / 10 + 1))

pp_lib=$(per pingpong-lib "$N" '^sag_socket_(send|recv)$' "$ops")
pp_raw=$(per pingpong-raw "$N" '^(send|recv)$' "$ops")
cn_lib=$(per connect-lib "$N" '^sag_(create_socket|socket_connect|socket_accept|socket_free|socket_recv)$' "$ops")
cn_raw=$(per connect-raw "$N" '^(socket|connect|accept4|setsockopt|close|recv)$' "$ops")
lb_lib=$(per lines-binary "$lines_n" '^sag_port_get_bytes_line$' "$lines_ops")
lt_lib=$(per lines-text "$lines_n" '^sag_port_get_line$' "$lines_ops")
l_raw=$(per lines-raw "$lines_n" '^getdelim$' "$lines_ops")
sel_lib=$(percall selector-lib "$N" '^sag_selector_(wait|add)$')
sel_raw=$(percall selector-raw "$N" '^(epoll_wait|epoll_ctl)$')
wat_lib=$(percall watch-lib "$N" '^sag_selector_wait$')
wat_raw=$(percall watch-raw "$N" '^epoll_wait$')
fd_lib=$(percall fd-lib "$N" '^sag_socket_fd$')

printf '\ninstructions per operation in user space (callgrind; the kernel not counted)\n'
printf '%-52s %8s %8s\n' operation lib raw
printf '%-52s %8s %8s\n' "1-byte round trip (2 sends, 2 receives: both ends)" "$pp_lib" "$pp_raw"
printf '%-52s %8s %8s\n' "connection (create, connect, accept, close both, EOF)" "$cn_lib" "$cn_raw"
printf '%-52s %8s %8s\n' "binary get-line, 40-byte lines (vs getline(3))" "$lb_lib" "$l_raw"
printf '%-52s %8s %8s\n' "text get-line, UTF-8, lf (vs getline(3))" "$lt_lib" "$l_raw"
printf '%-52s %8s %8s\n' "selector wait + add, 1 ready of 10 (vs epoll + MOD)" "$sel_lib" "$sel_raw"
printf '%-52s %8s %8s\n' "selector wait, watched, 1 ready of 10 (vs epoll_wait)" "$wat_lib" "$wat_raw"
printf '%-52s %8s %8s\n' "sag_socket_fd" "$fd_lib" "-"
printf '\nper call (lib; calls counted more than 1,000 times):\n'
for m in pingpong-lib connect-lib lines-binary lines-text; do
  python3 "$ROOT/bench/cgcalls.py" "$CG/$m.out" \
    '^sag_(socket_(send|recv|connect|accept|free)|create_socket|port_get_(bytes_)?line)$' |
    awk -v m="$m" '$3 > 1000 { printf "  %-13s %-24s %9d calls %8.1f a call\n", m, $1, $3, $8 }'
done
printf '(the raw files and the full profiles: %s)\n' "$CG"
