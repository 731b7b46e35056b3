#!/usr/bin/env bash
# demo.sh STAGE: the seed's echo server in Python (bindings/python/examples/
# echo.py, on sagsocket's makefile text I/O), answered by the scripted C
# client of bindings/c (two sessions); prints both sides' transcripts and
# checks them byte for byte (scripts/seed-echo-demo.sh).
# STAGE is the prefix libsagsocket is installed in.   make demo
set -euo pipefail

# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"
# shellcheck source=scripts/seed-echo-demo.sh
. "$SAG_ROOT/scripts/seed-echo-demo.sh"
use_stage demo "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH

export PYTHONPATH=$ROOT/bindings/python${PYTHONPATH:+:$PYTHONPATH}
seed_echo_demo Python 100 timeout 60 python3 "$ROOT/bindings/python/examples/echo.py"
