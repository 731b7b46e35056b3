#!/usr/bin/env bash
# Faults on a real network, through the C ABI of an installed libsagsocket.
#   Tests/faults/run.sh STAGE
# Makes two network namespaces joined by a veth pair (192.0.2.1 and
# 192.0.2.2, RFC 5737 documentation addresses), lowers tcp_syn_retries in the
# client's, builds Tests/faults/faults.c and runs it (it moves itself between
# the two namespaces and makes its faults with `ip`). The namespaces and the
# veth pair are removed at exit, whatever happened. Needs root and iproute2;
# without them it prints a SKIP line and exits 0.
# Prints "faults: N passed, M failed" last; exits non-zero when anything failed.
set -u
TAG=faults
NAME=faults
# shellcheck source=Tests/c/lib.sh
. "$(dirname "$0")/../c/lib.sh"
test_setup "$@"

skip() { echo "SKIP faults: $*"; echo "faults: 0 passed, 0 failed (SKIP: $*)"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || skip "needs ip (iproute2)"

NSC=sagf$$c NSS=sagf$$s IFC=sagf$$c0 IFS_=sagf$$s0
cleanup() {
  ip netns del "$NSC" 2>/dev/null
  ip netns del "$NSS" 2>/dev/null
  ip link del "$IFC" 2>/dev/null
  true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! ip netns add "$NSC" 2>/dev/null || ! ip netns add "$NSS" 2>/dev/null; then
  skip "no network namespace support (ip netns add failed)"
fi
setup_net() {
  ip link add "$IFC" type veth peer name "$IFS_" &&
  ip link set "$IFC" netns "$NSC" &&
  ip link set "$IFS_" netns "$NSS" &&
  ip -n "$NSC" addr add 192.0.2.1/24 dev "$IFC" &&
  ip -n "$NSS" addr add 192.0.2.2/24 dev "$IFS_" &&
  ip -n "$NSC" link set lo up && ip -n "$NSS" link set lo up &&
  ip -n "$NSC" link set "$IFC" up &&
  ip -n "$NSS" link set "$IFS_" up &&
  ip netns exec "$NSC" sysctl -q -w net.ipv4.tcp_syn_retries=1
}
setup_net || skip "cannot set up the veth pair, its addresses or tcp_syn_retries in a namespace"
echo "namespaces: $NSC (192.0.2.1 on $IFC), $NSS (192.0.2.2 on $IFS_)"

build_test

run_summarized "SIGALRM=14 is the 420 s watchdog, SIGPIPE=13" \
  timeout -s KILL 450 "$BIN" "$NSC" "$NSS" "$IFC" "$IFS_"
