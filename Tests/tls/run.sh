#!/usr/bin/env bash
# The TLS test of an installed libsagtls (make tls-test).
#   Tests/tls/run.sh STAGE
# 1. makes a throwaway CA and certificates with the openssl CLI (certs.sh);
# 2. builds Tests/tls/test_tls.c through pkg-config sagtls;
# 3. our client against our server (test_tls self), plain and under valgrind;
# 4. our client against Python's ssl server and `openssl s_server`, our
#    server against Python's ssl client and `openssl s_client`, TLS 1.2 and
#    1.3, with ALPN and client certificates;
# 5. (rfc tls) on Chez and Guile (test-tls.sps), and one selector serving
#    TLS_SELECTOR_CONNECTIONS (default 1000) TLS connections at once
#    (selector-load.sps, Chez, against peer.py many).
# Loopback only. Exits non-zero when anything failed, after saying what.
set -u
TAG=tls-test
NAME=test_tls
# shellcheck source=Tests/c/lib.sh
. "$(dirname "$0")/../c/lib.sh"
test_setup "$@"
HERE=$(cd "$(dirname "$0")" && pwd)
CERTS="$OUT/tls-certs"
rm -rf "$CERTS"
echo "== certificates (openssl CLI) in $CERTS"
bash "$HERE/certs.sh" "$CERTS" || { echo "$TAG: certs.sh failed" >&2; exit 1; }

echo "== build"
if ! PCFLAGS=$(pkg-config --cflags --libs sagtls); then
  echo "$TAG: pkg-config sagtls failed" >&2
  exit 1
fi
# shellcheck disable=SC2086
cc -std=gnu11 -Wall -Wextra -O1 -g -o "$BIN" "$HERE/test_tls.c" $PCFLAGS -lpthread || { echo "$TAG: build failed" >&2; exit 1; }

echo "== our client against our server"
run_clean timeout 300 "$BIN" "$CERTS" self || fail "test_tls self"

echo "== our client against our server under valgrind (without the bulk transfers)"
if have_valgrind; then
  rm -f "$VGLOG"
  SAGTLS_TEST_QUICK=1 run_clean timeout 900 valgrind --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=99 --log-file="$VGLOG" "$BIN" "$CERTS" self | tail -n 1
  vrc=${PIPESTATUS[0]}
  vg_verdict test_tls "SIGALRM=14 is the watchdog"
fi

# start_peer WHAT LOG COMMAND...: a peer server in the background, its
# output in LOG, whose first line is its port (PORT); a failure, with LOG,
# when it does not start (within 30 s: a bound, generous for a loaded
# machine, not a measure).
PEER_PID=
start_peer() {
  local what=$1 log=$2
  shift 2
  "$@" > "$log" 2>&1 &
  PEER_PID=$!
  PORT=
  for _ in $(seq 300); do
    PORT=$(grep -m1 -oE '^[0-9]+$' "$log" 2>/dev/null || true)
    # openssl s_server says ACCEPT when it listens on S_PORT
    [ -z "$PORT" ] && grep -q '^ACCEPT' "$log" 2>/dev/null && PORT=$S_PORT
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  fail "$what did not start: $(cat "$log")"
  return 1
}
# peer_done WHAT LOG N: waits for the peer to end; a failure with LOG's last
# N lines when it failed.
peer_done() { wait "$PEER_PID" || fail "$1 failed: $(tail -n "$3" "$2")"; PEER_PID=; }
stop_peer() { [ -n "$PEER_PID" ] && { kill "$PEER_PID" 2>/dev/null; wait "$PEER_PID" 2>/dev/null; }; PEER_PID=; }
trap stop_peer EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== our client against Python's ssl server"
for alpn in "" "--alpn http/1.1"; do
  if start_peer "Python ssl server" "$OUT/tls-pyserver.log" python3 "$HERE/peer.py" server "$CERTS" $alpn; then
    # shellcheck disable=SC2086
    timeout 60 "$BIN" "$CERTS" client "$PORT" ${alpn#--alpn } || fail "our client vs Python ssl server ($alpn)"
    peer_done "Python ssl server ($alpn)" "$OUT/tls-pyserver.log" 3
  fi
done

echo "== our client against openssl s_server (TLS 1.2 and 1.3; -rev answers a line reversed)"
for v in -tls1_2 -tls1_3; do
  S_PORT=$(free_port)
  if start_peer "openssl s_server" "$OUT/tls-s_server.log" timeout 60 openssl s_server -accept "127.0.0.1:$S_PORT" \
       -cert "$CERTS/server.pem" -key "$CERTS/server.key" "$v" -alpn h2 -rev -naccept 1; then
    out=$(timeout 30 "$BIN" "$CERTS" line "$S_PORT" "hello s_server" 2>&1)
    echo "$out" | sed 's/^/  /'
    case $out in
      *"got: revres_s olleh"*) ;;
      *) fail "our client vs openssl s_server $v: $out" ;;
    esac
  fi
  stop_peer
done

echo "== our server against Python's ssl client"
for cc in "" "--client-cert"; do
  # shellcheck disable=SC2086
  if start_peer "our server" "$OUT/tls-ourserver.log" timeout 60 "$BIN" "$CERTS" server ${cc:+client-cert}; then
    # shellcheck disable=SC2086
    timeout 60 python3 "$HERE/peer.py" client "$CERTS" "$PORT" $cc || fail "Python ssl client vs our server ($cc)"
    peer_done "our server ($cc)" "$OUT/tls-ourserver.log" 5
  fi
done

