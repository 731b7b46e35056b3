/* sweep.c: the bad-input sweep.
 *
 * For every function of the manifest: one baseline call (every parameter a
 * valid value), then one call per (parameter, bad value), the other
 * parameters keeping their baseline. The bad values come from the
 * parameter's class (handles: NULL, freed, closed, of another kind, garbage;
 * buffers: NULL with a length, length 0, SIZE_MAX, overflowing start +
 * length; strings: NULL, empty, malformed UTF-8, 64 KiB; ints: out of
 * range; ...). Each case runs in a fresh world of fixtures (world.c).
 *
 * Every result must be documented: a member of sag_status for a status
 * result, and the header's conventions where they are explicit (a bad handle
 * is SAG_E_MISUSE, a bad buffer or malformed UTF-8 is SAG_E_INVALID, free is
 * idempotent, ...). After a failure the error object passed as `err` and the
 * thread's sag_last_error() must hold the returned status, a message and an
 * operation; after a success `err` must be untouched. A handle written to an
 * out-parameter must be live and of the declared kind.
 *
 * The cases of a function run in a child process; the parent watches it: a
 * case that does not finish within FFI_DRIVER_HANG_SECONDS (default 10) is a
 * hang, a child that dies is a crash; either is counted and the sweep goes
 * on with the next case in a new child.
 */
#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern __thread const char *sweep_context;
const char *sweep_only;  /* --only NAME */

enum op {
    OP_BASE, OP_NULL, OP_FREED, OP_OTHER, OP_GARBAGE, OP_GARBAGE_HEAP, OP_CLOSED,
    OP_LASTERR, OP_FLAVOUR, OP_KIND, OP_INT, OP_I64, OP_SIZE, OP_STR, OP_BUF,
    OP_TEXT, OP_ARR, OP_ARR_ELEM, OP_OUTARR, OP_IOV
};

/* what an OP_IOV variant changes (its a; b is the value) */
enum { IOV_BUFS_NULL, IOV_LENS_NULL, IOV_BOTH_NULL, IOV_N, IOV_ELEM_NULL, IOV_LEN };

#define ANY 0ULL
#define BIT(st) (1ULL << (unsigned)(-(st)))
#define NOKIND (-1000)

typedef struct {
    int pi;            /* the parameter varied; -1 for the baseline */
    int op;
    int64_t a, b, c;
    char label[64];
    uint64_t mask;     /* allowed statuses; ANY = every member of sag_status */
    int neutral;       /* a bad handle given to a function with a non-status result */
    int kind_expect;   /* for a sag_kind result: the kind code expected */
} variant_t;

#define MAXVAR 160

static const char *const malformed[] = {
    "\xff",              /* never valid */
    "ab\xc3",            /* truncated sequence */
    "\xc0\xaf",          /* overlong */
    "\xed\xa0\x80",      /* UTF-16 surrogate */
    "\xf4\x90\x80\x80",  /* beyond U+10FFFF */
    "x\xe2\x28\xa1y",    /* bad continuation */
};
#define NMALFORMED (int)(sizeof malformed / sizeof malformed[0])

static char *long_string(void)
{
    static char *s;
    if (!s) {
        s = malloc(65537);
        memset(s, 'a', 65536);
        s[65536] = 0;
    }
    return s;
}

/* ---- documented expectations that are specific to one function ---------- */

