/* world.c: the baseline objects (fixtures) of one sweep case or scenario.
 *
 * A world is made fresh for every case, lazily: a fixture is built the first
 * time a case asks for it, through the library's own functions (ffi_call,
 * like every other call), and everything is released when the world is
 * freed. Everything is on loopback, and every socket a baseline uses is
 * non-blocking or has something ready, so no baseline call can wait.
 *
 * Fixture names:
 *   listener       listening TCP socket on 127.0.0.1, ephemeral port,
 *                  non-blocking, nothing pending
 *   @port          its port as a string
 *   conn, peer     a connected pair (non-blocking; nothing to read)
 *   dataeof        connected, non-blocking; the peer sent "hello\nworld\n"
 *                  and shut its side down: readable at once, never blocks
 *   oob            connected; the peer sent one byte of urgent data
 *                  (POLLPRI: ready for error-select)
 *   fresh          a new unconnected TCP socket (blocking)
 *   fresh_fd       the descriptor of a new TCP socket, detached (no owner)
 *   udp, udppeer   bound UDP sockets (non-blocking); sa_udppeer addresses
 *                  udppeer
 *   hints          a hint addrinfo: AF_INET, SOCK_STREAM,
 *                  AI_NUMERICHOST|AI_NUMERICSERV (no name is ever looked up)
 *   ai_listener    the listener's address; ai_bind 127.0.0.1:0
 *   sa_listener    the listener's sockaddr; sa_empty a new empty sockaddr
 *   info, ip       socket-info of conn, and its ip-address
 *   fdset_r/_w/_e  fdsets {dataeof}, {conn}, {oob}
 *   err_fresh      a new error object; err_filled one filled by a failure
 *   port           a binary port over dataeof; textport a UTF-8/LF textual
 *                  port over dataeof
 *   sel_ready      a selector holding dataeof (tag 1): a wait never waits
 *   numeric_flags  AI_NUMERICHOST|AI_NUMERICSERV
 *   #NAME          the value of the manifest's enum member NAME
 *   =TEXT          the string TEXT
 */
#define _GNU_SOURCE
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXCACHE 64
#define MAXOWN 512
#define MAXALLOC 256

struct world {
    struct {
        char name[32];
        val_t v;
    } cache[MAXCACHE];
    int ncache;
    void *owned[MAXOWN];
    int nowned;
    void *allocs[MAXALLOC];
    int nallocs;
    int ok;
    void *err;
};

static int fi_handle_kind = -1;

world_t *world_new(void)
{
    world_t *w = calloc(1, sizeof *w);
    w->ok = 1;
    return w;
}

int world_ok(world_t *w) { return w->ok; }

void *world_alloc(world_t *w, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (w->nallocs < MAXALLOC)
        w->allocs[w->nallocs++] = p;
    return p;
}

void world_own(world_t *w, void *h)
{
    if (!h)
        return;
    for (int i = 0; i < w->nowned; i++)
        if (w->owned[i] == h)
            return;
    if (w->nowned < MAXOWN)
        w->owned[w->nowned++] = h;
}

static char *wstrdup(world_t *w, const char *s)
{
    char *p = world_alloc(w, strlen(s) + 1);
    strcpy(p, s);
    return p;
}

/* the kind index of a live handle, -1 */
static int kind_of_handle(void *h)
{
    if (fi_handle_kind < 0)
        fi_handle_kind = find_fn("sag_handle_kind");
    val_t a[1];
    a[0].p = h;
    int code = invoke(fi_handle_kind, a).i;
    for (int i = 0; i < nkinds; i++)
        if (kinds[i].code == code && code != KIND_NONE)
            return i;
    return -1;
}

int free_handle(void *h)
{
    int k = kind_of_handle(h);
    if (k < 0 || kinds[k].free_fn < 0)
        return ST_OK;
    val_t a[1];
    a[0].p = h;
    return invoke(kinds[k].free_fn, a).i;
}

