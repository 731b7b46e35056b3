#!/usr/bin/env bash
# run_python_cost.sh STAGE [SITE]: the instructions one Python-level
# operation executes in the calling process (the interpreter, the binding,
# cffi, the library; the kernel not counted), counted by valgrind's callgrind:
# sagsocket in cffi's API mode and in ABI mode against the socket and
# selectors modules. Each (workload, implementation) runs twice, with N and
# 2N operations (bench/cost_python.py): the difference divided by N is one
# operation's count, start-up and warm-up cancelled out. Counts do not
# depend on the machine's load. A report, never a test.
#   bash bench/run_python_cost.sh build/stage
#   SITE: a folder holding a pip-installed sagsocket (with its compiled
#   extension); without it the package is pip-installed into OUT first.
#   COST_N=2000 COST_WORK="ping select" bash bench/run_python_cost.sh build/stage
#   COST_SELECT=10000 (the sockets in the selector; default 1,000)
#   COST_ALIGN=0 (bulk: the receiving buffer 0 bytes past a 32-byte boundary; default 16)
set -euo pipefail
STAGE=${1:?usage: run_python_cost.sh STAGE [SITE]}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v valgrind >/dev/null || { echo "run_python_cost.sh: valgrind is not installed" >&2; exit 2; }
PY=$(python3 -c 'import sys; print(sys.executable)')  # the interpreter itself, not a shim
N=${COST_N:-1000}
CG=$OUT/python-cost
mkdir -p "$CG"
SITE=${2:-}
if [ -z "$SITE" ]; then
  SITE=$CG/site
  rm -rf "$SITE"
  python_site "$SITE"
fi

# total MODE WORK IMPL N: the instructions of one run (callgrind's total).
total() {
  local out="$CG/$2-$3-$1-$4.out"
  env ${1:+SAGSOCKET_ABI_MODE=$([ "$1" = abi ] && echo 1 || echo 0)} PYTHONPATH="$SITE" PYTHONHASHSEED=0 \
    valgrind --tool=callgrind --callgrind-out-file="$out" "$PY" "$ROOT/bench/cost_python.py" "$2" "$3" "$4" \
    >"$out.log" 2>&1 || { echo "run_python_cost.sh: $2 $3 $1 failed: $out.log" >&2; exit 1; }
  awk '/^summary:/ { print $2 }' "$out"
}

# per MODE WORK IMPL [K]: instructions per operation (K calls an operation).
per() {
  local a b
  a=$(total "$1" "$2" "$3" "$N")
  b=$(total "$1" "$2" "$3" $((2 * N)))
  echo $(((b - a) / N / ${4:-1}))
}

printf 'instructions per operation in the calling process (callgrind, N=%d and 2N)\n' "$N"
printf '%-44s %9s %9s %9s\n' operation "API mode" "ABI mode" "socket"
for w in ${COST_WORK:-ping recv_into fileno select bulk lines}; do
  k=1; case $w in fileno | lines) k=100 ;; esac
  api=$(per api "$w" sag $k); abi=$(per abi "$w" sag $k); py=$(per "" "$w" py $k)
  case $w in
    ping) label="send(1 byte) + recv(1) round trip" ;;
    recv_into) label="send(1 byte) + recv_into round trip" ;;
    fileno) label="fileno()" ;;
    select) label="select(0), 1 ready of ${COST_SELECT:-1000} (EpollSelector)" ;;
    bulk) label="recv_into, 64 KiB (buffer $((${COST_ALIGN:-16})) past 32)" ;;
    lines) label="makefile('rb') line, 40 bytes" ;;
    connect) label="accept()[0].close() (server closes first)" ;;
    dial) label="create_connection+recv(1)+close" ;;
  esac
  printf '%-44s %9s %9s %9s\n' "$label" "$api" "$abi" "$py"
done
printf '(the callgrind files: %s)\n' "$CG"
