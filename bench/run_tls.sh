#!/usr/bin/env bash
# run_tls.sh STAGE: libsagtls against Python's ssl module (the same OpenSSL)
# in the same run: 1 GiB over one TLS 1.3 connection, and verified TLS 1.3
# handshakes per second, one connection after another. Each figure is the
# median of BENCH_ROUNDS (3) runs, ours and Python's alternating. A report,
# never a test; goals: bulk >= 0.95x, handshakes >= 0.9x of Python's.
#   BENCH_TLS_BYTES=268435456 BENCH_TLS_HANDSHAKES=200 ...   (a quicker run)
set -euo pipefail
STAGE=${1:?usage: run_tls.sh STAGE}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
read -r -a TLSPKG <<<"$(pkg-config --cflags --libs sagtls)"
"$CC" -std=gnu11 -O2 -Wall -Wextra -o "$OUT/bench_tls" "$ROOT/bench/bench_tls.c" "${TLSPKG[@]}" -pthread
CERTS=$OUT/tls-certs
rm -rf "$CERTS"
bash "$ROOT/Tests/tls/certs.sh" "$CERTS"
BYTES=${BENCH_TLS_BYTES:-1073741824}
HS=${BENCH_TLS_HANDSHAKES:-1000}
ROUNDS=${BENCH_ROUNDS:-3}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
row() {
  local what=$1 unit=$2 mode=$3 n=$4 ours=() py=()
  for _ in $(seq "$ROUNDS"); do
    ours+=("$(timeout 600 "$OUT/bench_tls" "$CERTS" "$mode" "$n")")
    py+=("$(timeout 600 python3 "$ROOT/bench/bench_tls.py" "$CERTS" "$mode" "$n")")
  done
  local o p
  o=$(printf '%s\n' "${ours[@]}" | median)
  p=$(printf '%s\n' "${py[@]}" | median)
  printf '%-44s %10s %-13s %10s %-13s %6sx\n' "$what" "$o" "$unit" "$p" "$unit (python)" \
    "$(awk -v a="$o" -v b="$p" 'BEGIN {printf "%.2f", a / b}')"
}
echo "libsagtls vs Python ssl ($(python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)')), median of $ROUNDS"
row "TLS 1.3 bulk, $((BYTES / 1048576)) MiB one way" "MB/s" bulk "$BYTES"
row "TLS 1.3 handshakes (verified), $HS in a row" "handshakes/s" handshakes "$HS"