void world_free(world_t *w)
{
    int level = sym_value("SAG_SOL_SOCKET"), linger = sym_value("SAG_SO_LINGER");
    int sock = kind_index("socket");
    /* reverse order: ports before their sockets; sockets end with a reset
       (SO_LINGER 0) so that thousands of cases leave no TIME_WAIT behind */
    for (int i = w->nowned - 1; i >= 0; i--) {
        void *h = w->owned[i];
        if (kind_of_handle(h) == sock) {
            int *l = world_alloc(w, 2 * sizeof(int));
            l[0] = 1;
            l[1] = 0;
            CALL("sag_socket_setsockopt_bytes", A_P(h), A_I(level), A_I(linger), A_P(l), A_Z(0),
                 A_Z(2 * sizeof(int)), A_P(NULL));
        }
        int st = free_handle(h);
        if (st != ST_OK)
            failf("freeing a handle of the world gave %s", status_name(st));
    }
    if (w->err)
        CALL("sag_error_free", A_P(w->err));
    for (int i = 0; i < w->nallocs; i++)
        free(w->allocs[i]);
    free(w);
}

static void *werr(world_t *w)
{
    if (!w->err) {
        void **out = world_alloc(w, sizeof(void *));
        int st = CI("sag_error_new", A_P(out));
        if (st != ST_OK)
            failf("fixture: sag_error_new gave %s", status_name(st));
        w->err = *out;
    }
    return w->err;
}

/* A fixture call failed: the case cannot run. */
static void setup_failed(world_t *w, const char *fixture_name, const char *fn, int st)
{
    const char *msg = "";
    if (w->err) {
        val_t m = CALL("sag_error_message", A_P(w->err));
        msg = m.p ? (const char *)m.p : "";
    }
    failf("setup of fixture %s: %s gave %s (%s)", fixture_name, fn, status_name(st), msg);
    w->ok = 0;
}

#define NEED(call, fn)                               \
    do {                                             \
        int st_ = (call);                            \
        if (st_ != ST_OK) {                          \
            setup_failed(w, name, fn, st_);          \
            goto failed;                             \
        }                                            \
    } while (0)

static void put(world_t *w, const char *name, val_t v)
{
    if (w->ncache < MAXCACHE) {
        snprintf(w->cache[w->ncache].name, sizeof w->cache[w->ncache].name, "%s", name);
        w->cache[w->ncache].v = v;
        w->ncache++;
    }
}

static val_t P(void *p)
{
    val_t v;
    memset(&v, 0, sizeof v);
    v.p = p;
    return v;
}

static val_t I(int i)
{
    val_t v;
    memset(&v, 0, sizeof v);
    v.i = i;
    return v;
}

/* the port of a socket, via socket-info */
static int local_port(world_t *w, void *s, const char *name)
{
    void **info = world_alloc(w, sizeof(void *));
    int *port = world_alloc(w, sizeof(int));
    NEED(CI("sag_socket_get_info", A_P(s), A_P(info), A_P(werr(w))), "sag_socket_get_info");
    if (!*info) {
        failf("fixture %s: the socket has no local address", name);
        w->ok = 0;
        return -1;
    }
    world_own(w, *info);
    NEED(CI("sag_socket_info_port", A_P(*info), A_P(port), A_P(werr(w))), "sag_socket_info_port");
    return *port;
failed:
    return -1;
}

