/* test_tls.c: libsagtls on loopback, with the certificates Tests/tls/run.sh
 * makes with the openssl CLI in DIR (ca, otherca, server = localhost and
 * 127.0.0.1 by ca, expired, other = localhost by otherca, client by ca).
 *
 *   test_tls DIR self                 our client against our server
 *                                     (SAGTLS_TEST_QUICK set: without the
 *                                     32 and 64 MiB transfers)
 *   test_tls DIR client PORT [ALPN]   our client against a peer (Python's
 *                                     ssl, openssl s_server): 1 MiB echoed
 *   test_tls DIR server [client-cert] our server for one peer: echoes until
 *                                     close_notify, then sends its own
 */
#define _GNU_SOURCE
#include "../c/check.h"

#include <pthread.h>
#include <sagtls.h>
#include <sys/socket.h>

static const char *dir;

static char *path(const char *name) {
    static char buf[8][512];
    static int i;
    char *p = buf[i++ & 7];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static sagtls_config *client_config(const char *ca) {
    sagtls_config *c = NULL;
    CHECK_ST(sagtls_config_new(SAGTLS_CLIENT, &c, NULL), SAG_OK);
    if (ca) CHECK_ST(sagtls_config_add_ca_file(c, path(ca), NULL), SAG_OK);
    return c;
}

static sagtls_config *server_config(const char *leaf) {
    sagtls_config *c = NULL;
    char cert[64], key[64];
    snprintf(cert, sizeof cert, "%s.pem", leaf);
    snprintf(key, sizeof key, "%s.key", leaf);
    CHECK_ST(sagtls_config_new(SAGTLS_SERVER, &c, NULL), SAG_OK);
    CHECK_ST(sagtls_config_use_certificate_files(c, path(cert), path(key), NULL), SAG_OK);
    return c;
}

static sag_socket *connect_tcp(int port) {
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    sag_socket *s = NULL;
    CHECK_ST(sag_make_client_socket("127.0.0.1", service, SAG_AF_INET, SAG_SOCK_STREAM, SAG_AI_NUMERICHOST, 0, &s,
                                    NULL),
             SAG_OK);
    return s;
}

/* Our client over a new connection to port, handshaken; status in *st. */
static sagtls_socket *tls_connect(int port, sagtls_config *c, const char *name, int *st, sag_error *e) {
    sag_socket *s = connect_tcp(port);
    sagtls_socket *t = NULL;
    if (!s) return NULL;
    int r = sagtls_wrap(s, c, name, &t, e);
    if (r != SAG_OK) {
        sag_socket_free(s);
        *st = r;
        return NULL;
    }
    *st = sagtls_handshake(t, e);
    return t;
}

static void fill_pattern(uint8_t *b, size_t n, size_t offset) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)((offset + i) * 131 + ((offset + i) >> 11));
}

/* Receives exactly n bytes; SAG_OK or the failure. */
static int tls_recv_n(sagtls_socket *t, uint8_t *buf, size_t n, sag_error *e) {
    size_t got = 0;
    while (got < n) {
        size_t k = 0;
        int st = sagtls_recv(t, buf, got, n - got, 0, &k, e);
        if (st != SAG_OK) return st;
        if (k == 0) return SAG_E_CLOSED;
        got += k;
    }
    return SAG_OK;
}

/* ===== A server in a thread ============================================ */

typedef struct server {
    sag_socket *listener;
    int port;
    sagtls_config *cfg;
    void (*behave)(struct server *, sagtls_socket *);
    int handshake_status;
    char verdict[256]; /* what the behaviour saw, "" when as expected */
    pthread_t thread;
    int rounds;
    sagtls_socket *last;
} server;

static void *server_main(void *arg) {
    server *sv = arg;
    for (int i = 0; i < sv->rounds; i++) {
        sag_socket *c = NULL;
        if (sag_socket_accept(sv->listener, &c, NULL) != SAG_OK) break;
        sagtls_socket *t = NULL;
        if (sagtls_wrap(c, sv->cfg, NULL, &t, NULL) != SAG_OK) {
            sag_socket_free(c);
            continue;
        }
        sag_socket_set_read_timeout(c, 10 * 1000000, NULL); /* bounded */
        sv->handshake_status = sagtls_handshake(t, NULL);
        if (sv->behave) sv->behave(sv, t);
        sagtls_free(t);
    }
    return NULL;
}

static void server_start(server *sv, sagtls_config *cfg, void (*behave)(server *, sagtls_socket *), int rounds) {
    memset(sv, 0, sizeof *sv);
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &sv->listener, NULL), SAG_OK);
    sv->port = local_port(sv->listener);
    sv->cfg = cfg;
    sv->behave = behave;
    sv->rounds = rounds;
    pthread_create(&sv->thread, NULL, server_main, sv);
}

