#!/usr/bin/env bash
# ABI checks of an installed libsagsocket.
#   Tests/abi/run.sh STAGE      (STAGE holds lib/, include/, lib/pkgconfig/)
# (a) exported symbols == functions of include/sagsocket_decls.h; SONAME;
#     no libswift* dependency; no symbol of the test-only syscall seam
# (b) the declarations file loads unchanged in LuaJIT ffi.cdef and cffi cdef,
#     and calls through both work
# (c) include/sagsocket.h compiles as strict C99 and as C++
# (d) doc comments: a Scheme: line for every function, every Scheme procedure
#     of the API named after one
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/stage.sh
. "$HERE/../../scripts/stage.sh"
use_stage abi "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH
DECLS="$ROOT/include/sagsocket_decls.h"
VNUM=$(python3 "$ROOT/scripts/sagheader.py" version-number "$ROOT/include/sagsocket.h")
HEADER="$ROOT/include/sagsocket.h"
LIB="$STAGE/lib/libsagsocket.so"
CHECKER="$HERE/check_header.py"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

if [ ! -e "$LIB" ]; then
  echo "abi: $LIB does not exist (run make stage)" >&2
  exit 1
fi
REAL=$(readlink -f "$LIB")

# ---- (a) symbols, SONAME, dependencies ------------------------------------
echo "== (a) exported symbols, SONAME, dependencies"
if out=$(python3 "$CHECKER" symbols "$DECLS" "$LIB" 2>&1); then
  echo "$out" | sed 's/^/     /'
  pass "exported functions == declared sag_* functions"
else
  echo "$out" | sed 's/^/     /'
  fail "exported functions differ from the declared ones"
fi

