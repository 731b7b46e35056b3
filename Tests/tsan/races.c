/* races.c: the library's concurrent paths under ThreadSanitizer.
 *
 * Built with -fsanitize=thread against libsagsocket built with Swift's
 * -sanitize=thread (Tests/tsan/run.sh). Each test drives one kind of race
 * through the C ABI on loopback (127.0.0.1) and checks its outcome too; the
 * script counts ThreadSanitizer's reports. Every wait is bounded (read
 * timeouts, joins with deadlines, alarm(240)).
 *
 *   duplex       one port (binary, then textual) read by one thread and
 *                written by another at once
 *   selector     sockets added from another thread while a wait is blocked
 *   close/interrupt from a third thread during a blocked read, write,
 *                accept, select and selector wait
 *   handles      handles freed while other threads look them up
 *   fast path    port handles freed while other threads read lines from
 *                them and put into them (HandleTable.withLocked: the port's
 *                lock word taken in place of a look-up count)
 *
 * Prints "-- test" per test, one line per failed check, "tests: N", then
 * "N passed, M failed".
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <sagsocket.h>

#include <pthread.h>

#include "../c/check.h"

static int ntests;

static void begin(const char *name) {
    ntests++;
    section(name);
}

/* A connected pair over 127.0.0.1 (and the listening socket, if asked). */
static int make_pair(sag_socket **a, sag_socket **b, sag_socket **listener) {
    sag_socket *srv = NULL;
    char svc[16];
    *a = *b = NULL;
    if (sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &srv, NULL) != SAG_OK)
        return -1;
    snprintf(svc, sizeof svc, "%d", local_port(srv));
    sag_socket_set_read_timeout(srv, 5000000, NULL);
    if (sag_make_client_socket("127.0.0.1", svc, SAG_AF_INET, SAG_SOCK_STREAM,
                               SAG_AI_NUMERICHOST | SAG_AI_NUMERICSERV, 0, a, NULL) != SAG_OK ||
        sag_socket_accept(srv, b, NULL) != SAG_OK) {
        sag_socket_free(*a);
        sag_socket_free(srv);
        return -1;
    }
    if (listener)
        *listener = srv;
    else
        sag_socket_free(srv);
    return 0;
}

static inline uint8_t pat(uint64_t i) { return (uint8_t)(((i + 1) * 2654435761u) >> 13); }

/* ===== duplex: a port read and written at once ========================== */

#define DUPLEX_BYTES (8u << 20)

/* The peer echoes everything back until end of stream. */
static void *echo_main(void *arg) {
    sag_socket *s = arg;
    uint8_t buf[32768];
    for (;;) {
        size_t n = 0, m = 0;
        if (sag_socket_recv(s, buf, 0, sizeof buf, 0, &n, NULL) != SAG_OK || n == 0)
            break;
        if (sag_socket_send(s, buf, 0, n, 0, &m, NULL) != SAG_OK)
            break;
    }
    sag_socket_shutdown(s, SAG_SHUT_WR, NULL);
    return NULL;
}

struct duplex_writer {
    sag_port *p;
    int status;
};

static void *duplex_writer_main(void *arg) {
    struct duplex_writer *w = arg;
    uint8_t chunk[10000];
    size_t off = 0;
    while (w->status == SAG_OK && off < DUPLEX_BYTES) {
        size_t n = DUPLEX_BYTES - off < sizeof chunk ? DUPLEX_BYTES - off : sizeof chunk;
        for (size_t k = 0; k < n; k++)
            chunk[k] = pat(off + k);
        w->status = sag_port_put_bytevector(w->p, chunk, 0, n, NULL);
        off += n;
    }
    if (w->status == SAG_OK)
        w->status = sag_port_flush(w->p, NULL);
    if (w->status == SAG_OK)
        w->status = sag_port_shutdown(w->p, SAG_SHUT_WR, NULL);
    return NULL;
}