static void server_stop(server *sv) {
    pthread_join(sv->thread, NULL);
    sag_socket_free(sv->listener);
}

/* Echoes until end of file (close_notify), then closes with its own. */
static void echo(server *sv, sagtls_socket *t) {
    static uint8_t buf[65536];
    for (;;) {
        size_t k = 0, sent = 0;
        int st = sagtls_recv(t, buf, 0, sizeof buf, 0, &k, NULL);
        if (st != SAG_OK) {
            snprintf(sv->verdict, sizeof sv->verdict, "echo: recv %s", sag_status_name(st));
            return;
        }
        if (k == 0) break;
        if ((st = sagtls_send(t, buf, 0, k, 0, &sent, NULL)) != SAG_OK) {
            snprintf(sv->verdict, sizeof sv->verdict, "echo: send %s", sag_status_name(st));
            return;
        }
    }
    sagtls_shutdown(t, NULL);
}

/* ===== Tests ============================================================= */

/* Sends n bytes of the pattern and reads them back, both at once (a writer
 * thread), checking every byte. */
/* The start of a test against a server thread: the server's configuration
 * and the client's (trusting ca.pem), the server doing `behave` once, and
 * the client's TLS socket connected to it, its handshake checked. */
static sagtls_socket *tls_start(server *sv, void (*behave)(server *, sagtls_socket *),
                                sagtls_config **sc, sagtls_config **cc) {
    int st = -99;
    sagtls_socket *t;
    *sc = server_config("server");
    *cc = client_config("ca.pem");
    server_start(sv, *sc, behave, 1);
    t = tls_connect(sv->port, *cc, "localhost", &st, NULL);
    CHECK_ST(st, SAG_OK);
    return t;
}

/* The end of a test against a server thread: the client's TLS socket t
 * freed, the server stopped (joined), both configurations freed. */
static void tls_done(sagtls_socket *t, server *sv, sagtls_config *sc, sagtls_config *cc) {
    sagtls_free(t);
    server_stop(sv);
    sagtls_config_free(sc);
    sagtls_config_free(cc);
}

typedef struct {
    sagtls_socket *t;
    size_t n;
    int status;
} writer;

static void *writer_main(void *arg) {
    writer *w = arg;
    static uint8_t chunk[1 << 20];
    for (size_t off = 0; off < w->n && w->status == SAG_OK; off += sizeof chunk) {
        size_t len = w->n - off < sizeof chunk ? w->n - off : sizeof chunk, sent = 0;
        fill_pattern(chunk, len, off);
        w->status = sagtls_send(w->t, chunk, 0, len, 0, &sent, NULL);
        if (w->status == SAG_OK && sent != len) w->status = SAG_E_IO;
    }
    return NULL;
}

static int echo_round_trip(sagtls_socket *t, size_t n) {
    writer w = {t, n, SAG_OK};
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &w);
    static uint8_t got[1 << 16], want[1 << 16];
    size_t off = 0;
    int ok = 1, st = SAG_OK;
    while (off < n && ok) {
        size_t len = n - off < sizeof got ? n - off : sizeof got;
        st = tls_recv_n(t, got, len, NULL);
        if (st != SAG_OK) {
            ok = 0;
            break;
        }
        fill_pattern(want, len, off);
        if (memcmp(got, want, len) != 0) ok = 0;
        off += len;
    }
    pthread_join(th, NULL);
    CHECK_ST(w.status, SAG_OK);
    CHECK_ST(st, SAG_OK);
    return ok && w.status == SAG_OK;
}