static const struct {
    const char *fn, *param, *labels;  /* labels: |-separated */
    const char *status;
} exact[] = {
    {"sag_constant", "name", "NULL|\"\"|64KiB|malformed-0|malformed-1|malformed-2|malformed-3|malformed-4|malformed-5",
     "SAG_E_INVALID"},
    {"sag_constant", "value", "NULL", "SAG_E_INVALID"},
    {"sag_constant_at", "index", "=-1|=INT_MIN|=INT_MAX|=100000", "SAG_E_INVALID"},
    {"sag_constant_at", "name", "NULL", "SAG_E_INVALID"},
    {"sag_constant_at", "value", "NULL", "SAG_E_INVALID"},
    {"sag_error_new", "out", "NULL", "SAG_E_INVALID"},
    {"sag_error_free", "err", "last-error", "SAG_E_MISUSE"},
    {"sag_error_clear", "err", "last-error", "SAG_OK"},
    {"sag_make_client_socket", "flags", "=-1|=INT_MAX", "SAG_E_INVALID"},  /* AI_PASSIVE in flags */
    {"sag_make_client_socket", "out", "NULL", "SAG_E_INVALID"},
    {"sag_socket_shutdown", "how", "=-1|=INT_MIN|=INT_MAX|=3", "SAG_E_INVALID"},
    {"sag_socket_set_read_timeout", "timeout_us", "=-1|=-2|=INT64_MIN", "SAG_E_INVALID"},
    {"sag_socket_setsockopt_duration", "timeout_us", "=-1|=-2|=INT64_MIN", "SAG_E_INVALID"},
    {"sag_port_put_u8", "byte", "=-1|=INT_MIN|=INT_MAX|=256", "SAG_E_INVALID"},
    {"sag_port_put_char", "ch", "=-1|=INT_MIN|=INT_MAX|=0xD800|=0x110000", "SAG_E_INVALID"},
    {"sag_port_set_buffer_mode", "mode", "=-1|=INT_MIN|=INT_MAX|=3", "SAG_E_INVALID"},
    {"sag_port_set_read_mode", "mode", "=-1|=INT_MIN|=INT_MAX|=3", "SAG_E_INVALID"},
    {"sag_selector_new", "out", "NULL", "SAG_E_INVALID"},
    {"sag_selector_add", "tag", "=0|=-1|=INT64_MIN|=INT64_MAX", "SAG_OK"},
    {"sag_selector_add", "s", "closed", "SAG_OK"},  /* a closed socket is not added */
    {"sag_selector_wait", "socks", "out=NULL,cap=8|out=NULL,cap=0|out=NULL,cap=SIZE_MAX|cap=0", "SAG_E_INVALID"},
    {"sag_selector_wait", "tags", "NULL", "SAG_E_INVALID"},
    {"sag_selector_wait", "timed_out", "NULL", "SAG_E_INVALID"},
    {"sag_selector_wait", "count", "NULL", "SAG_E_INVALID"},
    {"sag_selector_wait", "timeout_us", "=1|=1000000|=-1|=-2|=INT64_MIN|=INT64_MAX", "SAG_OK"},
    {"sag_selector_clear", "socks", "out=NULL,cap=8|out=NULL,cap=SIZE_MAX", "SAG_E_INVALID"},
    {"sag_selector_clear", "socks", "out=NULL,cap=0|cap=0", "SAG_OK"},
    {"sag_selector_clear", "tags", "NULL", "SAG_E_INVALID"},
    {"sag_selector_clear", "count", "NULL", "SAG_E_INVALID"},
    {"sag_selector_size", "out", "NULL", "SAG_E_INVALID"},
    {"sag_selector_add_events", "events", "=-1|=INT_MIN|=INT_MAX|=0|=4|=8", "SAG_E_INVALID"},
    {"sag_selector_watch_events", "events", "=-1|=INT_MIN|=INT_MAX|=0|=4|=8", "SAG_E_INVALID"},
    {"sag_selector_add_fd", "events", "=-1|=INT_MIN|=INT_MAX|=0|=4|=8", "SAG_E_INVALID"},
    {"sag_selector_watch_fd", "events", "=-1|=INT_MIN|=INT_MAX|=0|=4|=8", "SAG_E_INVALID"},
    {"sag_selector_add_fd", "fd", "=-1|=INT_MIN", "SAG_E_INVALID"},
    {"sag_selector_watch_fd", "fd", "=-1|=INT_MIN", "SAG_E_INVALID"},
    {"sag_selector_add_fd", "fd", "=INT_MAX", "SAG_E_SOCKET"},    /* EBADF from epoll */
    {"sag_selector_watch_fd", "fd", "=INT_MAX", "SAG_E_SOCKET"},
    {"sag_selector_unwatch_fd", "fd", "=-1|=INT_MIN|=INT_MAX", "SAG_OK"},  /* nothing held there */
    {"sag_selector_add_events", "tag", "=0|=-1|=INT64_MIN|=INT64_MAX", "SAG_OK"},
    {"sag_selector_wait_events", "socks", "out=NULL,cap=8|out=NULL,cap=0|out=NULL,cap=SIZE_MAX|cap=0", "SAG_E_INVALID"},
    {"sag_selector_wait_events", "tags", "NULL", "SAG_E_INVALID"},
    {"sag_selector_wait_events", "events", "NULL", "SAG_E_INVALID"},
    {"sag_selector_wait_events", "count", "NULL", "SAG_E_INVALID"},
    {"sag_selector_wait_events", "timeout_us", "=1|=1000000|=-1|=-2|=INT64_MIN|=INT64_MAX", "SAG_OK"},
    {"sag_socket_from_fd", "owned_fd", "=-1|=INT_MIN", "SAG_E_INVALID"},
    {"sag_socket_from_fd", "owned_fd", "=INT_MAX", "SAG_E_SOCKET"},
    {"sag_socket_from_fd", "out", "NULL", "SAG_E_INVALID"},
    {"sag_socket_detach", "fd", "NULL", "SAG_E_INVALID"},
    {"sag_socket_dup", "out", "NULL", "SAG_E_INVALID"},
    {"sag_socket_accept_peer", "out", "NULL", "SAG_E_INVALID"},
    {"sag_socket_accept_peer", "size", "NULL", "SAG_E_INVALID"},
    {"sag_socket_accept_peer", "port", "NULL", "SAG_E_INVALID"},
    {"sag_socket_accept_peer", "buf", "len=0|start=end,len=0|buf=NULL,len=0", "SAG_E_INVALID"},  /* < 16 bytes */
    {"sag_socket_sendmsg", "sent", "NULL", "SAG_E_INVALID"},
    {"sag_socket_recvmsg", "received", "NULL", "SAG_E_INVALID"},
    {"sag_socket_recvmsg", "controllen", "NULL", "SAG_E_INVALID"},
    {"sag_socket_recvmsg", "msgflags", "NULL", "SAG_E_INVALID"},
    {"sag_cmsg_append", "used", "NULL", "SAG_E_INVALID"},
    {"sag_cmsg_next", "offset", "NULL", "SAG_E_INVALID"},
    {"sag_cmsg_next", "found", "NULL", "SAG_E_INVALID"},
};

static int label_in(const char *label, const char *labels)
{
    size_t n = strlen(label);
    const char *s = labels;
    while (*s) {
        const char *bar = strchr(s, '|');
        size_t m = bar ? (size_t)(bar - s) : strlen(s);
        if (m == n && strncmp(s, label, n) == 0)
            return 1;
        if (!bar)
            break;
        s = bar + 1;
    }
    return 0;
}

static void apply_exact(const fn_t *f, variant_t *v)
{
    if (v->pi < 0)
        return;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(exact[i].fn, f->name) == 0 && strcmp(exact[i].param, f->p[v->pi].name) == 0 &&
            label_in(v->label, exact[i].labels))
            v->mask = BIT(sym_value(exact[i].status));
}

/* ---- baselines ------------------------------------------------------------ */

/* fixtures for particular parameters (default: by class and kind) */
static const struct {
    const char *fn, *param, *fixture;
} overrides[] = {
    {"sag_socket_accept", "s", "listener"},
    {"sag_socket_accept_peer", "s", "listener"},
    {"sag_socket_connect", "s", "fresh"},
    {"sag_socket_connect", "ai", "ai_listener"},
    {"sag_socket_bind", "s", "fresh"},
    {"sag_socket_bind", "ai", "ai_bind"},
    {"sag_socket_listen", "s", "fresh"},
    {"sag_create_socket", "ai", "ai_listener"},
    {"sag_socket_sendto", "s", "udp"},
    {"sag_socket_sendto", "to", "sa_udppeer"},
    {"sag_socket_recvfrom", "s", "udp"},
    {"sag_socket_recvfrom", "from", "sa_empty"},
    {"sag_socket_recv", "s", "dataeof"},
    {"sag_make_server_socket", "service", "=0"},
    {"sag_make_server_sockets", "service", "=0"},
    {"sag_make_client_socket", "flags", "numeric_flags"},
    {"sag_make_hint_addrinfo", "flags", "numeric_flags"},
    {"sag_get_addrinfo", "hints", "hints"},
    {"sag_socket_read_select", "socks", "dataeof"},
    {"sag_socket_write_select", "socks", "conn"},
    {"sag_socket_error_select", "socks", "oob"},
    {"sag_socket_setsockopt_duration", "name", "#SAG_SO_RCVTIMEO"},
    {"sag_socket_getsockopt_duration", "name", "#SAG_SO_RCVTIMEO"},
    {"sag_error_clear", "err", "err_filled"},
    {"sag_selector_wait", "sel", "sel_ready"},  /* never waits, whatever the timeout */
    {"sag_selector_wait_events", "sel", "sel_ready"},
    {"sag_selector_clear", "sel", "sel_ready"},
    {"sag_selector_size", "sel", "sel_ready"},
    /* Unix-domain paths: an abstract name (a first byte NUL), so that no
       call leaves a socket file behind */
    {"sag_make_unix_client_socket", "path", "abstract"},
    {"sag_make_unix_server_socket", "path", "abstract"},
    {"sag_make_unix_sockaddr", "path", "abstract"},
    {"sag_socket_detach", "s", "fresh"},        /* its own socket: the descriptor is let go */
    {"sag_socket_recvmsg", "s", "dataeof"},     /* readable at once */
    {"sag_socket_sendmsg", "to", "sa_udppeer"},
    {"sag_socket_sendmsg", "s", "udp"},
};

