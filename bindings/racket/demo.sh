#!/usr/bin/env bash
# demo.sh STAGE: the seed's echo server written in #lang racket
# (bindings/racket/examples/echo.rkt, over (require sagsocket)), run the way
# the README tells a user to, answered by the scripted C client of
# bindings/c (two sessions); prints both sides' transcripts and checks them
# byte for byte (scripts/seed-echo-demo.sh). STAGE is the prefix
# libsagsocket is installed in.   make demo
set -euo pipefail
# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"
# shellcheck source=scripts/seed-echo-demo.sh
. "$SAG_ROOT/scripts/seed-echo-demo.sh"
use_stage demo "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH

seed_echo_demo "Racket, #lang racket" 300 timeout 60 \
  racket -S "$(pkg-config --variable=racketdir sagsocket)" "$ROOT/bindings/racket/examples/echo.rkt"