static void test_basic(void) {
    section("handshake, echo, close_notify, accessors");
    sagtls_config *sc, *cc;
    server sv;
    sagtls_socket *t = tls_start(&sv, echo, &sc, &cc);
    const char *v = NULL, *subject = NULL, *alpn = "x";
    CHECK_ST(sagtls_protocol_version(t, &v, NULL), SAG_OK);
    CHECK(v && strcmp(v, "TLSv1.3") == 0);
    CHECK_ST(sagtls_peer_subject(t, &subject, NULL), SAG_OK);
    CHECK(subject && strstr(subject, "CN=localhost") != NULL);
    const uint8_t *der = NULL;
    size_t der_len = 0;
    CHECK_ST(sagtls_peer_certificate(t, &der, &der_len, NULL), SAG_OK);
    CHECK(der && der_len > 100 && der[0] == 0x30); /* a DER SEQUENCE */
    CHECK_ST(sagtls_selected_alpn(t, &alpn, NULL), SAG_OK);
    CHECK(alpn == NULL);
    CHECK(echo_round_trip(t, 1 << 20));
    /* buffered plaintext is counted: send 10 bytes, read 1, 9 pending */
    size_t k = 0, pending = 0;
    uint8_t b[16];
    CHECK_ST(sagtls_send(t, (const uint8_t *)"0123456789", 0, 10, 0, &k, NULL), SAG_OK);
    CHECK_ST(tls_recv_n(t, b, 1, NULL), SAG_OK);
    CHECK_ST(sagtls_pending(t, &pending, NULL), SAG_OK);
    CHECK_EQ(pending, 9);
    CHECK_ST(sagtls_recv(t, b, 0, 4, MSG_PEEK, &k, NULL), SAG_OK);
    CHECK(k == 4 && memcmp(b, "1234", 4) == 0);
    CHECK_ST(tls_recv_n(t, b, 9, NULL), SAG_OK);
    CHECK(memcmp(b, "123456789", 9) == 0);
    /* our close_notify: the server reads end of file and answers with its */
    CHECK_ST(sagtls_shutdown(t, NULL), SAG_OK);
    CHECK_ST(sagtls_recv(t, b, 0, sizeof b, 0, &k, NULL), SAG_OK);
    CHECK_EQ(k, 0);
    int closed = -1;
    CHECK_ST(sagtls_close(t, NULL), SAG_OK);
    CHECK_ST(sagtls_close(t, NULL), SAG_OK);
    CHECK_ST(sagtls_is_closed(t, &closed, NULL), SAG_OK);
    CHECK_EQ(closed, 1);
    CHECK_ST(sagtls_recv(t, b, 0, 1, 0, &k, NULL), SAG_E_CLOSED);
    CHECK_ST(sagtls_free(t), SAG_OK);
    CHECK_ST(sagtls_free(t), SAG_OK);
    server_stop(&sv);
    CHECK(sv.verdict[0] == 0);
    /* bad handles */
    CHECK_ST(sagtls_recv(t, b, 0, 1, 0, &k, NULL), SAG_E_MISUSE);
    CHECK_ST(sagtls_recv(NULL, b, 0, 1, 0, &k, NULL), SAG_E_MISUSE);
    CHECK_ST(sagtls_handshake((sagtls_socket *)cc, NULL), SAG_E_MISUSE);
    CHECK_ST(sagtls_config_set_verify((sagtls_config *)b, 0, NULL), SAG_E_MISUSE);
    CHECK_ST(sagtls_config_set_alpn(cc, (const uint8_t *)"\x05h2", 0, 3, NULL), SAG_E_INVALID);
    CHECK_ST(sagtls_config_set_versions(cc, SAGTLS_TLS1_3, SAGTLS_TLS1_2, NULL), SAG_E_INVALID);
    CHECK_ST(sagtls_config_free(cc), SAG_OK);
    CHECK_ST(sagtls_config_free(sc), SAG_OK);
    CHECK_ST(sagtls_config_free(sc), SAG_OK);
}

/* A client's handshake against server `leaf` with name: the status and the
 * message. */
static int verify_case(const char *leaf, const char *ca, const char *name, int verify, char *msg, size_t size) {
    sagtls_config *sc = server_config(leaf), *cc = client_config(ca);
    if (!verify) sagtls_config_set_verify(cc, 0, NULL);
    server sv;
    server_start(&sv, sc, NULL, 1);
    sag_error *e = NULL;
    sag_error_new(&e);
    int st = -99;
    sagtls_socket *t = tls_connect(sv.port, cc, name, &st, e);
    snprintf(msg, size, "%s", st == SAG_OK ? "" : sag_error_message(e));
    sag_error_free(e);
    tls_done(t, &sv, sc, cc);
    return st;
}