static const char *override_of(const fn_t *f, const param_t *p)
{
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++)
        if (strcmp(overrides[i].fn, f->name) == 0 && strcmp(overrides[i].param, p->name) == 0)
            return overrides[i].fixture;
    return NULL;
}

static const char *default_handle_fixture(const param_t *p)
{
    const char *k = kinds[p->kind].name;
    if (strcmp(k, "socket") == 0) return "conn";
    if (strcmp(k, "addrinfo") == 0) return "ai_listener";
    if (strcmp(k, "sockaddr") == 0) return "sa_listener";
    if (strcmp(k, "socket_info") == 0) return "info";
    if (strcmp(k, "ip_address") == 0) return "ip";
    if (strcmp(k, "error") == 0) return "err_filled";
    if (strcmp(k, "port") == 0) return p->text ? "textport" : "port";
    if (strcmp(k, "fdset") == 0) {
        if (strcmp(p->name, "wfds") == 0) return "fdset_w";
        if (strcmp(p->name, "efds") == 0) return "fdset_e";
        return "fdset_r";
    }
    return NULL;  /* new_handle() */
}

static const char *int_baseline(const char *role)
{
    static const struct { const char *role, *fixture; } t[] = {
        {"family", "#SAG_AF_INET"}, {"socktype", "#SAG_SOCK_STREAM"}, {"protocol", "0"},
        {"flags", "0"}, {"level", "#SAG_SOL_SOCKET"}, {"optname", "#SAG_SO_KEEPALIVE"},
        {"value", "1"}, {"how", "#SAG_SHUT_RDWR"}, {"backlog", "5"}, {"bool", "1"},
        {"index", "0"}, {"status", "#SAG_E_CLOSED"}, {"kind", "#SAG_E_IO"},
        {"codec", "#SAG_CODEC_UTF8"}, {"eol", "#SAG_EOL_LF"}, {"errmode", "#SAG_ERROR_MODE_REPLACE"},
        {"byte", "65"}, {"char", "9786"}, {"mode", "0"}, {"errnum", "0"},
        {"events", "#SAG_SELECTOR_READ"}, {"fd", "rawfd"}, {"ownfd", "fresh_fd"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].role, role) == 0)
            return t[i].fixture;
    return NULL;
}

static int int_fixture(world_t *w, const char *spec)
{
    if (spec[0] == '#' || !(spec[0] == '-' || (spec[0] >= '0' && spec[0] <= '9')))
        return fixture(w, spec).i;
    return atoi(spec);
}

static const char text_baseline[] = "h\xc3\xa9llo \xe2\x98\xba\n";

typedef struct {
    size_t outarr_len[MAXP];  /* entries of an output array */
} aux_t;

/* The capacity parameter of the output array f->p[i] (after its parallel
   arrays, if any). */
static int cap_index(const fn_t *f, int i)
{
    int j = i + 1;
    while (j < f->np && f->p[j].pc == PC_OUTPAR)
        j++;
    return j;
}

/* Sets args[i] (and the parameters that go with it) to its baseline. */
static void baseline(world_t *w, const fn_t *f, int i, val_t *a, aux_t *aux)
{
    const param_t *p = &f->p[i];
    const char *ov = override_of(f, p);
    switch (p->pc) {
    case PC_HANDLE:
    case PC_HANDLE_OPT: {
        const char *fx = ov ? ov : default_handle_fixture(p);
        a[i].p = fx ? world_handle(w, fx) : new_handle(w, p->kind);
        break;
    }
    case PC_FREE:
        a[i].p = new_handle(w, p->kind);
        break;
    case PC_ANYHANDLE:
        a[i].p = world_handle(w, ov ? ov : "conn");
        break;
    case PC_ERR:
        a[i].p = world_handle(w, "err_fresh");
        break;
    case PC_STR: {
        const char *fx = ov;
        if (!fx) {
            if (strcmp(p->role, "node") == 0) fx = "=127.0.0.1";
            else if (strcmp(p->role, "service") == 0) fx = "@port";
            else if (strcmp(p->role, "name") == 0) fx = "=AF_INET";
            else if (strcmp(p->role, "operation") == 0) fx = "=tls-handshake";
            else if (strcmp(p->role, "message") == 0) fx = "=tls-handshake: a message";
        }
        if (!fx) {
            failf("%s: no baseline for the string parameter %s (add one to sweep.c)", f->name, p->name);
            a[i].p = NULL;
            break;
        }
        a[i].p = fixture(w, fx).p;
        break;
    }
    case PC_BUF_IN:
    case PC_BUF_OUT: {
        unsigned char *b = world_alloc(w, 16);
        memset(b, 'x', 16);
        if (ov && strcmp(ov, "abstract") == 0)
            b[0] = 0;
        a[i].p = b;
        a[i + 1].z = 0;
        a[i + 2].z = 16;
        break;
    }
    case PC_TEXT_IN: {
        size_t n = strlen(text_baseline);
        char *b = world_alloc(w, n);
        memcpy(b, text_baseline, n);  /* not NUL-terminated: the length says */
        a[i].p = b;
        a[i + 1].z = 0;
        a[i + 2].z = n;
        break;
    }
    case PC_HARR: {
        void **arr = world_alloc(w, sizeof(void *));
        arr[0] = world_handle(w, ov ? ov : "conn");
        a[i].p = arr;
        a[i + 1].z = 1;
        break;
    }
    case PC_OUTARR_CAP:
        a[i].p = world_alloc(w, 8 * sizeof(void *));
        a[cap_index(f, i)].z = 8;
        aux->outarr_len[i] = 8;
        break;
    case PC_OUTPAR:
        a[i].p = world_alloc(w, 8 * (p->ot == OT_I64 ? sizeof(int64_t) : sizeof(int)));
        break;
    case PC_OUTARR_N: {
        size_t n = 1;
        for (int j = i - 1; j >= 0; j--)
            if (f->p[j].pc == PC_N) {
                n = a[j].z;
                break;
            }
        a[i].p = world_alloc(w, (n ? n : 1) * sizeof(void *));
        aux->outarr_len[i] = n;
        break;
    }
    case PC_OUT:
    case PC_OUT_OPT: {
        static const size_t sizes[] = {[OT_INT] = sizeof(int), [OT_SIZE] = sizeof(size_t),
                                       [OT_I64] = sizeof(int64_t), [OT_STR] = sizeof(char *),
                                       [OT_BYTES] = sizeof(void *), [OT_I32] = sizeof(int32_t),
                                       [OT_HANDLE] = sizeof(void *)};
        a[i].p = world_alloc(w, sizes[p->ot]);  /* exactly the size of what it points to */
        break;
    }
    case PC_INT: {
        const char *spec = ov ? ov : int_baseline(p->role);
        if (!spec) {
            failf("%s: no baseline for the int role %s (add one to int_baseline in sweep.c)", f->name, p->role);
            a[i].i = 0;
            break;
        }
        a[i].i = int_fixture(w, spec);
        break;
    }
    case PC_IOV_IN:
    case PC_IOV_OUT: {
        /* one buffer of 16 bytes */
        unsigned char *b = world_alloc(w, 16);
        memset(b, 'x', 16);
        void **bufs = world_alloc(w, sizeof(void *));
        size_t *lens = world_alloc(w, sizeof(size_t));
        bufs[0] = b;
        lens[0] = 16;
        a[i].p = bufs;
        a[i + 1].p = lens;
        a[i + 2].z = 1;
        break;
    }
    case PC_TIMEOUT:
        a[i].l = 0;
        break;
    case PC_TAG:
        a[i].l = (int64_t)0x0123456789ABCDEFLL;
        break;
    case PC_COUNT:
        a[i].z = 4;
        break;
    default:
        break;  /* start, len, n, cap: set with their pointer */
    }
}

