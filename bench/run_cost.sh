#!/usr/bin/env bash
# run_cost.sh STAGE: the instructions one operation executes in user space,
# through the library's C ABI and through the same raw calls, counted by
# valgrind's callgrind (bench/cost.c drives, bench/cgcalls.py reads the
# counts). Counts do not depend on the machine's load, so this is the
# measurement to compare builds with on a shared machine; the kernel's side
# of each system call is not counted. With luajit installed, the LuaJIT
# binding's get_line loop too, beside the same loop in C. A report, never a
# test.
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
put_n=$((N * 4))
put_ops=$((put_n + put_n / 10 + 1))
pn_lib=$(per put-none "$put_n" '^sag_port_put_bytevector$' "$put_ops")
pb_lib=$(per put-block "$put_n" '^sag_port_(put_bytevector|flush)$' "$put_ops")
p_raw=$(per put-raw "$put_n" '^send$' "$put_ops")
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
printf '%-52s %8s %8s\n' "1 KiB put-bytevector, mode none (vs send(2))" "$pn_lib" "$p_raw"
printf '%-52s %8s %8s\n' "1 KiB put-bytevector, mode block, + flush (vs send)" "$pb_lib" "$p_raw"
printf '%-52s %8s %8s\n' "selector wait + add, 1 ready of 10 (vs epoll + MOD)" "$sel_lib" "$sel_raw"
printf '%-52s %8s %8s\n' "selector wait, watched, 1 ready of 10 (vs epoll_wait)" "$wat_lib" "$wat_raw"
printf '%-52s %8s %8s\n' "sag_socket_fd" "$fd_lib" "-"
printf '\nper call (lib; calls counted more than 1,000 times):\n'
for m in pingpong-lib connect-lib lines-binary lines-text put-none put-block; do
  python3 "$ROOT/bench/cgcalls.py" "$CG/$m.out" \
    '^sag_(socket_(send|recv|connect|accept|free)|create_socket|port_get_(bytes_)?line|port_put_bytevector)$' |
    awk -v m="$m" '$3 > 1000 { printf "  %-13s %-24s %9d calls %8.1f a call\n", m, $1, $3, $8 }'
done

# LuaJIT (when installed): a textual get_line from LuaJIT (bench_luajit.lua
# lines, a forked sender) against the same steps in C (bench_luajit_ref.c):
# the reader's instructions a line beyond sag_port_get_line itself (the
# caller's loop, the foreign call, the Lua string), from runs of L and 2L
# lines; and the Lua strings alone (bench_luajit.lua strings).
if command -v luajit >/dev/null; then
  "$CC" -O2 -Wall -Wextra -Werror -o "$OUT/bench_luajit_ref" "$ROOT/bench/bench_luajit_ref.c" "${PKG[@]}"
  export LUA_PATH="$(pkg-config --variable=luadir sagsocket)/?.lua;;"
  # caller_ir NAME CMD...: "total get_line-inclusive" instructions of the
  # reader (the parent process; callgrind follows the fork into the sender)
  caller_ir() {
    local name=$1 pid
    shift
    valgrind --tool=callgrind --callgrind-out-file="$CG/$name.%p" "$@" >/dev/null 2>&1 &
    pid=$!
    wait "$pid"
    printf '%s %s\n' "$(awk '/^(summary|totals):/ { print $2; exit }' "$CG/$name.$pid")" \
      "$(python3 "$ROOT/bench/cgcalls.py" "$CG/$name.$pid" '^sag_port_get_line$' | awk '{ print $5 + 0 }')"
  }
  # caller_per_line NAME CMD... (L appended): the instructions a line beyond
  # sag_port_get_line, from the runs of L and 2L lines
  caller_per_line() {
    local name=$1 t1 i1 t2 i2
    shift
    read -r t1 i1 < <(caller_ir "$name-1" "$@" "$lines_n")
    read -r t2 i2 < <(caller_ir "$name-2" "$@" $((2 * lines_n)))
    echo $(( ((t2 - i2) - (t1 - i1)) / lines_n ))
  }
  lj=$(caller_per_line luajit-lines luajit "$ROOT/bench/bench_luajit.lua" lines)
  lc=$(caller_per_line c-lines "$OUT/bench_luajit_ref" lines)
  ls=$(caller_per_line luajit-strings luajit "$ROOT/bench/bench_luajit.lua" strings)
  printf '\nLuaJIT: instructions a line outside sag_port_get_line (the reading loop)\n'
  printf '%-52s %8s %8s\n' "" LuaJIT C
  printf '%-52s %8s %8s\n' "text get_line loop (bench_luajit.lua / _ref.c)" "$lj" "$lc"
  printf '%-52s %8s\n' "  of which the Lua strings alone (ffi.string)" "$ls"
fi
printf '(the raw files and the full profiles: %s)\n' "$CG"
