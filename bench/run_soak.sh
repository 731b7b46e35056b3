#!/usr/bin/env bash
# run_soak.sh STAGE [CONNECT_CYCLES [PORT_CYCLES]]: builds bench/soak.c
# against the libsagsocket installed in STAGE and runs it under nice
# (a report, never a test; make soak).
set -euo pipefail
STAGE=${1:?usage: run_soak.sh STAGE [CONNECT_CYCLES [PORT_CYCLES]]}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$CC" -std=c99 -O2 -Wall -Wextra -o "$OUT/soak" "$ROOT/bench/soak.c" "${PKG[@]}" -pthread
exec timeout "${SOAK_TIMEOUT:-3600}" nice "$OUT/soak" "${@:2}"
