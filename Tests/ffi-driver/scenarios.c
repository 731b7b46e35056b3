/* scenarios.c: loopback scenarios, every call through ffi_call.
 *
 *   version        sag_version_number agrees with sag_version_string
 *   constants      every constant of the header by name (with and without
 *                  SAG_), and the enumeration sag_constant_at gives
 *   status tree    is-a, parent, names and messages of every status
 *   handle kinds   sag_handle_kind of each kind of handle, live and freed
 *   echo           TCP echo over loopback: a server thread and a client
 *   udp            sendto/recvfrom over loopback, the sender's sockaddr
 *   addrinfo       a getaddrinfo chain walk ("localhost" and numeric only)
 *   select         fdsets, select, select!, read/write/error-select, a stale
 *                  member, an interrupted select
 *   selector       a socket selector: tags back, a reported socket leaves,
 *                  one entry per socket, own timeouts, capacity, clear, a
 *                  closed socket unreported, interrupt and close from another
 *                  thread, a second waiter, a closed selector
 *   options        integer, bytes and duration socket options round trips
 *   conditions     every field of the error object (and of sag_last_error)
 *                  after: unknown host, operation after close, read timeout,
 *                  connection refused, interrupted accept, would-block, misuse
 *   ports          text and binary socket ports over loopback
 *
 * Nothing leaves the machine: every socket is on 127.0.0.1, and the only
 * name looked up is "localhost" (from /etc/hosts). Waits are bounded: a
 * scenario that runs longer than FFI_DRIVER_SCENARIO_SECONDS (default 120)
 * is a hang, and the driver stops.
 */
#define _GNU_SOURCE
#include "driver.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, ...)                 \
    do {                                 \
        if (!(cond))                     \
            failf(__VA_ARGS__);          \
    } while (0)

static const char *scenario = "";

static int C(const char *name)  /* a constant of the header, by its name without SAG_ */
{
    char buf[80];
    snprintf(buf, sizeof buf, "SAG_%s", name);
    return sym_value(buf);
}

