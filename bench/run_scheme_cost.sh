#!/usr/bin/env bash
# run_scheme_cost.sh STAGE: what one operation of the Chez and Guile
# bindings costs, counted rather than timed: instructions in user space
# (valgrind's callgrind), foreign calls (bench/cgcalls.py --entries: calls
# into libsagsocket from outside it; on Guile's libffi path, calls of
# libffi's ffi_call, which every foreign call there makes) and, when strace
# is installed, system calls. Guile's binding is counted on both its paths
# when its compiled one (libguile-sagsocket.so) is installed: as it loads,
# and with SAGSOCKET_GUILE_FFI=1 (libffi). Each
# count is taken from two runs of a bench program (bench/bench_chez.sps,
# bench/bench_guile.scm, bench/bench_chez_ref.c) of N1 and N2 operations, so
# that start-up (Chez compiles the libraries at every start) cancels out:
# per operation = (count(N2) - count(N1)) / (N2 - N1). Counts do not depend
# on the machine's load: this is the measurement to compare two versions of
# the Scheme layers with on a shared machine. Guile runs with its collector
# off (GC_DONT_GC=1): when its collections fall in the two runs changed a
# connection's count by a fifth from run to run; what collecting costs per
# guarded socket is then not in the counts. valgrind checks all code outside
# files for changes (--smc-check=all-non-file): Guile's JIT and Chez write
# machine code into anonymous memory, and without the check a run of Guile's
# compiled ping-pong now and then kept executing a stale translation (one ran
# 64 billion instructions for 1,000 round trips, making no system call). The
# check costs valgrind time, not counted instructions. Racket CS (the door,
# (require sagsocket), against racket/tcp, bench/bench_racket.rkt) is
# counted too: a round trip, a 64 KiB chunk of bulk (both ends) and a
# line of read-line. A report, never a test.
#   bash bench/run_scheme_cost.sh build/stage     (about 4 minutes for Chez and
#                                   Guile; each Racket row is longer: Racket
#                                   starts under valgrind four times)
#   HOSTS=racket bash bench/run_scheme_cost.sh build/stage   (one host: chez,
#                                                 guile or racket)
set -euo pipefail

STAGE=${1:?usage: run_scheme_cost.sh STAGE   (the prefix libsagsocket is installed in)}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v valgrind >/dev/null || { echo "run_scheme_cost.sh: valgrind is not installed" >&2; exit 2; }
"$CC" -std=c99 -O2 -Wall -Wextra -o "$OUT/bench_chez_ref" "$ROOT/bench/bench_chez_ref.c" "${PKG[@]}" -pthread
CHEZLIBDIR=$(pkg-config --variable=chezlibdir sagsocket)
GUILELIBDIR=$(pkg-config --variable=guilelibdir sagsocket)
export XDG_CACHE_HOME=$OUT/guile-cost-cache GC_DONT_GC=1
rm -rf "$XDG_CACHE_HOME"
CG=$OUT/scheme-cost
mkdir -p "$CG"
N1=1000
N2=3000

HOSTS=${HOSTS:-chez guile racket}
has() { case " $HOSTS " in *" $1 "*) return 0 ;; esac; return 1; }

CHEZ=(scheme --libdirs "$CHEZLIBDIR" --program "$ROOT/bench/bench_chez.sps")
GUILE=(guile -L "$GUILELIBDIR" "$ROOT/bench/bench_guile.scm")
REF=("$OUT/bench_chez_ref")
"${GUILE[@]}" sag connect 10 >/dev/null 2>&1   # compiles the libraries and the program

# instr TAG PATTERN CMD...: callgrind of CMD N1 and CMD N2; prints the
# instructions per operation, then the calls per operation of the functions
# matching PATTERN, made from outside their object file.
instr() {
  local tag=$1 pat=$2 n i1 i2 c1 c2
  shift 2
  for n in $N1 $N2; do
    valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$CG/$tag.$n.out" "$@" "$n" >/dev/null 2>&1
  done
  i1=$(awk '/^(summary|totals):/ { print $2; exit }' "$CG/$tag.$N1.out")
  i2=$(awk '/^(summary|totals):/ { print $2; exit }' "$CG/$tag.$N2.out")
  c1=$(python3 "$ROOT/bench/cgcalls.py" "$CG/$tag.$N1.out" "$pat" --entries | awk '{ s += $3 } END { print s + 0 }')
  c2=$(python3 "$ROOT/bench/cgcalls.py" "$CG/$tag.$N2.out" "$pat" --entries | awk '{ s += $3 } END { print s + 0 }')
  awk -v a="$i1" -v b="$i2" -v c="$c1" -v d="$c2" -v n=$((N2 - N1)) \
    'BEGIN { printf "%9.0f %7.1f", (b - a) / n, (d - c) / n }'
}