/* ---- variants ------------------------------------------------------------- */

static int nv;
static variant_t *vv;

static variant_t *add(int pi, int op, int64_t a, int64_t b, int64_t c, uint64_t mask, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static variant_t *add(int pi, int op, int64_t a, int64_t b, int64_t c, uint64_t mask, const char *fmt, ...)
{
    if (nv >= MAXVAR) {
        fprintf(stderr, "ffi-driver: too many variants\n");
        exit(2);
    }
    variant_t *v = &vv[nv++];
    memset(v, 0, sizeof *v);
    v->pi = pi;
    v->op = op;
    v->a = a;
    v->b = b;
    v->c = c;
    v->mask = mask;
    v->kind_expect = NOKIND;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->label, sizeof v->label, fmt, ap);
    va_end(ap);
    return v;
}

/* The three garbage handles for parameter pi (0x1, ~0, and a heap address
 * that is no handle), each expecting `mask`: three variants in a row, the
 * first returned. */
static variant_t *add_garbage(int pi, uint64_t mask)
{
    variant_t *first = add(pi, OP_GARBAGE, 1, 0, 0, mask, "garbage-0x1");
    add(pi, OP_GARBAGE, -1, 0, 0, mask, "garbage-~0");
    add(pi, OP_GARBAGE_HEAP, 0, 0, 0, mask, "garbage-heap");
    return first;
}

/* INT64_MIN and INT64_MAX for the int64_t parameter pi. */
static void add_i64_limits(int pi)
{
    add(pi, OP_I64, INT64_MIN, 0, 0, ANY, "=INT64_MIN");
    add(pi, OP_I64, INT64_MAX, 0, 0, ANY, "=INT64_MAX");
}

static void int_variants(int pi, const char *role)
{
    static const struct { const char *role; int values[6]; int n; const char *labels[6]; } t[] = {
        {"family", {12345}, 1, {"=12345"}},
        {"socktype", {99}, 1, {"=99"}},
        {"protocol", {12345}, 1, {"=12345"}},
        {"level", {12345}, 1, {"=12345"}},
        {"optname", {12345}, 1, {"=12345"}},
        {"value", {0}, 1, {"=0"}},
        {"how", {3}, 1, {"=3"}},
        {"backlog", {0}, 1, {"=0"}},
        {"bool", {0, 2}, 2, {"=0", "=2"}},
        {"index", {100000}, 1, {"=100000"}},
        {"status", {1, -17, -1000}, 3, {"=1", "=-17", "=-1000"}},
        {"kind", {1, -17, -1000}, 3, {"=1", "=-17", "=-1000"}},
        {"codec", {0, 3}, 2, {"=0", "=3"}},
        {"eol", {7}, 1, {"=7"}},
        {"errmode", {2}, 1, {"=2"}},
        {"byte", {256, 0, 255}, 3, {"=256", "=0", "=255"}},
        {"char", {0xD800, 0x110000, 0}, 3, {"=0xD800", "=0x110000", "=0"}},
        {"mode", {3}, 1, {"=3"}},
        {"errnum", {0}, 1, {"=0"}},
        {"events", {0, 4, 8}, 3, {"=0", "=4", "=8"}},
    };
    add(pi, OP_INT, -1, 0, 0, ANY, "=-1");
    add(pi, OP_INT, INT_MIN, 0, 0, ANY, "=INT_MIN");
    add(pi, OP_INT, INT_MAX, 0, 0, ANY, "=INT_MAX");
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].role, role) == 0)
            for (int j = 0; j < t[i].n; j++)
                add(pi, OP_INT, t[i].values[j], 0, 0, ANY, "%s", t[i].labels[j]);
}

static int other_kind(int k)
{
    int s = kind_index("socket"), fd = kind_index("fdset");
    return k == s ? fd : s;
}

static void handle_variants(const fn_t *f, int pi)
{
    const param_t *p = &f->p[pi];
    uint64_t misuse = BIT(ST_MISUSE);
    int neutral = f->rc != RC_STATUS;
    int is_socket = strcmp(kinds[p->kind].name, "socket") == 0;
    int is_port = strcmp(kinds[p->kind].name, "port") == 0;
    int is_error = strcmp(kinds[p->kind].name, "error") == 0;
    int is_selector = strcmp(kinds[p->kind].name, "selector") == 0;
    int closable = is_socket || is_port || is_selector;
    if (p->pc == PC_FREE) {
        add(pi, OP_NULL, 0, 0, 0, BIT(ST_OK), "NULL");
        add(pi, OP_FREED, 0, 0, 0, BIT(ST_OK), "freed");
        add(pi, OP_OTHER, 0, 0, 0, misuse, "other-kind");
        add_garbage(pi, misuse);
        if (closable)
            add(pi, OP_CLOSED, 0, 0, 0, BIT(ST_OK), "closed");
        if (is_error)
            add(pi, OP_LASTERR, 0, 0, 0, misuse, "last-error");
        return;
    }
    variant_t *v;
    v = add(pi, OP_NULL, 0, 0, 0, p->pc == PC_HANDLE_OPT ? ANY : misuse, "NULL");
    v->neutral = neutral && p->pc == PC_HANDLE;
    v = add(pi, OP_FREED, 0, 0, 0, misuse, "freed");
    v->neutral = neutral;
    v = add(pi, OP_OTHER, 0, 0, 0, misuse, "other-kind");
    v->neutral = neutral;
    v = add_garbage(pi, misuse);
    for (int k = 0; k < 3; k++)
        v[k].neutral = neutral;
    /* "afterwards every operation on the socket returns SAG_E_CLOSED";
       "any operation on a closed port gives SAG_E_CLOSED"; "after
       sag_selector_close, every call on the selector returns SAG_E_CLOSED";
       the functions whose comment says they work on a closed one must give
       SAG_OK */
    int subject = pi == 0 && ((is_socket && strncmp(f->name, "sag_socket_", 11) == 0) || is_port ||
                              (is_selector && strncmp(f->name, "sag_selector_", 13) == 0));
    if (closable)
        add(pi, OP_CLOSED, 0, 0, 0, subject ? BIT(f->closed_ok ? ST_OK : ST_CLOSED) : ANY, "closed");
    if (is_port)
        add(pi, OP_FLAVOUR, 0, 0, 0, p->text ? BIT(ST_INVALID) : ANY, p->text ? "binary-port" : "text-port");
    if (is_error)
        add(pi, OP_LASTERR, 0, 0, 0, ANY, "last-error");
}