static void test_duplex(int buffer_mode) {
    begin(buffer_mode == SAG_BUFFER_NONE ? "duplex port, unbuffered output"
                                         : "duplex port, block-buffered output");
    sag_socket *a, *b;
    if (make_pair(&a, &b, NULL) != 0) {
        CHECK(!"make_pair");
        return;
    }
    sag_socket_set_read_timeout(a, 10000000, NULL);
    sag_socket_set_read_timeout(b, 10000000, NULL);
    sag_port *p = NULL;
    CHECK_ST(sag_socket_port(a, 1, &p, NULL), SAG_OK);
    CHECK_ST(sag_port_set_buffer_mode(p, buffer_mode, NULL), SAG_OK);
    pthread_t et, wt;
    struct duplex_writer w = {.p = p};
    pthread_create(&et, NULL, echo_main, b);
    pthread_create(&wt, NULL, duplex_writer_main, &w);
    uint8_t *buf = malloc(65536);
    size_t got = 0;
    int bad = 0;
    for (;;) {
        size_t n = 0;
        if (sag_port_get_bytevector_some(p, buf, 0, 65536, &n, NULL) != SAG_OK || n == 0)
            break;
        for (size_t k = 0; k < n && !bad; k++)
            bad = buf[k] != pat(got + k);
        got += n;
    }
    CHECK_EQ(join_within(wt, 30000), 0);
    CHECK_EQ(join_within(et, 30000), 0);
    CHECK_EQ(w.status, SAG_OK);
    CHECK_EQ(got, DUPLEX_BYTES);
    CHECK(!bad);
    free(buf);
    sag_port_free(p);
    sag_socket_free(a);
    sag_socket_free(b);
}

/* ===== a textual port read and written at once =========================== */

#define TEXT_LINES 20000

struct text_writer {
    sag_port *t;
    int status;
};

static void *text_writer_main(void *arg) {
    struct text_writer *w = arg;
    char line[64];
    for (int i = 0; i < TEXT_LINES && w->status == SAG_OK; i++) {
        int n = snprintf(line, sizeof line, "line %d \xC3\xA9\xE2\x82\xAC\n", i);
        w->status = sag_port_put_string(w->t, line, 0, (size_t)n, NULL);
    }
    if (w->status == SAG_OK)
        w->status = sag_port_flush(w->t, NULL);
    if (w->status == SAG_OK)
        w->status = sag_port_shutdown(w->t, SAG_SHUT_WR, NULL);
    return NULL;
}

static void test_text_duplex(void) {
    begin("duplex textual port (UTF-8, line buffered): get-line against put-string");
    sag_socket *a, *b;
    if (make_pair(&a, &b, NULL) != 0) {
        CHECK(!"make_pair");
        return;
    }
    sag_socket_set_read_timeout(a, 10000000, NULL);
    sag_socket_set_read_timeout(b, 10000000, NULL);
    sag_port *bin = NULL, *t = NULL;
    CHECK_ST(sag_socket_port(a, 1, &bin, NULL), SAG_OK);
    CHECK_ST(sag_transcoded_port(bin, SAG_CODEC_UTF8, SAG_EOL_CRLF, SAG_ERROR_MODE_RAISE, &t, NULL),
             SAG_OK);
    CHECK_ST(sag_port_set_buffer_mode(t, SAG_BUFFER_LINE, NULL), SAG_OK);
    pthread_t et, wt;
    struct text_writer w = {.t = t};
    pthread_create(&et, NULL, echo_main, b);
    pthread_create(&wt, NULL, text_writer_main, &w);
    int lines = 0, bad = 0;
    for (;;) {
        const char *s = NULL;
        size_t len = 0;
        char want[64];
        if (sag_port_get_line(t, &s, &len, NULL) != SAG_OK || s == NULL)
            break;
        int n = snprintf(want, sizeof want, "line %d \xC3\xA9\xE2\x82\xAC", lines);
        bad += len != (size_t)n || memcmp(s, want, len) != 0;
        lines++;
    }
    CHECK_EQ(join_within(wt, 30000), 0);
    CHECK_EQ(join_within(et, 30000), 0);
    CHECK_EQ(w.status, SAG_OK);
    CHECK_EQ(lines, TEXT_LINES);
    CHECK_EQ(bad, 0);
    sag_port_free(t);
    sag_port_free(bin);
    sag_socket_free(a);
    sag_socket_free(b);
}

/* ===== a selector fed from another thread while it waits ================= */

struct feeder {
    sag_selector *sel;
    sag_socket **socks;
    int n;
};

static void *feeder_main(void *arg) {
    struct feeder *f = arg;
    for (int i = 0; i < f->n; i++) {
        sleep_ms(2);
        sag_selector_add(f->sel, f->socks[i], -1, i, NULL);
    }
    return NULL;
}

