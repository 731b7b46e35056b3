#!/usr/bin/env bash
# run_luajit.sh STAGE: the LuaJIT binding's benchmark, a report, never a
# test. Same-run comparisons, rounds interleaved with the order alternating
# (even rounds the reference first), medians of each side and of the
# per-round ratios:
#   lines      1M lines of 40 bytes through the library's textual port
#              get-line (UTF-8, eol lf) from LuaJIT (bench/bench_luajit.lua)
#              against the same steps in C (bench/bench_luajit_ref.c);
#              lines/s, ratio LuaJIT/C (goal >= 0.9); a second row from
#              each reader's CPU time (clock(3)), which a loaded machine
#              disturbs less than the wall clock; and a third, the CPU
#              time of making the same lines' Lua strings alone (ffi.string
#              from a buffer): what any line read from LuaJIT pays over C
#   ping-pong  1-byte round trips over loopback TCP with sagsocket from
#              LuaJIT against LuaSocket (Debian's lua-socket) from LuaJIT;
#              time per round trip, ratio sagsocket/LuaSocket (goal <= 1.0)
#   make bench                                        (STAGE = build/stage)
#   BENCH_SCALE=0.1 bash bench/run_luajit.sh build/stage   (a quick run)
#   BENCH_ROUNDS=9 ...                                (more rounds; default 5)
set -euo pipefail
STAGE=${1:?usage: run_luajit.sh STAGE}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SCALE=${BENCH_SCALE:-1}
ROUNDS=${BENCH_ROUNDS:-5}
LINES=$(python3 -c "print(max(1000, int(1000000 * $SCALE)))")
PINGS=$(python3 -c "print(max(1000, int(50000 * $SCALE)))")
export LUA_PATH="$(pkg-config --variable=luadir sagsocket)/?.lua;;"
"$CC" -O2 -Wall -Wextra -Werror -o "$OUT/bench_luajit_ref" "$ROOT/bench/bench_luajit_ref.c" "${PKG[@]}"
LUA=(timeout 600 luajit "$ROOT/bench/bench_luajit.lua")
have_luasocket=1
luajit -e 'package.cpath = package.cpath .. ";/usr/lib/x86_64-linux-gnu/lua/5.1/?.so"; require("socket")' \
  >/dev/null 2>&1 || have_luasocket=0

lines_c=() lines_lua=() strings=() ping_sag=() ping_ls=()
for ((r = 0; r < ROUNDS; r++)); do
  if ((r % 2 == 0)); then
    lines_c+=("$(timeout 600 "$OUT/bench_luajit_ref" lines "$LINES" | tr ' ' ,)")
    lines_lua+=("$("${LUA[@]}" lines "$LINES" | tr ' ' ,)")
    strings+=("$("${LUA[@]}" strings "$LINES")")
    ((have_luasocket)) && ping_ls+=("$("${LUA[@]}" pingpong-luasocket "$PINGS")")
    ping_sag+=("$("${LUA[@]}" pingpong-sag "$PINGS")")
  else
    lines_lua+=("$("${LUA[@]}" lines "$LINES" | tr ' ' ,)")
    lines_c+=("$(timeout 600 "$OUT/bench_luajit_ref" lines "$LINES" | tr ' ' ,)")
    strings+=("$("${LUA[@]}" strings "$LINES")")
    ping_sag+=("$("${LUA[@]}" pingpong-sag "$PINGS")")
    ((have_luasocket)) && ping_ls+=("$("${LUA[@]}" pingpong-luasocket "$PINGS")")
  fi
done

python3 - "$LINES" "$PINGS" "$ROUNDS" "${lines_c[*]}" "${lines_lua[*]}" "${ping_sag[*]}" "${ping_ls[*]:-}" "${strings[*]}" <<'PY'
import statistics, sys
lines, pings, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lcw, llw = ([[float(y) for y in x.split(",")] for x in a.split()] for a in sys.argv[4:6])
ps = [float(x) for x in sys.argv[6].split()]
pl = [float(x) for x in sys.argv[7].split()] if sys.argv[7].strip() else []
st = [float(x) for x in sys.argv[8].split()]
med = statistics.median
print(f"bench (LuaJIT): {rounds} rounds, order alternating; medians; a report, not a test "
      "(on a shared machine the rounds spread widely: see the range)")
print(f"  {'workload':52s} {'LuaJIT':>12s} {'reference':>12s} {'ratio':>6s}")
for k, what in ((0, "wall"), (1, "CPU")):
    lc, ll = [x[k] for x in lcw], [x[k] for x in llw]
    r = [c / l for c, l in zip(lc, ll)]
    name = f"get_line, textual port, lines/s of {what} time (ref: C)"
    print(f"  {name:52s} {lines / med(ll):12.0f} {lines / med(lc):12.0f} "
          f"{med(r):6.2f}  goal >= 0.9 (rounds {min(r):.2f}-{max(r):.2f})")
ll = [x[1] for x in llw]
print(f"  {'of which the Lua strings alone, ns/line of CPU time':52s} {med(st) / lines * 1e9:12.1f} "
      f"{'':12s} {med(st) / med(ll):6.2f}  of get_line's CPU time (rounds "
      f"{min(a / b for a, b in zip(st, ll)):.2f}-{max(a / b for a, b in zip(st, ll)):.2f})")
if pl:
    r = [s / l for s, l in zip(ps, pl)]
    print(f"  {'1-byte ping-pong, us/round trip (ref: LuaSocket)':52s} {med(ps) / pings * 1e6:12.2f} "
          f"{med(pl) / pings * 1e6:12.2f} {med(r):6.2f}  goal <= 1.0 (rounds {min(r):.2f}-{max(r):.2f})")
else:
    print(f"  {'1-byte ping-pong, us/round trip':52s} {med(ps) / pings * 1e6:12.2f} "
          f"{'(no LuaSocket)':>12s}")
PY