echo "== our server against openssl s_client (TLS 1.2 and 1.3)"
for v in -tls1_2 -tls1_3; do
  if start_peer "our server" "$OUT/tls-ourserver.log" timeout 60 "$BIN" "$CERTS" server; then
    # s_client ends when its input does: the input stays open until the
    # echo is back (at most 30 s; a fixed second may not be enough for the
    # handshake and the echo on a loaded machine)
    sc_log="$OUT/tls-s_client$v.log"
    : > "$sc_log"
    (printf 'ping over s_client\n'
     for _ in $(seq 300); do grep -q 'ping over s_client' "$sc_log" && break; sleep 0.1; done) |
      timeout 30 openssl s_client -connect "127.0.0.1:$PORT" \
        -servername localhost -verify_hostname localhost -verify_return_error -CAfile "$CERTS/ca.pem" \
        -alpn h2 "$v" -quiet -no_ign_eof > "$sc_log" 2>&1
    out=$(cat "$sc_log")
    echo "$out" | grep -E 'ping|verify|ALPN|error' | sed 's/^/  /'
    case $out in
      *"ping over s_client"*) ;;
      *) fail "openssl s_client $v vs our server: $out" ;;
    esac
    stop_peer
  fi
done

# ---- (rfc tls) on Chez Scheme and Guile ----------------------------------------
TRUNC_LOG="$OUT/tls-truncate.log"
start_peer "the truncating peer" "$TRUNC_LOG" python3 "$HERE/peer.py" truncate "$CERTS" || true
TRUNC_PID=$PEER_PID
TRUNC_PORT=$PORT
PEER_PID=
CHEZDIR=$(pkg-config --variable=chezlibdir sagsocket)
GUILEDIR=$(pkg-config --variable=guilelibdir sagsocket)
export XDG_CACHE_HOME="$OUT/tls-guile-cache"   # a fresh Guile cache each run
rm -rf "$XDG_CACHE_HOME"
echo "== (rfc tls), Chez Scheme: Tests/tls/test-tls.sps"
timeout 120 scheme --libdirs "$CHEZDIR:$ROOT/Tests/scheme/chez" --program "$HERE/test-tls.sps" \
  "$CERTS" "$TRUNC_PORT" || fail "test-tls.sps on Chez"
echo "== (rfc tls), Guile: Tests/tls/test-tls.sps"
timeout 180 guile -L "$GUILEDIR" -L "$ROOT/Tests/scheme/guile" "$HERE/test-tls.sps" "$CERTS" "$TRUNC_PORT" \
  2> >(grep -v '^;;;\|WARNING: (guile-user): imported module (rnrs)' >&2) || fail "test-tls.sps on Guile"
kill "$TRUNC_PID" 2>/dev/null
wait "$TRUNC_PID" 2>/dev/null

# One selector thread serving TLS_SELECTOR_CONNECTIONS (default 1,000) TLS
# connections at once on Chez, a Python ssl client holding them all; about
# 6 s here for 1,000 (the handshakes, one after another, are most of it).
N_TLS=${TLS_SELECTOR_CONNECTIONS:-1000}
echo "== (rfc tls) selector serving $N_TLS TLS connections (Chez), Python ssl clients"
if start_peer "selector-load.sps" "$OUT/tls-selector-load.log" timeout 300 scheme --libdirs "$CHEZDIR:$ROOT/Tests/scheme/chez" \
     --program "$HERE/selector-load.sps" "$CERTS" "$N_TLS"; then
  timeout 300 python3 "$HERE/peer.py" many "$CERTS" "$PORT" "$N_TLS" || fail "peer.py many ($N_TLS connections)"
  peer_done "selector-load.sps" "$OUT/tls-selector-load.log" 3
  grep '^tls-selector:' "$OUT/tls-selector-load.log" | sed 's/^/  /'
fi

for host in chez guile; do
  echo "== the echo server over TLS ($host), a Python ssl client"
  dir=$CHEZDIR
  [ $host = guile ] && dir=$GUILEDIR
  timeout 120 python3 "$HERE/echo_tls_client.py" "$host" "$dir" "$ROOT/bindings/scheme/examples/echo-tls.scm" \
    "$CERTS" || fail "echo-tls.scm on $host"
done

echo "== the README's TLS quick start: examples/https-get.sps (Chez) against Python's HTTPS server"
WWW="$OUT/tls-www"
mkdir -p "$WWW" && echo "hello over TLS" > "$WWW/hello.txt"
H_PORT=$(free_port)
S_PORT=$H_PORT
(cd "$WWW" && exec python3 -c '
import http.server, ssl, sys
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[3])), http.server.SimpleHTTPRequestHandler)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = c.wrap_socket(s.socket, server_side=True); print(sys.argv[3], flush=True); s.serve_forever()' \
  "$CERTS/server.pem" "$CERTS/server.key" "$H_PORT") > "$OUT/tls-https.log" 2>&1 &
PEER_PID=$!
for _ in $(seq 300); do grep -q "^$H_PORT" "$OUT/tls-https.log" 2>/dev/null && break; sleep 0.1; done
out=$(timeout 30 scheme --libdirs "$CHEZDIR" --program "$ROOT/bindings/scheme/examples/https-get.sps" \
        localhost "$H_PORT" /hello.txt "$CERTS/ca.pem" 2>&1)
echo "$out" | sed 's/^/  /'
[ "$out" = "TLSv1.3 O=sagsocket tests,CN=localhost
HTTP/1.0 200 OK
hello over TLS" ] || fail "https-get.sps printed something else"
out=$(timeout 30 scheme --libdirs "$CHEZDIR" --program "$ROOT/bindings/scheme/examples/https-get.sps" \
        localhost "$H_PORT" /hello.txt 2>&1)
case $out in
  *"certificate verification failed: unable to get local issuer certificate"*) echo "  without the CA: $out" | cut -c1-150 ;;
  *) fail "https-get.sps without the test CA: $out" ;;
esac
stop_peer

finish
