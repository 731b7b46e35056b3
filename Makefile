# libsagsocket: build, install, test, demo, bench.
#   make                 library, headers and sagsocket.pc under build/
#   make install PREFIX=/usr/local DESTDIR=
#   make check           every test (installs missing Debian packages as root)
#   make demo            the seed's echo server with a scripted client (C, Chez, Guile, Racket, Python, LuaJIT)
#   make bench           same-run ratios against raw C and each host's own sockets
#   make fuzz            the long fuzz runs (10 million executions a target)
#   make soak            1,000,000 connections and 100,000 port lifetimes, watched
SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CHEZLIBDIR ?= $(LIBDIR)/chezscheme
GUILELIBDIR ?= $(PREFIX)/share/guile/site/3.0
# The Guile binding's compiled path, libguile-sagsocket.so: beside the
# library by default, where the dynamic loader finds it as it finds
# libsagsocket.so.1 (or name a folder in GUILE_EXTENSIONS_PATH).
GUILEEXTDIR ?= $(LIBDIR)
LUADIR ?= $(PREFIX)/share/lua/5.1
RACKETDIR ?= $(PREFIX)/share/racket/collects
CC ?= cc

# The version and the ABI (SONAME) number are written once, in sagsocket.h.
VERSION := $(shell python3 scripts/sagheader.py version include/sagsocket.h)
ABI := $(shell python3 scripts/sagheader.py abi include/sagsocket.h)
LIBNAME := libsagsocket.so
SONAME := $(LIBNAME).$(ABI)
REALNAME := $(LIBNAME).$(VERSION)

BUILD := build
SWIFT_CONFIG ?= release
# -z nodelete: the library must stay mapped once loaded, even after dlclose,
# because threads that used it hold pthread keys whose destructors (closing the
# thread's wake eventfd, freeing its last-error object) are code in this
# library and run when those threads exit.
# -mtls-dialect=gnu2: the C shims' thread-locals (read on every wait) through
# TLS descriptors, a few instructions where __tls_get_addr costs a call of
# about twenty (docs/performance.md); dlopen still works as before.
SWIFT_FLAGS := -c $(SWIFT_CONFIG) -Xswiftc -static-stdlib --disable-local-rpath \
  -Xlinker --version-script=$(CURDIR)/$(BUILD)/sagsocket.map \
  -Xlinker -soname=$(SONAME) -Xlinker -z -Xlinker nodelete -Xcc -mtls-dialect=gnu2
STAGE := $(CURDIR)/$(BUILD)/stage
SWIFT_SOURCES := $(shell find Sources -type f) Package.swift
# The Scheme libraries (sagittarius socket), (srfi :106) for Chez Scheme:
# the portable layer, the Chez host layer, SRFI 106.
SCHEME_DIR := bindings/scheme
SCHEME_LIBS := sagittarius/socket.sls sagittarius/socket/host.chezscheme.sls \
  srfi/:106.sls srfi/:106/socket.sls
# The same libraries for Guile 3.0, under the names Guile looks them up by
# (it reads only .scm files, and names (srfi :106) srfi/srfi-106.scm): each
# pair is SOURCE=INSTALLED-NAME. Only the host layer differs from Chez's.
# Guile reads (srfi :106 socket) as another name of (srfi :106) (SRFI 97's
# rule), so srfi/:106/socket.sls is installed as srfi/srfi-106.scm with
# its library named (srfi :106).
GUILE_LIBS := sagittarius/socket.sls=sagittarius/socket.scm \
  sagittarius/socket/host.guile.sls=sagittarius/socket/host.scm
GUILE_SRFI106 := srfi/:106/socket.sls
GUILE_EXT := libguile-sagsocket.so
# The same libraries for Racket (plt-r6rs ++path RACKETDIR), under the names
# Racket looks them up by: ':' is written %3a, and the Racket host layer is
# host.mzscheme.sls, the extension plt-r6rs tries first. plt-r6rs reads
# only files that begin with #!r6rs: install adds the line where a source
# lacks it. The host layer re-exports the Racket module
# bindings/racket/sagsocket/private/host.rkt, installed beside them.
RACKET_LIBS := sagittarius/socket.sls=sagittarius/socket.sls \
  sagittarius/socket/host.mzscheme.sls=sagittarius/socket/host.mzscheme.sls \
  srfi/:106.sls=srfi/%3a106.sls srfi/:106/socket.sls=srfi/%3a106/socket.sls
