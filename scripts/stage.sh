# scripts/stage.sh: the preamble every script that uses an installed
# libsagsocket shares (Tests/*/run.sh, bench/, the demos of bindings/);
# sourced, not run. After
#   . "<the repository>/scripts/stage.sh"
#   use_stage TAG "$@"
# STAGE is the absolute prefix the library is installed in (the script's one
# argument: another count prints the usage and exits 2; a directory that is
# not there exits 2 with a message that starts with TAG), ROOT is the
# repository, and PKG_CONFIG_PATH and LD_LIBRARY_PATH point at STAGE
# (exported), as a user's program would find an installed library.
# stage_pkg then puts pkg-config's flags of sagsocket in the array PKG.
# shellcheck shell=bash

SAG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

use_stage() {
  local tag=$1
  shift
  if [ $# -ne 1 ]; then
    echo "usage: $0 STAGE   (the prefix libsagsocket is installed in)" >&2
    exit 2
  fi
  STAGE=$(cd "$1" 2>/dev/null && pwd) || { echo "$tag: no such directory: $1" >&2; exit 2; }
  ROOT=$SAG_ROOT
  export PKG_CONFIG_PATH=$STAGE/lib/pkgconfig
  export LD_LIBRARY_PATH=$STAGE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}

stage_pkg() {
  read -r -a PKG <<<"$(pkg-config --cflags --libs sagsocket)"
}

# demo_workdir NAME: a scratch folder in WORK and an empty SERVER_PID; at exit
# the server (if SERVER_PID names a live one) is stopped and WORK removed.
demo_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  SERVER_PID=
  trap 'stop_server; rm -rf "$WORK"' EXIT
}

# stop_server: stops the server SERVER_PID names, if it still runs.
stop_server() {
  if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}

# python_site SITE: pip-installs bindings/python (a copy, without its tests)
# into the folder SITE, as a user's pip does but reaching no package index
# (no build isolation: the build uses the installed setuptools and cffi;
# --no-index, --no-deps); the copy keeps the source tree free of build/ and
# egg-info. With a compiler, Python.h and the installed header (found as
# bindings/python/native_build.py says) the package gets its compiled
# extension, cffi's API mode; the caller's environment decides that.
python_site() {
  local src
  src=$(mktemp -d "${TMPDIR:-/tmp}/sagsocket-src.XXXXXX")
  cp -r "$SAG_ROOT/bindings/python/." "$src"
  rm -rf "$src/tests" "$src/build"
  python3 -m pip install -q --no-index --no-deps --no-build-isolation --root-user-action=ignore \
    --target "$1" "$src" || { rm -rf "$src"; return 1; }
  rm -rf "$src"
}
