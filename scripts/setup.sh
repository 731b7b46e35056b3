#!/usr/bin/env bash
# Installs what `make check`, `make demo` and `make bench` need and a fresh
# Debian machine lacks. As root it installs; otherwise it says what to install.
set -u
need_deb=()
have() { command -v "$1" >/dev/null 2>&1; }
have swift        || { echo "setup: the Swift toolchain (6.x) is required: https://swift.org/install" >&2; exit 1; }
have cc           || need_deb+=(gcc)
have pkg-config   || need_deb+=(pkg-config)
have valgrind     || need_deb+=(valgrind)
have luajit       || need_deb+=(luajit)
# LuaSocket, for bench/run_luajit.sh (make bench) to compare the LuaJIT binding with
luajit -e 'require("socket")' >/dev/null 2>&1 || need_deb+=(lua-socket)
have nm           || need_deb+=(binutils)
have scheme       || need_deb+=(chezscheme)
have guile        || need_deb+=(guile-3.0)
# libguile's headers: make install builds the Guile binding's compiled path
# (libguile-sagsocket.so) with them; guile-test runs it and the libffi path
pkg-config --exists guile-3.0 || need_deb+=(guile-3.0-dev)
have plt-r6rs     || need_deb+=(racket)
have ip           || need_deb+=(iproute2)
have strace       || need_deb+=(strace)
# CPython's own test suite (make cpython-test runs its test_socket and
# test_selectors): Debian ships it apart from the interpreter.
python3 -c 'import test.test_socket, test.test_selectors' >/dev/null 2>&1 ||
  need_deb+=("libpython$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')-testsuite")
# Python.h: pip compiles the Python binding's extension (cffi's API mode, which
# python-test and the bench measure) only with this interpreter's headers.
python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
  need_deb+=("libpython$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')-dev")
[ -f /usr/include/ffi.h ] || [ -f /usr/include/x86_64-linux-gnu/ffi.h ] || need_deb+=(libffi-dev)
# libsagtls (TLS) builds on OpenSSL 3; its tests make certificates with the CLI
[ -f /usr/include/openssl/ssl.h ] || need_deb+=(libssl-dev)
have openssl      || need_deb+=(openssl)
if [ ${#need_deb[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    echo "setup: installing ${need_deb[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq "${need_deb[@]}" >/dev/null || {
      echo "setup: apt-get install ${need_deb[*]} failed" >&2; exit 1; }
  else
    echo "setup: please install: sudo apt-get install ${need_deb[*]}" >&2; exit 1
  fi
fi
# Python packages: cffi (the ffi tests, the Python binding), pytest (its tests),
need_pip=()
python3 -c 'import cffi' >/dev/null 2>&1 || need_pip+=(cffi)
python3 -c 'import pytest' >/dev/null 2>&1 || need_pip+=(pytest)
# setuptools and wheel: Tests/python/run.sh builds the package without build
# isolation, so that the test never reaches the package index.
python3 -c 'import setuptools' >/dev/null 2>&1 || need_pip+=(setuptools)
python3 -c 'import wheel' >/dev/null 2>&1 || need_pip+=(wheel)
if [ ${#need_pip[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] || [ -n "${VIRTUAL_ENV:-}" ]; then
    python3 -m pip install -q "${need_pip[@]}" || { echo "setup: pip install ${need_pip[*]} failed" >&2; exit 1; }
  else
    echo "setup: please install: python3 -m pip install ${need_pip[*]}" >&2; exit 1
  fi
fi
exit 0
