#!/usr/bin/env bash
# constants.sh STAGE OUT: writes to OUT one "NAME VALUE" line per constant of
# the installed header's constant enums, as a C program sees it
# (SAG_NAME), after checking that sag_constant("NAME") agrees. The Scheme
# tests compare the libraries' exported constants with this file.
set -euo pipefail
STAGE=$1 OUT=$2
HDR=$STAGE/include/sagsocket_decls.h
DIR=$(mktemp -d "${TMPDIR:-/tmp}/sagconst.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
names=$(python3 "$ROOT/scripts/sagheader.py" constants "$HDR" | sed -n 's/^K(\([A-Z0-9_]*\),.*/\1/p')
{
  echo '#include <sagsocket.h>'
  echo '#include <stdio.h>'
  echo 'static int bad = 0;'
  echo 'static void one(const char *name, int enum_value) {'
  echo '  int v = 0;'
  echo '  if (sag_constant(name, &v) != SAG_OK || v != enum_value) {'
  echo '    fprintf(stderr, "sag_constant(%s) disagrees with the header\n", name); bad = 1; }'
  echo '  printf("%s %d\n", name, enum_value); }'
  echo 'int main(void) {'
  for n in $names; do echo "  one(\"$n\", SAG_$n);"; done
  echo '  return bad; }'
} > "$DIR/constants.c"
cc -std=c99 -o "$DIR/constants" "$DIR/constants.c" -I"$STAGE/include" -L"$STAGE/lib" -lsagsocket
LD_LIBRARY_PATH=$STAGE/lib "$DIR/constants" > "$OUT"
