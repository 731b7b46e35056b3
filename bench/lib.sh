# bench/lib.sh: what the bench/run*.sh scripts share; sourced (under set
# -euo pipefail) after setting STAGE. The preamble of scripts/stage.sh
# (STAGE absolute, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH, PKG), then OUT
# (build/bench, made) and CC.
# shellcheck shell=bash
# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/stage.sh"
use_stage bench "$STAGE"
stage_pkg
OUT=$ROOT/build/bench
CC=${CC:-cc}
mkdir -p "$OUT"
