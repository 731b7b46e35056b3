# tls/tls.mk: libsagtls, the TLS companion of libsagsocket (OpenSSL 3), its
# header and sagtls.pc; included by the Makefile. docs/tls.md says why TLS
# is a library of its own.
TLS_VERSION := $(shell sed -n 's/^\#define SAGTLS_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$$/\2/p' include/sagtls.h | paste -sd.)
TLS_ABI := $(shell sed -n 's/^\#define SAGTLS_ABI_VERSION \([0-9]*\)$$/\1/p' include/sagtls.h)
TLS_LIBNAME := libsagtls.so
TLS_SONAME := $(TLS_LIBNAME).$(TLS_ABI)
TLS_REALNAME := $(TLS_LIBNAME).$(TLS_VERSION)
TLS_CFLAGS := -std=gnu11 -O2 -g -fPIC -Wall -Wextra -Werror \
  $(shell pkg-config --cflags libssl libcrypto 2>/dev/null)
TLS_LIBS := $(shell pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)

define make_tls_pc
sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(TLS_VERSION)|g' \
    pkgconfig/sagtls.pc.in > $(1)
endef

.PHONY: tls-lib install-tls uninstall-tls tls-test
all: tls-lib
tls-lib: $(BUILD)/lib/$(TLS_REALNAME)

# Only the sagtls_ functions are exported (the version script of tls/).
$(BUILD)/lib/$(TLS_REALNAME): tls/sagtls.c tls/sagtls.map include/sagtls.h $(BUILD)/lib/$(REALNAME) tls/tls.mk
	mkdir -p $(BUILD)/lib $(BUILD)/include $(BUILD)/pkgconfig
	$(CC) $(TLS_CFLAGS) -Iinclude -shared -o $@ tls/sagtls.c \
	  -Wl,-soname,$(TLS_SONAME) -Wl,--version-script=tls/sagtls.map -Wl,--no-undefined \
	  -L$(BUILD)/lib -lsagsocket $(TLS_LIBS) -lpthread
	ln -sf $(TLS_REALNAME) $(BUILD)/lib/$(TLS_SONAME)
	ln -sf $(TLS_SONAME) $(BUILD)/lib/$(TLS_LIBNAME)
	cp include/sagtls.h $(BUILD)/include/
	$(call make_tls_pc,$(BUILD)/pkgconfig/sagtls.pc)

# (rfc tls) beside (sagittarius socket): the shared source and each host's
# layer, under the names Chez and Guile look them up by.
TLS_CHEZ_LIBS := rfc/tls.sls=rfc/tls.sls rfc/tls/host.chezscheme.sls=rfc/tls/host.chezscheme.sls
TLS_GUILE_LIBS := rfc/tls.sls=rfc/tls.scm rfc/tls/host.guile.sls=rfc/tls/host.scm

install: install-tls
install-tls: tls-lib
	for pair in $(TLS_CHEZ_LIBS); do \
	  src=$${pair%%=*}; dst=$${pair#*=}; \
	  install -d "$(DESTDIR)$(CHEZLIBDIR)/$$(dirname "$$dst")" && \
	  install -m 0644 "$(SCHEME_DIR)/$$src" "$(DESTDIR)$(CHEZLIBDIR)/$$dst" || exit 1; \
	done
	for pair in $(TLS_GUILE_LIBS); do \
	  src=$${pair%%=*}; dst=$${pair#*=}; \
	  install -d "$(DESTDIR)$(GUILELIBDIR)/$$(dirname "$$dst")" && \
	  install -m 0644 "$(SCHEME_DIR)/$$src" "$(DESTDIR)$(GUILELIBDIR)/$$dst" || exit 1; \
	done
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(BUILD)/lib/$(TLS_REALNAME) $(DESTDIR)$(LIBDIR)/$(TLS_REALNAME)
	ln -sf $(TLS_REALNAME) $(DESTDIR)$(LIBDIR)/$(TLS_SONAME)
	ln -sf $(TLS_SONAME) $(DESTDIR)$(LIBDIR)/$(TLS_LIBNAME)
	install -m 0644 include/sagtls.h $(DESTDIR)$(INCLUDEDIR)/
	$(call make_tls_pc,$(DESTDIR)$(LIBDIR)/pkgconfig/sagtls.pc)

uninstall: uninstall-tls
uninstall-tls:
	rm -f $(DESTDIR)$(LIBDIR)/$(TLS_REALNAME) $(DESTDIR)$(LIBDIR)/$(TLS_SONAME) $(DESTDIR)$(LIBDIR)/$(TLS_LIBNAME)
	rm -f $(DESTDIR)$(INCLUDEDIR)/sagtls.h $(DESTDIR)$(LIBDIR)/pkgconfig/sagtls.pc
	for pair in $(TLS_CHEZ_LIBS); do rm -f "$(DESTDIR)$(CHEZLIBDIR)/$${pair#*=}"; done
	for pair in $(TLS_GUILE_LIBS); do rm -f "$(DESTDIR)$(GUILELIBDIR)/$${pair#*=}"; done
	-rmdir "$(DESTDIR)$(CHEZLIBDIR)/rfc/tls" "$(DESTDIR)$(CHEZLIBDIR)/rfc" \
	  "$(DESTDIR)$(GUILELIBDIR)/rfc/tls" "$(DESTDIR)$(GUILELIBDIR)/rfc" 2>/dev/null

CHECK_GROUPS += tls-test
tls-test: stage
	$(TIMED) bash Tests/tls/run.sh $(STAGE)

# The TLS bench (a report): libsagtls against Python's ssl, same run.
.PHONY: bench-tls
bench: bench-tls
bench-tls: setup stage
	bash bench/run_tls.sh $(STAGE)