RACKET_MODULES := sagsocket/private/host.rkt
# (require sagsocket) for #lang racket programs: bindings/racket/sagsocket/main.rkt
RACKET_MODULES += sagsocket/main.rkt

# sagsocket.pc from its template, for the current PREFIX, into $(1).
define make_pc
sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
    -e 's|@CHEZLIBDIR@|$(CHEZLIBDIR)|g' -e 's|@GUILELIBDIR@|$(GUILELIBDIR)|g' \
    -e 's|@GUILEEXTDIR@|$(GUILEEXTDIR)|g' \
    -e 's|@LUADIR@|$(LUADIR)|g' -e 's|@RACKETDIR@|$(RACKETDIR)|g' \
    pkgconfig/sagsocket.pc.in > $(1)
endef

.PHONY: all lib install uninstall check demo bench setup clean stage swift-test c-test ports-test selector-test ffi-test abi-test chez-test guile-test python-test cpython-test \
  faults-test exhaustion-test tsan-test fuzz-replay syscalls-test fuzz soak
all: lib

setup:
	@bash scripts/setup.sh

# The linker version script: exactly the functions the header declares.
$(BUILD)/sagsocket.map: include/sagsocket_decls.h scripts/version-script.py scripts/sagheader.py
	mkdir -p $(BUILD)
	python3 scripts/version-script.py $< > $@