/* a connected pair through the world's listener */
static int make_pair(world_t *w, const char *name, void **client, void **server)
{
    void *l = world_handle(w, "listener");
    const char *port = fixture(w, "@port").p;
    if (!w->ok)
        return 0;
    void **c = world_alloc(w, sizeof(void *));
    void **s = world_alloc(w, sizeof(void *));
    void **ready = world_alloc(w, sizeof(void *));
    size_t *nready = world_alloc(w, sizeof(size_t));
    void **socks = world_alloc(w, sizeof(void *));
    socks[0] = l;
    NEED(CI("sag_make_client_socket", A_P("127.0.0.1"), A_P(port), A_I(sym_value("SAG_AF_INET")),
            A_I(sym_value("SAG_SOCK_STREAM")), A_I(fixture(w, "numeric_flags").i), A_I(0), A_P(c),
            A_P(werr(w))),
         "sag_make_client_socket");
    world_own(w, *c);
    /* the connection is in the accept queue once connect returned on
       loopback; wait for it anyway (bounded by the watchdog) */
    for (int tries = 0; tries < 100; tries++) {
        NEED(CI("sag_socket_read_select", A_L(100000), A_P(socks), A_Z(1), A_P(ready), A_P(nready),
                A_P(werr(w))),
             "sag_socket_read_select");
        int st = CI("sag_socket_accept", A_P(l), A_P(s), A_P(werr(w)));
        if (st == ST_OK)
            break;
        if (st != ST_WOULD_BLOCK)
            NEED(st, "sag_socket_accept");
    }
    if (!*s) {
        failf("fixture %s: no connection to accept", name);
        w->ok = 0;
        return 0;
    }
    world_own(w, *s);
    NEED(CI("sag_socket_set_nonblocking", A_P(*c), A_I(1), A_P(werr(w))), "sag_socket_set_nonblocking");
    NEED(CI("sag_socket_set_nonblocking", A_P(*s), A_I(1), A_P(werr(w))), "sag_socket_set_nonblocking");
    *client = *c;
    *server = *s;
    return 1;
failed:
    return 0;
}

static void *get_addrinfo(world_t *w, const char *name, const char *node, const char *service,
                          void *hints)
{
    void **ai = world_alloc(w, sizeof(void *));
    NEED(CI("sag_get_addrinfo", A_P(node), A_P(service), A_P(hints), A_P(ai), A_P(werr(w))),
         "sag_get_addrinfo");
    world_own(w, *ai);
    return *ai;
failed:
    return NULL;
}

static void *fdset_of(world_t *w, const char *name, const char *member)
{
    void **socks = world_alloc(w, sizeof(void *));
    void **out = world_alloc(w, sizeof(void *));
    socks[0] = world_handle(w, member);
    if (!w->ok)
        return NULL;
    NEED(CI("sag_fdset_from_sockets", A_P(socks), A_Z(1), A_P(out), A_P(werr(w))), "sag_fdset_from_sockets");
    world_own(w, *out);
    return *out;
failed:
    return NULL;
}

static void *one_out(world_t *w, const char *name, const char *fn, int nargs, arg_t *args)
{
    /* the out-parameter is the next-to-last argument, err the last */
    void **out = world_alloc(w, sizeof(void *));
    args[nargs - 2] = A_P(out);
    args[nargs - 1] = A_P(werr(w));
    NEED(call_named(fn, args, nargs).i, fn);
    world_own(w, *out);
    return *out;
failed:
    return NULL;
}