static void test_selector_feed(void) {
    begin("selector: sockets added from another thread during waits");
    enum { N = 16 };
    sag_socket *a[N], *b[N];
    for (int i = 0; i < N; i++)
        if (make_pair(&a[i], &b[i], NULL) != 0) {
            CHECK(!"make_pair");
            return;
        }
    sag_selector *sel = NULL;
    CHECK_ST(sag_selector_new(&sel, NULL), SAG_OK);
    size_t sent = 0;
    for (int i = 0; i < N; i++) /* every socket is readable at once */
        sag_socket_send(b[i], (const uint8_t *)"x", 0, 1, 0, &sent, NULL);
    struct feeder f = {.sel = sel, .socks = a, .n = N};
    pthread_t t;
    pthread_create(&t, NULL, feeder_main, &f);
    int seen[N] = {0}, total = 0;
    int64_t deadline = now_us() + 20000000;
    while (total < N && now_us() < deadline) {
        sag_socket *socks[N];
        int64_t tags[N];
        int to[N];
        size_t n = 0;
        if (sag_selector_wait(sel, 1000000, socks, tags, to, N, &n, NULL) != SAG_OK)
            break;
        for (size_t k = 0; k < n; k++)
            if (tags[k] >= 0 && tags[k] < N && socks[k] == a[tags[k]] && !to[k] && !seen[tags[k]]++)
                total++;
    }
    CHECK_EQ(join_within(t, 10000), 0);
    CHECK_EQ(total, N);
    sag_selector_free(sel);
    for (int i = 0; i < N; i++) {
        sag_socket_free(a[i]);
        sag_socket_free(b[i]);
    }
}

/* ===== close and interrupt from a third thread ========================== */

enum op { OP_RECV, OP_SEND, OP_PORT_READ, OP_ACCEPT, OP_SELECT, OP_SELECTOR };

struct blocked {
    enum op op;
    sag_socket *s; /* recv, send, accept, select */
    sag_port *p;   /* port read */
    sag_selector *sel;
    int status;
    atomic_int started, done;
};

static void *blocked_main(void *arg) {
    struct blocked *b = arg;
    sag_error *err = NULL;
    sag_error_new(&err);
    atomic_store(&b->started, 1);
    switch (b->op) {
    case OP_RECV: {
        uint8_t buf[64];
        size_t n = 0;
        b->status = sag_socket_recv(b->s, buf, 0, sizeof buf, 0, &n, err);
        break;
    }
    case OP_SEND: {
        size_t len = 32u << 20, n = 0;
        uint8_t *buf = calloc(1, len);
        b->status = sag_socket_send(b->s, buf, 0, len, 0, &n, err);
        free(buf);
        break;
    }
    case OP_PORT_READ: {
        const uint8_t *data = NULL;
        size_t n = 0;
        b->status = sag_port_get_bytes_line(b->p, &data, &n, err);
        break;
    }
    case OP_ACCEPT: {
        sag_socket *c = NULL;
        b->status = sag_socket_accept(b->s, &c, err);
        sag_socket_free(c);
        break;
    }
    case OP_SELECT: {
        sag_socket *ready[1];
        size_t n = 0;
        b->status = sag_socket_read_select(10000000, &b->s, 1, ready, &n, err);
        break;
    }
    case OP_SELECTOR: {
        sag_socket *socks[4];
        int64_t tags[4];
        int to[4];
        size_t n = 0;
        b->status = sag_selector_wait(b->sel, 10000000, socks, tags, to, 4, &n, err);
        break;
    }
    }
    sag_error_free(err);
    atomic_store(&b->done, 1);
    return NULL;
}

static const char *op_name[] = {"recv", "send", "port get-line", "accept", "read-select",
                                "selector wait"};

/* Starts op in a thread, lets it block, then wakes it from this thread
 * (the third: the peer is the second party) with close (how 1) or
 * interrupt (how 0); expects the given status. */