static void buffer_variants(int pi, int text)
{
    uint64_t inv = BIT(ST_INVALID);
    const int64_t MAX = -1;  /* SIZE_MAX as a size_t */
    const int64_t HALF = (int64_t)(SIZE_MAX / 2 + 1);
    add(pi, OP_BUF, 1, 0, 16, inv, "buf=NULL,len=16");
    add(pi, OP_BUF, 1, 0, 1, inv, "buf=NULL,len=1");
    add(pi, OP_BUF, 1, 0, MAX, inv, "buf=NULL,len=SIZE_MAX");
    add(pi, OP_BUF, 1, 0, 0, ANY, "buf=NULL,len=0");
    add(pi, OP_BUF, 0, 0, 0, ANY, "len=0");
    add(pi, OP_BUF, 0, 16, 0, ANY, "start=end,len=0");
    add(pi, OP_BUF, 0, MAX, 16, inv, "start=SIZE_MAX");
    add(pi, OP_BUF, 0, MAX - 8, 16, inv, "start=SIZE_MAX-8");
    add(pi, OP_BUF, 0, 1, MAX, inv, "start=1,len=SIZE_MAX");
    add(pi, OP_BUF, 0, HALF, HALF, inv, "start=len=SIZE_MAX/2+1");
    if (text) {
        for (int i = 0; i < NMALFORMED; i++)
            add(pi, OP_TEXT, i, 0, 0, inv, "malformed-%d", i);
        add(pi, OP_TEXT, -1, 0, 0, ANY, "embedded-NUL");
    }
}

static void string_variants(int pi)
{
    uint64_t inv = BIT(ST_INVALID);
    add(pi, OP_NULL, 0, 0, 0, ANY, "NULL");
    add(pi, OP_STR, -1, 0, 0, ANY, "\"\"");
    for (int i = 0; i < NMALFORMED; i++)
        add(pi, OP_STR, i, 0, 0, inv, "malformed-%d", i);
    add(pi, OP_STR, -2, 0, 0, ANY, "64KiB");
}

static int gen_variants(int fi, variant_t *out)
{
    const fn_t *f = &fns[fi];
    nv = 0;
    vv = out;
    add(-1, OP_BASE, 0, 0, 0, ANY, "baseline");
    for (int i = 0; i < f->np; i++) {
        const param_t *p = &f->p[i];
        uint64_t misuse = BIT(ST_MISUSE);
        switch (p->pc) {
        case PC_HANDLE:
        case PC_HANDLE_OPT:
        case PC_FREE:
            handle_variants(f, i);
            break;
        case PC_ANYHANDLE: {
            variant_t *v;
            v = add(i, OP_NULL, 0, 0, 0, ANY, "NULL");
            v->kind_expect = KIND_NONE;
            v = add(i, OP_FREED, kind_index("socket"), 0, 0, ANY, "freed");
            v->kind_expect = KIND_NONE;
            v = add_garbage(i, ANY);
            for (int k = 0; k < 3; k++)
                v[k].kind_expect = KIND_NONE;
            for (int k = 0; k < nkinds; k++) {
                if (kinds[k].code < 0)
                    continue;
                v = add(i, OP_KIND, k, 0, 0, ANY, "kind-%s", kinds[k].name);
                v->kind_expect = kinds[k].code;
            }
            v = add(i, OP_CLOSED, kind_index("socket"), 0, 0, ANY, "closed-socket");
            v->kind_expect = kinds[kind_index("socket")].code;
            break;
        }
        case PC_ERR:
            add(i, OP_NULL, 0, 0, 0, ANY, "NULL");
            add(i, OP_FREED, 0, 0, 0, ANY, "freed");
            add(i, OP_OTHER, 0, 0, 0, ANY, "other-kind");
            add(i, OP_GARBAGE, 1, 0, 0, ANY, "garbage-0x1");
            add(i, OP_GARBAGE_HEAP, 0, 0, 0, ANY, "garbage-heap");
            add(i, OP_LASTERR, 0, 0, 0, ANY, "last-error");
            break;
        case PC_STR:
            string_variants(i);
            break;
        case PC_BUF_IN:
        case PC_BUF_OUT:
            buffer_variants(i, 0);
            break;
        case PC_TEXT_IN:
            buffer_variants(i, 1);
            break;
        case PC_IOV_IN:
        case PC_IOV_OUT: {
            /* n is checked (<= 1024) before either array is read */
            uint64_t inv = BIT(ST_INVALID);
            add(i, OP_IOV, IOV_BUFS_NULL, 1, 0, inv, "bufs=NULL,n=1");
            add(i, OP_IOV, IOV_LENS_NULL, 1, 0, inv, "lens=NULL,n=1");
            add(i, OP_IOV, IOV_BOTH_NULL, 0, 0, ANY, "bufs=lens=NULL,n=0");
            add(i, OP_IOV, IOV_N, 0, 0, ANY, "n=0");
            add(i, OP_IOV, IOV_N, 1025, 0, inv, "n=1025");
            add(i, OP_IOV, IOV_N, -1, 0, inv, "n=SIZE_MAX");
            add(i, OP_IOV, IOV_ELEM_NULL, 16, 0, inv, "element-NULL,len=16");
            add(i, OP_IOV, IOV_ELEM_NULL, 0, 0, ANY, "element-NULL,len=0");
            add(i, OP_IOV, IOV_LEN, -1, 0, inv, "len=SIZE_MAX");
            add(i, OP_IOV, IOV_LEN, 0, 0, ANY, "len=0");
            break;
        }
        case PC_HARR:
            add(i, OP_ARR, 1, 1, 0, BIT(ST_INVALID), "socks=NULL,n=1");
            add(i, OP_ARR, 1, -1, 0, BIT(ST_INVALID), "socks=NULL,n=SIZE_MAX");
            add(i, OP_ARR, 1, 0, 0, ANY, "socks=NULL,n=0");
            add(i, OP_ARR, 0, 0, 0, ANY, "n=0");
            add(i, OP_ARR_ELEM, OP_NULL, 0, 0, misuse, "element-NULL");
            add(i, OP_ARR_ELEM, OP_FREED, 0, 0, misuse, "element-freed");
            add(i, OP_ARR_ELEM, OP_OTHER, 0, 0, misuse, "element-other-kind");
            add(i, OP_ARR_ELEM, OP_GARBAGE, 0, 0, misuse, "element-garbage-0x1");
            /* "SAG_E_CLOSED when a member is closed or freed at the call" */
            add(i, OP_ARR_ELEM, OP_CLOSED, 0, 0, strstr(f->name, "select") ? BIT(ST_CLOSED) : ANY,
                "element-closed");
            break;
        case PC_OUTARR_CAP:
            add(i, OP_OUTARR, 1, 8, 0, ANY, "out=NULL,cap=8");
            add(i, OP_OUTARR, 1, 0, 0, ANY, "out=NULL,cap=0");
            add(i, OP_OUTARR, 1, -1, 0, ANY, "out=NULL,cap=SIZE_MAX");
            add(i, OP_OUTARR, 0, 0, 0, ANY, "cap=0");
            break;
        case PC_OUTARR_N:
        case PC_OUTPAR:
        case PC_OUT:
        case PC_OUT_OPT:
            add(i, OP_NULL, 0, 0, 0, ANY, "NULL");
            break;
        case PC_INT:
            int_variants(i, p->role);
            break;
        case PC_TIMEOUT:
            add(i, OP_I64, 1, 0, 0, ANY, "=1");
            add(i, OP_I64, 1000000, 0, 0, ANY, "=1000000");
            add(i, OP_I64, -1, 0, 0, ANY, "=-1");
            add(i, OP_I64, -2, 0, 0, ANY, "=-2");
            add_i64_limits(i);
            break;
        case PC_TAG:
            add(i, OP_I64, 0, 0, 0, ANY, "=0");
            add(i, OP_I64, -1, 0, 0, ANY, "=-1");
            add_i64_limits(i);
            break;
        case PC_COUNT:
            add(i, OP_SIZE, 0, 0, 0, ANY, "=0");
            add(i, OP_SIZE, 1, 0, 0, ANY, "=1");
            add(i, OP_SIZE, -1, 0, 0, ANY, "=SIZE_MAX");
            add(i, OP_SIZE, (int64_t)(SIZE_MAX / 2 + 1), 0, 0, ANY, "=SIZE_MAX/2+1");
            add(i, OP_SIZE, (int64_t)1 << 40, 0, 0, ANY, "=2^40");
            break;
        case PC_START:
        case PC_LEN:
        case PC_N:
        case PC_CAP:
        case PC_IOVLENS:
        case PC_IOVN:
            break;  /* varied with their pointer */
        default:
            fprintf(stderr, "ffi-driver: %s: no variants for parameter class %s\n", f->name, p->cls);
            exit(2);
        }
    }
    for (int i = 0; i < nv; i++)
        apply_exact(f, &out[i]);
    return nv;
}

