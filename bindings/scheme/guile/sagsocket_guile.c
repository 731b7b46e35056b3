/* sagsocket_guile.c: the Guile binding's compiled path, libguile-sagsocket.so.
 *
 * Thin subrs over the libsagsocket functions a transfer or a connection
 * calls, so that these calls skip libffi (about 1,300 instructions a call of
 * seven arguments) and pointer->procedure's argument conversion. Argument
 * marshalling only: every decision (defaults, checks that name what is
 * wrong, which condition a status raises) stays in (sagittarius socket),
 * and the host layer (host.guile.sls) picks this path or its libffi one.
 *
 * The extension is not linked against libsagsocket: the host layer hands it
 * the addresses of the functions in the library it loaded itself
 * (SAGSOCKET_LIBRARY or the dynamic loader's), so the two never name two
 * copies of the library.
 *
 * Every subr answers with one exact integer: a status below zero when the
 * call failed, otherwise the call's result (a count, a handle, or 0). A
 * bytevector is passed at its own address: the SCM value stays on this C
 * stack for the whole call, which the collector scans (and never moves
 * objects). A range outside the bytevector is SAG_E_INVALID, never a read or
 * write past it. Calls stay in Guile mode, as libffi's do: a collection's
 * signal makes a waiting system call fail with EINTR, which the library
 * retries with the time left.
 *
 *   (load-extension "libguile-sagsocket" "sagsocket_guile_init") makes the
 *   module (sagsocket guile-native); its `init!' takes the library's function
 *   pointers, in the order of `fns' below.
 */
#include <libguile.h>
#include <limits.h>
#include <stdint.h>
#include "sagsocket.h"

static int (*f_recv)(sag_socket *, uint8_t *, size_t, size_t, int, size_t *, sag_error *);
static int (*f_send)(sag_socket *, const uint8_t *, size_t, size_t, int, size_t *, sag_error *);
static int (*f_accept)(sag_socket *, sag_socket **, sag_error *);
static int (*f_create)(const sag_addrinfo *, sag_socket **, sag_error *);
static int (*f_connect)(sag_socket *, const sag_addrinfo *, int64_t, sag_error *);
static int (*f_close)(sag_socket *, sag_error *);
static int (*f_free)(sag_socket *);
static int (*f_shutdown)(sag_socket *, int, sag_error *);

/* Conversions with the fixnum case inline (SCM_I_INUMP): a handle, a count
 * and a flag word are fixnums in every call that matters, and libguile's
 * scm_to_* and scm_from_* are out-of-line calls of ~35 instructions each.
 * Anything else goes to them, which convert it or raise as before. */
static size_t to_size(SCM x) {
    return SCM_I_INUMP(x) && SCM_I_INUM(x) >= 0 ? (size_t)SCM_I_INUM(x) : scm_to_size_t(x);
}
static int to_int(SCM x) {
    return SCM_I_INUMP(x) && SCM_I_INUM(x) >= INT_MIN && SCM_I_INUM(x) <= INT_MAX
               ? (int)SCM_I_INUM(x) : scm_to_int(x);
}

/* A handle: the exact integer the host layer keeps (the C pointer value). */
static void *handle(SCM h) {
    return SCM_I_INUMP(h) && SCM_I_INUM(h) >= 0 ? (void *)(uintptr_t)SCM_I_INUM(h)
                                                : (void *)scm_to_uintptr_t(h);
}

/* n, or the status when it is not SAG_OK. */
static SCM answer(int st, uintmax_t n) {
    if (st != SAG_OK) return scm_from_int(st);
    return n < ((uintmax_t)1 << (SCM_I_FIXNUM_BIT - 1)) ? SCM_I_MAKINUM(n) : scm_from_uintmax(n);
}

/* The bytes [start, start+len) of bv, or NULL when bv is no bytevector or
 * the range is not inside it. */
static uint8_t *range(SCM bv, SCM start, SCM len, size_t *s, size_t *n) {
    if (!scm_is_bytevector(bv)) return NULL;
    size_t size = SCM_BYTEVECTOR_LENGTH(bv);
    *s = to_size(start);
    *n = to_size(len);
    if (*s > size || *n > size - *s) return NULL;
    return (uint8_t *)SCM_BYTEVECTOR_CONTENTS(bv);
}

