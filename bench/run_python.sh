#!/usr/bin/env bash
# run_python.sh STAGE: the Python binding's benchmark (bench/bench_python.py),
# a report, never a test: sagsocket against CPython's socket module in the
# same run, and the per-call cost of a trivial call through ctypes, cffi's
# ABI mode and cffi's API mode. It measures the package as pip installs it
# (into build/bench/python/site): in cffi's API mode where the extension
# builds, which the first line says.
#   make bench                                      (STAGE = build/stage)
#   BENCH_SCALE=0.1 bash bench/run_python.sh build/stage   (a quick run)
#   BENCH_ROUNDS=9 ...                              (more rounds)
#   BENCH_PYTHON_MODE=abi ...                       (the same copy in ABI mode)
set -euo pipefail
STAGE=${1:?usage: run_python.sh STAGE}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export SAG_STAGE=$STAGE SAG_BENCH_OUT=$OUT/python
mkdir -p "$SAG_BENCH_OUT"
rm -rf "$SAG_BENCH_OUT/site"
python_site "$SAG_BENCH_OUT/site"
export PYTHONPATH=$SAG_BENCH_OUT/site${PYTHONPATH:+:$PYTHONPATH}
[ "${BENCH_PYTHON_MODE:-}" = abi ] && export SAGSOCKET_ABI_MODE=1
timeout 1800 python3 "$ROOT/bench/bench_python.py"
