# libsagsocket: build, install, test, demo, bench.
#   make                 library, headers and sagsocket.pc under build/
#   make install PREFIX=/usr/local DESTDIR=
#   make check           every test (installs missing Debian packages as root)
#   make demo            the seed's echo server with a scripted client
#   make bench           same-run ratios against raw C
SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CC ?= cc

VERSION := 1.0.0
ABI := 1
LIBNAME := libsagsocket.so
SONAME := $(LIBNAME).$(ABI)
REALNAME := $(LIBNAME).$(VERSION)

BUILD := build
SWIFT_CONFIG ?= release
SWIFT_FLAGS := -c $(SWIFT_CONFIG) -Xswiftc -static-stdlib --disable-local-rpath \
  -Xlinker --version-script=$(CURDIR)/$(BUILD)/sagsocket.map \
  -Xlinker -soname=$(SONAME) -Xlinker -z -Xlinker nodelete
STAGE := $(CURDIR)/$(BUILD)/stage
SWIFT_SOURCES := $(shell find Sources -type f) Package.swift

.PHONY: all lib install uninstall check demo bench setup clean stage swift-test c-test ports-test selector-test ffi-test abi-test
all: lib

setup:
	@bash scripts/setup.sh

# The linker version script: exactly the functions the header declares.
$(BUILD)/sagsocket.map: include/sagsocket_decls.h scripts/version-script.py scripts/sagheader.py
	mkdir -p $(BUILD)
	python3 scripts/version-script.py $< > $@

$(BUILD)/lib/$(REALNAME): $(SWIFT_SOURCES) include/sagsocket.h include/sagsocket_decls.h $(BUILD)/sagsocket.map Makefile
	swift build $(SWIFT_FLAGS) --product sagsocket
	mkdir -p $(BUILD)/lib $(BUILD)/include $(BUILD)/pkgconfig
	cp "$$(swift build $(SWIFT_FLAGS) --show-bin-path)/$(LIBNAME)" $@
	ln -sf $(REALNAME) $(BUILD)/lib/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/lib/$(LIBNAME)
	cp include/sagsocket.h include/sagsocket_decls.h $(BUILD)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    pkgconfig/sagsocket.pc.in > $(BUILD)/pkgconfig/sagsocket.pc

lib: $(BUILD)/lib/$(REALNAME)

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(BUILD)/lib/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/$(LIBNAME)
	install -m 0644 include/sagsocket.h include/sagsocket_decls.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    pkgconfig/sagsocket.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/sagsocket.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/$(LIBNAME)
	rm -f $(DESTDIR)$(INCLUDEDIR)/sagsocket.h $(DESTDIR)$(INCLUDEDIR)/sagsocket_decls.h
	rm -f $(DESTDIR)$(LIBDIR)/pkgconfig/sagsocket.pc

# A private installation under build/stage, used by the tests, samples and bench
# exactly as a user's program would use an installed library.
stage: lib
	$(MAKE) --no-print-directory install PREFIX=$(STAGE) DESTDIR=

CHECK_GROUPS := swift-test c-test ports-test selector-test ffi-test abi-test
check: setup stage $(CHECK_GROUPS)
	@echo "check: $(words $(CHECK_GROUPS)) passed, 0 failed"

swift-test:
	swift test --no-parallel 2>&1 | tail -n 40; test $${PIPESTATUS[0]} -eq 0

c-test: stage
	bash Tests/c/run.sh $(STAGE)

ports-test: stage
	bash Tests/c/run_ports.sh $(STAGE)

selector-test: stage
	bash Tests/c/run_selector.sh $(STAGE)

ffi-test: stage
	bash Tests/ffi-driver/run.sh $(STAGE)

abi-test: stage
	bash Tests/abi/run.sh $(STAGE)

demo: setup stage
	bash bindings/c/demo.sh $(STAGE)

bench: setup stage
	bash bench/run.sh $(STAGE)
	bash bench/run_ports.sh $(STAGE)
	bash bench/run_selector.sh $(STAGE)

clean:
	rm -rf $(BUILD) .build