#define NOT_READY(f) if (!(f)) return scm_from_int(SAG_E_MISUSE)

static SCM n_recv(SCM s, SCM bv, SCM start, SCM len, SCM flags) {
    size_t st0, n, got = 0;
    NOT_READY(f_recv);
    uint8_t *p = range(bv, start, len, &st0, &n);
    if (!p) return scm_from_int(SAG_E_INVALID);
    int st = f_recv(handle(s), p, st0, n, to_int(flags), &got, NULL);
    scm_remember_upto_here_1(bv);
    return answer(st, got);
}

static SCM n_send(SCM s, SCM bv, SCM start, SCM len, SCM flags) {
    size_t st0, n, sent = 0;
    NOT_READY(f_send);
    uint8_t *p = range(bv, start, len, &st0, &n);
    if (!p) return scm_from_int(SAG_E_INVALID);
    int st = f_send(handle(s), p, st0, n, to_int(flags), &sent, NULL);
    scm_remember_upto_here_1(bv);
    return answer(st, sent);
}

static SCM n_accept(SCM s) {
    sag_socket *out = NULL;
    NOT_READY(f_accept);
    int st = f_accept(handle(s), &out, NULL);
    return answer(st, (uintptr_t)out);
}

static SCM n_create(SCM ai) {
    sag_socket *out = NULL;
    NOT_READY(f_create);
    int st = f_create(handle(ai), &out, NULL);
    return answer(st, (uintptr_t)out);
}

static SCM n_connect(SCM s, SCM ai, SCM us) {
    NOT_READY(f_connect);
    return scm_from_int(f_connect(handle(s), handle(ai), scm_to_int64(us), NULL));
}

static SCM n_close(SCM s) {
    NOT_READY(f_close);
    return scm_from_int(f_close(handle(s), NULL));
}

static SCM n_free(SCM s) {
    NOT_READY(f_free);
    return scm_from_int(f_free(handle(s)));
}

static SCM n_shutdown(SCM s, SCM how) {
    NOT_READY(f_shutdown);
    return scm_from_int(f_shutdown(handle(s), to_int(how), NULL));
}

/* (init! pointers): the library's functions, as pointer objects, in this
 * order. Called once, by the host layer, before any other subr. */
static void **const fns[] = {
    (void **)&f_recv, (void **)&f_send, (void **)&f_accept, (void **)&f_create,
    (void **)&f_connect, (void **)&f_close, (void **)&f_free, (void **)&f_shutdown,
};
#define N_FNS (sizeof fns / sizeof fns[0])

static SCM n_init(SCM ptrs) {
    void *p[N_FNS];
    size_t i = 0;
    for (SCM l = ptrs; i < N_FNS; l = scm_cdr(l), i++) {
        p[i] = scm_to_pointer(scm_car(l));
        if (!p[i]) scm_misc_error("init!", "a null function pointer", SCM_EOL);
    }
    for (i = 0; i < N_FNS; i++) *fns[i] = p[i];
    return SCM_UNSPECIFIED;
}

static void define_all(void *unused) {
    (void)unused;
    scm_c_define_gsubr("init!", 1, 0, 0, (scm_t_subr)n_init);
    scm_c_define_gsubr("recv", 5, 0, 0, (scm_t_subr)n_recv);
    scm_c_define_gsubr("send", 5, 0, 0, (scm_t_subr)n_send);
    scm_c_define_gsubr("accept", 1, 0, 0, (scm_t_subr)n_accept);
    scm_c_define_gsubr("create-socket", 1, 0, 0, (scm_t_subr)n_create);
    scm_c_define_gsubr("connect", 3, 0, 0, (scm_t_subr)n_connect);
    scm_c_define_gsubr("close", 1, 0, 0, (scm_t_subr)n_close);
    scm_c_define_gsubr("free", 1, 0, 0, (scm_t_subr)n_free);
    scm_c_define_gsubr("shutdown", 2, 0, 0, (scm_t_subr)n_shutdown);
    scm_c_export("init!", "recv", "send", "accept", "create-socket", "connect",
                 "close", "free", "shutdown", NULL);
}

void sagsocket_guile_init(void);
void sagsocket_guile_init(void) {
    scm_c_define_module("sagsocket guile-native", define_all, NULL);
}