static void test_verification(void) {
    section("verification: by default, failures with their status and reason");
    char msg[512];
    CHECK_ST(verify_case("server", "ca.pem", "localhost", 1, msg, sizeof msg), SAG_OK);
    CHECK_ST(verify_case("server", "ca.pem", "127.0.0.1", 1, msg, sizeof msg), SAG_OK);
    CHECK_ST(verify_case("server", "otherca.pem", "localhost", 1, msg, sizeof msg), SAG_E_TLS_VERIFY);
    CHECK(strstr(msg, "unable to get local issuer certificate") != NULL);
    printf("  wrong CA: %s\n", msg);
    CHECK_ST(verify_case("server", "ca.pem", "example.invalid", 1, msg, sizeof msg), SAG_E_TLS_VERIFY);
    CHECK(strstr(msg, "hostname mismatch") != NULL);
    printf("  wrong host: %s\n", msg);
    CHECK_ST(verify_case("server", "ca.pem", "127.0.0.2", 1, msg, sizeof msg), SAG_E_TLS_VERIFY);
    CHECK(strstr(msg, "IP address mismatch") != NULL);
    CHECK_ST(verify_case("expired", "ca.pem", "localhost", 1, msg, sizeof msg), SAG_E_TLS_VERIFY);
    CHECK(strstr(msg, "certificate has expired") != NULL);
    printf("  expired: %s\n", msg);
    /* no CA added: the system store does not know the test CA */
    CHECK_ST(verify_case("server", NULL, "localhost", 1, msg, sizeof msg), SAG_E_TLS_VERIFY);
    /* SSL_CERT_FILE is honoured (OpenSSL's default paths) */
    setenv("SSL_CERT_FILE", path("ca.pem"), 1);
    CHECK_ST(verify_case("server", NULL, "localhost", 1, msg, sizeof msg), SAG_OK);
    unsetenv("SSL_CERT_FILE");
    /* verification off, explicitly: anything goes */
    CHECK_ST(verify_case("expired", "otherca.pem", "example.invalid", 0, msg, sizeof msg), SAG_OK);
    CHECK(sag_status_is(SAG_E_TLS_VERIFY, SAG_E_TLS) == 1 && sag_status_is(SAG_E_TLS, SAG_E_SOCKET) == 1);
    CHECK(strcmp(sag_status_name(SAG_E_TLS_TRUNCATED), "&tls-truncated") == 0);
    /* a verifying client needs a name */
    sagtls_config *cc = client_config("ca.pem");
    sag_socket *s = NULL;
    sagtls_socket *t = NULL;
    CHECK_ST(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, NULL), SAG_OK);
    CHECK_ST(sagtls_wrap(s, cc, NULL, &t, NULL), SAG_E_INVALID);
    sag_socket_free(s);
    sagtls_config_free(cc);
}

static void test_versions_alpn_client_cert(void) {
    section("TLS 1.2 and 1.3, ALPN, client certificates");
    for (int v = SAGTLS_TLS1_2; v <= SAGTLS_TLS1_3; v++) {
        sagtls_config *sc = server_config("server"), *cc = client_config("ca.pem");
        CHECK_ST(sagtls_config_set_versions(cc, v, v, NULL), SAG_OK);
        CHECK_ST(sagtls_config_set_alpn(sc, (const uint8_t *)"\x08http/1.1\x02h2", 0, 12, NULL), SAG_OK);
        CHECK_ST(sagtls_config_set_alpn(cc, (const uint8_t *)"\x02h2\x08http/1.1", 0, 12, NULL), SAG_OK);
        server sv;
        server_start(&sv, sc, echo, 1);
        int st = -99;
        sagtls_socket *t = tls_connect(sv.port, cc, "localhost", &st, NULL);
        CHECK_ST(st, SAG_OK);
        const char *ver = NULL, *alpn = NULL;
        sagtls_protocol_version(t, &ver, NULL);
        CHECK(ver && strcmp(ver, v == SAGTLS_TLS1_2 ? "TLSv1.2" : "TLSv1.3") == 0);
        sagtls_selected_alpn(t, &alpn, NULL);
        CHECK(alpn && strcmp(alpn, "http/1.1") == 0); /* the server's preference */
        CHECK(echo_round_trip(t, 100000));
        tls_done(t, &sv, sc, cc);
    }
    /* the server requires a client certificate */
    for (int give = 0; give <= 1; give++) {
        sagtls_config *sc = server_config("server"), *cc = client_config("ca.pem");
        CHECK_ST(sagtls_config_add_ca_file(sc, path("ca.pem"), NULL), SAG_OK);
        CHECK_ST(sagtls_config_set_verify(sc, 1, NULL), SAG_OK);
        if (give)
            CHECK_ST(sagtls_config_use_certificate_files(cc, path("client.pem"), path("client.key"), NULL), SAG_OK);
        server sv;
        server_start(&sv, sc, NULL, 1);
        int st = -99;
        sagtls_socket *t = tls_connect(sv.port, cc, "localhost", &st, NULL);
        if (st == SAG_OK) { /* TLS 1.3: the server's verdict comes after the client's handshake */
            uint8_t b[1];
            size_t k;
            st = sagtls_recv(t, b, 0, 1, 0, &k, NULL);
        }
        sagtls_free(t);
        server_stop(&sv);
        if (give) {
            CHECK_ST(sv.handshake_status, SAG_OK);
        } else {
            CHECK_ST(sv.handshake_status, SAG_E_TLS);
            CHECK_ST(st, SAG_E_TLS); /* the server's alert */
        }
        sagtls_config_free(sc);
        sagtls_config_free(cc);
    }
    /* the server sees the client's certificate */
    sagtls_config *sc = server_config("server");
    sagtls_config_add_ca_file(sc, path("ca.pem"), NULL);
    sagtls_config_set_verify(sc, 1, NULL);
    /* key and chain as PEM bytes */
    sagtls_config *cc = client_config(NULL);
    FILE *f;
    static uint8_t capem[8192], cpem[8192], kpem[8192];
    size_t na = 0, nc = 0, nk = 0;
    if ((f = fopen(path("ca.pem"), "rb"))) { na = fread(capem, 1, sizeof capem, f); fclose(f); }
    if ((f = fopen(path("client.pem"), "rb"))) { nc = fread(cpem, 1, sizeof cpem, f); fclose(f); }
    if ((f = fopen(path("client.key"), "rb"))) { nk = fread(kpem, 1, sizeof kpem, f); fclose(f); }
    CHECK_ST(sagtls_config_add_ca_pem(cc, capem, 0, na, NULL), SAG_OK);
    CHECK_ST(sagtls_config_use_certificate_pem(cc, cpem, nc, kpem, nk, NULL), SAG_OK);
    CHECK_ST(sagtls_config_use_certificate_pem(cc, cpem, nc, cpem, nc, NULL), SAG_E_TLS); /* no key */
    CHECK_ST(sagtls_config_add_ca_pem(cc, kpem, 0, 10, NULL), SAG_E_TLS);
    CHECK_ST(sagtls_config_use_certificate_pem(cc, cpem, nc, kpem, nk, NULL), SAG_OK);
    server sv;
    server_start(&sv, sc, NULL, 1);
    sv.behave = NULL;
    int st = -99;
    sag_socket *s = connect_tcp(sv.port);
    sagtls_socket *t = NULL;
    CHECK_ST(sagtls_wrap(s, cc, "localhost", &t, NULL), SAG_OK);
    CHECK_ST(st = sagtls_handshake(t, NULL), SAG_OK);
    tls_done(t, &sv, sc, cc);
    CHECK_ST(sv.handshake_status, SAG_OK);
}