static void wake_test(enum op op, int how, int expected) {
    char name[100];
    snprintf(name, sizeof name, "%s blocked, %s from a third thread", op_name[op],
             how ? "close" : "interrupt");
    begin(name);
    sag_socket *a, *b, *srv;
    if (make_pair(&a, &b, &srv) != 0) {
        CHECK(!"make_pair");
        return;
    }
    struct blocked bl = {.op = op, .s = a};
    sag_socket *target = a;
    if (op == OP_ACCEPT)
        bl.s = target = srv;
    if (op == OP_PORT_READ)
        CHECK_ST(sag_socket_input_port(a, &bl.p, NULL), SAG_OK);
    if (op == OP_SELECTOR) {
        CHECK_ST(sag_selector_new(&bl.sel, NULL), SAG_OK);
        CHECK_ST(sag_selector_add(bl.sel, a, -1, 7, NULL), SAG_OK);
    }
    sag_socket_set_read_timeout(target, 10000000, NULL);
    pthread_t t;
    pthread_create(&t, NULL, blocked_main, &bl);
    while (!atomic_load(&bl.started))
        sleep_ms(1);
    sleep_ms(op == OP_SEND ? 300 : 100); /* let it block (send: fill the buffers) */
    CHECK(!atomic_load(&bl.done));
    if (how) {
        CHECK_ST(op == OP_SELECTOR ? sag_selector_close(bl.sel, NULL) : sag_socket_close(target, NULL),
                 SAG_OK);
    } else {
        /* An interrupt reaches only a call already waiting; on a loaded
         * machine the thread may not be there yet after the sleep, so the
         * interrupt is repeated (every 50 ms, at most 10 s) until it returns. */
        for (int i = 0; i < 200 && !atomic_load(&bl.done); i++) {
            CHECK_ST(op == OP_SELECTOR ? sag_selector_interrupt(bl.sel, NULL)
                                       : sag_socket_interrupt(target, NULL),
                     SAG_OK);
            sleep_ms(50);
        }
    }
    CHECK_EQ(join_within(t, 10000), 0);
    CHECK_ST(bl.status, expected);
    sag_port_free(bl.p);
    sag_selector_free(bl.sel);
    sag_socket_free(a);
    sag_socket_free(b);
    sag_socket_free(srv);
}

/* ===== free racing look-ups ============================================= */

#define SLOTS 32
static _Atomic(sag_socket *) shared[SLOTS];
static atomic_int stop_lookups;
static atomic_long lookups, odd;

static void *lookup_main(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    while (!atomic_load(&stop_lookups)) {
        sag_socket *s = atomic_load(&shared[rand_r(&seed) % SLOTS]);
        int closed = -1, fd = -1;
        const char *name = NULL;
        int st = sag_socket_is_closed(s, &closed, NULL);
        if (st != SAG_OK && st != SAG_E_MISUSE)
            atomic_fetch_add(&odd, 1);
        st = sag_socket_fd(s, &fd, NULL);
        if (st != SAG_OK && st != SAG_E_MISUSE && st != SAG_E_CLOSED)
            atomic_fetch_add(&odd, 1);
        st = sag_socket_service(s, &name, NULL);
        if (st != SAG_OK && st != SAG_E_MISUSE)
            atomic_fetch_add(&odd, 1);
        int k = sag_handle_kind(s);
        if (k != SAG_KIND_SOCKET && k != SAG_KIND_NONE)
            atomic_fetch_add(&odd, 1);
        atomic_fetch_add(&lookups, 4);
    }
    return NULL;
}

static void *churn_main(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    for (int r = 0; r < 3000; r++) {
        sag_socket *fresh = NULL;
        if (sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &fresh, NULL) != SAG_OK) {
            atomic_fetch_add(&odd, 1);
            continue;
        }
        sag_socket *old = atomic_exchange(&shared[rand_r(&seed) % SLOTS], fresh);
        if (old && (r & 1))
            sag_socket_close(old, NULL); /* close then free, or free at once */
        if (sag_socket_free(old) != SAG_OK)
            atomic_fetch_add(&odd, 1);
    }
    return NULL;
}

static void test_handles(void) {
    begin("handles freed while other threads look them up");
    int h0 = sag_handle_count();
    pthread_t look[3], churn[2];
    for (int i = 0; i < 3; i++)
        pthread_create(&look[i], NULL, lookup_main, (void *)(size_t)(i + 1));
    for (int i = 0; i < 2; i++)
        pthread_create(&churn[i], NULL, churn_main, (void *)(size_t)(i + 50));
    for (int i = 0; i < 2; i++)
        CHECK_EQ(join_within(churn[i], 120000), 0);
    atomic_store(&stop_lookups, 1);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(join_within(look[i], 10000), 0);
    for (int i = 0; i < SLOTS; i++)
        sag_socket_free(atomic_exchange(&shared[i], NULL));
    printf("  %ld look-ups, %ld unexpected answers\n", atomic_load(&lookups),
           atomic_load(&odd));
    CHECK_EQ(atomic_load(&odd), 0);
    CHECK_EQ(sag_handle_count(), h0);
}

/* ===== the ports' fast path against frees ================================= */
enum { FP_SLOTS = 4 };
static _Atomic(sag_port *) fp_ports[FP_SLOTS];
static atomic_int fp_stop, fp_peer_stop;
static atomic_long fp_calls, fp_odd;
static sag_socket *fp_a, *fp_b;