static int has_sym(const char *name)
{
    int v;
    return sym_lookup(name, &v);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int expect(const char *what, int got, int want)
{
    if (got != want)
        failf("%s: %s returned %s, expected %s", scenario, what, status_name(got), status_name(want));
    return got == want;
}

static void *err_new(void)
{
    void *e = NULL;
    expect("sag_error_new", CI("sag_error_new", A_P(&e)), ST_OK);
    return e;
}

static void err_free(void *e)
{
    expect("sag_error_free", CI("sag_error_free", A_P(e)), ST_OK);
}

static void sock_free(void *s)
{
    if (s)
        expect("sag_socket_free", CI("sag_socket_free", A_P(s)), ST_OK);
}

static int port_of(void *s, void *e)
{
    void *info = NULL;
    int port = -1;
    if (!expect("sag_socket_get_info", CI("sag_socket_get_info", A_P(s), A_P(&info), A_P(e)), ST_OK) || !info)
        return -1;
    expect("sag_socket_info_port", CI("sag_socket_info_port", A_P(info), A_P(&port), A_P(e)), ST_OK);
    expect("sag_socket_info_free", CI("sag_socket_info_free", A_P(info)), ST_OK);
    return port;
}

static void *server(int socktype, int *port, void *e)
{
    void *s = NULL;
    if (!expect("sag_make_server_socket",
                CI("sag_make_server_socket", A_P("0"), A_I(C("AF_INET")), A_I(socktype), A_I(0), A_P(&s), A_P(e)),
                ST_OK))
        return NULL;
    *port = port_of(s, e);
    return s;
}

static void *client(int port, void *e)
{
    char svc[16];
    snprintf(svc, sizeof svc, "%d", port);
    void *s = NULL;
    expect("sag_make_client_socket",
           CI("sag_make_client_socket", A_P("127.0.0.1"), A_P(svc), A_I(C("AF_INET")), A_I(C("SOCK_STREAM")),
              A_I(C("AI_NUMERICHOST") | C("AI_NUMERICSERV")), A_I(0), A_P(&s), A_P(e)),
           ST_OK);
    return s;
}

/* a connected blocking pair: *c the client, *s the accepted side */
static int pair(void **c, void **s, void *e)
{
    int port = 0;
    void *l = server(C("SOCK_STREAM"), &port, e);
    *c = *s = NULL;
    if (!l)
        return 0;
    *c = client(port, e);
    /* accepted with the peer's numeric address: the client's own */
    unsigned char ip[16] = {0};
    size_t n = 99;
    int peer_port = -1;
    if (expect("sag_socket_accept_peer",
               CI("sag_socket_accept_peer", A_P(l), A_P(s), A_P(ip), A_Z(0), A_Z(sizeof ip), A_P(&n),
                  A_P(&peer_port), A_P(e)),
               ST_OK) && *c) {
        CHECK(n == 4 && ip[0] == 127 && ip[1] == 0 && ip[2] == 0 && ip[3] == 1,
              "%s: sag_socket_accept_peer gave %zu address bytes (%u.%u.%u.%u)", scenario, n, ip[0], ip[1], ip[2],
              ip[3]);
        CHECK(peer_port == port_of(*c, e), "%s: sag_socket_accept_peer gave port %d, the client's is %d", scenario,
              peer_port, port_of(*c, e));
    }
    sock_free(l);
    return *c && *s;
}

static size_t send_all(void *s, const void *buf, size_t n, void *e)
{
    size_t sent = 0;
    expect("sag_socket_send", CI("sag_socket_send", A_P(s), A_P(buf), A_Z(0), A_Z(n), A_I(0), A_P(&sent), A_P(e)),
           ST_OK);
    CHECK(sent == n, "%s: sag_socket_send sent %zu of %zu bytes", scenario, sent, n);
    return sent;
}

/* receives exactly n bytes (a blocking socket), 0 at end of file */
static size_t recv_exact(void *s, unsigned char *buf, size_t n, void *e)
{
    size_t got = 0;
    while (got < n) {
        size_t r = 0;
        int st = CI("sag_socket_recv", A_P(s), A_P(buf), A_Z(got), A_Z(n - got), A_I(0), A_P(&r), A_P(e));
        if (!expect("sag_socket_recv", st, ST_OK) || r == 0)
            break;
        got += r;
    }
    return got;
}

static const char *str_or_null(const char *s) { return s ? s : "(NULL)"; }

/* ---- the condition fields ----------------------------------------------- */

#define ANY_ERRNO (-1)
#define NONZERO_ERRNO (-2)

typedef struct {
    int status;
    int err_no;             /* ANY_ERRNO, NONZERO_ERRNO or the value */
    const char *operation;  /* NULL: any non-empty */
    const char *node, *service;
    void *socket;
    int64_t timeout;
} fields_t;

static void check_fields_of(const char *what, void *e, const fields_t *x)
{
    int st = CI("sag_error_status", A_P(e));
    int en = CI("sag_error_errno", A_P(e));
    const char *msg = CALL("sag_error_message", A_P(e)).p;
    const char *op = CALL("sag_error_operation", A_P(e)).p;
    const char *node = CALL("sag_error_node", A_P(e)).p;
    const char *service = CALL("sag_error_service", A_P(e)).p;
    void *sock = CALL("sag_error_socket", A_P(e)).p;
    int64_t timeout = CALL("sag_error_timeout", A_P(e)).l;
    void *port = CALL("sag_error_port", A_P(e)).p;
    notef("%s [%s]: status %s errno %d op \"%s\" node %s service %s socket %p timeout %lld port %p: %s", scenario,
          what, status_name(st), en, op ? op : "(NULL)", str_or_null(node), str_or_null(service), sock,
          (long long)timeout, port, msg ? msg : "(NULL)");
    CHECK(st == x->status, "%s [%s]: status %s, expected %s", scenario, what, status_name(st), status_name(x->status));
    if (x->err_no == NONZERO_ERRNO)
        CHECK(en != 0, "%s [%s]: errno 0, expected an OS error", scenario, what);
    else if (x->err_no != ANY_ERRNO)
        CHECK(en == x->err_no, "%s [%s]: errno %d, expected %d", scenario, what, en, x->err_no);
    CHECK(msg && *msg, "%s [%s]: empty message", scenario, what);
    CHECK(op && *op, "%s [%s]: empty operation", scenario, what);
    if (x->operation && op)
        CHECK(strcmp(op, x->operation) == 0, "%s [%s]: operation \"%s\", expected \"%s\"", scenario, what, op,
              x->operation);
    if (x->node)
        CHECK(node && strcmp(node, x->node) == 0, "%s [%s]: node %s, expected \"%s\"", scenario, what,
              str_or_null(node), x->node);
    else
        CHECK(!node, "%s [%s]: node \"%s\", expected NULL", scenario, what, node);
    if (x->service)
        CHECK(service && strcmp(service, x->service) == 0, "%s [%s]: service %s, expected \"%s\"", scenario, what,
              str_or_null(service), x->service);
    else
        CHECK(!service, "%s [%s]: service \"%s\", expected NULL", scenario, what, service);
    CHECK(sock == x->socket, "%s [%s]: socket %p, expected %p", scenario, what, sock, x->socket);
    CHECK(timeout == x->timeout, "%s [%s]: timeout %lld, expected %lld", scenario, what, (long long)timeout,
          (long long)x->timeout);
    CHECK(port == NULL, "%s [%s]: port %p, expected NULL (no port involved)", scenario, what, port);
}

/* the caller's error object and the thread's last error hold the same */
static void check_fields(const char *what, void *e, const fields_t *x)
{
    check_fields_of(what, e, x);
    char buf[128];
    snprintf(buf, sizeof buf, "%s, sag_last_error()", what);
    check_fields_of(buf, CALL0("sag_last_error").p, x);
}

/* ---- version, constants, statuses, kinds ---------------------------------- */

static void s_version(void)
{
    int v = CALL0("sag_version_number").i;
    const char *s = CALL0("sag_version_string").p;
    int a = -1, b = -1, c = -1;
    CHECK(s && sscanf(s, "%d.%d.%d", &a, &b, &c) == 3, "version: sag_version_string() = %s", str_or_null(s));
    CHECK(v == a * 10000 + b * 100 + c, "version: sag_version_number() = %d, sag_version_string() = %s", v,
          str_or_null(s));
}

static void s_constants(void)
{
    int nconst = 0;
    for (int i = 0; i < nsyms; i++) {
        if (syms[i].what != 2)
            continue;
        nconst++;
        int v = -12345;
        expect(syms[i].name, CI("sag_constant", A_P(syms[i].name), A_P(&v)), ST_OK);
        CHECK(v == syms[i].value, "constants: sag_constant(\"%s\") = %d, the header says %d", syms[i].name, v,
              syms[i].value);
        const char *bare = syms[i].name + 4;  /* without SAG_ */
        v = -12345;
        expect(bare, CI("sag_constant", A_P(bare), A_P(&v)), ST_OK);
        CHECK(v == syms[i].value, "constants: sag_constant(\"%s\") = %d, the header says %d", bare, v,
              syms[i].value);
    }
    int count = CALL0("sag_constant_count").i;
    int seen = 0;
    for (int k = 0; k < count; k++) {
        const char *name = NULL;
        int v = 0;
        if (!expect("sag_constant_at", CI("sag_constant_at", A_I(k), A_P(&name), A_P(&v)), ST_OK) || !name)
            continue;
        char full[96];
        snprintf(full, sizeof full, "SAG_%s", name);
        int hv;
        if (sym_lookup(full, &hv)) {
            seen++;
            CHECK(hv == v, "constants: sag_constant_at(%d) = %s %d, the header says %d", k, name, v, hv);
        } else {
            failf("constants: sag_constant_at(%d) names %s, which the header does not declare", k, name);
        }
    }
    CHECK(seen == nconst, "constants: sag_constant_at enumerates %d of the header's %d constants", seen, nconst);
    int v = 0;
    const char *name = NULL;
    expect("sag_constant(unknown)", CI("sag_constant", A_P("NO_SUCH_CONSTANT"), A_P(&v)), ST_INVALID);
    expect("sag_constant_at(count)", CI("sag_constant_at", A_I(count), A_P(&name), A_P(&v)), ST_INVALID);
    notef("constants: %d by name, %d enumerated", nconst, count);
}

static void s_status_tree(void)
{
    /* the tree and names of the header's comment */
    static const struct { const char *status, *parent, *name; } tree[] = {
        {"SAG_OK", NULL, ""},
        {"SAG_E_IO", NULL, "&i/o"},
        {"SAG_E_HOST_NOT_FOUND", "SAG_E_IO", "&host-not-found"},
        {"SAG_E_SOCKET", "SAG_E_IO", "&socket"},
        {"SAG_E_CONNECTION", "SAG_E_SOCKET", "&socket-connection"},
        {"SAG_E_CLOSED", "SAG_E_SOCKET", "&socket-closed"},
        {"SAG_E_READ_TIMEOUT", "SAG_E_SOCKET", "&socket-read-timeout"},
        {"SAG_E_PORT", "SAG_E_SOCKET", "&socket-port"},
        {"SAG_E_INVALID", NULL, "&assertion"},
        {"SAG_E_MISUSE", "SAG_E_INVALID", "&sag-misuse"},
        {"SAG_E_NOMEM", NULL, "&sag-out-of-memory"},
        {"SAG_E_WOULD_BLOCK", NULL, "&sag-would-block"},
        {"SAG_E_INTERRUPTED", NULL, "&sag-interrupted"},
        {"SAG_E_IO_READ", "SAG_E_IO", "&i/o-read"},
        {"SAG_E_IO_WRITE", "SAG_E_IO", "&i/o-write"},
        {"SAG_E_IO_DECODING", "SAG_E_IO", "&i/o-decoding"},
        {"SAG_E_IO_ENCODING", "SAG_E_IO", "&i/o-encoding"},
        {"SAG_E_TLS", "SAG_E_SOCKET", "&tls"},
        {"SAG_E_TLS_VERIFY", "SAG_E_TLS", "&tls-verify"},
        {"SAG_E_TLS_TRUNCATED", "SAG_E_TLS", "&tls-truncated"},
    };
    int known = 0;
    for (size_t i = 0; i < sizeof tree / sizeof tree[0]; i++) {
        if (!has_sym(tree[i].status))
            continue;
        known++;
        int s = sym_value(tree[i].status);
        int parent = tree[i].parent ? sym_value(tree[i].parent) : ST_OK;
        int p = CI("sag_status_parent", A_I(s));
        CHECK(p == parent, "status tree: parent of %s is %s, expected %s", tree[i].status, status_name(p),
              status_name(parent));
        const char *name = CALL("sag_status_name", A_I(s)).p;
        CHECK(name && strcmp(name, tree[i].name) == 0, "status tree: name of %s is \"%s\", expected \"%s\"",
              tree[i].status, str_or_null(name), tree[i].name);
        const char *msg = CALL("sag_status_message", A_I(s)).p;
        CHECK(msg && *msg, "status tree: %s has an empty message", tree[i].status);
        CHECK(CI("sag_status_is", A_I(s), A_I(s)) == 1, "status tree: sag_status_is(%s, itself) != 1",
              tree[i].status);
        if (s != ST_OK) {
            /* is-a every ancestor, and no other status */
            for (int j = 0; j < nsyms; j++) {
                if (syms[j].what != 0 || syms[j].value == ST_OK)
                    continue;
                int anc = 0;
                for (int x = s, steps = 0; x != ST_OK && steps < 32; x = CI("sag_status_parent", A_I(x)), steps++)
                    if (x == syms[j].value)
                        anc = 1;
                int is = CI("sag_status_is", A_I(s), A_I(syms[j].value));
                CHECK(is == anc, "status tree: sag_status_is(%s, %s) = %d, expected %d", tree[i].status,
                      syms[j].name, is, anc);
            }
        }
    }
    /* every status of the header is in the tree above */
    for (int j = 0; j < nsyms; j++) {
        if (syms[j].what != 0)
            continue;
        int found = 0;
        for (size_t i = 0; i < sizeof tree / sizeof tree[0]; i++)
            found |= strcmp(tree[i].status, syms[j].name) == 0;
        CHECK(found, "status tree: the driver does not know where %s belongs (add it to s_status_tree)",
              syms[j].name);
    }
    /* the documented examples, and values that are not statuses */
    CHECK(CI("sag_status_is", A_I(ST_CLOSED), A_I(ST_IO)) == 1, "status tree: sag_status_is(CLOSED, IO) != 1");
    CHECK(CI("sag_status_is", A_I(ST_INVALID), A_I(ST_IO)) == 0, "status tree: sag_status_is(INVALID, IO) != 0");
    static const int unknown[] = {1, 12345, -1000, -17, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        if (is_status(unknown[i]))
            continue;
        const char *name = CALL("sag_status_name", A_I(unknown[i])).p;
        CHECK(name && strcmp(name, "&sag-unknown") == 0, "status tree: name of %d is \"%s\", expected \"&sag-unknown\"",
              unknown[i], str_or_null(name));
        CHECK(CI("sag_status_is", A_I(unknown[i]), A_I(ST_IO)) == 0, "status tree: sag_status_is(%d, IO) != 0",
              unknown[i]);
        int p = CI("sag_status_parent", A_I(unknown[i]));
        CHECK(p == ST_OK, "status tree: parent of %d is %d, expected SAG_OK", unknown[i], p);
    }
    notef("status tree: %d statuses", known);
}

static void s_kinds(void)
{
    void *e = err_new();
    int port = 0;
    void *s = server(C("SOCK_STREAM"), &port, e);
    void *ai = NULL, *sa = NULL, *info = NULL, *ip = NULL, *fds = NULL, *er = NULL, *p = NULL, *sel = NULL;
    CALL("sag_make_addrinfo", A_P(&ai), A_P(e));
    CALL("sag_sockaddr_new", A_P(&sa), A_P(e));
    CALL("sag_socket_get_info", A_P(s), A_P(&info), A_P(e));
    CALL("sag_socket_info_ip_address", A_P(info), A_P(&ip), A_P(e));
    CALL("sag_fdset_new", A_P(&fds), A_P(e));
    CALL("sag_error_new", A_P(&er));
    if (kind_index("port") >= 0)
        expect("sag_socket_port", CI("sag_socket_port", A_P(s), A_I(0), A_P(&p), A_P(e)), ST_OK);
    if (kind_index("selector") >= 0)
        expect("sag_selector_new", CI("sag_selector_new", A_P(&sel), A_P(e)), ST_OK);
    struct { const char *kind; void *h; const char *free_fn; } t[] = {
        {"SAG_KIND_SOCKET", s, "sag_socket_free"},
        {"SAG_KIND_ADDRINFO", ai, "sag_addrinfo_free"},
        {"SAG_KIND_SOCKADDR", sa, "sag_sockaddr_free"},
        {"SAG_KIND_SOCKET_INFO", info, "sag_socket_info_free"},
        {"SAG_KIND_IP_ADDRESS", ip, "sag_ip_address_free"},
        {"SAG_KIND_FDSET", fds, "sag_fdset_free"},
        {"SAG_KIND_ERROR", er, "sag_error_free"},
        {"SAG_KIND_PORT", p, "sag_port_free"},
        {"SAG_KIND_SELECTOR", sel, "sag_selector_free"},
    };
    for (int i = (int)(sizeof t / sizeof t[0]) - 1; i >= 0; i--) {
        if (!has_sym(t[i].kind) || find_fn(t[i].free_fn) < 0)
            continue;
        int k = CI("sag_handle_kind", A_P(t[i].h));
        CHECK(k == sym_value(t[i].kind), "handle kinds: sag_handle_kind gives %d for a live handle of %s", k,
              t[i].kind);
        expect(t[i].free_fn, CI(t[i].free_fn, A_P(t[i].h)), ST_OK);
        k = CI("sag_handle_kind", A_P(t[i].h));
        CHECK(k == KIND_NONE, "handle kinds: sag_handle_kind gives %d for a freed handle of %s", k, t[i].kind);
        expect(t[i].free_fn, CI(t[i].free_fn, A_P(t[i].h)), ST_OK);  /* idempotent */
    }
    void *le = CALL0("sag_last_error").p;
    CHECK(CI("sag_handle_kind", A_P(le)) == sym_value("SAG_KIND_ERROR"), "handle kinds: sag_last_error() is not an error");
    expect("sag_error_free(sag_last_error())", CI("sag_error_free", A_P(le)), ST_MISUSE);
    CHECK(CALL0("sag_last_error").p == le, "handle kinds: sag_last_error() changed");
    err_free(e);
}

/* ---- echo over TCP --------------------------------------------------------- */

struct echo_server {
    void *listener;
    int status;
    size_t echoed;
};

static void *echo_thread(void *arg)
{
    struct echo_server *es = arg;
    void *e = err_new();
    void *c = NULL;
    es->status = CI("sag_socket_accept", A_P(es->listener), A_P(&c), A_P(e));
    if (es->status == ST_OK) {
        unsigned char buf[4096];
        for (;;) {
            size_t r = 0;
            int st = CI("sag_socket_recv", A_P(c), A_P(buf), A_Z(0), A_Z(sizeof buf), A_I(0), A_P(&r), A_P(e));
            if (st != ST_OK) {
                es->status = st;
                break;
            }
            if (r == 0)
                break;
            size_t sent = 0;
            st = CI("sag_socket_send", A_P(c), A_P(buf), A_Z(0), A_Z(r), A_I(0), A_P(&sent), A_P(e));
            if (st != ST_OK) {
                es->status = st;
                break;
            }
            es->echoed += sent;
        }
        CALL("sag_socket_close", A_P(c), A_P(e));
        sock_free(c);
    }
    err_free(e);
    return NULL;
}

static void s_echo(void)
{
    void *e = err_new();
    struct echo_server es = {0};
    int port = 0;
    es.listener = server(C("SOCK_STREAM"), &port, e);
    if (!es.listener)
        return;
    pthread_t t;
    pthread_create(&t, NULL, echo_thread, &es);
    void *c = client(port, e);
    size_t total = 0;
    if (c) {
        /* 64 KiB in chunks of 4 KiB, each read back before the next */
        unsigned char out[4096], in[4096];
        for (int round = 0; round < 16; round++) {
            for (size_t i = 0; i < sizeof out; i++)
                out[i] = (unsigned char)(i * 7 + round);
            send_all(c, out, sizeof out, e);
            size_t got = recv_exact(c, in, sizeof in, e);
            CHECK(got == sizeof in && memcmp(in, out, sizeof in) == 0, "echo: round %d came back wrong (%zu bytes)",
                  round, got);
            total += got;
        }
        /* what the client knows about its connection */
        void *peer = NULL, *ip = NULL;
        int pport = 0, v6 = -1, closed = -1, nb = -1, fd = -1;
        const char *host = NULL, *ipstr = NULL, *name = NULL, *node = NULL, *service = NULL;
        unsigned char bytes[16];
        size_t size = 0;
        expect("sag_socket_get_peer", CI("sag_socket_get_peer", A_P(c), A_P(&peer), A_P(e)), ST_OK);
        expect("sag_socket_info_hostname", CI("sag_socket_info_hostname", A_P(peer), A_P(&host), A_P(e)), ST_OK);
        expect("sag_socket_info_port", CI("sag_socket_info_port", A_P(peer), A_P(&pport), A_P(e)), ST_OK);
        expect("sag_socket_info_ip_address", CI("sag_socket_info_ip_address", A_P(peer), A_P(&ip), A_P(e)), ST_OK);
        expect("sag_ip_address_to_string", CI("sag_ip_address_to_string", A_P(ip), A_P(&ipstr), A_P(e)), ST_OK);
        expect("sag_ip_address_is_v6", CI("sag_ip_address_is_v6", A_P(ip), A_P(&v6), A_P(e)), ST_OK);
        expect("sag_ip_address_to_bytes",
               CI("sag_ip_address_to_bytes", A_P(ip), A_P(bytes), A_Z(0), A_Z(sizeof bytes), A_P(&size), A_P(e)),
               ST_OK);
        CHECK(pport == port, "echo: peer port %d, expected %d", pport, port);
        CHECK(host && *host, "echo: empty peer hostname");
        CHECK(ipstr && strcmp(ipstr, "127.0.0.1") == 0, "echo: peer address %s", str_or_null(ipstr));
        CHECK(v6 == 0, "echo: 127.0.0.1 is v6?");
        CHECK(size == 4 && bytes[0] == 127 && bytes[1] == 0 && bytes[2] == 0 && bytes[3] == 1,
              "echo: ip-address->bytevector gave %zu bytes", size);
        size = 0;
        expect("sag_ip_address_to_bytes(len 2)",
               CI("sag_ip_address_to_bytes", A_P(ip), A_P(bytes), A_Z(0), A_Z(2), A_P(&size), A_P(e)), ST_INVALID);
        CHECK(size == 4, "echo: ip-address->bytevector into 2 bytes wrote size %zu, expected 4", size);
        expect("sag_socket_name", CI("sag_socket_name", A_P(c), A_P(&name), A_P(e)), ST_OK);
        expect("sag_socket_node", CI("sag_socket_node", A_P(c), A_P(&node), A_P(e)), ST_OK);
        expect("sag_socket_service", CI("sag_socket_service", A_P(c), A_P(&service), A_P(e)), ST_OK);
        char svc[16];
        snprintf(svc, sizeof svc, "%d", port);
        char label[300];
        snprintf(label, sizeof label, "%s(127.0.0.1):%d", host ? host : "?", port);
        CHECK(name && strcmp(name, label) == 0, "echo: socket-name %s, expected %s", str_or_null(name), label);
        CHECK(node && strcmp(node, "127.0.0.1") == 0, "echo: socket-node %s", str_or_null(node));
        CHECK(service && strcmp(service, svc) == 0, "echo: socket-service %s", str_or_null(service));
        expect("sag_socket_is_closed", CI("sag_socket_is_closed", A_P(c), A_P(&closed), A_P(e)), ST_OK);
        expect("sag_socket_is_nonblocking", CI("sag_socket_is_nonblocking", A_P(c), A_P(&nb), A_P(e)), ST_OK);
        expect("sag_socket_fd", CI("sag_socket_fd", A_P(c), A_P(&fd), A_P(e)), ST_OK);
        CHECK(closed == 0 && nb == 0 && fd >= 0, "echo: closed? %d nonblocking? %d fd %d", closed, nb, fd);
        CALL("sag_ip_address_free", A_P(ip));
        CALL("sag_socket_info_free", A_P(peer));
        /* end: the server sees end of file and closes; so do we */
        expect("sag_socket_shutdown", CI("sag_socket_shutdown", A_P(c), A_I(C("SHUT_WR")), A_P(e)), ST_OK);
        unsigned char one;
        size_t r = 99;
        expect("sag_socket_recv(eof)", CI("sag_socket_recv", A_P(c), A_P(&one), A_Z(0), A_Z(1), A_I(0), A_P(&r), A_P(e)),
               ST_OK);
        CHECK(r == 0, "echo: expected end of file, got %zu bytes", r);
        expect("sag_socket_close", CI("sag_socket_close", A_P(c), A_P(e)), ST_OK);
        expect("sag_socket_close(again)", CI("sag_socket_close", A_P(c), A_P(e)), ST_OK);
        expect("sag_socket_is_closed", CI("sag_socket_is_closed", A_P(c), A_P(&closed), A_P(e)), ST_OK);
        CHECK(closed == 1, "echo: closed socket reports closed? %d", closed);
    }
    pthread_join(t, NULL);
    expect("echo server thread", es.status, ST_OK);
    CHECK(es.echoed == total && total == 16 * 4096, "echo: the server echoed %zu bytes, the client got %zu", es.echoed,
          total);
    sock_free(c);
    sock_free(es.listener);
    err_free(e);
}

/* ---- UDP ------------------------------------------------------------------ */

static void s_udp(void)
{
    void *e = err_new();
    int pa = 0, pb = 0;
    void *a = server(C("SOCK_DGRAM"), &pa, e);
    void *b = server(C("SOCK_DGRAM"), &pb, e);
    void *hints = NULL, *ai = NULL, *to = NULL, *from = NULL, *ip = NULL;
    char svc[16];
    snprintf(svc, sizeof svc, "%d", pb);
    expect("sag_make_hint_addrinfo",
           CI("sag_make_hint_addrinfo", A_I(C("AF_INET")), A_I(C("SOCK_DGRAM")),
              A_I(C("AI_NUMERICHOST") | C("AI_NUMERICSERV")), A_I(0), A_P(&hints), A_P(e)),
           ST_OK);
    expect("sag_get_addrinfo", CI("sag_get_addrinfo", A_P("127.0.0.1"), A_P(svc), A_P(hints), A_P(&ai), A_P(e)), ST_OK);
    expect("sag_addrinfo_sockaddr", CI("sag_addrinfo_sockaddr", A_P(ai), A_P(&to), A_P(e)), ST_OK);
    expect("sag_sockaddr_new", CI("sag_sockaddr_new", A_P(&from), A_P(e)), ST_OK);
    int fam = -1;
    expect("sag_sockaddr_family", CI("sag_sockaddr_family", A_P(from), A_P(&fam), A_P(e)), ST_OK);
    CHECK(fam == C("AF_UNSPEC"), "udp: a new sockaddr has family %d", fam);
    int dummy;
    expect("sag_sockaddr_port(empty)", CI("sag_sockaddr_port", A_P(from), A_P(&dummy), A_P(e)), ST_INVALID);
    static const char msg[] = "datagram";
    size_t sent = 0, got = 0;
    expect("sag_socket_sendto",
           CI("sag_socket_sendto", A_P(a), A_P(msg), A_Z(0), A_Z(sizeof msg), A_I(0), A_P(to), A_P(&sent), A_P(e)),
           ST_OK);
    CHECK(sent == sizeof msg, "udp: sent %zu", sent);
    expect("sag_socket_set_read_timeout", CI("sag_socket_set_read_timeout", A_P(b), A_L(10000000), A_P(e)), ST_OK);
    char buf[64];
    expect("sag_socket_recvfrom",
           CI("sag_socket_recvfrom", A_P(b), A_P(buf), A_Z(0), A_Z(sizeof buf), A_I(0), A_P(from), A_P(&got), A_P(e)),
           ST_OK);
    CHECK(got == sizeof msg && memcmp(buf, msg, got) == 0, "udp: received %zu bytes", got);
    int port = -1;
    const char *ipstr = NULL;
    expect("sag_sockaddr_family", CI("sag_sockaddr_family", A_P(from), A_P(&fam), A_P(e)), ST_OK);
    expect("sag_sockaddr_port", CI("sag_sockaddr_port", A_P(from), A_P(&port), A_P(e)), ST_OK);
    expect("sag_sockaddr_ip_address", CI("sag_sockaddr_ip_address", A_P(from), A_P(&ip), A_P(e)), ST_OK);
    expect("sag_ip_address_to_string", CI("sag_ip_address_to_string", A_P(ip), A_P(&ipstr), A_P(e)), ST_OK);
    CHECK(fam == C("AF_INET") && port == pa && ipstr && strcmp(ipstr, "127.0.0.1") == 0,
          "udp: sender %s port %d family %d, expected 127.0.0.1 port %d", str_or_null(ipstr), port, fam, pa);
    CALL("sag_ip_address_free", A_P(ip));
    CALL("sag_sockaddr_free", A_P(from));
    CALL("sag_sockaddr_free", A_P(to));
    CALL("sag_addrinfo_free", A_P(ai));
    CALL("sag_addrinfo_free", A_P(hints));
    sock_free(a);
    sock_free(b);
    err_free(e);
}

/* ---- addrinfo chain --------------------------------------------------------- */

static int walk(const char *what, void *ai, int want_port, void *e)
{
    int n = 0;
    void *cur = ai;
    while (cur && n < 64) {
        int fam = -1, st = -1, pr = -1, fl = -1, port = -1, v6 = -1, sfam = -1;
        void *sa = NULL, *ip = NULL, *next = NULL;
        const char *s = NULL;
        expect("sag_addrinfo_family", CI("sag_addrinfo_family", A_P(cur), A_P(&fam), A_P(e)), ST_OK);
        expect("sag_addrinfo_socktype", CI("sag_addrinfo_socktype", A_P(cur), A_P(&st), A_P(e)), ST_OK);
        expect("sag_addrinfo_protocol", CI("sag_addrinfo_protocol", A_P(cur), A_P(&pr), A_P(e)), ST_OK);
        expect("sag_addrinfo_flags", CI("sag_addrinfo_flags", A_P(cur), A_P(&fl), A_P(e)), ST_OK);
        expect("sag_addrinfo_sockaddr", CI("sag_addrinfo_sockaddr", A_P(cur), A_P(&sa), A_P(e)), ST_OK);
        CHECK(fam == C("AF_INET") || fam == C("AF_INET6"), "addrinfo %s: entry %d family %d", what, n, fam);
        CHECK(st == C("SOCK_STREAM"), "addrinfo %s: entry %d socktype %d", what, n, st);
        CHECK(pr == 0 || pr == C("IPPROTO_TCP"), "addrinfo %s: entry %d protocol %d", what, n, pr);
        if (sa) {
            expect("sag_sockaddr_family", CI("sag_sockaddr_family", A_P(sa), A_P(&sfam), A_P(e)), ST_OK);
            expect("sag_sockaddr_port", CI("sag_sockaddr_port", A_P(sa), A_P(&port), A_P(e)), ST_OK);
            expect("sag_sockaddr_ip_address", CI("sag_sockaddr_ip_address", A_P(sa), A_P(&ip), A_P(e)), ST_OK);
            expect("sag_ip_address_to_string", CI("sag_ip_address_to_string", A_P(ip), A_P(&s), A_P(e)), ST_OK);
            expect("sag_ip_address_is_v6", CI("sag_ip_address_is_v6", A_P(ip), A_P(&v6), A_P(e)), ST_OK);
            CHECK(sfam == fam && port == want_port && v6 == (fam == C("AF_INET6")),
                  "addrinfo %s: entry %d: sockaddr family %d port %d v6 %d", what, n, sfam, port, v6);
            notef("addrinfo %s: %d: family %d socktype %d protocol %d %s port %d", what, n, fam, st, pr,
                  str_or_null(s), port);
            CALL("sag_ip_address_free", A_P(ip));
            CALL("sag_sockaddr_free", A_P(sa));
        } else {
            failf("addrinfo %s: entry %d has no sockaddr", what, n);
        }
        expect("sag_next_addrinfo", CI("sag_next_addrinfo", A_P(cur), A_P(&next), A_P(e)), ST_OK);
        if (cur != ai)
            CALL("sag_addrinfo_free", A_P(cur));
        cur = next;
        n++;
    }
    CHECK(!cur, "addrinfo %s: a chain longer than 64 entries", what);
    return n;
}

static void s_addrinfo(void)
{
    void *e = err_new();
    void *hints = NULL, *ai = NULL;
    expect("sag_make_hint_addrinfo",
           CI("sag_make_hint_addrinfo", A_I(C("AF_UNSPEC")), A_I(C("SOCK_STREAM")), A_I(0), A_I(0), A_P(&hints), A_P(e)),
           ST_OK);
    if (expect("sag_get_addrinfo(localhost)",
               CI("sag_get_addrinfo", A_P("localhost"), A_P("80"), A_P(hints), A_P(&ai), A_P(e)), ST_OK)) {
        int n = walk("localhost:80", ai, 80, e);
        CHECK(n >= 1, "addrinfo: localhost has no address");
        CALL("sag_addrinfo_free", A_P(ai));
    }
    CALL("sag_addrinfo_free", A_P(hints));
    /* numeric, passive, and a hint's own slots */
    expect("sag_make_hint_addrinfo",
           CI("sag_make_hint_addrinfo", A_I(C("AF_INET")), A_I(C("SOCK_STREAM")),
              A_I(C("AI_PASSIVE") | C("AI_NUMERICSERV")), A_I(0), A_P(&hints), A_P(e)),
           ST_OK);
    int fl = -1;
    expect("sag_addrinfo_flags", CI("sag_addrinfo_flags", A_P(hints), A_P(&fl), A_P(e)), ST_OK);
    CHECK(fl == (C("AI_PASSIVE") | C("AI_NUMERICSERV")), "addrinfo: hint flags %d", fl);
    ai = NULL;
    if (expect("sag_get_addrinfo(NULL, 8080, passive)",
               CI("sag_get_addrinfo", A_P(NULL), A_P("8080"), A_P(hints), A_P(&ai), A_P(e)), ST_OK)) {
        CHECK(walk("passive:8080", ai, 8080, e) == 1, "addrinfo: passive AF_INET should give one entry");
        CALL("sag_addrinfo_free", A_P(ai));
    }
    CALL("sag_addrinfo_free", A_P(hints));
    /* an empty addrinfo */
    void *empty = NULL, *sa = (void *)1, *next = (void *)1;
    int fam = -1;
    expect("sag_make_addrinfo", CI("sag_make_addrinfo", A_P(&empty), A_P(e)), ST_OK);
    expect("sag_addrinfo_family", CI("sag_addrinfo_family", A_P(empty), A_P(&fam), A_P(e)), ST_OK);
    expect("sag_addrinfo_sockaddr", CI("sag_addrinfo_sockaddr", A_P(empty), A_P(&sa), A_P(e)), ST_OK);
    expect("sag_next_addrinfo", CI("sag_next_addrinfo", A_P(empty), A_P(&next), A_P(e)), ST_OK);
    CHECK(fam == 0 && sa == NULL && next == NULL, "addrinfo: empty addrinfo: family %d sockaddr %p next %p", fam, sa,
          next);
    CALL("sag_addrinfo_free", A_P(empty));
    err_free(e);
}

/* ---- select ------------------------------------------------------------------ */

static size_t members(void *fds, void **out, size_t cap, void *e)
{
    size_t count = 0;
    expect("sag_fdset_sockets", CI("sag_fdset_sockets", A_P(fds), A_P(out), A_Z(cap), A_P(&count), A_P(e)), ST_OK);
    return count;
}

struct blocked {
    void *s;
    const char *fn;
    int status;
    volatile int done;
};

static void *blocked_thread(void *arg)
{
    struct blocked *b = arg;
    void *e = err_new();
    if (strcmp(b->fn, "sag_socket_accept") == 0) {
        void *c = NULL;
        b->status = CI("sag_socket_accept", A_P(b->s), A_P(&c), A_P(e));
        if (b->status == ST_OK)
            sock_free(c);
        if (b->status == ST_INTERRUPTED) {
            fields_t x = {ST_INTERRUPTED, ANY_ERRNO, "socket-accept", NULL, NULL, b->s, -1};
            check_fields("interrupted accept", e, &x);
        }
    } else {
        void *socks[1] = {b->s}, *ready[1] = {NULL};
        size_t n = 99;
        b->status = CI("sag_socket_read_select", A_L(-1), A_P(socks), A_Z(1), A_P(ready), A_P(&n), A_P(e));
    }
    err_free(e);
    __atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Runs fn blocked on s in a thread and interrupts it until it returns
   (an interrupt reaches only a call that is blocked at that moment). */
static int interrupt_blocked(const char *fn, void *s, void *e)
{
    struct blocked b = {s, fn, 1, 0};
    pthread_t t;
    pthread_create(&t, NULL, blocked_thread, &b);
    int tries = 0;
    while (!__atomic_load_n(&b.done, __ATOMIC_ACQUIRE) && tries < 2000) {
        expect("sag_socket_interrupt", CI("sag_socket_interrupt", A_P(s), A_P(e)), ST_OK);
        sleep_ms(10);
        tries++;
    }
    if (!__atomic_load_n(&b.done, __ATOMIC_ACQUIRE)) {
        failf("%s: %s did not return after %d interrupts; closing the socket", scenario, fn, tries);
        CALL("sag_socket_close", A_P(s), A_P(e));
    }
    pthread_join(t, NULL);
    return b.status;
}

static void s_select(void)
{
    void *e = err_new();
    void *c, *s;
    if (!pair(&c, &s, e))
        return;
    void *r = NULL, *w = NULL, *ro = NULL, *wo = NULL, *eo = (void *)1;
    void *arr[2] = {s, NULL};
    int count = -1;
    void *list[4];
    expect("sag_fdset_from_sockets", CI("sag_fdset_from_sockets", A_P(arr), A_Z(1), A_P(&r), A_P(e)), ST_OK);
    expect("sag_fdset_new", CI("sag_fdset_new", A_P(&w), A_P(e)), ST_OK);
    expect("sag_fdset_set", CI("sag_fdset_set", A_P(w), A_P(c), A_I(1), A_P(e)), ST_OK);
    /* nothing to read, c writable */
    expect("sag_socket_select",
           CI("sag_socket_select", A_P(r), A_P(w), A_P(NULL), A_L(0), A_P(&count), A_P(&ro), A_P(&wo), A_P(&eo), A_P(e)),
           ST_OK);
    CHECK(count == 1 && eo == NULL, "select: count %d (expected 1), efds_out %p (expected NULL)", count, eo);
    CHECK(members(ro, list, 4, e) == 0, "select: read set not empty");
    CHECK(members(wo, list, 4, e) == 1 && list[0] == c, "select: write set is not {c}");
    CALL("sag_fdset_free", A_P(ro));
    CALL("sag_fdset_free", A_P(wo));
    /* data arrives: readable, and select with no timeout returns */
    send_all(c, "ping", 4, e);
    ro = NULL;
    expect("sag_socket_select",
           CI("sag_socket_select", A_P(r), A_P(NULL), A_P(NULL), A_L(-1), A_P(&count), A_P(&ro), A_P(NULL), A_P(NULL),
              A_P(e)),
           ST_OK);
    int in = -1;
    expect("sag_fdset_ref", CI("sag_fdset_ref", A_P(ro), A_P(s), A_P(&in), A_P(e)), ST_OK);
    CHECK(count == 1 && in == 1, "select: read readiness count %d, s in set %d", count, in);
    CALL("sag_fdset_free", A_P(ro));
    expect("sag_socket_select_inplace",
           CI("sag_socket_select_inplace", A_P(r), A_P(w), A_P(NULL), A_L(0), A_P(&count), A_P(e)), ST_OK);
    CHECK(count == 2 && members(r, list, 4, e) == 1 && members(w, list, 4, e) == 1, "select!: count %d", count);
    /* the set operations */
    void *f = NULL;
    expect("sag_fdset_new", CI("sag_fdset_new", A_P(&f), A_P(e)), ST_OK);
    expect("sag_fdset_set", CI("sag_fdset_set", A_P(f), A_P(c), A_I(1), A_P(e)), ST_OK);
    expect("sag_fdset_set", CI("sag_fdset_set", A_P(f), A_P(c), A_I(1), A_P(e)), ST_OK);
    expect("sag_fdset_set", CI("sag_fdset_set", A_P(f), A_P(s), A_I(1), A_P(e)), ST_OK);
    size_t total = 0;
    expect("sag_fdset_sockets(count)", CI("sag_fdset_sockets", A_P(f), A_P(NULL), A_Z(0), A_P(&total), A_P(e)), ST_OK);
    CHECK(total == 2 && members(f, list, 4, e) == 2 && list[0] == c && list[1] == s,
          "fdset: members %zu, not [c, s] in insertion order", total);
    CHECK(members(f, list, 1, e) == 2 && list[0] == c, "fdset: capacity 1 should give the first member and count 2");
    expect("sag_fdset_set", CI("sag_fdset_set", A_P(f), A_P(c), A_I(0), A_P(e)), ST_OK);
    expect("sag_fdset_ref", CI("sag_fdset_ref", A_P(f), A_P(c), A_P(&in), A_P(e)), ST_OK);
    CHECK(in == 0, "fdset: c still a member after removal");
    expect("sag_fdset_clear", CI("sag_fdset_clear", A_P(f), A_P(e)), ST_OK);
    CHECK(members(f, list, 4, e) == 0, "fdset: not empty after clear");
    /* read/write-select over arrays, in the order given */
    void *socks[2] = {c, s}, *ready[2] = {NULL, NULL};
    size_t nready = 99;
    expect("sag_socket_read_select",
           CI("sag_socket_read_select", A_L(0), A_P(socks), A_Z(2), A_P(ready), A_P(&nready), A_P(e)), ST_OK);
    CHECK(nready == 1 && ready[0] == s, "read-select: %zu ready", nready);
    expect("sag_socket_write_select",
           CI("sag_socket_write_select", A_L(0), A_P(socks), A_Z(2), A_P(ready), A_P(&nready), A_P(e)), ST_OK);
    CHECK(nready == 2 && ready[0] == c && ready[1] == s, "write-select: %zu ready, not in the order given", nready);
    /* urgent data: error-select */
    size_t sent = 0;
    expect("sag_socket_send(MSG_OOB)",
           CI("sag_socket_send", A_P(c), A_P("!"), A_Z(0), A_Z(1), A_I(C("MSG_OOB")), A_P(&sent), A_P(e)), ST_OK);
    void *only_s[1] = {s};
    expect("sag_socket_error_select",
           CI("sag_socket_error_select", A_L(10000000), A_P(only_s), A_Z(1), A_P(ready), A_P(&nready), A_P(e)), ST_OK);
    CHECK(nready == 1 && ready[0] == s, "error-select: urgent data not reported (%zu)", nready);
    /* a stale member: a freed socket in a set is SAG_E_CLOSED at the call */
    void *x = NULL, *stale = NULL;
    expect("sag_make_socket",
           CI("sag_make_socket", A_I(C("AF_INET")), A_I(C("SOCK_STREAM")), A_I(0), A_P(&x), A_P(e)), ST_OK);
    arr[0] = x;
    expect("sag_fdset_from_sockets", CI("sag_fdset_from_sockets", A_P(arr), A_Z(1), A_P(&stale), A_P(e)), ST_OK);
    sock_free(x);
    expect("sag_socket_select(stale)",
           CI("sag_socket_select_inplace", A_P(stale), A_P(NULL), A_P(NULL), A_L(0), A_P(&count), A_P(e)), ST_CLOSED);
    CALL("sag_fdset_free", A_P(stale));
    /* an interrupted select */
    void *q, *qp;
    if (pair(&q, &qp, e)) {
        expect("interrupted read-select", interrupt_blocked("sag_socket_read_select", q, e), ST_INTERRUPTED);
        sock_free(q);
        sock_free(qp);
    }
    CALL("sag_fdset_free", A_P(f));
    CALL("sag_fdset_free", A_P(r));
    CALL("sag_fdset_free", A_P(w));
    sock_free(c);
    sock_free(s);
    err_free(e);
}

/* ---- the socket selector -------------------------------------------------------- */

struct sel_wait {
    void *sel;
    int64_t timeout;
    void *socks[8];
    int64_t tags[8];
    int timed_out[8];
    size_t count;
    int status;
    volatile int done;
};

static int sel_wait(struct sel_wait *w, void *e)
{
    w->count = 99;
    w->status = CI("sag_selector_wait", A_P(w->sel), A_L(w->timeout), A_P(w->socks), A_P(w->tags),
                   A_P(w->timed_out), A_Z(8), A_P(&w->count), A_P(e));
    return w->status;
}

static void *sel_wait_thread(void *arg)
{
    struct sel_wait *w = arg;
    void *e = err_new();
    sel_wait(w, e);
    err_free(e);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int sel_waiting(void *sel, void *e)
{
    int flag = -1;
    expect("sag_selector_is_waiting", CI("sag_selector_is_waiting", A_P(sel), A_P(&flag), A_P(e)), ST_OK);
    return flag;
}

/* Starts a wait in a thread and returns once it is blocked (bounded). */
static void sel_block(struct sel_wait *w, pthread_t *t, void *e)
{
    pthread_create(t, NULL, sel_wait_thread, w);
    for (int i = 0; i < 1000 && !sel_waiting(w->sel, e) && !__atomic_load_n(&w->done, __ATOMIC_ACQUIRE); i++)
        sleep_ms(5);
}

static void s_selector(void)
{
    void *e = err_new();
    void *c, *s, *c2, *s2, *sel = NULL;
    if (!pair(&c, &s, e) || !pair(&c2, &s2, e))
        return;
    expect("sag_selector_new", CI("sag_selector_new", A_P(&sel), A_P(e)), ST_OK);
    struct sel_wait w = {sel, 0, {0}, {0}, {0}, 0, 0, 0};
    size_t n = 99;
    /* tags back; a reported socket has left; one entry per socket */
    expect("sag_selector_add", CI("sag_selector_add", A_P(sel), A_P(s), A_L(-1), A_L(INT64_MIN), A_P(e)), ST_OK);
    expect("sag_selector_add", CI("sag_selector_add", A_P(sel), A_P(s), A_L(-1), A_L(5), A_P(e)), ST_OK);
    expect("sag_selector_size", CI("sag_selector_size", A_P(sel), A_P(&n), A_P(e)), ST_OK);
    CHECK(n == 1, "selector: size %zu after adding one socket twice", n);
    send_all(c, "x", 1, e);
    w.timeout = 10000000;
    expect("sag_selector_wait", sel_wait(&w, e), ST_OK);
    CHECK(w.count == 1 && w.socks[0] == s && w.tags[0] == INT64_MIN && w.timed_out[0] == 0,
          "selector: wait gave %zu entries (socket %p, tag %lld, timed out %d)", w.count, w.socks[0],
          (long long)w.tags[0], w.timed_out[0]);
    w.timeout = 0;
    expect("sag_selector_wait", sel_wait(&w, e), ST_OK);
    CHECK(w.count == 0, "selector: a reported socket was reported again");
    /* its own timeout; the other one readable */
    expect("sag_selector_add", CI("sag_selector_add", A_P(sel), A_P(s2), A_L(20000), A_L(2), A_P(e)), ST_OK);
    w.timeout = 10000000;
    expect("sag_selector_wait", sel_wait(&w, e), ST_OK);
    CHECK(w.count == 1 && w.tags[0] == 2 && w.timed_out[0] == 1, "selector: own timeout: %zu entries", w.count);
    /* clear hands back what it held */
    void *cs[2] = {NULL, NULL};
    int64_t ct[2] = {0, 0};
    expect("sag_selector_add", CI("sag_selector_add", A_P(sel), A_P(s2), A_L(-1), A_L(3), A_P(e)), ST_OK);
    expect("sag_selector_clear", CI("sag_selector_clear", A_P(sel), A_P(cs), A_P(ct), A_Z(2), A_P(&n), A_P(e)), ST_OK);
    CHECK(n == 1 && cs[0] == s2 && ct[0] == 3, "selector: clear gave %zu entries", n);
    /* a closed socket leaves unreported */
    expect("sag_selector_add", CI("sag_selector_add", A_P(sel), A_P(s), A_L(-1), A_L(4), A_P(e)), ST_OK);
    expect("sag_socket_close", CI("sag_socket_close", A_P(s), A_P(e)), ST_OK);
    w.timeout = 0;
    expect("sag_selector_wait", sel_wait(&w, e), ST_OK);
    CHECK(w.count == 0, "selector: a closed socket was reported");
    /* write interest (c2 is writable), read and write, a raw descriptor:
       the events reported say which */
    {
        const int R = sym_value("SAG_SELECTOR_READ"), W = sym_value("SAG_SELECTOR_WRITE");
        void *ws[8] = {0};
        int64_t wt[8] = {0};
        int ev[8] = {0};
        size_t wn = 99;
        int pfd[2] = {-1, -1};
        CHECK(pipe(pfd) == 0, "selector: pipe");
        expect("sag_selector_add_events",
               CI("sag_selector_add_events", A_P(sel), A_P(c2), A_I(W), A_L(-1), A_L(11), A_P(e)), ST_OK);
        expect("sag_selector_wait_events", CI("sag_selector_wait_events", A_P(sel), A_L(10000000), A_P(ws),
                                              A_P(wt), A_P(ev), A_Z(8), A_P(&wn), A_P(e)), ST_OK);
        CHECK(wn == 1 && ws[0] == c2 && wt[0] == 11 && ev[0] == W,
              "selector: write interest gave %zu entries (tag %lld, events %d)", wn, (long long)wt[0], ev[0]);
        send_all(c2, "y", 1, e);
        expect("sag_selector_watch_events",
               CI("sag_selector_watch_events", A_P(sel), A_P(s2), A_I(R | W), A_L(12), A_P(e)), ST_OK);
        expect("sag_selector_watch_fd", CI("sag_selector_watch_fd", A_P(sel), A_I(pfd[1]), A_I(W), A_L(13), A_P(e)),
               ST_OK);
        expect("sag_selector_add_fd", CI("sag_selector_add_fd", A_P(sel), A_I(pfd[0]), A_I(R), A_L(20000), A_L(14),
                                         A_P(e)), ST_OK);
        int got12 = 0, got13 = 0, got14 = 0;
        for (int round = 0; round < 200 && !(got12 == (R | W) && got13 && got14); round++) {
            sleep_ms(5); /* the watched ones are always ready: let the 20 ms pass */
            wn = 99;
            expect("sag_selector_wait_events", CI("sag_selector_wait_events", A_P(sel), A_L(1000000), A_P(ws),
                                                  A_P(wt), A_P(ev), A_Z(8), A_P(&wn), A_P(e)), ST_OK);
            for (size_t i = 0; i < wn && i < 8; i++) {
                if (wt[i] == 12) got12 = ev[i];
                if (wt[i] == 13) got13 = ws[i] == NULL && ev[i] == W;
                if (wt[i] == 14) got14 = ws[i] == NULL && ev[i] == sym_value("SAG_SELECTOR_TIMED_OUT");
            }
        }
        CHECK(got12 == (R | W) && got13 && got14, "selector: events %d, raw write %d, raw timeout %d", got12,
              got13, got14);
        expect("sag_selector_unwatch_fd", CI("sag_selector_unwatch_fd", A_P(sel), A_I(pfd[1]), A_P(e)), ST_OK);
        expect("sag_selector_unwatch", CI("sag_selector_unwatch", A_P(sel), A_P(s2), A_P(e)), ST_OK);
        expect("sag_selector_size", CI("sag_selector_size", A_P(sel), A_P(&n), A_P(e)), ST_OK);
        CHECK(n == 0, "selector: size %zu after unwatching", n);
        close(pfd[0]);
        close(pfd[1]);
    }
    /* interrupt from another thread; a second waiter; close from another thread */
    pthread_t t;
    w.timeout = -1;
    w.done = 0;
    sel_block(&w, &t, e);
    struct sel_wait w2 = {sel, 0, {0}, {0}, {0}, 0, 0, 0};
    expect("second waiter", sel_wait(&w2, e), ST_INVALID);
    expect("sag_selector_interrupt", CI("sag_selector_interrupt", A_P(sel), A_P(e)), ST_OK);
    pthread_join(t, NULL);
    CHECK(w.status == ST_OK && w.count == 0, "selector: interrupted wait gave %s, %zu entries",
          status_name(w.status), w.count);
    w.done = 0;
    sel_block(&w, &t, e);
    expect("sag_selector_close", CI("sag_selector_close", A_P(sel), A_P(e)), ST_OK);
    pthread_join(t, NULL);
    expect("wait woken by close", w.status, ST_CLOSED);
    int flag = -1;
    expect("sag_selector_is_closed", CI("sag_selector_is_closed", A_P(sel), A_P(&flag), A_P(e)), ST_OK);
    CHECK(flag == 1, "selector: not closed after close");
    expect("sag_selector_add(closed)", CI("sag_selector_add", A_P(sel), A_P(s2), A_L(-1), A_L(0), A_P(e)), ST_CLOSED);
    expect("sag_selector_free", CI("sag_selector_free", A_P(sel)), ST_OK);
    sock_free(c);
    sock_free(s);
    sock_free(c2);
    sock_free(s2);
    err_free(e);
}

/* ---- socket options ------------------------------------------------------------ */

static void s_options(void)
{
    void *e = err_new();
    void *c, *s;
    if (!pair(&c, &s, e))
        return;
    int v = -1, sol = C("SOL_SOCKET");
    expect("setsockopt SO_KEEPALIVE 1", CI("sag_socket_setsockopt_int", A_P(c), A_I(sol), A_I(C("SO_KEEPALIVE")), A_I(1), A_P(e)),
           ST_OK);
    expect("getsockopt SO_KEEPALIVE", CI("sag_socket_getsockopt_int", A_P(c), A_I(sol), A_I(C("SO_KEEPALIVE")), A_P(&v), A_P(e)),
           ST_OK);
    CHECK(v != 0, "options: SO_KEEPALIVE read back %d after setting 1", v);
    expect("setsockopt SO_KEEPALIVE 0", CI("sag_socket_setsockopt_int", A_P(c), A_I(sol), A_I(C("SO_KEEPALIVE")), A_I(0), A_P(e)),
           ST_OK);
    expect("getsockopt SO_KEEPALIVE", CI("sag_socket_getsockopt_int", A_P(c), A_I(sol), A_I(C("SO_KEEPALIVE")), A_P(&v), A_P(e)),
           ST_OK);
    CHECK(v == 0, "options: SO_KEEPALIVE read back %d after setting 0", v);
    expect("getsockopt TCP_NODELAY",
           CI("sag_socket_getsockopt_int", A_P(c), A_I(C("IPPROTO_TCP")), A_I(C("TCP_NODELAY")), A_P(&v), A_P(e)), ST_OK);
    CHECK(v != 0, "options: a client stream socket has TCP_NODELAY %d", v);
    expect("getsockopt SO_TYPE", CI("sag_socket_getsockopt_int", A_P(c), A_I(sol), A_I(C("SO_TYPE")), A_P(&v), A_P(e)), ST_OK);
    CHECK(v == C("SOCK_STREAM"), "options: SO_TYPE %d", v);
    /* bytes: struct linger { int l_onoff; int l_linger; } */
    int linger[2] = {1, 7}, back[4] = {-1, -1, -1, -1};
    size_t size = 0;
    expect("setsockopt SO_LINGER bytes",
           CI("sag_socket_setsockopt_bytes", A_P(c), A_I(sol), A_I(C("SO_LINGER")), A_P(linger), A_Z(0), A_Z(sizeof linger),
              A_P(e)),
           ST_OK);
    expect("getsockopt SO_LINGER bytes",
           CI("sag_socket_getsockopt_bytes", A_P(c), A_I(sol), A_I(C("SO_LINGER")), A_P(back), A_Z(sizeof(int)),
              A_Z(sizeof linger), A_P(&size), A_P(e)),
           ST_OK);
    CHECK(size == sizeof linger && back[0] == -1 && back[1] != 0 && back[2] == 7 && back[3] == -1,
          "options: SO_LINGER read back size %zu {%d, %d} (guards %d %d)", size, back[1], back[2], back[0], back[3]);
    /* durations */
    int64_t us = -1;
    expect("setsockopt SO_RCVTIMEO duration",
           CI("sag_socket_setsockopt_duration", A_P(c), A_I(sol), A_I(C("SO_RCVTIMEO")), A_L(2000000), A_P(e)), ST_OK);
    expect("getsockopt SO_RCVTIMEO duration",
           CI("sag_socket_getsockopt_duration", A_P(c), A_I(sol), A_I(C("SO_RCVTIMEO")), A_P(&us), A_P(e)), ST_OK);
    CHECK(us == 2000000, "options: SO_RCVTIMEO read back %lld us, set 2000000", (long long)us);
    expect("get-read-timeout", CI("sag_socket_get_read_timeout", A_P(c), A_P(&us), A_P(e)), ST_OK);
    CHECK(us == 2000000, "options: SO_RCVTIMEO sets the read timeout too (%lld)", (long long)us);
    expect("setsockopt SO_SNDTIMEO duration",
           CI("sag_socket_setsockopt_duration", A_P(c), A_I(sol), A_I(C("SO_SNDTIMEO")), A_L(3000000), A_P(e)), ST_OK);
    expect("getsockopt SO_SNDTIMEO duration",
           CI("sag_socket_getsockopt_duration", A_P(c), A_I(sol), A_I(C("SO_SNDTIMEO")), A_P(&us), A_P(e)), ST_OK);
    CHECK(us == 3000000, "options: SO_SNDTIMEO read back %lld us", (long long)us);
    expect("set-read-timeout", CI("sag_socket_set_read_timeout", A_P(c), A_L(250000), A_P(e)), ST_OK);
    expect("get-read-timeout", CI("sag_socket_get_read_timeout", A_P(c), A_P(&us), A_P(e)), ST_OK);
    CHECK(us == 250000, "options: read timeout %lld, set 250000", (long long)us);
    expect("setsockopt_duration SO_KEEPALIVE",
           CI("sag_socket_setsockopt_duration", A_P(c), A_I(sol), A_I(C("SO_KEEPALIVE")), A_L(1), A_P(e)), ST_INVALID);
    expect("setsockopt unknown option",
           CI("sag_socket_setsockopt_int", A_P(c), A_I(sol), A_I(12345), A_I(1), A_P(e)), ST_SOCKET);
    /* non-blocking mode */
    int nb = -1;
    expect("set-nonblocking", CI("sag_socket_set_nonblocking", A_P(c), A_I(1), A_P(e)), ST_OK);
    expect("is-nonblocking", CI("sag_socket_is_nonblocking", A_P(c), A_P(&nb), A_P(e)), ST_OK);
    CHECK(nb == 1, "options: non-blocking %d", nb);
    expect("set-blocking", CI("sag_socket_set_nonblocking", A_P(c), A_I(0), A_P(e)), ST_OK);
    expect("is-nonblocking", CI("sag_socket_is_nonblocking", A_P(c), A_P(&nb), A_P(e)), ST_OK);
    CHECK(nb == 0, "options: blocking %d", nb);
    sock_free(c);
    sock_free(s);
    err_free(e);
}

/* ---- conditions after forced failures ------------------------------------------- */

static void s_conditions(void)
{
    void *e = err_new();
    void *out = NULL;
    int st;
    /* unknown host: "localhost" with a service no port can be */
    st = CI("sag_make_client_socket", A_P("localhost"), A_P("123456789"), A_I(C("AF_INET")), A_I(C("SOCK_STREAM")),
            A_I(0), A_I(0), A_P(&out), A_P(e));
    if (expect("make-client-socket localhost:123456789", st, ST_HOST_NOT_FOUND)) {
        fields_t x = {ST_HOST_NOT_FOUND, ANY_ERRNO, "make-client-socket", "localhost", "123456789", NULL, -1};
        check_fields("unknown host", e, &x);
        CHECK(CI("sag_status_is", A_I(st), A_I(ST_IO)) == 1, "conditions: &host-not-found is not an &i/o");
    } else if (st == ST_OK) {
        sock_free(out);
    }
    /* an address that is not one, numeric only */
    void *hints = NULL, *ai = NULL;
    CALL("sag_make_hint_addrinfo", A_I(C("AF_UNSPEC")), A_I(C("SOCK_STREAM")), A_I(C("AI_NUMERICHOST")), A_I(0),
       A_P(&hints), A_P(e));
    st = CI("sag_get_addrinfo", A_P("300.1.1.1"), A_P(NULL), A_P(hints), A_P(&ai), A_P(e));
    if (expect("get-addrinfo 300.1.1.1", st, ST_HOST_NOT_FOUND)) {
        fields_t x = {ST_HOST_NOT_FOUND, ANY_ERRNO, "get-addrinfo", "300.1.1.1", NULL, NULL, -1};
        check_fields("numeric host 300.1.1.1", e, &x);
    }
    CALL("sag_addrinfo_free", A_P(hints));

    /* operation after close */
    void *c, *s;
    if (pair(&c, &s, e)) {
        unsigned char buf[8];
        size_t n = 0;
        expect("sag_socket_close", CI("sag_socket_close", A_P(c), A_P(e)), ST_OK);
        st = CI("sag_socket_recv", A_P(c), A_P(buf), A_Z(0), A_Z(sizeof buf), A_I(0), A_P(&n), A_P(e));
        if (expect("recv after close", st, ST_CLOSED)) {
            fields_t x = {ST_CLOSED, ANY_ERRNO, "socket-recv", NULL, NULL, c, -1};
            check_fields("recv after close", e, &x);
            CHECK(CI("sag_status_is", A_I(st), A_I(ST_SOCKET)) == 1, "conditions: &socket-closed is not a &socket");
        }
        st = CI("sag_socket_send", A_P(c), A_P(buf), A_Z(0), A_Z(1), A_I(0), A_P(&n), A_P(e));
        if (expect("send after close", st, ST_CLOSED)) {
            fields_t x = {ST_CLOSED, ANY_ERRNO, "socket-send", NULL, NULL, c, -1};
            check_fields("send after close", e, &x);
        }
        /* the socket remembers its last failure */
        void *into = err_new();
        expect("sag_socket_last_error", CI("sag_socket_last_error", A_P(c), A_P(into), A_P(e)), ST_OK);
        CHECK(CI("sag_error_status", A_P(into)) == ST_CLOSED, "conditions: socket-last-error after close is %s",
              status_name(CI("sag_error_status", A_P(into))));
        expect("sag_error_clear", CI("sag_error_clear", A_P(into)), ST_OK);
        CHECK(CI("sag_error_status", A_P(into)) == ST_OK, "conditions: sag_error_clear left a status");
        err_free(into);
        sock_free(c);
        sock_free(s);
    }

    /* read timeout */
    if (pair(&c, &s, e)) {
        unsigned char buf[8];
        size_t n = 0;
        expect("set-read-timeout", CI("sag_socket_set_read_timeout", A_P(c), A_L(100000), A_P(e)), ST_OK);
        st = CI("sag_socket_recv", A_P(c), A_P(buf), A_Z(0), A_Z(sizeof buf), A_I(0), A_P(&n), A_P(e));
        if (expect("recv with a read timeout", st, ST_READ_TIMEOUT)) {
            fields_t x = {ST_READ_TIMEOUT, ANY_ERRNO, "socket-recv", NULL, NULL, c, 100000};
            check_fields("read timeout", e, &x);
            CHECK(CI("sag_status_is", A_I(st), A_I(ST_SOCKET)) == 1 && CI("sag_status_is", A_I(st), A_I(ST_IO)) == 1,
                  "conditions: &socket-read-timeout is not a &socket and an &i/o");
        }
        /* would-block on a non-blocking socket */
        CALL("sag_socket_set_nonblocking", A_P(c), A_I(1), A_P(e));
        st = CI("sag_socket_recv", A_P(c), A_P(buf), A_Z(0), A_Z(sizeof buf), A_I(0), A_P(&n), A_P(e));
        if (expect("non-blocking recv", st, ST_WOULD_BLOCK)) {
            fields_t x = {ST_WOULD_BLOCK, C("EAGAIN"), "socket-recv", NULL, NULL, c, -1};
            check_fields("would block", e, &x);
        }
        sock_free(c);
        sock_free(s);
    }

    /* connection refused: a bound socket that does not listen */
    void *b = NULL, *h2 = NULL, *bind_ai = NULL;
    CALL("sag_make_hint_addrinfo", A_I(C("AF_INET")), A_I(C("SOCK_STREAM")), A_I(C("AI_NUMERICHOST") | C("AI_NUMERICSERV")),
       A_I(0), A_P(&h2), A_P(e));
    CALL("sag_get_addrinfo", A_P("127.0.0.1"), A_P("0"), A_P(h2), A_P(&bind_ai), A_P(e));
    expect("sag_make_socket", CI("sag_make_socket", A_I(C("AF_INET")), A_I(C("SOCK_STREAM")), A_I(0), A_P(&b), A_P(e)),
           ST_OK);
    if (expect("sag_socket_bind", CI("sag_socket_bind", A_P(b), A_P(bind_ai), A_P(e)), ST_OK)) {
        int port = port_of(b, e);
        char svc[16];
        snprintf(svc, sizeof svc, "%d", port);
        void *target = NULL, *x = NULL;
        CALL("sag_get_addrinfo", A_P("127.0.0.1"), A_P(svc), A_P(h2), A_P(&target), A_P(e));
        expect("sag_create_socket", CI("sag_create_socket", A_P(target), A_P(&x), A_P(e)), ST_OK);
        st = CI("sag_socket_connect", A_P(x), A_P(target), A_L(-1), A_P(e));
        if (expect("connect to a port nobody listens on", st, ST_CONNECTION)) {
            fields_t f = {ST_CONNECTION, C("ECONNREFUSED"), "socket-connect!", NULL, NULL, x, -1};
            check_fields("connection refused", e, &f);
        }
        out = NULL;
        st = CI("sag_make_client_socket", A_P("127.0.0.1"), A_P(svc), A_I(C("AF_INET")), A_I(C("SOCK_STREAM")),
                A_I(C("AI_NUMERICHOST") | C("AI_NUMERICSERV")), A_I(0), A_P(&out), A_P(e));
        if (expect("make-client-socket to a port nobody listens on", st, ST_HOST_NOT_FOUND)) {
            fields_t f = {ST_HOST_NOT_FOUND, C("ECONNREFUSED"), "make-client-socket", "127.0.0.1", svc, NULL, -1};
            check_fields("client socket refused", e, &f);
        } else if (st == ST_OK) {
            sock_free(out);
        }
        sock_free(x);
        CALL("sag_addrinfo_free", A_P(target));
    }
    sock_free(b);
    CALL("sag_addrinfo_free", A_P(bind_ai));
    CALL("sag_addrinfo_free", A_P(h2));

    /* interrupted accept, and close while accepting */
    int port = 0;
    void *l = server(C("SOCK_STREAM"), &port, e);
    if (l) {
        expect("interrupted accept", interrupt_blocked("sag_socket_accept", l, e), ST_INTERRUPTED);
        struct blocked bl = {l, "sag_socket_accept", 1, 0};
        pthread_t t;
        pthread_create(&t, NULL, blocked_thread, &bl);
        sleep_ms(50);
        expect("close while accepting", CI("sag_socket_close", A_P(l), A_P(e)), ST_OK);
        pthread_join(t, NULL);
        CHECK(bl.status == ST_INTERRUPTED || bl.status == ST_CLOSED,
              "conditions: accept woken by close returned %s, expected SAG_E_INTERRUPTED (or SAG_E_CLOSED if it had "
              "not started waiting)", status_name(bl.status));
        sock_free(l);
    }

    /* a send to a peer that has gone: no SIGPIPE, an &socket with EPIPE or
       ECONNRESET; with SAG_MSG_NOSIGNAL in flags, SAG_OK and 0 sent */
    if (pair(&c, &s, e)) {
        int linger[2] = {1, 0};
        CALL("sag_socket_setsockopt_bytes", A_P(s), A_I(C("SOL_SOCKET")), A_I(C("SO_LINGER")), A_P(linger), A_Z(0),
             A_Z(sizeof linger), A_P(e));
        expect("sag_socket_close(peer)", CI("sag_socket_close", A_P(s), A_P(e)), ST_OK);
        unsigned char data[64] = {0};
        size_t n = 0;
        st = ST_OK;
        for (int tries = 0; tries < 200 && st == ST_OK; tries++) {
            st = CI("sag_socket_send", A_P(c), A_P(data), A_Z(0), A_Z(sizeof data), A_I(0), A_P(&n), A_P(e));
            if (st == ST_OK)
                sleep_ms(10);
        }
        if (expect("send to a peer that has gone", st, ST_SOCKET)) {
            int en = CI("sag_error_errno", A_P(e));
            CHECK(en == C("EPIPE") || en == C("ECONNRESET"), "conditions: send to a gone peer: errno %d", en);
            fields_t x = {ST_SOCKET, en, "socket-send", NULL, NULL, c, -1};
            check_fields("send to a gone peer", e, &x);
        }
        n = 99;
        st = CI("sag_socket_send", A_P(c), A_P(data), A_Z(0), A_Z(sizeof data), A_I(C("MSG_NOSIGNAL")), A_P(&n), A_P(e));
        expect("send with SAG_MSG_NOSIGNAL to a gone peer", st, ST_OK);
        CHECK(n == 0, "conditions: send with SAG_MSG_NOSIGNAL to a gone peer sent %zu, expected 0", n);
        sock_free(c);
        sock_free(s);
    }

    /* misuse */
    unsigned char buf[4];
    size_t n;
    st = CI("sag_socket_recv", A_P(NULL), A_P(buf), A_Z(0), A_Z(4), A_I(0), A_P(&n), A_P(e));
    if (expect("recv on NULL", st, ST_MISUSE)) {
        fields_t x = {ST_MISUSE, 0, "socket-recv", NULL, NULL, NULL, -1};
        check_fields("misuse", e, &x);
        CHECK(CI("sag_status_is", A_I(st), A_I(ST_INVALID)) == 1, "conditions: &sag-misuse is not an &assertion");
    }
    /* a success leaves the caller's error object as it was */
    int before = CI("sag_error_status", A_P(e));
    int v = 0;
    expect("sag_socket_fd on NULL", CI("sag_socket_fd", A_P(NULL), A_P(&v), A_P(e)), ST_MISUSE);
    void *tmp = NULL;
    expect("sag_fdset_new", CI("sag_fdset_new", A_P(&tmp), A_P(e)), ST_OK);
    CHECK(CI("sag_error_status", A_P(e)) == ST_MISUSE && before == ST_MISUSE,
          "conditions: a successful call changed the caller's error object");
    CALL("sag_fdset_free", A_P(tmp));
    /* a companion library's failure (libsagtls): as given, in both objects */
    if (has_sym("SAG_E_TLS_VERIFY")) {
        int tv = sym_value("SAG_E_TLS_VERIFY");
        expect("sag_error_set", CI("sag_error_set", A_P(e), A_I(tv), A_I(0), A_P("tls-handshake"),
                                   A_P("tls-handshake: certificate has expired"), A_P(NULL)), ST_OK);
        void *last = CALL("sag_last_error").p;
        for (int k = 0; k < 2; k++) {
            void *o = k ? last : e;
            const char *m = CALL("sag_error_message", A_P(o)).p, *op = CALL("sag_error_operation", A_P(o)).p;
            CHECK(CI("sag_error_status", A_P(o)) == tv && m && strcmp(m, "tls-handshake: certificate has expired") == 0 &&
                      op && strcmp(op, "tls-handshake") == 0,
                  "conditions: sag_error_set recorded %d \"%s\" \"%s\"", CI("sag_error_status", A_P(o)),
                  str_or_null(m), str_or_null(op));
        }
        expect("sag_error_set_sent", CI("sag_error_set_sent", A_P(e), A_Z(1234)), ST_OK);
        CHECK(CALL("sag_error_sent", A_P(e)).z == 1234, "conditions: sag_error_set_sent did not set the count");
        expect("sag_error_set(SAG_OK)", CI("sag_error_set", A_P(e), A_I(ST_OK), A_I(0), A_P("x"), A_P("x"), A_P(NULL)),
               ST_INVALID);
        CHECK(CI("sag_error_status", A_P(e)) == tv, "conditions: a refused sag_error_set changed err");
    }
    err_free(e);
}

/* ---- socket ports ------------------------------------------------------------- */

static void *text_port(void *s, int eol, void *e)
{
    void *b = NULL, *t = NULL;
    if (!expect("sag_socket_port", CI("sag_socket_port", A_P(s), A_I(0), A_P(&b), A_P(e)), ST_OK))
        return NULL;
    expect("sag_transcoded_port",
           CI("sag_transcoded_port", A_P(b), A_I(sym_value("SAG_CODEC_UTF8")), A_I(eol),
              A_I(sym_value("SAG_ERROR_MODE_REPLACE")), A_P(&t), A_P(e)),
           ST_OK);
    return t;
}

struct line_server {
    void *s;
    int status;
    int lines;
};

static void *line_thread(void *arg)
{
    struct line_server *ls = arg;
    void *e = err_new();
    void *t = text_port(ls->s, sym_value("SAG_EOL_CRLF"), e);
    ls->status = t ? ST_OK : ST_IO;
    while (t && ls->lines < 100) {
        const char *line = NULL;
        size_t len = 0;
        int st = CI("sag_port_get_line", A_P(t), A_P(&line), A_P(&len), A_P(e));
        if (st != ST_OK) {
            ls->status = st;
            break;
        }
        if (!line)
            break;  /* end of file */
        char *copy = malloc(len + 1);
        memcpy(copy, line, len);
        copy[len] = '\n';
        st = CI("sag_port_put_string", A_P(t), A_P(copy), A_Z(0), A_Z(len + 1), A_P(e));
        free(copy);
        if (st == ST_OK)
            st = CI("sag_port_flush", A_P(t), A_P(e));
        if (st != ST_OK) {
            ls->status = st;
            break;
        }
        ls->lines++;
    }
    if (t) {
        CALL("sag_port_close", A_P(t), A_P(e));
        CALL("sag_port_free", A_P(t));
    }
    expect("sag_socket_close", CI("sag_socket_close", A_P(ls->s), A_P(e)), ST_OK);  /* the client sees end of file */
    err_free(e);
    return NULL;
}

static void s_ports(void)
{
    if (find_fn("sag_socket_port") < 0)
        return;
    void *e = err_new();
    void *c, *s;
    if (!pair(&c, &s, e))
        return;
    struct line_server ls = {s, 1, 0};
    pthread_t th;
    pthread_create(&th, NULL, line_thread, &ls);
    void *t = text_port(c, sym_value("SAG_EOL_CRLF"), e);
    static const char *lines[] = {"h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\xba", "", "second line"};
    for (size_t i = 0; t && i < sizeof lines / sizeof lines[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s\n", lines[i]);
        expect("sag_port_put_string", CI("sag_port_put_string", A_P(t), A_P(buf), A_Z(0), A_Z(strlen(buf)), A_P(e)),
               ST_OK);
        expect("sag_port_flush", CI("sag_port_flush", A_P(t), A_P(e)), ST_OK);
        const char *line = NULL;
        size_t len = 0;
        expect("sag_port_get_line", CI("sag_port_get_line", A_P(t), A_P(&line), A_P(&len), A_P(e)), ST_OK);
        CHECK(line && len == strlen(lines[i]) && memcmp(line, lines[i], len) == 0, "ports: line %zu came back as %.*s",
              i, line ? (int)len : 6, line ? line : "(NULL)");
    }
    if (t) {
        int ready = -1;
        expect("sag_port_ready", CI("sag_port_ready", A_P(t), A_P(&ready), A_P(e)), ST_OK);
        void *ps = NULL;
        expect("sag_port_socket", CI("sag_port_socket", A_P(t), A_P(&ps), A_P(e)), ST_OK);
        CHECK(ps == c, "ports: port-socket %p, expected %p", ps, c);
        expect("sag_port_shutdown", CI("sag_port_shutdown", A_P(t), A_I(C("SHUT_WR")), A_P(e)), ST_OK);
        const char *line = (const char *)1;
        size_t len = 0;
        expect("sag_port_get_line(eof)", CI("sag_port_get_line", A_P(t), A_P(&line), A_P(&len), A_P(e)), ST_OK);
        CHECK(line == NULL, "ports: expected end of file after the server closed");
        expect("sag_port_close", CI("sag_port_close", A_P(t), A_P(e)), ST_OK);
        int32_t ch = 0;
        int st = CI("sag_port_get_char", A_P(t), A_P(&ch), A_P(e));
        if (expect("get-char on a closed port", st, ST_CLOSED)) {
            void *p = CALL("sag_error_port", A_P(e)).p;
            CHECK(p == t, "ports: the failure of a closed port carries port %p, expected %p", p, t);
        }
        CALL("sag_port_free", A_P(t));
    }
    pthread_join(th, NULL);
    expect("line server", ls.status, ST_OK);
    CHECK(ls.lines == 3, "ports: the server echoed %d lines", ls.lines);
    sock_free(c);
    sock_free(s);

    /* binary ports: separate input and output ports */
    if (pair(&c, &s, e)) {
        void *o = NULL, *in = NULL;
        expect("sag_socket_output_port", CI("sag_socket_output_port", A_P(c), A_P(&o), A_P(e)), ST_OK);
        expect("sag_socket_input_port", CI("sag_socket_input_port", A_P(s), A_P(&in), A_P(e)), ST_OK);
        expect("sag_port_put_bytevector", CI("sag_port_put_bytevector", A_P(o), A_P("abc"), A_Z(0), A_Z(3), A_P(e)), ST_OK);
        expect("sag_port_put_u8", CI("sag_port_put_u8", A_P(o), A_I('d'), A_P(e)), ST_OK);
        expect("sag_port_put_bytevector", CI("sag_port_put_bytevector", A_P(o), A_P("ef\ngh"), A_Z(0), A_Z(5), A_P(e)),
               ST_OK);
        expect("sag_port_close(output)", CI("sag_port_close", A_P(o), A_P(e)), ST_OK);
        expect("sag_socket_shutdown", CI("sag_socket_shutdown", A_P(c), A_I(C("SHUT_WR")), A_P(e)), ST_OK);
        unsigned char buf[4];
        size_t n = 0;
        int byte = -5;
        expect("sag_port_get_bytevector_n",
               CI("sag_port_get_bytevector_n", A_P(in), A_P(buf), A_Z(0), A_Z(3), A_P(&n), A_P(e)), ST_OK);
        CHECK(n == 3 && memcmp(buf, "abc", 3) == 0, "ports: get-bytevector-n got %zu", n);
        expect("sag_port_lookahead_u8", CI("sag_port_lookahead_u8", A_P(in), A_P(&byte), A_P(e)), ST_OK);
        CHECK(byte == 'd', "ports: lookahead-u8 %d", byte);
        expect("sag_port_get_u8", CI("sag_port_get_u8", A_P(in), A_P(&byte), A_P(e)), ST_OK);
        CHECK(byte == 'd', "ports: get-u8 %d", byte);
        const uint8_t *data = NULL;
        size_t len = 0;
        expect("sag_port_get_bytes_line", CI("sag_port_get_bytes_line", A_P(in), A_P(&data), A_P(&len), A_P(e)), ST_OK);
        CHECK(data && len == 2 && memcmp(data, "ef", 2) == 0, "ports: binary get-line got %zu bytes", len);
        expect("sag_port_get_bytevector_all", CI("sag_port_get_bytevector_all", A_P(in), A_P(&data), A_P(&len), A_P(e)),
               ST_OK);
        CHECK(data && len == 2 && memcmp(data, "gh", 2) == 0, "ports: get-bytevector-all got %zu bytes", len);
        expect("sag_port_get_u8(eof)", CI("sag_port_get_u8", A_P(in), A_P(&byte), A_P(e)), ST_OK);
        CHECK(byte == -1, "ports: get-u8 at end of file %d", byte);
        CALL("sag_port_free", A_P(o));
        CALL("sag_port_free", A_P(in));
        int closed = -1;
        CALL("sag_socket_is_closed", A_P(s), A_P(&closed), A_P(e));
        CHECK(closed == 0, "ports: closing an input port closed its socket");
        sock_free(c);
        sock_free(s);
    }
    err_free(e);
}

/* ---- running them ---------------------------------------------------------------- */

static volatile sig_atomic_t in_scenario;

static void on_alarm(int sig)
{
    (void)sig;
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "HANG in scenario %s: still running after FFI_DRIVER_SCENARIO_SECONDS\n"
                     "ffi-driver: exercised ? of %d functions; %lu calls; %lu crashes; %lu hangs\n",
                     scenario, nfns, shm->calls, shm->crashes, shm->hangs + 1);
    if (write(2, buf, (size_t)n) < 0) {}
    _exit(3);
}

int scenarios_run(void)
{
    static const struct { const char *name; void (*fn)(void); } list[] = {
        {"version", s_version},   {"constants", s_constants}, {"status tree", s_status_tree},
        {"handle kinds", s_kinds}, {"echo", s_echo},          {"udp", s_udp},
        {"addrinfo", s_addrinfo}, {"select", s_select},       {"selector", s_selector},
        {"options", s_options},   {"conditions", s_conditions}, {"ports", s_ports},
    };
    int limit = 120;
    const char *env = getenv("FFI_DRIVER_SCENARIO_SECONDS");
    if (env && atoi(env) > 0)
        limit = atoi(env);
    /* "No call ... changes signal dispositions": every disposition but the
       driver's own SIGALRM is compared after the scenarios */
    struct sigaction before_sa[NSIG];
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, NULL, &before_sa[sig]);
    signal(SIGALRM, on_alarm);
    unsigned long before_all = shm->unexpected;
    printf("== scenarios (loopback only)\n");
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        unsigned long before = shm->unexpected, calls = shm->calls;
        scenario = list[i].name;
        alarm((unsigned)limit);
        list[i].fn();
        alarm(0);
        printf("   %-4s %-14s %6lu calls\n", shm->unexpected == before ? "ok" : "FAIL", list[i].name,
               shm->calls - calls);
    }
    scenario = "";
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction now;
        if (sig == SIGALRM || sigaction(sig, NULL, &now) != 0)
            continue;
        CHECK(now.sa_handler == before_sa[sig].sa_handler && now.sa_flags == before_sa[sig].sa_flags,
              "scenarios: the disposition of signal %d (%s) changed", sig, strsignal(sig));
    }
    return shm->unexpected != before_all;
}
