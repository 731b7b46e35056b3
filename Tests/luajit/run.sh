#!/usr/bin/env bash
# The LuaJIT test of an installed libsagsocket.
#   Tests/luajit/run.sh STAGE      (STAGE holds lib/, include/, lib/pkgconfig/)
# 1. runs Tests/luajit/test_sagsocket.lua (its own small runner) with the
#    sagsocket.lua that `make install` put in STAGE's luadir;
# 2. the seed's echo server in LuaJIT (bindings/luajit/examples/echo.lua)
#    answered by a CPython client (two sessions, checked byte for byte);
# 3. `make install PREFIX=<a temporary folder>` and a program with
#    require("sagsocket") run as the README says (LUA_PATH from pkg-config's
#    luadir), then again without LD_LIBRARY_PATH.
# Exits non-zero when anything failed.
set -euo pipefail
# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"
use_stage luajit-test "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH
command -v luajit >/dev/null || { echo "luajit-test: luajit is not installed (make setup)" >&2; exit 1; }

LUADIR=$(pkg-config --variable=luadir sagsocket)
VNUM=$(python3 "$ROOT/scripts/sagheader.py" version "$ROOT/include/sagsocket.h" |
  awk -F. '{print $1*10000 + $2*100 + $3}')
status=0

echo "== the binding's tests (Tests/luajit/test_sagsocket.lua)"
LUA_PATH="$LUADIR/?.lua;$ROOT/Tests/luajit/?.lua;;" SAG_TEST_VERSION_NUMBER=$VNUM \
  timeout 300 luajit "$ROOT/Tests/luajit/test_sagsocket.lua" || status=1

echo "== the seed's echo server in LuaJIT, answered by CPython"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sagsocket-luajit.XXXXXX")
SERVER_PID=
trap 'stop_server; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LUA_PATH="$LUADIR/?.lua;;" timeout 120 luajit "$ROOT/bindings/luajit/examples/echo.lua" "$PORT" \
  >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 300); do  # a bound (30 s), generous for a loaded machine
  awk -v p="$(printf '%04X' "$PORT")" '$4 == "0A" && $2 ~ (":" p "$") {f=1} END {exit !f}' /proc/net/tcp && break
  sleep 0.1
done
if timeout 60 python3 "$ROOT/Tests/luajit/echo_client.py" "$PORT"; then
  if printf 'received: %s\n' hello 'Sagittarius ソケット' bye $'second client\r' '' "$(printf 'x%.0s' $(seq 1 3000))" |
     cmp -s - "$WORK/server.out"; then
    echo "ok   echo server: the client's transcripts and the server's log"
  else
    echo "FAIL echo server: its log differs:"; sed 's/\r/\\r/g' "$WORK/server.out" | cut -c1-80; status=1
  fi
else
  echo "FAIL echo server: the CPython client failed"; cat "$WORK/server.err"; status=1
fi
stop_server
kill -0 "$SERVER_PID" 2>/dev/null && status=1

echo "== make install PREFIX=<temporary> and require(\"sagsocket\") from its luadir"
PREFIX_DIR=$WORK/prefix
make -C "$ROOT" --no-print-directory -s install PREFIX="$PREFIX_DIR" DESTDIR= >"$WORK/install.log" 2>&1 ||
  { echo "FAIL make install"; cat "$WORK/install.log"; exit 1; }
cat >"$WORK/prog.lua" <<'LUA'
local sagsocket = require("sagsocket")
local prefix = arg[1]
assert(sagsocket.DECLS_PATH == prefix .. "/include/sagsocket_decls.h", sagsocket.DECLS_PATH)
assert(sagsocket.LIBRARY_PATH:sub(1, #prefix) == prefix or sagsocket.LIBRARY_PATH == "libsagsocket.so.1",
       sagsocket.LIBRARY_PATH)
local a, b = assert(sagsocket.socket_pair())
assert(a:send("round trip") == 10)
assert(b:recv(20) == "round trip")
print("installed: " .. sagsocket.version .. " from " .. sagsocket.LIBRARY_PATH)
LUA
for mode in with-ld-path without-ld-path; do
  if [ "$mode" = with-ld-path ]; then envs=(env LD_LIBRARY_PATH="$PREFIX_DIR/lib"); else envs=(env -u LD_LIBRARY_PATH); fi
  if out=$(cd "$WORK" && PKG_CONFIG_PATH="$PREFIX_DIR/lib/pkgconfig" "${envs[@]}" \
      bash -c 'LUA_PATH="$(pkg-config --variable=luadir sagsocket)/?.lua;;" timeout 60 luajit prog.lua "$1"' _ "$PREFIX_DIR" 2>&1) &&
     [[ $out == *"from $PREFIX_DIR/lib/"* ]]; then
    echo "ok   $mode: $out"
  else
    echo "FAIL $mode: $out"; status=1
  fi
done
make -C "$ROOT" --no-print-directory -s uninstall PREFIX="$PREFIX_DIR" DESTDIR= >/dev/null 2>&1
if [ -e "$PREFIX_DIR/share/lua/5.1/sagsocket.lua" ]; then echo "FAIL uninstall left sagsocket.lua"; status=1
else echo "ok   make uninstall removes sagsocket.lua"; fi

[ "$status" -eq 0 ] && echo "luajit-test: PASS" || echo "luajit-test: FAIL"
exit "$status"