val_t fixture(world_t *w, const char *name)
{
    for (int i = 0; i < w->ncache; i++)
        if (strcmp(w->cache[i].name, name) == 0)
            return w->cache[i].v;
    val_t v = P(NULL);
    if (!w->ok)
        return v;

    if (name[0] == '#') {
        return I(sym_value(name + 1));
    } else if (name[0] == '=') {
        v = P(wstrdup(w, name + 1));
    } else if (strcmp(name, "numeric_flags") == 0) {
        v = I(sym_value("SAG_AI_NUMERICHOST") | sym_value("SAG_AI_NUMERICSERV"));
    } else if (strcmp(name, "listener") == 0 || strcmp(name, "@port") == 0) {
        void **s = world_alloc(w, sizeof(void *));
        NEED(CI("sag_make_server_socket", A_P("0"), A_I(sym_value("SAG_AF_INET")),
                A_I(sym_value("SAG_SOCK_STREAM")), A_I(0), A_P(s), A_P(werr(w))),
             "sag_make_server_socket");
        world_own(w, *s);
        NEED(CI("sag_socket_set_nonblocking", A_P(*s), A_I(1), A_P(werr(w))), "sag_socket_set_nonblocking");
        int port = local_port(w, *s, name);
        if (port <= 0)
            goto failed;
        char buf[16];
        snprintf(buf, sizeof buf, "%d", port);
        put(w, "listener", P(*s));
        put(w, "@port", P(wstrdup(w, buf)));
        return fixture(w, name);
    } else if (strcmp(name, "conn") == 0 || strcmp(name, "peer") == 0) {
        void *c, *s;
        if (!make_pair(w, name, &c, &s))
            goto failed;
        put(w, "conn", P(c));
        put(w, "peer", P(s));
        return fixture(w, name);
    } else if (strcmp(name, "dataeof") == 0 || strcmp(name, "dataeof_peer") == 0) {
        void *c, *s;
        if (!make_pair(w, name, &c, &s))
            goto failed;
        static const char data[] = "hello\nworld\n";
        size_t *sent = world_alloc(w, sizeof(size_t));
        char *buf = wstrdup(w, data);
        NEED(CI("sag_socket_send", A_P(s), A_P(buf), A_Z(0), A_Z(strlen(data)), A_I(0), A_P(sent),
                A_P(werr(w))),
             "sag_socket_send");
        NEED(CI("sag_socket_shutdown", A_P(s), A_I(sym_value("SAG_SHUT_WR")), A_P(werr(w))),
             "sag_socket_shutdown");
        put(w, "dataeof", P(c));
        put(w, "dataeof_peer", P(s));
        return fixture(w, name);
    } else if (strcmp(name, "oob") == 0 || strcmp(name, "oob_peer") == 0) {
        void *c, *s;
        if (!make_pair(w, name, &c, &s))
            goto failed;
        size_t *sent = world_alloc(w, sizeof(size_t));
        char *buf = wstrdup(w, "!");
        NEED(CI("sag_socket_send", A_P(s), A_P(buf), A_Z(0), A_Z(1), A_I(sym_value("SAG_MSG_OOB")),
                A_P(sent), A_P(werr(w))),
             "sag_socket_send");
        put(w, "oob", P(c));
        put(w, "oob_peer", P(s));
        return fixture(w, name);
    } else if (strcmp(name, "fresh_fd") == 0) {
        /* a socket descriptor nobody owns: a new socket's, detached */
        void *s = one_out(w, name, "sag_make_socket", 5,
                          (arg_t[]){A_I(sym_value("SAG_AF_INET")), A_I(sym_value("SAG_SOCK_STREAM")), A_I(0),
                                    A_P(NULL), A_P(NULL)});
        if (!w->ok)
            goto failed;
        int *fd = world_alloc(w, sizeof(int));
        NEED(CI("sag_socket_detach", A_P(s), A_P(fd), A_P(werr(w))), "sag_socket_detach");
        v = I(*fd);
    } else if (strcmp(name, "fresh") == 0) {
        v = P(one_out(w, name, "sag_make_socket", 5,
                      (arg_t[]){A_I(sym_value("SAG_AF_INET")), A_I(sym_value("SAG_SOCK_STREAM")), A_I(0),
                                A_P(NULL), A_P(NULL)}));
    } else if (strcmp(name, "udp") == 0 || strcmp(name, "udppeer") == 0) {
        void *s = one_out(w, name, "sag_make_server_socket", 6,
                          (arg_t[]){A_P("0"), A_I(sym_value("SAG_AF_INET")), A_I(sym_value("SAG_SOCK_DGRAM")),
                                    A_I(0), A_P(NULL), A_P(NULL)});
        if (!w->ok)
            goto failed;
        NEED(CI("sag_socket_set_nonblocking", A_P(s), A_I(1), A_P(werr(w))), "sag_socket_set_nonblocking");
        v = P(s);
    } else if (strcmp(name, "sa_udppeer") == 0) {
        void *peer = world_handle(w, "udppeer");
        if (!w->ok)
            goto failed;
        int port = local_port(w, peer, name);
        if (port <= 0)
            goto failed;
        char buf[16];
        snprintf(buf, sizeof buf, "%d", port);
        void *hints = one_out(w, name, "sag_make_hint_addrinfo", 6,
                              (arg_t[]){A_I(sym_value("SAG_AF_INET")), A_I(sym_value("SAG_SOCK_DGRAM")),
                                        A_I(fixture(w, "numeric_flags").i), A_I(0), A_P(NULL), A_P(NULL)});
        void *ai = get_addrinfo(w, name, "127.0.0.1", buf, hints);
        if (!w->ok)
            goto failed;
        v = P(one_out(w, name, "sag_addrinfo_sockaddr", 3, (arg_t[]){A_P(ai), A_P(NULL), A_P(NULL)}));
    } else if (strcmp(name, "hints") == 0) {
        v = P(one_out(w, name, "sag_make_hint_addrinfo", 6,
                      (arg_t[]){A_I(sym_value("SAG_AF_INET")), A_I(sym_value("SAG_SOCK_STREAM")),
                                A_I(fixture(w, "numeric_flags").i), A_I(0), A_P(NULL), A_P(NULL)}));
    } else if (strcmp(name, "ai_listener") == 0) {
        const char *port = fixture(w, "@port").p;
        void *hints = world_handle(w, "hints");
        if (!w->ok)
            goto failed;
        v = P(get_addrinfo(w, name, "127.0.0.1", port, hints));
    } else if (strcmp(name, "ai_bind") == 0) {
        void *hints = world_handle(w, "hints");
        if (!w->ok)
            goto failed;
        v = P(get_addrinfo(w, name, "127.0.0.1", "0", hints));
    } else if (strcmp(name, "sa_listener") == 0) {
        void *ai = world_handle(w, "ai_listener");
        if (!w->ok)
            goto failed;
        v = P(one_out(w, name, "sag_addrinfo_sockaddr", 3, (arg_t[]){A_P(ai), A_P(NULL), A_P(NULL)}));
    } else if (strcmp(name, "sa_empty") == 0) {
        v = P(one_out(w, name, "sag_sockaddr_new", 2, (arg_t[]){A_P(NULL), A_P(NULL)}));
    } else if (strcmp(name, "info") == 0) {
        void *c = world_handle(w, "conn");
        if (!w->ok)
            goto failed;
        v = P(one_out(w, name, "sag_socket_get_info", 3, (arg_t[]){A_P(c), A_P(NULL), A_P(NULL)}));
    } else if (strcmp(name, "ip") == 0) {
        void *info = world_handle(w, "info");
        if (!w->ok)
            goto failed;
        v = P(one_out(w, name, "sag_socket_info_ip_address", 3, (arg_t[]){A_P(info), A_P(NULL), A_P(NULL)}));
    } else if (strcmp(name, "fdset_r") == 0) {
        v = P(fdset_of(w, name, "dataeof"));
    } else if (strcmp(name, "fdset_w") == 0) {
        v = P(fdset_of(w, name, "conn"));
    } else if (strcmp(name, "fdset_e") == 0) {
        v = P(fdset_of(w, name, "oob"));
    } else if (strcmp(name, "err_fresh") == 0) {
        void **out = world_alloc(w, sizeof(void *));
        NEED(CI("sag_error_new", A_P(out)), "sag_error_new");
        world_own(w, *out);
        v = P(*out);
    } else if (strcmp(name, "err_filled") == 0) {
        void **out = world_alloc(w, sizeof(void *));
        void **ai = world_alloc(w, sizeof(void *));
        NEED(CI("sag_error_new", A_P(out)), "sag_error_new");
        world_own(w, *out);
        void *hints = world_handle(w, "hints");
        int st = CI("sag_get_addrinfo", A_P("300.1.1.1"), A_P("80"), A_P(hints), A_P(ai), A_P(*out));
        if (st != ST_HOST_NOT_FOUND) {
            failf("fixture err_filled: sag_get_addrinfo(\"300.1.1.1\", AI_NUMERICHOST) gave %s, expected "
                  "SAG_E_HOST_NOT_FOUND", status_name(st));
            if (st == ST_OK)
                world_own(w, *ai);
        }
        v = P(*out);
    } else if (strcmp(name, "sel_ready") == 0) {
        void *s = world_handle(w, "dataeof");
        if (!w->ok)
            goto failed;
        void *sel = one_out(w, name, "sag_selector_new", 2, (arg_t[]){A_P(NULL), A_P(NULL)});
        if (!w->ok)
            goto failed;
        NEED(CI("sag_selector_add", A_P(sel), A_P(s), A_L(-1), A_L(1), A_P(werr(w))), "sag_selector_add");
        v = P(sel);
    } else if (strcmp(name, "rawfd") == 0) {
        /* A raw descriptor for sag_selector_*_fd: a pipe's read end (the
           write end stays open, so it is never at end of file). */
        int pfd[2];
        NEED(pipe(pfd) == 0 ? ST_OK : ST_IO, "pipe");
        v = I(pfd[0]);
    } else if (strcmp(name, "port") == 0) {
        void *s = world_handle(w, "dataeof");
        if (!w->ok)
            goto failed;
        v = P(one_out(w, name, "sag_socket_port", 4, (arg_t[]){A_P(s), A_I(0), A_P(NULL), A_P(NULL)}));
    } else if (strcmp(name, "textport") == 0) {
        void *s = world_handle(w, "dataeof");
        if (!w->ok)
            goto failed;
        void *b = one_out(w, name, "sag_socket_port", 4, (arg_t[]){A_P(s), A_I(0), A_P(NULL), A_P(NULL)});
        if (!w->ok)
            goto failed;
        v = P(one_out(w, name, "sag_transcoded_port", 6,
                      (arg_t[]){A_P(b), A_I(sym_value("SAG_CODEC_UTF8")), A_I(sym_value("SAG_EOL_LF")),
                                A_I(sym_value("SAG_ERROR_MODE_REPLACE")), A_P(NULL), A_P(NULL)}));
    } else {
        failf("driver bug: unknown fixture %s", name);
        w->ok = 0;
        return v;
    }
    if (!w->ok)
        goto failed;
    put(w, name, v);
    return v;
failed:
    w->ok = 0;
    return P(NULL);
}