/* ---- applying a variant --------------------------------------------------- */

static void *closed_handle(world_t *w, int kind)
{
    void *h = new_handle(w, kind);
    if (!h)
        return NULL;
    const char *k = kinds[kind].name;
    int st = ST_OK;
    if (strcmp(k, "socket") == 0)
        st = CI("sag_socket_close", A_P(h), A_P(NULL));
    else if (strcmp(k, "port") == 0)
        st = CI("sag_port_close", A_P(h), A_P(NULL));
    else if (strcmp(k, "selector") == 0)
        st = CI("sag_selector_close", A_P(h), A_P(NULL));
    if (st != ST_OK)
        failf("closing a new %s gave %s", k, status_name(st));
    return h;
}

static void *bad_handle(world_t *w, int op, int64_t a, int kind)
{
    switch (op) {
    case OP_NULL: return NULL;
    case OP_FREED: return freed_handle(w, kind);
    case OP_OTHER: return new_handle(w, other_kind(kind));
    case OP_GARBAGE: return (void *)(uintptr_t)a;
    case OP_GARBAGE_HEAP: {
        unsigned char *b = world_alloc(w, 64);
        memset(b, 0xA5, 64);
        return b;
    }
    case OP_CLOSED: return closed_handle(w, kind);
    case OP_LASTERR: return CALL0("sag_last_error").p;
    case OP_KIND: return new_handle(w, (int)a);
    default: return NULL;
    }
}

static void apply(world_t *w, const fn_t *f, const variant_t *v, val_t *a, aux_t *aux)
{
    int i = v->pi;
    if (i < 0)
        return;
    const param_t *p = &f->p[i];
    switch (v->op) {
    case OP_NULL:
        a[i].p = NULL;
        if (p->pc == PC_OUTARR_N)
            aux->outarr_len[i] = 0;
        break;
    case OP_FREED:
    case OP_OTHER:
    case OP_GARBAGE:
    case OP_GARBAGE_HEAP:
    case OP_CLOSED:
    case OP_LASTERR:
    case OP_KIND: {
        int kind = p->kind;
        if (p->pc == PC_ERR)
            kind = kind_index("error");
        if (p->pc == PC_ANYHANDLE)
            kind = (v->op == OP_KIND) ? (int)v->a : kind_index("socket");
        if (v->op == OP_CLOSED && p->text) {
            /* a closed textual port: the world's own, which this case does not use otherwise */
            a[i].p = world_handle(w, "textport");
            int st = CI("sag_port_close", A_P(a[i].p), A_P(NULL));
            if (st != ST_OK)
                failf("closing a textual port gave %s", status_name(st));
            break;
        }
        a[i].p = bad_handle(w, v->op, v->a, kind);
        break;
    }
    case OP_FLAVOUR:
        a[i].p = world_handle(w, p->text ? "port" : "textport");
        break;
    case OP_INT:
        a[i].i = (int)v->a;
        break;
    case OP_I64:
        a[i].l = v->a;
        break;
    case OP_SIZE:
        a[i].z = (size_t)v->a;
        break;
    case OP_STR:
        if (v->a == -1)
            a[i].p = "";
        else if (v->a == -2)
            a[i].p = long_string();
        else
            a[i].p = (void *)malformed[v->a];
        break;
    case OP_BUF:
        if (v->a)
            a[i].p = NULL;
        a[i + 1].z = (size_t)v->b;
        a[i + 2].z = (size_t)v->c;
        break;
    case OP_TEXT: {
        const char *s = v->a >= 0 ? malformed[v->a] : "a\0b";
        size_t n = v->a >= 0 ? strlen(s) : 3;
        char *b = world_alloc(w, n);
        memcpy(b, s, n);
        a[i].p = b;
        a[i + 1].z = 0;
        a[i + 2].z = n;
        break;
    }
    case OP_ARR:
        if (v->a)
            a[i].p = NULL;
        a[i + 1].z = (size_t)v->b;
        break;
    case OP_ARR_ELEM: {
        void **arr = world_alloc(w, sizeof(void *));
        arr[0] = bad_handle(w, (int)v->a, 1, p->kind);
        a[i].p = arr;
        break;
    }
    case OP_IOV: {
        void **bufs = a[i].p;
        size_t *lens = a[i + 1].p;
        switch ((int)v->a) {
        case IOV_BUFS_NULL: a[i].p = NULL; a[i + 2].z = (size_t)v->b; break;
        case IOV_LENS_NULL: a[i + 1].p = NULL; a[i + 2].z = (size_t)v->b; break;
        case IOV_BOTH_NULL: a[i].p = a[i + 1].p = NULL; a[i + 2].z = (size_t)v->b; break;
        case IOV_N: a[i + 2].z = (size_t)v->b; break;
        case IOV_ELEM_NULL: bufs[0] = NULL; lens[0] = (size_t)v->b; break;
        case IOV_LEN: lens[0] = (size_t)v->b; break;
        }
        break;
    }
    case OP_OUTARR:
        if (v->a)
            a[i].p = NULL;
        a[cap_index(f, i)].z = (size_t)v->b;
        aux->outarr_len[i] = v->a ? 0 : ((size_t)v->b < aux->outarr_len[i] ? (size_t)v->b : aux->outarr_len[i]);
        break;
    default:
        break;
    }
}