/* The server sends "hello" then ends the TCP stream without close_notify. */
static void truncate_after_hello(server *sv, sagtls_socket *t) {
    (void)sv;
    size_t k;
    sagtls_send(t, (const uint8_t *)"hello", 0, 5, 0, &k, NULL);
    sag_socket *raw = NULL;
    sagtls_socket_raw(t, &raw, NULL);
    sag_socket_shutdown(raw, SHUT_RDWR, NULL);
}

static void test_truncation(void) {
    section("truncation: end of stream without close_notify");
    sagtls_config *sc, *cc;
    server sv;
    sagtls_socket *t = tls_start(&sv, truncate_after_hello, &sc, &cc);
    uint8_t b[16];
    CHECK_ST(tls_recv_n(t, b, 5, NULL), SAG_OK);
    CHECK(memcmp(b, "hello", 5) == 0);
    size_t k = 99;
    sag_error *e = NULL;
    sag_error_new(&e);
    CHECK_ST(sagtls_recv(t, b, 0, sizeof b, 0, &k, e), SAG_E_TLS_TRUNCATED);
    CHECK_EQ(k, 99);
    CHECK(strstr(sag_error_message(e), "close_notify") != NULL);
    CHECK(strcmp(sag_error_operation(e), "tls-socket-recv") == 0);
    sag_error_free(e);
    tls_done(t, &sv, sc, cc);
}

/* ===== Timeouts, interrupts, close from another thread ================== */

typedef struct {
    sag_socket *s;
    sagtls_socket *t;
    atomic_int tid; /* the thread to wake: it blocks in a wait on s */
    int close;
} poker;

static void *poker_main(void *arg) {
    poker *p = arg;
    /* An interrupt reaches only a call already waiting: wait for that (a
     * sleep is not enough on a loaded machine; a lost interrupt hangs). */
    wait_until_polling(&p->tid);
    if (p->close) sagtls_close(p->t, NULL);
    else sag_socket_interrupt(p->s, NULL);
    return NULL;
}

/* A server that accepts and then says nothing until the client goes. */
static void *silent_main(void *arg) {
    sag_socket *l = arg, *c = NULL;
    if (sag_socket_accept(l, &c, NULL) == SAG_OK) {
        uint8_t b[4096];
        size_t k;
        while (sag_socket_recv(c, b, 0, sizeof b, 0, &k, NULL) == SAG_OK && k > 0) {
        }
        sag_socket_free(c);
    }
    return NULL;
}