# SwiftPM does not see a change of the header (a system-library module), so
# the C layer's objects go when the header is newer than the built library:
# their compile runs again, and the version and the declarations
# @c @implementation checks are read again. (Only the objects: removing
# their build folder breaks SwiftPM's next build, which still lists the
# folder's files; the source tree is left alone.)
$(BUILD)/lib/$(REALNAME): $(SWIFT_SOURCES) include/sagsocket.h include/sagsocket_decls.h $(BUILD)/sagsocket.map Makefile
	bin=$$(swift build $(SWIFT_FLAGS) --show-bin-path); \
	if [ -n "$$(find include -name '*.h' -newer "$$bin/$(LIBNAME)" 2>/dev/null)" ]; then \
	  rm -f "$$bin"/SagSocketCABI.build/*.o; fi
	swift build $(SWIFT_FLAGS) --product sagsocket
	mkdir -p $(BUILD)/lib $(BUILD)/include $(BUILD)/pkgconfig
	# Stripped, as distributions ship a library, with its debug information
	# kept apart in .debug/$(REALNAME).debug, here as where make install puts
	# it (gdb and valgrind find it through the library's .gnu_debuglink). Not
	# beside the library: a tool globbing libsagsocket.so.* would take the
	# debug file, which exports nothing, for the library. No earlier version
	# stays (a tool reading build/lib would otherwise find a stale one).
	rm -f $(BUILD)/lib/$(LIBNAME).*.*.* $(BUILD)/lib/.debug/$(LIBNAME).*
	mkdir -p $(BUILD)/lib/.debug
	cp "$$(swift build $(SWIFT_FLAGS) --show-bin-path)/$(LIBNAME)" $@.unstripped
	objcopy --only-keep-debug $@.unstripped $(BUILD)/lib/.debug/$(REALNAME).debug
	objcopy --strip-unneeded --remove-section=.comment \
	  --add-gnu-debuglink=$(BUILD)/lib/.debug/$(REALNAME).debug $@.unstripped $@
	rm -f $@.unstripped
	ln -sf $(REALNAME) $(BUILD)/lib/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/lib/$(LIBNAME)
	cp include/sagsocket.h include/sagsocket_decls.h $(BUILD)/include/
	$(call make_pc,$(BUILD)/pkgconfig/sagsocket.pc)

lib: $(BUILD)/lib/$(REALNAME)

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(BUILD)/lib/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	install -d $(DESTDIR)$(LIBDIR)/.debug
	install -m 0644 $(BUILD)/lib/.debug/$(REALNAME).debug $(DESTDIR)$(LIBDIR)/.debug/$(REALNAME).debug
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/$(LIBNAME)
	install -m 0644 include/sagsocket.h include/sagsocket_decls.h $(DESTDIR)$(INCLUDEDIR)/
	$(call make_pc,$(DESTDIR)$(LIBDIR)/pkgconfig/sagsocket.pc)
	for f in $(SCHEME_LIBS); do \
	  install -d "$(DESTDIR)$(CHEZLIBDIR)/$$(dirname "$$f")" && \
	  install -m 0644 "$(SCHEME_DIR)/$$f" "$(DESTDIR)$(CHEZLIBDIR)/$$f" || exit 1; \
	done
	for pair in $(GUILE_LIBS); do \
	  src=$${pair%%=*}; dst=$${pair#*=}; \
	  install -d "$(DESTDIR)$(GUILELIBDIR)/$$(dirname "$$dst")" && \
	  install -m 0644 "$(SCHEME_DIR)/$$src" "$(DESTDIR)$(GUILELIBDIR)/$$dst" || exit 1; \
	done
	install -d "$(DESTDIR)$(GUILELIBDIR)/srfi"
	sed -e 's/^(library (srfi :106 socket)$$/(library (srfi :106)/' "$(SCHEME_DIR)/$(GUILE_SRFI106)" \
	  > "$(DESTDIR)$(GUILELIBDIR)/srfi/srfi-106.scm"
	grep -q '^(library (srfi :106)$$' "$(DESTDIR)$(GUILELIBDIR)/srfi/srfi-106.scm"
	chmod 0644 "$(DESTDIR)$(GUILELIBDIR)/srfi/srfi-106.scm"
	# Guile's compiled path (bindings/scheme/guile/sagsocket_guile.c), built
	# where a C compiler and Guile's headers (guile-3.0-dev) are; without it
	# the binding calls the library through libffi only.
	if $(CC) --version >/dev/null 2>&1 && pkg-config --exists guile-3.0; then \
	  mkdir -p $(BUILD)/guile && \
	  $(CC) -std=gnu11 -O2 -fPIC -shared -Wall -Wextra -Iinclude $$(pkg-config --cflags guile-3.0) \
	    -o $(BUILD)/guile/$(GUILE_EXT) $(SCHEME_DIR)/guile/sagsocket_guile.c $$(pkg-config --libs guile-3.0) && \
	  install -d "$(DESTDIR)$(GUILEEXTDIR)" && \
	  install -m 0755 $(BUILD)/guile/$(GUILE_EXT) "$(DESTDIR)$(GUILEEXTDIR)/$(GUILE_EXT)" || exit 1; \
	else \
	  echo "install: no C compiler or no guile-3.0 headers: the Guile binding goes through libffi only"; \
	fi
	# LuaJIT: sagsocket.lua, told where the header and library were installed
	# (it reads the installed sagsocket_decls.h with ffi.cdef).
	install -d "$(DESTDIR)$(LUADIR)"
	sed -e 's|"@INCLUDEDIR@"|"$(INCLUDEDIR)"|' -e 's|"@LIBDIR@"|"$(LIBDIR)"|' \
	  bindings/luajit/sagsocket.lua > "$(DESTDIR)$(LUADIR)/sagsocket.lua"
	chmod 0644 "$(DESTDIR)$(LUADIR)/sagsocket.lua"
	# Racket: the R6RS libraries, each beginning with #!r6rs, and the host module
	for pair in $(RACKET_LIBS); do \
	  src=$${pair%%=*}; dst="$(DESTDIR)$(RACKETDIR)/$${pair#*=}"; \
	  install -d "$$(dirname "$$dst")" && \
	  { head -n 1 "$(SCHEME_DIR)/$$src" | grep -q '^#!r6rs' || echo '#!r6rs'; \
	    cat "$(SCHEME_DIR)/$$src"; } > "$$dst" && chmod 0644 "$$dst" || exit 1; \
	done
	for f in $(RACKET_MODULES); do \
	  install -d "$(DESTDIR)$(RACKETDIR)/$$(dirname "$$f")" && \
	  install -m 0644 "bindings/racket/$$f" "$(DESTDIR)$(RACKETDIR)/$$f" || exit 1; \
	done
	# compiled (raco make) so that (require sagsocket) loads in a second, not five
	if command -v raco >/dev/null 2>&1; then \
	  PLTCOLLECTS="$(DESTDIR)$(RACKETDIR):" raco make "$(DESTDIR)$(RACKETDIR)/sagsocket/main.rkt" || exit 1; \
	fi

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/$(LIBNAME)
	rm -f $(DESTDIR)$(LIBDIR)/.debug/$(REALNAME).debug
	-rmdir $(DESTDIR)$(LIBDIR)/.debug 2>/dev/null
	rm -f $(DESTDIR)$(INCLUDEDIR)/sagsocket.h $(DESTDIR)$(INCLUDEDIR)/sagsocket_decls.h
	rm -f $(DESTDIR)$(LIBDIR)/pkgconfig/sagsocket.pc
	for f in $(SCHEME_LIBS); do rm -f "$(DESTDIR)$(CHEZLIBDIR)/$$f"; done
	-rmdir "$(DESTDIR)$(CHEZLIBDIR)/srfi/:106" "$(DESTDIR)$(CHEZLIBDIR)/srfi" \
	  "$(DESTDIR)$(CHEZLIBDIR)/sagittarius/socket" "$(DESTDIR)$(CHEZLIBDIR)/sagittarius" \
	  "$(DESTDIR)$(CHEZLIBDIR)" 2>/dev/null
	for pair in $(GUILE_LIBS); do rm -f "$(DESTDIR)$(GUILELIBDIR)/$${pair#*=}"; done
	rm -f "$(DESTDIR)$(GUILELIBDIR)/srfi/srfi-106.scm"
	rm -f "$(DESTDIR)$(GUILEEXTDIR)/$(GUILE_EXT)"
	-rmdir "$(DESTDIR)$(GUILELIBDIR)/srfi" "$(DESTDIR)$(GUILELIBDIR)/sagittarius/socket" \
	  "$(DESTDIR)$(GUILELIBDIR)/sagittarius" 2>/dev/null
	rm -f "$(DESTDIR)$(LUADIR)/sagsocket.lua"
	for pair in $(RACKET_LIBS); do rm -f "$(DESTDIR)$(RACKETDIR)/$${pair#*=}"; done
	for f in $(RACKET_MODULES); do rm -f "$(DESTDIR)$(RACKETDIR)/$$f"; done
	rm -rf $(foreach d,sagsocket sagsocket/private sagittarius sagittarius/socket,"$(DESTDIR)$(RACKETDIR)/$(d)/compiled")
	-rmdir "$(DESTDIR)$(RACKETDIR)/srfi/%3a106" "$(DESTDIR)$(RACKETDIR)/srfi" \
	  "$(DESTDIR)$(RACKETDIR)/sagittarius/socket" "$(DESTDIR)$(RACKETDIR)/sagittarius" \
	  "$(DESTDIR)$(RACKETDIR)/sagsocket/private" "$(DESTDIR)$(RACKETDIR)/sagsocket" 2>/dev/null

# A private installation under build/stage, used by the tests, samples and bench
# exactly as a user's program would use an installed library.
# Made afresh each time, so that no file of an earlier version (an older
# libsagsocket.so.X.Y.Z, a module since renamed) stays beside the new ones.
stage: lib
	rm -rf $(STAGE)
	$(MAKE) --no-print-directory install PREFIX=$(STAGE) DESTDIR=

# Each group prints its time last ("time: GROUP S s").
TIMED = @bash scripts/timed.sh $@
CHECK_GROUPS := swift-test c-test ports-test selector-test ffi-test abi-test chez-test guile-test python-test cpython-test \
  faults-test exhaustion-test tsan-test fuzz-replay syscalls-test
CHECK_GROUPS += luajit-test racket-test
.PHONY: luajit-test racket-test
include tls/tls.mk
check: setup stage $(CHECK_GROUPS)
	@echo "check: $(words $(CHECK_GROUPS)) passed, 0 failed"

swift-test:
	$(TIMED) bash -c 'set -o pipefail; swift test --no-parallel 2>&1 | tail -n 40'

# The groups that test the staged library (STAGED_GROUPS): RUNNER_<group> is
# the script (and its options) that runs the group, given the stage.
RUNNER_c-test := Tests/c/run.sh
RUNNER_ports-test := Tests/c/run_ports.sh
RUNNER_selector-test := Tests/c/run_selector.sh
RUNNER_ffi-test := Tests/ffi-driver/run.sh
RUNNER_abi-test := Tests/abi/run.sh
RUNNER_chez-test := Tests/scheme/run.sh
RUNNER_guile-test := Tests/scheme/run.sh --guile
# The same suite on Racket CS (plt-r6rs), then the Racket-only tests.
RUNNER_racket-test := Tests/scheme/run.sh --racket
RUNNER_python-test := Tests/python/run.sh
# The LuaJIT binding (bindings/luajit) by its own Lua runner, and its install.
RUNNER_luajit-test := Tests/luajit/run.sh
# CPython's own test_socket and test_selectors against sagsocket.
RUNNER_cpython-test := Tests/python/run_cpython.sh
# Faults on a real network between two namespaces (root; SKIP otherwise).
RUNNER_faults-test := Tests/faults/run.sh
# System calls per operation, counted by strace.
RUNNER_syscalls-test := Tests/syscalls/run.sh
# Out of file descriptors (a lowered RLIMIT_NOFILE).
RUNNER_exhaustion-test := Tests/exhaustion/run.sh
# Races under ThreadSanitizer (the library built into .build-tsan, kept).
RUNNER_tsan-test := Tests/tsan/run.sh
STAGED_GROUPS := c-test ports-test selector-test ffi-test abi-test chez-test guile-test python-test luajit-test racket-test \
  cpython-test faults-test syscalls-test exhaustion-test tsan-test
$(STAGED_GROUPS): stage
	$(TIMED) bash $(RUNNER_$@) $(STAGE)

# The committed fuzz corpus, each input once (the targets built into .build-fuzz).
fuzz-replay:
	$(TIMED) bash Tests/fuzz/replay.sh

# Opt-in long runs: each fuzz target for FUZZ_RUNS executions, one at a time,
# under nice; the soak (1,000,000 connections, 100,000 port lifetimes).
FUZZ_RUNS ?= 10000000
fuzz:
	bash Tests/fuzz/run.sh $(FUZZ_RUNS)

soak: setup stage
	bash bench/run_soak.sh $(STAGE)

demo: setup stage
	bash bindings/c/demo.sh $(STAGE)
	bash bindings/scheme/demo.sh $(STAGE)
	bash bindings/scheme/demo.sh --guile $(STAGE)
	bash bindings/scheme/demo.sh --racket $(STAGE)
	bash bindings/racket/demo.sh $(STAGE)
	bash bindings/python/demo.sh $(STAGE)
	bash bindings/luajit/demo.sh $(STAGE)

bench: setup stage
	bash bench/run.sh $(STAGE)
	bash bench/run_ports.sh $(STAGE)
	bash bench/run_chez.sh $(STAGE)
	bash bench/run_guile.sh $(STAGE)
	bash bench/run_selector.sh $(STAGE)
	bash bench/run_python.sh $(STAGE)
	bash bench/run_luajit.sh $(STAGE)
	bash bench/run_racket.sh $(STAGE)

clean:
	rm -rf $(BUILD) .build
