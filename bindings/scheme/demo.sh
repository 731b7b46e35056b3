#!/usr/bin/env bash
# demo.sh [--guile|--racket] STAGE: the seed's echo server
# (bindings/scheme/examples/echo.scm) on Chez Scheme, with --guile on
# Guile 3.0, with --racket on Racket CS's plt-r6rs (run the way the README
# tells a user to), answered by the
# scripted C client of bindings/c (two sessions); prints both sides'
# transcripts and checks them byte for byte (scripts/seed-echo-demo.sh).
# STAGE is the prefix libsagsocket is installed in.   make demo
set -euo pipefail
HOST=Chez
case "${1:-}" in
  --guile) HOST=Guile; shift ;;
  --racket) HOST=Racket; shift ;;
esac

# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"
# shellcheck source=scripts/seed-echo-demo.sh
. "$SAG_ROOT/scripts/seed-echo-demo.sh"
use_stage demo "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH

ECHO=$ROOT/bindings/scheme/examples/echo.scm
if [ "$HOST" = Chez ]; then
  seed_echo_demo Chez 600 timeout 60 \
    scheme --libdirs "$(pkg-config --variable=chezlibdir sagsocket)" --program "$ECHO"
elif [ "$HOST" = Racket ]; then
  # plt-r6rs compiles the libraries in memory at every run (a few seconds).
  seed_echo_demo Racket 600 timeout 120 \
    plt-r6rs ++path "$(pkg-config --variable=racketdir sagsocket)" "$ECHO"
else
  # Guile compiles the libraries on first use (into its cache: here a fresh
  # one, so the demo shows a first run).
  CACHE=$(mktemp -d "${TMPDIR:-/tmp}/sagsocket-guile-cache.XXXXXX")
  status=0
  XDG_CACHE_HOME=$CACHE seed_echo_demo Guile 600 timeout 120 \
    guile -L "$(pkg-config --variable=guilelibdir sagsocket)" "$ECHO" || status=$?
  rm -rf "$CACHE"
  exit "$status"
fi