/* Sends lines to fp_a's ports and reads what they put, until told to stop. */
static void *fp_peer(void *arg) {
    (void)arg;
    uint8_t sink[4096];
    while (!atomic_load(&fp_peer_stop)) {
        size_t n;
        sag_socket_send(fp_b, (const uint8_t *)"a line\nanother\n", 0, 15, 0, &n, NULL);
        while (sag_socket_recv(fp_b, sink, 0, sizeof sink, 0, &n, NULL) == SAG_OK && n > 0) {
        }
    }
    return NULL;
}

static void *fp_user(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    while (!atomic_load(&fp_stop)) {
        sag_port *p = atomic_load(&fp_ports[rand_r(&seed) % FP_SLOTS]);
        const uint8_t *data;
        size_t len;
        int st = (rand_r(&seed) & 1) ? sag_port_get_bytes_line(p, &data, &len, NULL)
                                     : sag_port_put_bytevector(p, (const uint8_t *)"0123456789", 0, 10, NULL);
        if (st != SAG_OK && st != SAG_E_MISUSE && st != SAG_E_WOULD_BLOCK && st != SAG_E_CLOSED)
            atomic_fetch_add(&fp_odd, 1);
        atomic_fetch_add(&fp_calls, 1);
    }
    return NULL;
}

static void test_fast_path(void) {
    begin("port handles freed while their fast paths run");
    int h0 = sag_handle_count();
    if (sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &fp_a, &fp_b, NULL) != SAG_OK
        || sag_socket_set_nonblocking(fp_a, 1, NULL) != SAG_OK || sag_socket_set_nonblocking(fp_b, 1, NULL) != SAG_OK) {
        CHECK(0);
        return;
    }
    pthread_t peer, users[3];
    pthread_create(&peer, NULL, fp_peer, NULL);
    for (int i = 0; i < 3; i++)
        pthread_create(&users[i], NULL, fp_user, (void *)(size_t)(i + 300));
    unsigned seed = 9;
    /* Frees while the users run: at least 3000, and until they made 30000
     * calls (bounded). */
    for (int r = 0; r < 3000 || (atomic_load(&fp_calls) < 30000 && r < 200000); r++) {
        sag_port *p = NULL;
        if (sag_socket_port(fp_a, 0, &p, NULL) != SAG_OK || sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, NULL) != SAG_OK) {
            atomic_fetch_add(&fp_odd, 1);
            sag_port_free(p);
            continue;
        }
        sag_port_free(atomic_exchange(&fp_ports[rand_r(&seed) % FP_SLOTS], p));
    }
    atomic_store(&fp_stop, 1);
    for (int i = 0; i < 3; i++) /* (a put may wait for the peer to read) */
        CHECK_EQ(join_within(users[i], 30000), 0);
    atomic_store(&fp_peer_stop, 1);
    CHECK_EQ(join_within(peer, 30000), 0);
    for (int i = 0; i < FP_SLOTS; i++)
        sag_port_free(atomic_exchange(&fp_ports[i], NULL));
    sag_socket_free(fp_a);
    sag_socket_free(fp_b);
    printf("  %ld calls, %ld unexpected answers\n", atomic_load(&fp_calls), atomic_load(&fp_odd));
    CHECK_EQ(atomic_load(&fp_odd), 0);
    CHECK_EQ(sag_handle_count(), h0);
}

int main(void) {
    alarm(240);
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_duplex(SAG_BUFFER_NONE);
    test_duplex(SAG_BUFFER_BLOCK);
    test_text_duplex();
    test_selector_feed();
    for (int how = 0; how < 2; how++) {
        wake_test(OP_RECV, how, how ? SAG_E_CLOSED : SAG_E_INTERRUPTED);
        wake_test(OP_SEND, how, how ? SAG_E_CLOSED : SAG_E_INTERRUPTED);
        wake_test(OP_PORT_READ, how, how ? SAG_E_CLOSED : SAG_E_INTERRUPTED);
        wake_test(OP_ACCEPT, how, SAG_E_INTERRUPTED);
        wake_test(OP_SELECT, how, SAG_E_INTERRUPTED);
        wake_test(OP_SELECTOR, how, how ? SAG_E_CLOSED : SAG_OK);
    }
    test_handles();
    test_fast_path();
    printf("tests: %d\n", ntests);
    summary_and_exit();
}