soname=$(readelf -d "$REAL" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" = "libsagsocket.so.1" ]; then
  pass "SONAME is libsagsocket.so.1"
else
  fail "SONAME is '${soname}', expected libsagsocket.so.1"
fi
if [ -e "$STAGE/lib/libsagsocket.so.1" ]; then
  pass "lib/libsagsocket.so.1 exists"
else
  fail "lib/libsagsocket.so.1 is missing"
fi

if ! ldd_out=$(ldd "$REAL" 2>&1); then
  fail "ldd $REAL failed: $ldd_out"
elif echo "$ldd_out" | grep -q 'libswift'; then
  fail "the library needs Swift runtime libraries:"
  echo "$ldd_out" | grep 'libswift' | sed 's/^/     /'
elif echo "$ldd_out" | grep -q 'not found'; then
  fail "the library has unresolved dependencies:"
  echo "$ldd_out" | grep 'not found' | sed 's/^/     /'
else
  pass "ldd: no libswift* dependency"
fi

# Exported data or other global symbols that leak beyond the sag_ API. Local
# symbols (lower-case nm letters) that the linker keeps in .dynsym for
# relocations are not exported: nothing can bind to them. The version node
# (SAGSOCKET_1, an absolute symbol) is how versioned libraries name their ABI.
others=$(nm -D --defined-only "$REAL" | awk '$2 ~ /^[A-Z]$/ && $2 !~ /^[TW]$/ {print $3}' | grep -v '^_init$\|^_fini$\|^_edata$\|^_end$\|^__bss_start$\|^SAGSOCKET_[0-9]*$' || true)
if [ -z "$others" ]; then
  pass "no exported data symbols"
else
  fail "exported non-function symbols: $(echo $others)"
fi

# Installed stripped, its debug information apart in LIBDIR/.debug, named by
# the library's .gnu_debuglink (where gdb and valgrind look for it).
DEBUGFILE="$(dirname "$REAL")/.debug/$(basename "$REAL").debug"
link=$(readelf --string-dump=.gnu_debuglink "$REAL" 2>/dev/null | sed -n 's/^ *\[ *0\] *//p')
if readelf -S "$REAL" | grep -q '\.debug_info'; then
  fail "the installed library carries .debug_info (not stripped)"
elif readelf -S "$REAL" | grep -q ' \.symtab'; then
  fail "the installed library carries a .symtab (not stripped)"
elif [ "$link" != "$(basename "$DEBUGFILE")" ]; then
  fail "the library's .gnu_debuglink names '$link', not $(basename "$DEBUGFILE")"
elif [ ! -f "$DEBUGFILE" ] || ! readelf -S "$DEBUGFILE" | grep -q '\.debug_info'; then
  fail "$DEBUGFILE is missing or holds no .debug_info"
else
  pass "stripped ($(stat -c %s "$REAL") bytes), debug information in .debug/$(basename "$DEBUGFILE") ($(stat -c %s "$DEBUGFILE") bytes)"
fi

# The syscall seam's script (Sources/SagSocketCore/Internals/Mocking.swift) exists in
# test builds only: the release library must hold none of it. Its types'
# mangled names contain SyscallMock, SyscallAction and SyscallStep. The
# stripped library has no symbol table: its debug file has.
if ! syms=$(nm "$DEBUGFILE" 2>&1); then
  fail "nm $DEBUGFILE failed: $syms"
elif mock=$(echo "$syms" | grep -c 'SyscallMock\|SyscallAction\|SyscallStep'); [ "$mock" -ne 0 ]; then
  fail "the release library holds $mock symbols of the test-only syscall seam"
else
  pass "nm: no symbol of the test-only syscall seam (SyscallMock, SyscallAction, SyscallStep)"
fi

# ---- (b) LuaJIT and cffi ---------------------------------------------------
echo "== (b) the declarations file in LuaJIT ffi.cdef and cffi cdef"
# cdef_check WHAT COMMAND...: COMMAND, given the declarations file, the
# library and the version number, exits 0 (else its output is the failure).
cdef_check() {
  local what=$1 out
  shift
  if out=$("$@" "$DECLS" "$LIB" "$VNUM" 2>&1); then
    pass "$what: cdef, sag_version_number() == $VNUM, sag_constant(\"AF_INET6\") == 10"
  else
    fail "$what: $out"
  fi
}
if command -v luajit >/dev/null 2>&1; then
  cat > "$WORK/t.lua" <<'EOF'
local ffi = require("ffi")
local decls, lib = arg[1], arg[2]
local f = assert(io.open(decls, "r"))
local text = f:read("*a")
f:close()
local ok, e = pcall(ffi.cdef, text)
if not ok then print("cdef failed: " .. tostring(e)); os.exit(1) end
local ok2, L = pcall(ffi.load, lib)
if not ok2 then print("load failed: " .. tostring(L)); os.exit(1) end
local bad = 0
local v = L.sag_version_number()
local want = tonumber(arg[3])
if v ~= want then print("sag_version_number() = " .. tostring(v) .. ", expected " .. tostring(want)); bad = 1 end
local out = ffi.new("int[1]", -1)
local st = L.sag_constant("AF_INET6", out)
if st ~= 0 or out[0] ~= 10 then
  print("sag_constant(\"AF_INET6\") = status " .. tostring(st) .. ", value " .. tostring(out[0]) .. ", expected 0, 10"); bad = 1
end
if ffi.C.SAG_AF_INET6 ~= 10 then print("enum SAG_AF_INET6 = " .. tostring(ffi.C.SAG_AF_INET6)); bad = 1 end
os.exit(bad)
EOF
  cdef_check LuaJIT luajit "$WORK/t.lua"
else
  fail "luajit is not installed"
fi

if python3 -c 'import cffi' >/dev/null 2>&1; then
  cat > "$WORK/t.py" <<'EOF'
import sys
from cffi import FFI
decls, lib, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
ffi = FFI()
with open(decls, encoding="utf-8") as f:
    ffi.cdef(f.read())
L = ffi.dlopen(lib)
bad = 0
v = L.sag_version_number()
if v != want:
    print("sag_version_number() = %r, expected %d" % (v, want)); bad = 1
out = ffi.new("int *", -1)
st = L.sag_constant(b"AF_INET6", out)
if st != 0 or out[0] != 10:
    print("sag_constant('AF_INET6') = status %d, value %d, expected 0, 10" % (st, out[0])); bad = 1
if L.SAG_AF_INET6 != 10:
    print("enum SAG_AF_INET6 = %r" % L.SAG_AF_INET6); bad = 1
sys.exit(bad)
EOF
  cdef_check cffi python3 "$WORK/t.py"
else
  fail "python3 cffi is not installed"
fi

# ---- (c) the header as C and C++ ------------------------------------------
echo "== (c) sagsocket.h as C99 and C++"
cat > "$WORK/h.c" <<'EOF'
#include <sagsocket.h>
int main(void) {
    sag_socket *s = 0;
    int v = 0;
    (void)s;
    (void)sag_constant("AF_INET", &v);
    return sag_version_number() == SAG_VERSION_NUMBER ? 0 : 1;
}
EOF
if out=$(cc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -I"$ROOT/include" "$WORK/h.c" 2>&1); then
  pass "C: cc -std=c99 -Wall -Wextra -Werror -pedantic"
else
  fail "C: $out"
fi
cp "$WORK/h.c" "$WORK/h.cpp"
if out=$(g++ -Wall -Wextra -Werror -pedantic -fsyntax-only -I"$ROOT/include" "$WORK/h.cpp" 2>&1); then
  pass "C++: g++ -fsyntax-only -Wall -Wextra -Werror -pedantic"
else
  fail "C++: $out"
fi
# the installed headers are the repository's
for h in sagsocket.h sagsocket_decls.h; do
  if cmp -s "$ROOT/include/$h" "$STAGE/include/$h"; then
    pass "installed include/$h is the repository's"
  else
    fail "installed $STAGE/include/$h differs from include/$h (or is missing)"
  fi
done
# no preprocessor lines or string literals in the declarations file
if python3 - "$DECLS" <<'EOF'
import re, sys
src = open(sys.argv[1], encoding="utf-8").read()
code = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
bad = [l for l in code.splitlines() if l.lstrip().startswith("#")]
if bad or '"' in code:
    print("\n".join(bad) or "string literal outside comments"); sys.exit(1)
EOF
then
  pass "sagsocket_decls.h has no # lines and no string literals"
else
  fail "sagsocket_decls.h has preprocessor lines or string literals"
fi

# ---- (d) doc comments -------------------------------------------------------
echo "== (d) doc comments and Scheme: lines"
if out=$(python3 "$CHECKER" docs "$DECLS" 2>&1); then
  echo "$out" | sed 's/^/     /'
  pass "every function has a Scheme: line; every Scheme procedure is named"
else
  echo "$out" | sed 's/^/     /'
  fail "doc comments (see above)"
fi

echo "abi: $failures failure(s)"
[ "$failures" -eq 0 ]