/* A server that handshakes, then waits for one byte before echoing. */
static void quiet_then_echo(server *sv, sagtls_socket *t) { echo(sv, t); }

static void test_waits(void) {
    section("read timeout, interrupt and close during a handshake and a read");
    sagtls_config *cc = client_config("ca.pem");
    for (int mode = 0; mode < 3; mode++) { /* timeout, interrupt, close */
        sag_socket *l = NULL;
        CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &l, NULL), SAG_OK);
        pthread_t th;
        pthread_create(&th, NULL, silent_main, l);
        sag_socket *s = connect_tcp(local_port(l));
        sagtls_socket *t = NULL;
        CHECK_ST(sagtls_wrap(s, cc, "localhost", &t, NULL), SAG_OK);
        poker p = {s, t, thread_id(), mode == 2};
        pthread_t pt;
        sag_error *e = NULL;
        sag_error_new(&e);
        if (mode == 0) sag_socket_set_read_timeout(s, 100000, NULL);
        else pthread_create(&pt, NULL, poker_main, &p);
        int st = sagtls_handshake(t, e);
        CHECK_ST(st, mode == 0 ? SAG_E_READ_TIMEOUT : mode == 1 ? SAG_E_INTERRUPTED : SAG_E_CLOSED);
        if (mode == 0) CHECK_EQ(sag_error_timeout(e), 100000);
        if (mode != 0) pthread_join(pt, NULL);
        sag_error_free(e);
        sagtls_free(t);
        pthread_join(th, NULL);
        sag_socket_free(l);
    }
    /* during a read; after a timeout or an interrupt the connection goes on */
    sagtls_config *sc = server_config("server");
    server sv;
    server_start(&sv, sc, quiet_then_echo, 1);
    int st = -99;
    sagtls_socket *t = tls_connect(sv.port, cc, "localhost", &st, NULL);
    CHECK_ST(st, SAG_OK);
    sag_socket *s = NULL;
    sagtls_socket_raw(t, &s, NULL);
    uint8_t b[8];
    size_t k;
    sag_error *e = NULL;
    sag_error_new(&e);
    CHECK_ST(sag_socket_set_read_timeout(s, 100000, NULL), SAG_OK);
    CHECK_ST(sagtls_recv(t, b, 0, 1, 0, &k, e), SAG_E_READ_TIMEOUT);
    CHECK_EQ(sag_error_timeout(e), 100000);
    CHECK_ST(sag_socket_set_read_timeout(s, 0, NULL), SAG_OK);
    poker p = {s, t, thread_id(), 0};
    pthread_t pt;
    pthread_create(&pt, NULL, poker_main, &p);
    CHECK_ST(sagtls_recv(t, b, 0, 1, 0, &k, e), SAG_E_INTERRUPTED);
    pthread_join(pt, NULL);
    CHECK_ST(sag_socket_set_nonblocking(s, 1, NULL), SAG_OK);
    CHECK_ST(sagtls_recv(t, b, 0, 1, 0, &k, e), SAG_E_WOULD_BLOCK);
    CHECK_ST(sagtls_recv(t, b, 0, 1, MSG_DONTWAIT, &k, e), SAG_E_WOULD_BLOCK);
    CHECK_ST(sag_socket_set_nonblocking(s, 0, NULL), SAG_OK);
    CHECK(echo_round_trip(t, 70000)); /* still a working connection */
    p.close = 1;
    pthread_create(&pt, NULL, poker_main, &p);
    CHECK_ST(sagtls_recv(t, b, 0, 1, 0, &k, e), SAG_E_CLOSED);
    pthread_join(pt, NULL);
    sag_error_free(e);
    tls_done(t, &sv, sc, cc);
}

/* A send to a peer that does not read, interrupted: the count of plaintext
 * taken, and the stream resumes from there byte for byte. */
typedef struct {
    sagtls_socket *t;
    const uint8_t *buf;
    size_t start, count;
    int status;
} resumer;

static void *resume_main(void *arg) {
    resumer *r = arg;
    size_t sent = 0;
    r->status = sagtls_send(r->t, r->buf, r->start, r->count, 0, &sent, NULL);
    if (r->status == SAG_OK && sent != r->count) r->status = SAG_E_IO;
    return NULL;
}

static void *handshake_main(void *arg) {
    sagtls_handshake(arg, NULL);
    return NULL;
}