/* ---- one case ------------------------------------------------------------- */

static unsigned long touch(const void *p, size_t n)
{
    const volatile unsigned char *b = p;
    unsigned long s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    return s;
}

static int kind_code_of(void *h)
{
    return CI("sag_handle_kind", A_P(h));
}

static void check_out_handle(world_t *w, const fn_t *f, const param_t *p, void *h)
{
    if (!h)
        return;
    int code = kind_code_of(h);
    if (code != kinds[p->kind].code)
        failf("%s wrote %p to %s, which sag_handle_kind calls %d, not a live %s handle", f->name, h, p->name,
              code, kinds[p->kind].name);
    world_own(w, h);
}

static char *mask_names(uint64_t mask, char *buf, size_t n)
{
    buf[0] = 0;
    for (int s = 0; s < 64; s++)
        if (mask & (1ULL << s)) {
            if (buf[0])
                strncat(buf, "|", n - strlen(buf) - 1);
            strncat(buf, status_name(-s), n - strlen(buf) - 1);
        }
    return buf;
}

static void run_case(int fi, const variant_t *v)
{
    const fn_t *f = &fns[fi];
    char ctx[256];
    snprintf(ctx, sizeof ctx, "%s %s %s", f->name, v->pi >= 0 ? f->p[v->pi].name : "", v->label);
    sweep_context = ctx;
    if (verbose)
        fprintf(stderr, "case %s\n", ctx);
    world_t *w = world_new();
    val_t a[MAXP];
    aux_t aux;
    memset(a, 0, sizeof a);
    memset(&aux, 0, sizeof aux);
    for (int i = 0; i < f->np; i++)
        baseline(w, f, i, a, &aux);
    apply(w, f, v, a, &aux);
    __atomic_fetch_add(&shm->cases, 1, __ATOMIC_RELAXED);
    if (!world_ok(w)) {
        failf("the case could not be set up");
        world_free(w);
        sweep_context = NULL;
        return;
    }
    int errp = -1;
    for (int i = 0; i < f->np; i++)
        if (f->p[i].pc == PC_ERR)
            errp = i;
    void *errobj = (errp >= 0 && v->pi != errp) ? a[errp].p : NULL;

    /* FFI_DRIVER_INJECT="crash|hang|signal:CASE" makes the driver itself
       crash, hang or raise SIGPIPE at that case (CASE as the sweep prints
       it), to show that the watchdog counts it */
    const char *inject = getenv("FFI_DRIVER_INJECT");
    if (inject && strchr(inject, ':') && strcmp(strchr(inject, ':') + 1, ctx) == 0) {
        if (strncmp(inject, "crash:", 6) == 0)
            *(volatile int *)(uintptr_t)8 = 1;
        else if (strncmp(inject, "hang:", 5) == 0)
            for (;;)
                pause();
        else if (strncmp(inject, "signal:", 7) == 0)
            raise(SIGPIPE);
    }
    val_t r = invoke(fi, a);
    if (verbose)
        fprintf(stderr, "  -> %s\n", f->rc == RC_STATUS ? status_name(r.i) : "(value)");

    if (f->rc == RC_STATUS) {
        int st = r.i;
        char buf[256];
        if (is_status(st) && v->mask && !(v->mask & BIT(st)))
            failf("returned %s, expected %s", status_name(st), mask_names(v->mask, buf, sizeof buf));
        if (errobj && is_status(st)) {
            int est = CI("sag_error_status", A_P(errobj));
            if (st != ST_OK) {
                if (est != st)
                    failf("returned %s but the err object holds %s", status_name(st), status_name(est));
                const char *msg = CALL("sag_error_message", A_P(errobj)).p;
                const char *op = CALL("sag_error_operation", A_P(errobj)).p;
                if (!msg || !*msg)
                    failf("returned %s with an empty message in err", status_name(st));
                if (!op || !*op)
                    failf("returned %s with an empty operation in err", status_name(st));
            } else if (est != ST_OK) {
                failf("returned SAG_OK but changed the err object (status %s)", status_name(est));
            }
        }
        if (st != ST_OK && is_status(st)) {
            void *le = CALL0("sag_last_error").p;
            int lst = CI("sag_error_status", A_P(le));
            if (lst != st)
                failf("returned %s but sag_last_error() holds %s", status_name(st), status_name(lst));
        }
        if (st == ST_OK) {
            for (int i = 0; i < f->np; i++) {
                const param_t *p = &f->p[i];
                if (!a[i].p)
                    continue;
                if ((p->pc == PC_OUT || p->pc == PC_OUT_OPT) && p->ot == OT_HANDLE) {
                    check_out_handle(w, f, p, *(void **)a[i].p);
                } else if (p->pc == PC_OUTARR_CAP || p->pc == PC_OUTARR_N) {
                    for (size_t j = 0; j < aux.outarr_len[i]; j++)
                        check_out_handle(w, f, p, ((void **)a[i].p)[j]);
                } else if ((p->pc == PC_OUT || p->pc == PC_OUT_OPT) && (p->ot == OT_STR || p->ot == OT_BYTES)) {
                    const char *s = *(const char **)a[i].p;
                    if (!s)
                        continue;
                    /* with a length after it: that many bytes; else a C string */
                    if (i + 1 < f->np && f->p[i + 1].pc == PC_OUT && f->p[i + 1].ot == OT_SIZE && a[i + 1].p)
                        (void)touch(s, *(size_t *)a[i + 1].p);
                    else
                        (void)touch(s, strlen(s) + 1);
                }
            }
        }
    } else {
        if (v->neutral) {
            int ok = 1;
            switch (f->rc) {
            case RC_ERRNO: ok = r.i == 0; break;
            case RC_TIMEOUT: ok = r.l == -1; break;
            case RC_SIZE: ok = r.z == 0; break;
            case RC_HANDLE_NULLABLE: ok = r.p == NULL; break;
            case RC_STR_NULLABLE: ok = r.p == NULL; break;
            case RC_STR_NONNULL: ok = r.p && !*(const char *)r.p; break;
            case RC_KIND: ok = r.i == KIND_NONE; break;
            case RC_STATUS_VALUE: ok = r.i == ST_MISUSE; break;  /* sag_error_status of a bad handle */
            default: break;
            }
            if (!ok)
                failf("a bad handle gave a result other than the documented one (NULL, \"\", 0, -1, "
                      "SAG_KIND_NONE or SAG_E_MISUSE)");
        }
        if (v->kind_expect != NOKIND && r.i != v->kind_expect)
            failf("returned kind %d, expected %d", r.i, v->kind_expect);
    }
    world_free(w);
    sweep_context = NULL;
}