void *world_handle(world_t *w, const char *name)
{
    return fixture(w, name).p;
}

/* A fresh live handle of a kind, owned by the world. Kinds the driver has no
   recipe for are made by the first function of the manifest that returns
   one through `K **out` and takes nothing but handles the driver can make,
   ints, and err. */
void *new_handle(world_t *w, int kind)
{
    const char *k = kinds[kind].name;
    const char *name = "new handle";
    if (!w->ok)
        return NULL;
    if (strcmp(k, "socket") == 0)
        return one_out(w, name, "sag_make_socket", 5,
                       (arg_t[]){A_I(sym_value("SAG_AF_INET")), A_I(sym_value("SAG_SOCK_STREAM")), A_I(0),
                                 A_P(NULL), A_P(NULL)});
    if (strcmp(k, "addrinfo") == 0)
        return one_out(w, name, "sag_make_addrinfo", 2, (arg_t[]){A_P(NULL), A_P(NULL)});
    if (strcmp(k, "sockaddr") == 0)
        return one_out(w, name, "sag_sockaddr_new", 2, (arg_t[]){A_P(NULL), A_P(NULL)});
    if (strcmp(k, "fdset") == 0)
        return one_out(w, name, "sag_fdset_new", 2, (arg_t[]){A_P(NULL), A_P(NULL)});
    if (strcmp(k, "socket_info") == 0) {
        void *c = world_handle(w, "conn");
        return w->ok ? one_out(w, name, "sag_socket_get_info", 3, (arg_t[]){A_P(c), A_P(NULL), A_P(NULL)}) : NULL;
    }
    if (strcmp(k, "ip_address") == 0) {
        void *c = world_handle(w, "conn");
        if (!w->ok)
            return NULL;
        void *info = one_out(w, name, "sag_socket_get_info", 3, (arg_t[]){A_P(c), A_P(NULL), A_P(NULL)});
        return w->ok ? one_out(w, name, "sag_socket_info_ip_address", 3, (arg_t[]){A_P(info), A_P(NULL), A_P(NULL)})
                     : NULL;
    }
    if (strcmp(k, "error") == 0) {
        void **out = world_alloc(w, sizeof(void *));
        int st = CI("sag_error_new", A_P(out));
        if (st != ST_OK) {
            setup_failed(w, name, "sag_error_new", st);
            return NULL;
        }
        world_own(w, *out);
        return *out;
    }
    if (strcmp(k, "port") == 0) {
        void *c = world_handle(w, "conn");
        return w->ok ? one_out(w, name, "sag_socket_port", 4, (arg_t[]){A_P(c), A_I(0), A_P(NULL), A_P(NULL)}) : NULL;
    }
    /* generic: a constructor from the manifest */
    for (int fi = 0; fi < nfns; fi++) {
        fn_t *f = &fns[fi];
        if (f->rc != RC_STATUS)
            continue;
        int outp = -1, usable = 1;
        for (int i = 0; i < f->np; i++) {
            param_t *p = &f->p[i];
            if ((p->pc == PC_OUT) && p->ot == OT_HANDLE && p->kind == kind && outp < 0)
                outp = i;
            else if (p->pc == PC_ERR || p->pc == PC_INT || p->pc == PC_OUT || p->pc == PC_OUT_OPT)
                ;
            else if ((p->pc == PC_HANDLE || p->pc == PC_HANDLE_OPT) && p->kind != kind)
                ;
            else
                usable = 0;
        }
        if (outp < 0 || !usable)
            continue;
        val_t a[MAXP];
        memset(a, 0, sizeof a);
        for (int i = 0; i < f->np; i++) {
            param_t *p = &f->p[i];
            if (p->pc == PC_OUT || p->pc == PC_OUT_OPT)
                a[i].p = world_alloc(w, 16);
            else if (p->pc == PC_HANDLE || p->pc == PC_HANDLE_OPT)
                a[i].p = new_handle(w, p->kind);
            else if (p->pc == PC_INT)
                a[i].i = 0;
            else
                a[i].p = NULL;
        }
        if (!w->ok)
            return NULL;
        int st = invoke(fi, a).i;
        if (st != ST_OK) {
            setup_failed(w, name, f->name, st);
            return NULL;
        }
        void *h = *(void **)a[outp].p;
        world_own(w, h);
        return h;
    }
    failf("the driver cannot make a handle of kind %s: add a recipe to new_handle in world.c", k);
    w->ok = 0;
    return NULL;
}

void *freed_handle(world_t *w, int kind)
{
    void *h = new_handle(w, kind);
    if (!h)
        return NULL;
    if (kinds[kind].free_fn < 0) {
        failf("kind %s has no free function", kinds[kind].name);
        w->ok = 0;
        return NULL;
    }
    val_t a[1];
    a[0].p = h;
    int st = invoke(kinds[kind].free_fn, a).i;
    if (st != ST_OK) {
        failf("%s of a live handle gave %s", fns[kinds[kind].free_fn].name, status_name(st));
        w->ok = 0;
    }
    return h;
}