static void test_partial_send(void) {
    section("partial send: interrupted, resumed byte for byte");
    sagtls_config *sc = server_config("server"), *cc = client_config("ca.pem");
    sag_socket *l = NULL;
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &l, NULL), SAG_OK);
    sag_socket *s = connect_tcp(local_port(l)), *a = NULL;
    CHECK_ST(sag_socket_accept(l, &a, NULL), SAG_OK);
    sagtls_socket *t = NULL, *u = NULL;
    CHECK_ST(sagtls_wrap(s, cc, "localhost", &t, NULL), SAG_OK);
    CHECK_ST(sagtls_wrap(a, sc, NULL, &u, NULL), SAG_OK);
    pthread_t th;
    pthread_create(&th, NULL, handshake_main, u);
    CHECK_ST(sagtls_handshake(t, NULL), SAG_OK);
    pthread_join(th, NULL);
    size_t n = 32 << 20;
    uint8_t *big = malloc(n), *got = malloc(n);
    fill_pattern(big, n, 0);
    poker p = {s, t, 200, 0};
    pthread_t pt;
    pthread_create(&pt, NULL, poker_main, &p);
    sag_error *e = NULL;
    sag_error_new(&e);
    size_t sent = 0;
    CHECK_ST(sagtls_send(t, big, 0, n, 0, &sent, e), SAG_E_INTERRUPTED);
    pthread_join(pt, NULL);
    size_t part = sag_error_sent(e);
    CHECK(part > 0 && part < n);
    printf("  interrupted after %zu of %zu bytes\n", part, n);
    resumer r = {t, big, part, n - part, SAG_OK};
    pthread_create(&th, NULL, resume_main, &r);
    CHECK_ST(tls_recv_n(u, got, n, NULL), SAG_OK);
    pthread_join(th, NULL);
    CHECK_ST(r.status, SAG_OK);
    CHECK(memcmp(big, got, n) == 0);
    free(big);
    free(got);
    sag_error_free(e);
    sagtls_free(t);
    sagtls_free(u);
    sag_socket_free(l);
    sagtls_config_free(sc);
    sagtls_config_free(cc);
}

/* STARTTLS: a plain exchange, then the same connection upgraded. */
static void test_starttls(void) {
    section("STARTTLS: a plain socket upgraded");
    sagtls_config *sc = server_config("server"), *cc = client_config("ca.pem");
    sag_socket *l = NULL;
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &l, NULL), SAG_OK);
    sag_socket *s = connect_tcp(local_port(l)), *a = NULL;
    CHECK_ST(sag_socket_accept(l, &a, NULL), SAG_OK);
    size_t k;
    uint8_t b[16];
    CHECK_ST(sag_socket_send(s, (const uint8_t *)"STARTTLS\n", 0, 9, 0, &k, NULL), SAG_OK);
    CHECK_EQ(recv_n(a, b, 9, 0), 9);
    CHECK(memcmp(b, "STARTTLS\n", 9) == 0);
    CHECK_ST(sag_socket_send(a, (const uint8_t *)"GO\n", 0, 3, 0, &k, NULL), SAG_OK);
    CHECK_EQ(recv_n(s, b, 3, 0), 3);
    sagtls_socket *t = NULL, *u = NULL;
    CHECK_ST(sagtls_wrap(s, cc, "localhost", &t, NULL), SAG_OK);
    CHECK_ST(sagtls_wrap(a, sc, NULL, &u, NULL), SAG_OK);
    pthread_t th;
    pthread_create(&th, NULL, handshake_main, u);
    CHECK_ST(sagtls_handshake(t, NULL), SAG_OK);
    pthread_join(th, NULL);
    CHECK_ST(sagtls_send(t, (const uint8_t *)"secret", 0, 6, 0, &k, NULL), SAG_OK);
    CHECK_ST(tls_recv_n(u, b, 6, NULL), SAG_OK);
    CHECK(memcmp(b, "secret", 6) == 0);
    sagtls_free(t);
    sagtls_free(u);
    sag_socket_free(l);
    sagtls_config_free(sc);
    sagtls_config_free(cc);
}

/* 64 MiB each way at once, byte for byte. */
static void test_bulk(void) {
    section("64 MiB each way, byte for byte");
    sagtls_config *sc, *cc;
    server sv;
    sagtls_socket *t = tls_start(&sv, echo, &sc, &cc);
    CHECK(echo_round_trip(t, (size_t)64 << 20));
    tls_done(t, &sv, sc, cc);
}

/* ===== Against other peers ============================================== */

/* A client (cc) of the peer at port, its handshake checked: the status;
 * prints its version and the ALPN the peer chose (*sel), after indent. */