/* ---- running the sweep ---------------------------------------------------- */

/* Every line of exact[] and overrides[] must name a declared function and
   one of its parameters: a renamed parameter must not silently drop a check. */
static void check_tables(void)
{
    static int done;
    if (done++)
        return;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0] + sizeof overrides / sizeof overrides[0]; i++) {
        int e = i < sizeof exact / sizeof exact[0];
        const char *fn = e ? exact[i].fn : overrides[i - sizeof exact / sizeof exact[0]].fn;
        const char *param = e ? exact[i].param : overrides[i - sizeof exact / sizeof exact[0]].param;
        int fi = find_fn(fn), found = 0;
        for (int j = 0; fi >= 0 && j < fns[fi].np; j++)
            found |= strcmp(fns[fi].p[j].name, param) == 0;
        if (!found)
            failf("sweep.c names %s(%s), which the manifest does not declare: update %s[]", fn, param,
                  e ? "exact" : "overrides");
    }
}

/* LeakSanitizer's check, when the driver is built with it */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static void child(int fi, variant_t *vars, int n, int start, int fd)
{
    for (int k = start; k < n; k++) {
        shm->cur_case = k;
        if (write(fd, "b", 1) < 0) {}
        run_case(fi, &vars[k]);
        shm->done_case = k;
        if (write(fd, "e", 1) < 0) {}
    }
    fflush(stdout);
    fflush(stderr);
    int leaks = 0;
    if (__lsan_do_recoverable_leak_check && getenv("FFI_DRIVER_LEAK_CHECK"))
        leaks = __lsan_do_recoverable_leak_check();
    _exit(leaks ? 23 : 0);
}

static const char *describe(int fi, const variant_t *v, char *buf, size_t n)
{
    const fn_t *f = &fns[fi];
    snprintf(buf, n, "%s %s %s", f->name, v->pi >= 0 ? f->p[v->pi].name : "", v->label);
    return buf;
}

int sweep_run(int in_process)
{
    static variant_t vars[MAXVAR];
    int hang_s = 10;
    const char *env = getenv("FFI_DRIVER_HANG_SECONDS");
    if (env && atoi(env) > 0)
        hang_s = atoi(env);
    unsigned long before = shm->unexpected;
    check_tables();
    printf("== sweep: every function, every parameter, bad values (a case that takes over %d s is a hang)\n",
           hang_s);
    for (int fi = 0; fi < nfns; fi++) {
        if (sweep_only && strcmp(sweep_only, fns[fi].name) != 0)
            continue;
        int n = gen_variants(fi, vars);
        if (in_process) {
            for (int k = 0; k < n; k++)
                run_case(fi, &vars[k]);
            continue;
        }
        int start = 0;
        while (start < n) {
            shm->cur_case = start - 1;
            shm->done_case = start - 1;
            int p[2];
            if (pipe(p) != 0) {
                perror("pipe");
                exit(2);
            }
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                exit(2);
            }
            if (pid == 0) {
                close(p[0]);
                child(fi, vars, n, start, p[1]);
            }
            close(p[1]);
            int hung = 0;
            for (;;) {
                struct pollfd pf = {p[0], POLLIN, 0};
                int r = poll(&pf, 1, hang_s * 1000);
                if (r == 0) {
                    hung = 1;
                    kill(pid, SIGKILL);
                    break;
                }
                if (r < 0) {
                    if (errno == EINTR)
                        continue;
                    perror("poll");
                    exit(2);
                }
                char buf[256];
                ssize_t m = read(p[0], buf, sizeof buf);
                if (m < 0 && errno == EINTR)
                    continue;
                if (m <= 0)
                    break;
            }
            close(p[0]);
            int status = 0;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            long cur = shm->cur_case, done = shm->done_case;
            char d[256];
            if (hung) {
                shm->hangs++;
                shm->unexpected++;
                if (cur > done)
                    fprintf(stderr, "HANG [%s]: no return within %d s\n", describe(fi, &vars[cur], d, sizeof d),
                            hang_s);
                else
                    fprintf(stderr, "HANG [%s] after its last case\n", fns[fi].name);
                start = (int)(cur > done ? cur : done) + 1;
            } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && done == n - 1) {
                start = n;
            } else if (WIFEXITED(status) && WEXITSTATUS(status) == 23 && done == n - 1) {
                shm->unexpected++;
                fprintf(stderr, "LEAK [%s]: LeakSanitizer found memory leaked by its cases (above)\n", fns[fi].name);
                start = n;
            } else {
                shm->crashes++;
                shm->unexpected++;
                char how[64];
                if (WIFSIGNALED(status))
                    snprintf(how, sizeof how, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
                else
                    snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
                if (cur > done)
                    fprintf(stderr, "CRASH [%s]: %s\n", describe(fi, &vars[cur], d, sizeof d), how);
                else
                    fprintf(stderr, "CRASH [%s] between cases: %s\n", fns[fi].name, how);
                start = (int)(cur > done ? cur : done) + 1;
            }
        }
    }
    printf("   sweep: %lu cases, %lu unexpected\n", shm->cases, shm->unexpected - before);
    return shm->unexpected != before;
}

int smoke_run(void)
{
    static variant_t vars[MAXVAR];
    unsigned long before = shm->unexpected;
    unsigned long cases = shm->cases;
    check_tables();
    printf("== smoke: the baseline call of every function, in process\n");
    for (int fi = 0; fi < nfns; fi++) {
        gen_variants(fi, vars);
        run_case(fi, &vars[0]);
    }
    shm->cases = cases;  /* not sweep cases */
    printf("   smoke: %d functions, %lu unexpected\n", nfns, shm->unexpected - before);
    return shm->unexpected != before;
}
