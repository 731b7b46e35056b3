# bench/lib.sh: the preamble bench/run.sh and bench/run_ports.sh share;
# sourced (under set -euo pipefail) after setting STAGE. Makes STAGE
# absolute, sets ROOT, OUT (build/bench, made) and CC, points
# PKG_CONFIG_PATH and LD_LIBRARY_PATH at STAGE, and puts the pkg-config
# flags of sagsocket in the array PKG.
# shellcheck shell=bash
STAGE=$(cd "$STAGE" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/bench
CC=${CC:-cc}

export PKG_CONFIG_PATH=$STAGE/lib/pkgconfig
export LD_LIBRARY_PATH=$STAGE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

mkdir -p "$OUT"
read -r -a PKG <<<"$(pkg-config --cflags --libs sagsocket)"