static int connect_peer(int port, sagtls_config *cc, const char *indent,
                        sagtls_socket **t, const char **sel) {
    int st = -99;
    const char *v = NULL;
    *t = tls_connect(port, cc, "localhost", &st, NULL);
    CHECK_ST(st, SAG_OK);
    if (st == SAG_OK) {
        sagtls_protocol_version(*t, &v, NULL);
        sagtls_selected_alpn(*t, sel, NULL);
        printf("%s%s, ALPN %s\n", indent, v ? v : "?", *sel ? *sel : "none");
    }
    return st;
}

static int run_client(int port, const char *alpn) {
    sagtls_config *cc = client_config("ca.pem");
    if (alpn) {
        uint8_t wire[64];
        size_t n = strlen(alpn);
        wire[0] = (uint8_t)n;
        memcpy(wire + 1, alpn, n);
        CHECK_ST(sagtls_config_set_alpn(cc, wire, 0, n + 1, NULL), SAG_OK);
    }
    sagtls_socket *t = NULL;
    const char *sel = NULL;
    if (connect_peer(port, cc, "  ", &t, &sel) == SAG_OK) {
        if (alpn) CHECK(sel && strcmp(sel, alpn) == 0);
        CHECK(echo_round_trip(t, 1 << 20));
        CHECK_ST(sagtls_shutdown(t, NULL), SAG_OK);
    }
    sagtls_free(t);
    sagtls_config_free(cc);
    return check_summary();
}

/* One line to a peer that answers one line (openssl s_server -rev). */
static int run_line(int port, const char *line) {
    sagtls_config *cc = client_config("ca.pem");
    CHECK_ST(sagtls_config_set_alpn(cc, (const uint8_t *)"\x02h2", 0, 3, NULL), SAG_OK);
    sagtls_socket *t = NULL;
    const char *sel = NULL;
    if (connect_peer(port, cc, "", &t, &sel) == SAG_OK) {
        CHECK(sel && strcmp(sel, "h2") == 0);
        size_t k;
        char buf[256];
        snprintf(buf, sizeof buf, "%s\n", line);
        CHECK_ST(sagtls_send(t, (const uint8_t *)buf, 0, strlen(buf), 0, &k, NULL), SAG_OK);
        size_t got = 0;
        while (got < sizeof buf - 1 && (got == 0 || buf[got - 1] != '\n')) {
            if (sagtls_recv(t, (uint8_t *)buf, got, 1, 0, &k, NULL) != SAG_OK || k == 0) break;
            got += k;
        }
        buf[got] = 0;
        printf("got: %s", buf);
    }
    sagtls_free(t);
    sagtls_config_free(cc);
    return check_summary();
}

static int run_server(int client_cert) {
    sagtls_config *sc = server_config("server");
    CHECK_ST(sagtls_config_set_alpn(sc, (const uint8_t *)"\x02h2\x08http/1.1", 0, 12, NULL), SAG_OK);
    if (client_cert) {
        CHECK_ST(sagtls_config_add_ca_file(sc, path("ca.pem"), NULL), SAG_OK);
        CHECK_ST(sagtls_config_set_verify(sc, 1, NULL), SAG_OK);
    }
    server sv;
    server_start(&sv, sc, echo, 1);
    printf("%d\n", sv.port);
    fflush(stdout);
    server_stop(&sv);
    CHECK_ST(sv.handshake_status, SAG_OK);
    CHECK(sv.verdict[0] == 0);
    if (sv.verdict[0]) printf("  %s\n", sv.verdict);
    sagtls_config_free(sc);
    return check_summary();
}

int main(int argc, char **argv) {
    /* SAGTLS_TEST_QUICK (the valgrind run): no 32 and 64 MiB transfers */
    int quick = getenv("SAGTLS_TEST_QUICK") != NULL;
    alarm(quick ? 900 : 240);
    if (argc < 3) {
        fprintf(stderr, "usage: test_tls DIR self|client PORT [ALPN]|server [client-cert]\n");
        return 2;
    }
    dir = argv[1];
    if (strcmp(argv[2], "client") == 0 && argc >= 4) return run_client(atoi(argv[3]), argc > 4 ? argv[4] : NULL);
    if (strcmp(argv[2], "line") == 0 && argc >= 5) return run_line(atoi(argv[3]), argv[4]);
    if (strcmp(argv[2], "server") == 0) return run_server(argc > 3);
    (void)sag_last_error(); /* the thread's own error object, counted */
    int before = sag_handle_count();
    test_basic();
    test_verification();
    test_versions_alpn_client_cert();
    test_truncation();
    test_waits();
    if (!quick) test_partial_send();
    test_starttls();
    if (!quick) test_bulk();
    CHECK_EQ(sag_handle_count(), before);
    summary_and_exit();
}