# sys CMD...: system calls per operation (strace -c -f of CMD N1 and N2),
# or "-" without strace.
sys() {
  local n s1 s2
  if ! command -v strace >/dev/null; then printf '%7s' -; return; fi
  for n in $N1 $N2; do
    strace -f -c -o "$CG/strace.$n" "$@" "$n" >/dev/null 2>&1
  done
  s1=$(awk '$NF == "total" { print $(NF - 2) }' "$CG/strace.$N1")
  s2=$(awk '$NF == "total" { print $(NF - 2) }' "$CG/strace.$N2")
  awk -v a="$s1" -v b="$s2" -v n=$((N2 - N1)) 'BEGIN { printf "%7.1f", (b - a) / n }'
}

# row NAME TAG PATTERN CMD...
row() {
  local name=$1 tag=$2 pat=$3
  shift 3
  printf '%-46s %s %s\n' "$name" "$(instr "$tag" "$pat" "$@")" "$(sys "$@")"
}

echo "sagsocket Scheme bindings: cost per operation, counted (N = $N1 and $N2)"
printf '%-46s %9s %7s %7s\n' operation instr foreign syscall
row "1-byte round trip, C ABI from C" ref-pp '^sag_' "${REF[@]}" pingpong
if has chez; then
  row "1-byte round trip, Chez" chez-pp '^sag_' "${CHEZ[@]}" pingpong
fi
if has guile; then
  GPATH=$(guile -L "$GUILELIBDIR" -c '(use-modules ((sagittarius socket host) #:select (guile-binding-path)))
                                      (display guile-binding-path)' 2>/dev/null)
  if [ "$GPATH" = compiled ]; then
    row "1-byte round trip, Guile (sagsocket, compiled)" guile-pp '^sag_' "${GUILE[@]}" sag pingpong
  fi
  ( export SAGSOCKET_GUILE_FFI=1
    row "1-byte round trip, Guile (sagsocket, libffi)" guile-ffi-pp '^ffi_call$' "${GUILE[@]}" sag pingpong )
  row "1-byte round trip, Guile's own sockets" guile-own-pp '^ffi_call$' "${GUILE[@]}" guile pingpong
  if [ "$GPATH" = compiled ]; then
    row "connect/accept/close, Guile (sagsocket, compiled)" guile-cn '^sag_' "${GUILE[@]}" sag connect
  fi
  ( export SAGSOCKET_GUILE_FFI=1
    row "connect/accept/close, Guile (sagsocket, libffi)" guile-ffi-cn '^ffi_call$' "${GUILE[@]}" sag connect )
  row "connect/accept/close, Guile's own sockets" guile-own-cn '^ffi_call$' "${GUILE[@]}" guile connect
fi
if has racket; then
  RACKETDIR=$(pkg-config --variable=racketdir sagsocket)
  cp "$ROOT/bench/bench_racket.rkt" "$OUT/bench_racket.rkt"
  PLTCOLLECTS="$RACKETDIR:" raco make "$OUT/bench_racket.rkt"
  RACKET=(racket -S "$RACKETDIR" "$OUT/bench_racket.rkt")
  row "1-byte round trip, Racket (sagsocket)" rkt-pp '^sag_' "${RACKET[@]}" sag pingpong
  row "1-byte round trip, Racket's racket/tcp" rkt-own-pp '^sag_' "${RACKET[@]}" racket pingpong
  # a chunk and a line cost more and less than a round trip: N scaled
  ( N1=100 N2=300
    row "64 KiB bulk chunk, Racket (sagsocket)" rkt-bulk '^sag_' "${RACKET[@]}" sag chunks
    row "64 KiB bulk chunk, Racket's racket/tcp" rkt-own-bulk '^sag_' "${RACKET[@]}" racket chunks )
  ( N1=10000 N2=30000
    row "40-byte line, read-line, Racket (sagsocket)" rkt-ln '^sag_' "${RACKET[@]}" sag gen-lines
    row "40-byte line, read-line, Racket's racket/tcp" rkt-own-ln '^sag_' "${RACKET[@]}" racket gen-lines )
fi
printf '(instr: user-space instructions, all threads; foreign: calls into the\n'
printf ' library (C, Chez, Guile compiled, Racket) or of ffi_call (Guile libffi); a round trip is 2 sends and 2\n'
printf ' receives, one of each at each end. Files: %s)\n' "$CG"
