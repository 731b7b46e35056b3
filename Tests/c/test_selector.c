/* test_selector.c: the socket selector of libsagsocket through its C ABI, on
 * real loopback sockets.
 *
 * Built against the installed header through pkg-config (Tests/c/run_selector.sh).
 * Only 127.0.0.1 and ::1 are used; no name is ever resolved. Everything is
 * bounded by library timeouts, client read timeouts and alarm(300).
 *
 *   1. Sagittarius's own selector scenarios: one client whose server
 *      answers after 1 s, woken by the data; timeout 0 on an empty selector;
 *      a 1 ms wait that expires; 500 concurrent clients echoed through one
 *      selector thread, without per-socket timeouts (all answered, none
 *      timed out) and with the smallest one (1 us: every socket reported
 *      exactly once, in one list or the other); both listeners of
 *      make-server-socket* in one selector.
 *   2. The contract: interrupt and close from another thread wake a blocked
 *      wait; a second waiter gets SAG_E_INVALID (EBUSY); a socket added
 *      during a wait is waited on; a closed socket leaves unreported; adding
 *      twice keeps one entry; tags come back intact; capacity; clear; size;
 *      per-socket timeouts in deadline order; a closed selector answers
 *      SAG_E_CLOSED; bad handles SAG_E_MISUSE.
 *   3. Load: an echo server on one selector thread (the listener is in the
 *      selector too) holding SELECTOR_LOAD_CONNECTIONS connections, each
 *      sending SELECTOR_LOAD_MESSAGES numbered messages from a few client
 *      threads, every byte checked. RLIMIT_NOFILE is raised as far as the
 *      hard limit allows (fewer connections, with a note, when it is too
 *      low). Prints one line:
 *        selector-load: C connections, M messages, L lost, R reordered
 *   3b. Watched sockets (sag_selector_watch, unwatch): reported by every
 *      wait while readable and kept; capacity; unwatch (also during a wait
 *      in another thread); interrupt; clear; closed socket; closed selector.
 *   3c. Interests and raw descriptors (sag_selector_add_events, _watch_events,
 *      _add_fd, _watch_fd, _unwatch_fd, _wait_events): write interest,
 *      read and write, a full send buffer not writable until the peer
 *      reads, pipes, timeouts, what epoll refuses, one entry per descriptor,
 *      bad events, interrupt, a second waiter, a closed selector; a wait
 *      reporting more than one epoll_wait's batch (1,500 pipes), each once.
 *   4. No descriptor left open at the end but eventfds of threads.
 *
 * Environment: SELECTOR_LOAD_CONNECTIONS (default 2000) and
 * SELECTOR_LOAD_MESSAGES (default 100) size the load (valgrind runs a small
 * one); SAG_TEST_NO_TIMING=1 skips the one upper timing bound.
 *
 * Prints one line per failed check, then "N passed, M failed"; exits 1 when
 * M > 0.
 */
#define _GNU_SOURCE
#include <sagsocket.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"

static sag_error *E; /* the main thread's error object */

/* ===== Helpers =========================================================== */

/* A listening socket on 127.0.0.1 (family AF_INET) and its port. */
static sag_socket *listener(int *port) {
    sag_socket *s = NULL;
    if (sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, E) != SAG_OK)
        return NULL;
    *port = local_port(s);
    return s;
}

/* A client connected to 127.0.0.1:port (or ::1 with v6), NULL on failure. */
static sag_socket *connect_to(int port, int v6, sag_error *err) {
    char svc[16];
    sag_socket *c = NULL;
    snprintf(svc, sizeof svc, "%d", port);
    if (sag_make_client_socket(v6 ? "::1" : "127.0.0.1", svc, v6 ? SAG_AF_INET6 : SAG_AF_INET,
                               SAG_SOCK_STREAM, SAG_AI_NUMERICHOST | SAG_AI_NUMERICSERV, 0, &c,
                               err) != SAG_OK)
        return NULL;
    return c;
}

typedef struct {
    sag_socket *srv, *cli, *acc;
    int port;
} pair_t;

static int make_pair(pair_t *p) {
    memset(p, 0, sizeof *p);
    if ((p->srv = listener(&p->port)) == NULL || p->port <= 0)
        return -1;
    if ((p->cli = connect_to(p->port, 0, E)) == NULL)
        return -1;
    return sag_socket_accept(p->srv, &p->acc, E) == SAG_OK ? 0 : -1;
}

static void free_pair(pair_t *p) {
    sag_socket_free(p->acc);
    sag_socket_free(p->cli);
    sag_socket_free(p->srv);
    memset(p, 0, sizeof *p);
}

/* A new selector and a connected pair; 0 on success (else a failed check). */
static int setup(sag_selector **sel, pair_t *p) {
    *sel = NULL;
    CHECK_ST(sag_selector_new(sel, E), SAG_OK);
    if (make_pair(p) != 0 || !*sel) {
        check_fail(__FILE__, __LINE__, "a selector and a connected pair", NULL);
        return -1;
    }
    return 0;
}

static int send_str(sag_socket *s, const char *text) {
    size_t sent = 0;
    return sag_socket_send(s, (const uint8_t *)text, 0, strlen(text), 0, &sent, E);
}

static size_t sel_size(sag_selector *sel) {
    size_t n = 12345;
    CHECK_ST(sag_selector_size(sel, &n, E), SAG_OK);
    return n;
}

static int timing_checked(void) {
    const char *v = getenv("SAG_TEST_NO_TIMING");
    return !(v && strcmp(v, "1") == 0);
}

static long env_long(const char *name, long dflt) {
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    long n = strtol(v, NULL, 10);
    return n > 0 ? n : dflt;
}

/* RLIMIT_NOFILE raised to its hard limit; how many of `wanted` loopback
 * connections fit (both ends in this process), with a note when fewer. */
static int connections_that_fit(int wanted) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return wanted;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    /* two descriptors a connection, and room for the rest of the process */
    long fit = rl.rlim_cur == RLIM_INFINITY ? wanted : ((long)rl.rlim_cur - 100) / 2;
    if (fit < wanted) {
        printf("note: RLIMIT_NOFILE allows %ld descriptors: %ld connections instead of %d\n",
               (long)rl.rlim_cur, fit > 0 ? fit : 0, wanted);
        return fit > 0 ? (int)fit : 0;
    }
    return wanted;
}

/* One wait's results. */
#define CAP 64
typedef struct {
    int status;
    sag_socket *socks[CAP];
    int64_t tags[CAP];
    int timed_out[CAP];
    size_t count;
    int64_t micros; /* how long the call took */
    int64_t ended;  /* when it returned (now_us) */
} waited_t;

static int wait_into(sag_selector *sel, int64_t timeout, size_t cap, waited_t *w, sag_error *err) {
    memset(w, 0, sizeof *w);
    w->count = 12345;
    int64_t t0 = now_us();
    w->status = sag_selector_wait(sel, timeout, w->socks, w->tags, w->timed_out, cap, &w->count, err);
    w->ended = now_us();
    w->micros = w->ended - t0;
    return w->status;
}

/* A wait in another thread. */
typedef struct {
    sag_selector *sel;
    int64_t timeout;
    waited_t w;
    int err_status;  /* the thread's error object's status after a failure */
    int err_errno;
    atomic_int started, done;
    pthread_t th;
} waiter_t;

static void *waiter_main(void *arg) {
    waiter_t *wt = arg;
    sag_error *te = NULL;
    sag_error_new(&te);
    atomic_store(&wt->started, 1);
    if (wait_into(wt->sel, wt->timeout, CAP, &wt->w, te) != SAG_OK) {
        wt->err_status = sag_error_status(te);
        wt->err_errno = sag_error_errno(te);
    }
    sag_error_free(te);
    atomic_store(&wt->done, 1);
    return NULL;
}

static void waiter_start(waiter_t *wt, sag_selector *sel, int64_t timeout) {
    memset(wt, 0, sizeof *wt);
    wt->sel = sel;
    wt->timeout = timeout;
    pthread_create(&wt->th, NULL, waiter_main, wt);
    /* Until the wait is under way (bounded: 10 s). */
    int waiting = 0;
    for (int i = 0; i < 1000 && !waiting && !atomic_load(&wt->done); i++) {
        if (sag_selector_is_waiting(sel, &waiting, E) != SAG_OK)
            break;
        if (!waiting)
            sleep_ms(10);
    }
}

/* Joins the waiter if it finishes within `ms`; 1 when it did. */
static int waiter_join(waiter_t *wt, int ms) {
    for (int i = 0; i < ms / 5 && !atomic_load(&wt->done); i++)
        sleep_ms(5);
    if (!atomic_load(&wt->done))
        return 0;
    pthread_join(wt->th, NULL);
    return 1;
}

/* ===== 1. Sagittarius's scenarios ======================================== */

/* The server of the first scenario: accepts one client, answers "ok" after
 * 1 s and "ok2" after another second, then shuts down and closes. */
static _Atomic int64_t g_ok_sent_at; /* now_us() as late_server sends "ok" */
static void *late_server(void *arg) {
    sag_socket *srv = arg, *c = NULL;
    if (sag_socket_accept(srv, &c, NULL) != SAG_OK)
        return NULL;
    sleep_ms(1000);
    size_t sent;
    atomic_store(&g_ok_sent_at, now_us());
    sag_socket_send(c, (const uint8_t *)"ok", 0, 2, 0, &sent, NULL);
    sleep_ms(1000);
    sag_socket_send(c, (const uint8_t *)"ok2", 0, 3, 0, &sent, NULL);
    sag_socket_shutdown(c, SAG_SHUT_RDWR, NULL);
    sag_socket_free(c);
    return NULL;
}

static void test_sagittarius_basic(void) {
    section("a client whose server answers after 1 s; timeouts 0 and 1 ms");
    int port = 0;
    sag_socket *srv = listener(&port);
    sag_selector *sel = NULL;
    CHECK(srv != NULL && port > 0);
    CHECK_ST(sag_selector_new(&sel, E), SAG_OK);
    if (!srv || !sel)
        return;
    CHECK_EQ(sag_handle_kind(sel), SAG_KIND_SELECTOR);
    pthread_t th;
    pthread_create(&th, NULL, late_server, srv);
    sag_socket *s = connect_to(port, 0, E);
    CHECK(s != NULL);
    CHECK_ST(sag_selector_add(sel, s, -1, 7, E), SAG_OK);

    waiter_t wt;
    waiter_start(&wt, sel, -1);
    CHECK(waiter_join(&wt, 10000));
    CHECK_ST(wt.w.status, SAG_OK);
    CHECK_EQ(wt.w.count, 1);
    CHECK(wt.w.socks[0] == s);
    CHECK_EQ(wt.w.tags[0], 7);
    CHECK_EQ(wt.w.timed_out[0], 0);
    /* woken by the data, not before (the server's second counts from its
     * accept, and on a loaded machine the wait may start late in it) */
    CHECK(atomic_load(&g_ok_sent_at) > 0 && wt.w.ended >= atomic_load(&g_ok_sent_at));
    uint8_t buf[8];
    CHECK_EQ(recv_n(s, buf, 2, E), 2);
    CHECK(memcmp(buf, "ok", 2) == 0);
    CHECK_EQ(sel_size(sel), 0);

    /* Nothing to wait for and timeout 0: two empty lists at once. */
    waited_t w;
    CHECK_ST(wait_into(sel, 0, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 0);

    /* 1 ms expires before "ok2" comes. */
    CHECK_ST(sag_selector_add(sel, s, -1, 8, E), SAG_OK);
    CHECK_ST(wait_into(sel, 1000, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 0);
    CHECK(w.micros >= 1000);
    CHECK_EQ(sel_size(sel), 1);
    /* And a wait without timeout gets it. */
    CHECK_ST(wait_into(sel, -1, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK(w.socks[0] == s);
    CHECK_EQ(w.tags[0], 8);
    CHECK_EQ(w.timed_out[0], 0);
    CHECK_EQ(recv_n(s, buf, 3, E), 3);
    CHECK(memcmp(buf, "ok2", 3) == 0);

    pthread_join(th, NULL);
    CHECK_ST(sag_selector_close(sel, E), SAG_OK);
    CHECK_ST(sag_selector_free(sel), SAG_OK);
    sag_socket_free(s);
    sag_socket_free(srv);
}

/* ---- many clients echoed through one selector thread --------------------- */

#define MAXCLIENTS 500

typedef struct {
    sag_socket *srv;
    sag_selector *sel;
    int64_t timeout;           /* per-socket, at add */
    sag_socket *accepted[MAXCLIENTS];
    atomic_int naccepted;
    atomic_int ready, timedout, echoed_ok, client_failures;
    atomic_int seen[MAXCLIENTS];
    sag_socket *clients[MAXCLIENTS];
    int nclients;
} many_t;

static void *many_acceptor(void *arg) {
    many_t *m = arg;
    sag_error *te = NULL;
    sag_error_new(&te);
    for (;;) {
        sag_socket *c = NULL;
        if (sag_socket_accept(m->srv, &c, te) != SAG_OK)
            break; /* the listener was closed */
        int i = atomic_load(&m->naccepted);
        if (i >= MAXCLIENTS) {
            sag_socket_free(c);
            continue;
        }
        m->accepted[i] = c;
        atomic_store(&m->naccepted, i + 1);
        if (sag_selector_add(m->sel, c, m->timeout, i, te) != SAG_OK)
            atomic_fetch_add(&m->client_failures, 1);
    }
    sag_error_free(te);
    return NULL;
}

static void *many_selector(void *arg) {
    many_t *m = arg;
    sag_error *te = NULL;
    sag_error_new(&te);
    waited_t w;
    while (wait_into(m->sel, -1, CAP, &w, te) == SAG_OK) {
        for (size_t i = 0; i < w.count; i++) {
            int64_t tag = w.tags[i];
            if (tag >= 0 && tag < MAXCLIENTS)
                atomic_fetch_add(&m->seen[tag], 1);
            if (w.timed_out[i]) {
                size_t sent;
                atomic_fetch_add(&m->timedout, 1);
                sag_socket_send(w.socks[i], (const uint8_t *)"", 0, 1, 0, &sent, te); /* one 0 byte */
                sag_socket_shutdown(w.socks[i], SAG_SHUT_RDWR, te);
                sag_socket_close(w.socks[i], te);
            } else {
                uint8_t buf[255];
                size_t got = 0, sent;
                atomic_fetch_add(&m->ready, 1);
                if (sag_socket_recv(w.socks[i], buf, 0, sizeof buf, 0, &got, te) == SAG_OK && got > 0)
                    sag_socket_send(w.socks[i], buf, 0, got, 0, &sent, te);
            }
        }
    }
    /* The loop ends when the selector is closed. */
    if (sag_error_status(te) != SAG_E_CLOSED)
        atomic_fetch_add(&m->client_failures, 1);
    sag_error_free(te);
    return NULL;
}

typedef struct {
    many_t *m;
    int from, to;
} client_range_t;

static void *many_clients(void *arg) {
    client_range_t *r = arg;
    many_t *m = r->m;
    sag_error *te = NULL;
    sag_error_new(&te);
    for (int i = r->from; i < r->to; i++) {
        char msg[32], buf[64];
        int n = snprintf(msg, sizeof msg, "hello %d", i);
        size_t sent = 0, got = 0;
        if (sag_socket_send(m->clients[i], (const uint8_t *)msg, 0, (size_t)n, 0, &sent, te) != SAG_OK)
            continue; /* a timed-out socket may be gone already */
        /* The whole echo, or the 0 byte / end of file of a timed-out one. */
        size_t have = 0;
        while (have < (size_t)n) {
            if (sag_socket_recv(m->clients[i], (uint8_t *)buf, have, sizeof buf - have, 0, &got, te) != SAG_OK ||
                got == 0)
                break;
            have += got;
            if (buf[0] == 0)
                break;
        }
        if (have == (size_t)n && memcmp(buf, msg, (size_t)n) == 0)
            atomic_fetch_add(&m->echoed_ok, 1);
    }
    sag_error_free(te);
    return NULL;
}

/* Sagittarius's selector-test: `count` clients connect first; once all are
 * accepted (and added, with `timeout`), four threads send one message on
 * each and read the answer. */
static void many_through_one(int count, int64_t timeout, many_t *m) {
    int port = 0;
    memset(m, 0, sizeof *m);
    m->timeout = timeout;
    m->srv = listener(&port);
    CHECK_ST(sag_selector_new(&m->sel, E), SAG_OK);
    if (!m->srv || !m->sel)
        return;
    pthread_t acc, selt, cl[4];
    pthread_create(&acc, NULL, many_acceptor, m);
    pthread_create(&selt, NULL, many_selector, m);
    for (int i = 0; i < count; i++) {
        m->clients[i] = connect_to(port, 0, E);
        if (!m->clients[i])
            break;
        sag_socket_set_read_timeout(m->clients[i], 10000000, E);
        m->nclients++;
    }
    CHECK_EQ(m->nclients, count);
    for (int i = 0; i < 1000 && atomic_load(&m->naccepted) < m->nclients; i++)
        sleep_ms(10);
    CHECK_EQ(atomic_load(&m->naccepted), m->nclients);
    client_range_t r[4];
    for (int t = 0; t < 4; t++) {
        r[t] = (client_range_t){m, m->nclients * t / 4, m->nclients * (t + 1) / 4};
        pthread_create(&cl[t], NULL, many_clients, &r[t]);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(cl[t], NULL);
    /* Every socket reported: wait (bounded) until the selector holds none. */
    for (int i = 0; i < 1000 && atomic_load(&m->ready) + atomic_load(&m->timedout) < m->nclients; i++)
        sleep_ms(10);
    CHECK_ST(sag_socket_close(m->srv, E), SAG_OK); /* ends the acceptor */
    pthread_join(acc, NULL);
    CHECK_ST(sag_selector_interrupt(m->sel, E), SAG_OK);
    CHECK_ST(sag_selector_close(m->sel, E), SAG_OK); /* ends the selector thread */
    pthread_join(selt, NULL);
    CHECK_ST(sag_selector_free(m->sel), SAG_OK);
    for (int i = 0; i < m->nclients; i++)
        sag_socket_free(m->clients[i]);
    for (int i = 0; i < atomic_load(&m->naccepted); i++)
        sag_socket_free(m->accepted[i]);
    sag_socket_free(m->srv);
    CHECK_EQ(atomic_load(&m->client_failures), 0);
}

static many_t g_many; /* large: not on the stack */

static void test_sagittarius_many(void) {
    int count = connections_that_fit(MAXCLIENTS);
    section("500 clients through one selector thread, no per-socket timeout");
    many_through_one(count, -1, &g_many);
    printf("  ready %d, echoed %d, timed out %d\n", atomic_load(&g_many.ready), atomic_load(&g_many.echoed_ok),
           atomic_load(&g_many.timedout));
    CHECK_EQ(atomic_load(&g_many.ready), count);
    CHECK_EQ(atomic_load(&g_many.echoed_ok), count);
    CHECK_EQ(atomic_load(&g_many.timedout), 0);
    int once = 0;
    for (int i = 0; i < count; i++)
        once += atomic_load(&g_many.seen[i]) == 1;
    CHECK_EQ(once, count);

    section("500 clients, per-socket timeout 1 us");
    many_through_one(count, 1, &g_many);
    int ready = atomic_load(&g_many.ready), to = atomic_load(&g_many.timedout);
    printf("  ready %d, echoed %d, timed out %d\n", ready, atomic_load(&g_many.echoed_ok), to);
    CHECK_EQ(ready + to, count);
    CHECK(to > 0);
    CHECK_EQ(atomic_load(&g_many.echoed_ok), ready);
    once = 0;
    for (int i = 0; i < count; i++)
        once += atomic_load(&g_many.seen[i]) == 1;
    CHECK_EQ(once, count); /* each exactly once, in one list or the other */
}

/* ---- make-server-socket*: both listeners in one selector ---------------- */

static void *star_server(void *arg) {
    sag_selector *sel = arg;
    sag_error *te = NULL;
    sag_error_new(&te);
    waited_t w;
    size_t left = 1;
    while (left > 0 && wait_into(sel, 10000000, CAP, &w, te) == SAG_OK && w.count > 0) {
        for (size_t i = 0; i < w.count; i++) {
            sag_socket *c = NULL;
            uint8_t buf[255];
            size_t got = 0, sent;
            if (sag_socket_accept(w.socks[i], &c, te) != SAG_OK)
                continue;
            if (sag_socket_recv(c, buf, 0, sizeof buf, 0, &got, te) == SAG_OK)
                sag_socket_send(c, buf, 0, got, 0, &sent, te);
            sag_socket_shutdown(c, SAG_SHUT_RDWR, te);
            sag_socket_free(c);
        }
        sag_selector_size(sel, &left, te);
    }
    sag_error_free(te);
    return NULL;
}

static void test_server_star(void) {
    section("the listeners of make-server-socket* in one selector");
    sag_socket *ls[4] = {NULL};
    size_t n = 0;
    sag_selector *sel = NULL;
    CHECK_ST(sag_make_server_sockets("0", SAG_AF_UNSPEC, SAG_SOCK_STREAM, 0, ls, 4, &n, E), SAG_OK);
    CHECK_ST(sag_selector_new(&sel, E), SAG_OK);
    if (!sel || n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        CHECK_ST(sag_selector_add(sel, ls[i], -1, (int64_t)i, E), SAG_OK);
    CHECK_EQ(sel_size(sel), n);
    pthread_t th;
    pthread_create(&th, NULL, star_server, sel);
    for (size_t i = 0; i < n; i++) {
        sag_socket_info *info = NULL;
        int v6 = 0;
        sag_ip_address *ip = NULL;
        if (sag_socket_get_info(ls[i], &info, E) == SAG_OK && info &&
            sag_socket_info_ip_address(info, &ip, E) == SAG_OK)
            sag_ip_address_is_v6(ip, &v6, E);
        sag_ip_address_free(ip);
        sag_socket_info_free(info);
        sag_socket *c = connect_to(local_port(ls[i]), v6, E);
        CHECK(c != NULL);
        if (!c)
            continue;
        sag_socket_set_read_timeout(c, 10000000, E);
        uint8_t buf[16];
        CHECK_ST(send_str(c, "hello"), SAG_OK);
        CHECK_EQ(recv_n(c, buf, 5, E), 5);
        CHECK(memcmp(buf, "hello", 5) == 0);
        sag_socket_free(c);
    }
    pthread_join(th, NULL);
    CHECK_EQ(sel_size(sel), 0);
    CHECK_ST(sag_selector_free(sel), SAG_OK);
    for (size_t i = 0; i < n; i++)
        sag_socket_free(ls[i]);
}

/* ===== 2. The contract =================================================== */

static void test_wake(void) {
    section("interrupt and close wake a blocked wait; one waiter at a time");
    pair_t p;
    sag_selector *sel;
    if (setup(&sel, &p) != 0)
        return;
    CHECK_ST(sag_selector_add(sel, p.acc, -1, 1, E), SAG_OK);
    int flag = -1;
    CHECK_ST(sag_selector_is_waiting(sel, &flag, E), SAG_OK);
    CHECK_EQ(flag, 0);

    waiter_t wt;
    waiter_start(&wt, sel, -1);
    CHECK_ST(sag_selector_is_waiting(sel, &flag, E), SAG_OK);
    CHECK_EQ(flag, 1);
    sleep_ms(50);
    CHECK(!atomic_load(&wt.done)); /* really blocked */
    /* A second waiter: a clear status at once, not a hang. */
    waited_t w2;
    CHECK_ST(wait_into(sel, -1, CAP, &w2, E), SAG_E_INVALID);
    CHECK_EQ(sag_error_errno(E), EBUSY);
    CHECK_ST(wait_into(sel, 0, CAP, &w2, E), SAG_E_INVALID);
    /* clear! while a thread waits is refused too (as Sagittarius does). */
    size_t n = 99;
    CHECK_ST(sag_selector_clear(sel, w2.socks, w2.tags, CAP, &n, E), SAG_E_INVALID);
    int64_t t0 = now_us();
    CHECK_ST(sag_selector_interrupt(sel, E), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    if (timing_checked())
        CHECK(now_us() - t0 < 2000000); /* at once, generously */
    CHECK_ST(wt.w.status, SAG_OK);
    CHECK_EQ(wt.w.count, 0);
    CHECK_EQ(sel_size(sel), 1); /* still held */
    /* An interrupt with nobody waiting is remembered, as Sagittarius's
     * wake-up datagram stays queued: the next wait, even one with no
     * timeout, looks once and returns. Each such interrupt is consumed by
     * one wait (two interrupts: two waits). */
    for (int times = 1; times <= 2; times++) {
        for (int i = 0; i < times; i++)
            CHECK_ST(sag_selector_interrupt(sel, E), SAG_OK);
        for (int i = 0; i < times; i++) {
            waiter_start(&wt, sel, -1);
            int joined = waiter_join(&wt, 10000);
            CHECK(joined);
            if (!joined) { /* not remembered: end it, then go on */
                sag_selector_interrupt(sel, E);
                waiter_join(&wt, 10000);
            }
            CHECK_ST(wt.w.status, SAG_OK);
            CHECK_EQ(wt.w.count, 0);
        }
        CHECK_EQ(sel_size(sel), 1);
        /* consumed: the wait after them waits its whole timeout */
        waited_t wc;
        CHECK_ST(wait_into(sel, 50000, CAP, &wc, E), SAG_OK);
        CHECK_EQ(wc.count, 0);
        CHECK(wc.micros >= 40000);
    }
    /* A remembered interrupt does not hide what is ready: the wait it ends
     * reports the readable socket. */
    CHECK_ST(send_str(p.cli, "r"), SAG_OK);
    CHECK_ST(sag_selector_interrupt(sel, E), SAG_OK);
    waited_t w;
    {
        uint8_t one[1];
        waiter_start(&wt, sel, -1);
        CHECK(waiter_join(&wt, 10000));
        CHECK_ST(wt.w.status, SAG_OK);
        /* a loopback send is in the peer's queue when it returns */
        CHECK_EQ(wt.w.count, 1);
        CHECK_EQ(recv_n(p.acc, one, 1, E), 1);
        CHECK_ST(sag_selector_add(sel, p.acc, -1, 1, E), SAG_OK);
    }

    /* Close from another thread: the wait returns SAG_E_CLOSED. */
    waiter_start(&wt, sel, -1);
    sleep_ms(50);
    CHECK(!atomic_load(&wt.done));
    CHECK_ST(sag_selector_close(sel, E), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    CHECK_ST(wt.w.status, SAG_E_CLOSED);
    CHECK_EQ(wt.err_status, SAG_E_CLOSED);
    CHECK_ST(sag_selector_is_closed(sel, &flag, E), SAG_OK);
    CHECK_EQ(flag, 1);
    CHECK_ST(sag_selector_is_waiting(sel, &flag, E), SAG_OK);
    CHECK_EQ(flag, 0);
    /* The socket it held is let go, open and usable. */
    CHECK_ST(sag_socket_is_closed(p.acc, &flag, E), SAG_OK);
    CHECK_EQ(flag, 0);
    uint8_t buf[4];
    CHECK_ST(send_str(p.cli, "x"), SAG_OK);
    CHECK_EQ(recv_n(p.acc, buf, 1, E), 1);

    section("a closed selector answers SAG_E_CLOSED");
    CHECK_ST(sag_selector_add(sel, p.acc, -1, 0, E), SAG_E_CLOSED);
    CHECK_ST(wait_into(sel, 0, CAP, &w, E), SAG_E_CLOSED);
    CHECK_ST(sag_selector_interrupt(sel, E), SAG_E_CLOSED);
    CHECK_ST(sag_selector_clear(sel, w.socks, w.tags, CAP, &n, E), SAG_E_CLOSED);
    CHECK_ST(sag_selector_size(sel, &n, E), SAG_E_CLOSED);
    CHECK_EQ(sag_error_status(E), SAG_E_CLOSED);
    CHECK(strlen(sag_error_message(E)) > 0);
    CHECK_ST(sag_selector_close(sel, E), SAG_OK); /* idempotent */
    CHECK_ST(sag_selector_free(sel), SAG_OK);
    CHECK_ST(sag_selector_free(sel), SAG_OK);
    CHECK_EQ(sag_handle_kind(sel), SAG_KIND_NONE);
    free_pair(&p);
}

static void test_add_during_wait(void) {
    section("a socket added during a wait is waited on at once");
    pair_t p;
    sag_selector *sel;
    if (setup(&sel, &p) != 0)
        return;
    /* An empty selector, no timeout: blocked until something is added. */
    waiter_t wt;
    waiter_start(&wt, sel, -1);
    sleep_ms(50);
    CHECK(!atomic_load(&wt.done));
    CHECK_ST(sag_selector_add(sel, p.acc, -1, 42, E), SAG_OK);
    sleep_ms(50);
    CHECK(!atomic_load(&wt.done)); /* added, not readable yet */
    CHECK_ST(send_str(p.cli, "data"), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    CHECK_ST(wt.w.status, SAG_OK);
    CHECK_EQ(wt.w.count, 1);
    CHECK(wt.w.socks[0] == p.acc);
    CHECK_EQ(wt.w.tags[0], 42);
    uint8_t buf[8];
    CHECK_EQ(recv_n(p.acc, buf, 4, E), 4);

    /* With a timeout on an empty selector: a socket added meanwhile counts. */
    waiter_start(&wt, sel, 5000000);
    sleep_ms(50);
    CHECK_ST(sag_selector_add(sel, p.acc, -1, 43, E), SAG_OK);
    CHECK_ST(send_str(p.cli, "more"), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    CHECK_EQ(wt.w.count, 1);
    CHECK_EQ(wt.w.tags[0], 43);
    CHECK_EQ(recv_n(p.acc, buf, 4, E), 4);

    /* A socket added with an earlier deadline than the blocked wait's. */
    waiter_start(&wt, sel, -1);
    sleep_ms(50);
    CHECK_ST(sag_selector_add(sel, p.acc, 100000, 44, E), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    CHECK_ST(wt.w.status, SAG_OK);
    CHECK_EQ(wt.w.count, 1);
    CHECK_EQ(wt.w.tags[0], 44);
    CHECK_EQ(wt.w.timed_out[0], 1);
    CHECK(wt.w.micros >= 100000);
    CHECK_EQ(sel_size(sel), 0);

    CHECK_ST(sag_selector_free(sel), SAG_OK);
    free_pair(&p);
}

static void test_closed_socket_leaves(void) {
    section("a socket closed while held leaves without a report");
    pair_t p;
    sag_selector *sel;
    if (setup(&sel, &p) != 0)
        return;
    /* Closed during a wait: the wait goes on, the socket is gone. */
    CHECK_ST(sag_selector_add(sel, p.acc, -1, 1, E), SAG_OK);
    waiter_t wt;
    waiter_start(&wt, sel, 300000);
    sleep_ms(50);
    CHECK_ST(sag_socket_close(p.acc, E), SAG_OK);
    CHECK_ST(send_str(p.cli, "late"), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    CHECK_ST(wt.w.status, SAG_OK);
    CHECK_EQ(wt.w.count, 0);
    CHECK(wt.w.micros >= 250000); /* not woken early into a report */
    CHECK_EQ(sel_size(sel), 0);
    free_pair(&p);

    /* Closed before the wait, with data pending: still not reported. */
    if (make_pair(&p) != 0) {
        check_fail(__FILE__, __LINE__, "make_pair", NULL);
        return;
    }
    CHECK_ST(send_str(p.cli, "pending"), SAG_OK);
    sleep_ms(20);
    CHECK_ST(sag_selector_add(sel, p.acc, -1, 2, E), SAG_OK);
    CHECK_ST(sag_socket_close(p.acc, E), SAG_OK);
    waited_t w;
    CHECK_ST(wait_into(sel, 0, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 0);
    CHECK_EQ(sel_size(sel), 0);
    /* Freed (closed) while held, then a size: not counted. */
    pair_t q;
    if (make_pair(&q) == 0) {
        CHECK_ST(sag_selector_add(sel, q.acc, -1, 3, E), SAG_OK);
        CHECK_EQ(sel_size(sel), 1);
        CHECK_ST(sag_socket_free(q.acc), SAG_OK);
        q.acc = NULL;
        CHECK_EQ(sel_size(sel), 0);
        free_pair(&q);
    }
    /* A closed socket is not added at all. */
    CHECK_ST(sag_selector_add(sel, p.acc, -1, 4, E), SAG_OK);
    CHECK_EQ(sel_size(sel), 0);
    CHECK_ST(sag_selector_free(sel), SAG_OK);
    free_pair(&p);
}

static void test_entries(void) {
    section("one entry per socket; tags; capacity; clear; deadlines");
    pair_t p[3];
    sag_selector *sel = NULL;
    CHECK_ST(sag_selector_new(&sel, E), SAG_OK);
    for (int i = 0; i < 3; i++)
        if (make_pair(&p[i]) != 0) {
            check_fail(__FILE__, __LINE__, "make_pair", NULL);
            return;
        }
    /* Adding twice keeps one entry, and the first tag. */
    CHECK_ST(sag_selector_add(sel, p[0].acc, -1, 100, E), SAG_OK);
    CHECK_ST(sag_selector_add(sel, p[0].acc, -1, 200, E), SAG_OK);
    CHECK_EQ(sel_size(sel), 1);
    CHECK_ST(send_str(p[0].cli, "a"), SAG_OK);
    waited_t w;
    CHECK_ST(wait_into(sel, 5000000, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK_EQ(w.tags[0], 100);
    CHECK_EQ(sel_size(sel), 0);
    /* Reported sockets left: still readable, but not reported again. */
    CHECK_ST(wait_into(sel, 0, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 0);

    /* Tags come back intact, whole int64_t values. */
    static const int64_t tags[3] = {INT64_MIN, -1, INT64_MAX};
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            CHECK_ST(send_str(p[i].cli, "b"), SAG_OK);
        CHECK_ST(sag_selector_add(sel, p[i].acc, -1, tags[i], E), SAG_OK);
    }
    for (int i = 0; i < 3; i++)
        CHECK(wait_readable(p[i].acc)); /* all three ready */
    /* Capacity 2 of 3 ready: the third stays and the next wait has it. */
    CHECK_ST(wait_into(sel, 5000000, 2, &w, E), SAG_OK);
    CHECK_EQ(w.count, 2);
    CHECK_EQ(sel_size(sel), 1);
    int found[3] = {0, 0, 0};
    size_t first = w.count;
    for (size_t i = 0; i < first; i++)
        for (int k = 0; k < 3; k++)
            if (w.socks[i] == p[k].acc && w.tags[i] == tags[k] && w.timed_out[i] == 0)
                found[k]++;
    CHECK_ST(wait_into(sel, 5000000, 2, &w, E), SAG_OK);
    CHECK_EQ(w.count, 1);
    for (size_t i = 0; i < w.count; i++)
        for (int k = 0; k < 3; k++)
            if (w.socks[i] == p[k].acc && w.tags[i] == tags[k] && w.timed_out[i] == 0)
                found[k]++;
    CHECK(found[0] == 1 && found[1] == 1 && found[2] == 1);
    CHECK_EQ(sel_size(sel), 0);

    /* clear! hands back what it held; what does not fit stays. */
    for (int i = 0; i < 3; i++)
        CHECK_ST(sag_selector_add(sel, p[i].acc, 60000000, 10 + i, E), SAG_OK);
    sag_socket *cs[4];
    int64_t ct[4];
    size_t n = 99;
    CHECK_ST(sag_selector_clear(sel, cs, ct, 2, &n, E), SAG_OK);
    CHECK_EQ(n, 2);
    CHECK_EQ(sel_size(sel), 1);
    CHECK_ST(sag_selector_clear(sel, cs + 2, ct + 2, 2, &n, E), SAG_OK);
    CHECK_EQ(n, 1);
    CHECK_EQ(sel_size(sel), 0);
    int64_t sum = 0;
    for (int i = 0; i < 3; i++) {
        sum += ct[i];
        int match = 0;
        for (int k = 0; k < 3; k++)
            match += cs[i] == p[k].acc && ct[i] == 10 + k;
        CHECK_EQ(match, 1);
    }
    CHECK_EQ(sum, 33);
    CHECK_ST(sag_selector_clear(sel, NULL, NULL, 0, &n, E), SAG_OK);
    CHECK_EQ(n, 0);
    /* Cleared sockets are really gone: readable ones are not reported. */
    CHECK_ST(wait_into(sel, 0, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 0);

    /* Own timeouts: reported in deadline order, with timed_out 1; a socket
       without one stays. Drain the readable data first. */
    uint8_t buf[8];
    for (int i = 0; i < 3; i++) {
        size_t got;
        sag_socket_set_nonblocking(p[i].acc, 1, E);
        while (sag_socket_recv(p[i].acc, buf, 0, sizeof buf, 0, &got, E) == SAG_OK && got > 0) {
        }
        sag_socket_set_nonblocking(p[i].acc, 0, E);
    }
    /* the deadlines count from the adds, before the wait starts; the
     * second is 2 s after the first, so that a loaded machine's delays do
     * not let both pass before the first wait */
    int64_t added_at = now_us();
    CHECK_ST(sag_selector_add(sel, p[0].acc, 2100000, 1, E), SAG_OK);
    CHECK_ST(sag_selector_add(sel, p[1].acc, 100000, 2, E), SAG_OK);
    CHECK_ST(sag_selector_add(sel, p[2].acc, -1, 3, E), SAG_OK);
    CHECK_ST(wait_into(sel, 5000000, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK_EQ(w.tags[0], 2);
    CHECK_EQ(w.timed_out[0], 1);
    CHECK(w.ended - added_at >= 90000);
    CHECK_ST(wait_into(sel, 5000000, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK_EQ(w.tags[0], 1);
    CHECK_EQ(w.timed_out[0], 1);
    CHECK_EQ(sel_size(sel), 1);
    /* A wait shorter than the deadlines ends with nothing. */
    CHECK_ST(sag_selector_add(sel, p[0].acc, 2000000, 5, E), SAG_OK);
    CHECK_ST(wait_into(sel, 20000, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 0);
    /* Timeout 0 at add: timed out at the next wait, even if readable. */
    CHECK_ST(send_str(p[1].cli, "r"), SAG_OK);
    sleep_ms(20);
    CHECK_ST(sag_selector_add(sel, p[1].acc, 0, 6, E), SAG_OK);
    CHECK_ST(wait_into(sel, 0, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK_EQ(w.tags[0], 6);
    CHECK_EQ(w.timed_out[0], 1);
    CHECK_EQ(sel_size(sel), 2);

    CHECK_ST(sag_selector_free(sel), SAG_OK); /* lets the other two go */
    for (int i = 0; i < 3; i++) {
        int closed = -1;
        CHECK_ST(sag_socket_is_closed(p[i].acc, &closed, E), SAG_OK);
        CHECK_EQ(closed, 0);
        free_pair(&p[i]);
    }
}

static void test_misuse(void) {
    section("bad handles and arguments");
    pair_t p;
    sag_selector *sel = NULL, *freed = NULL;
    CHECK_ST(sag_selector_new(&sel, E), SAG_OK);
    CHECK_ST(sag_selector_new(&freed, E), SAG_OK);
    CHECK_ST(sag_selector_free(freed), SAG_OK);
    if (make_pair(&p) != 0) {
        check_fail(__FILE__, __LINE__, "make_pair", NULL);
        return;
    }
    sag_selector *bad[4] = {NULL, freed, (sag_selector *)p.acc, (sag_selector *)(uintptr_t)0x1234};
    waited_t w;
    size_t n;
    int flag;
    for (int i = 0; i < 4; i++) {
        CHECK_ST(sag_selector_add(bad[i], p.acc, -1, 0, E), SAG_E_MISUSE);
        CHECK_ST(wait_into(bad[i], 0, CAP, &w, E), SAG_E_MISUSE);
        CHECK_ST(sag_selector_interrupt(bad[i], E), SAG_E_MISUSE);
        CHECK_ST(sag_selector_clear(bad[i], w.socks, w.tags, CAP, &n, E), SAG_E_MISUSE);
        CHECK_ST(sag_selector_size(bad[i], &n, E), SAG_E_MISUSE);
        CHECK_ST(sag_selector_is_closed(bad[i], &flag, E), SAG_E_MISUSE);
        CHECK_ST(sag_selector_is_waiting(bad[i], &flag, E), SAG_E_MISUSE);
        CHECK_ST(sag_selector_close(bad[i], E), SAG_E_MISUSE);
    }
    CHECK_ST(sag_selector_free(NULL), SAG_OK);
    CHECK_ST(sag_selector_free(freed), SAG_OK);
    CHECK_ST(sag_selector_free((sag_selector *)p.acc), SAG_E_MISUSE);
    CHECK_ST(sag_socket_free((sag_socket *)sel), SAG_E_MISUSE);
    CHECK_ST(sag_selector_add(sel, NULL, -1, 0, E), SAG_E_MISUSE);
    CHECK_ST(sag_selector_add(sel, (sag_socket *)sel, -1, 0, E), SAG_E_MISUSE);
    CHECK_ST(sag_selector_new(NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_wait(sel, 0, w.socks, w.tags, w.timed_out, 0, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_wait(sel, 0, NULL, w.tags, w.timed_out, CAP, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_wait(sel, 0, w.socks, NULL, w.timed_out, CAP, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_wait(sel, 0, w.socks, w.tags, NULL, CAP, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_wait(sel, 0, w.socks, w.tags, w.timed_out, CAP, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_wait(sel, 0, w.socks, w.tags, w.timed_out, SIZE_MAX, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_clear(sel, NULL, w.tags, CAP, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_clear(sel, w.socks, w.tags, SIZE_MAX, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_clear(sel, w.socks, w.tags, CAP, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_size(sel, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_is_closed(sel, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_is_waiting(sel, NULL, E), SAG_E_INVALID);
    /* Out-parameters are written only on success. */
    n = 77;
    CHECK_ST(sag_selector_wait(sel, 0, w.socks, w.tags, w.timed_out, 0, &n, E), SAG_E_INVALID);
    CHECK_EQ(n, 77);
    CHECK_ST(sag_selector_free(sel), SAG_OK);
    free_pair(&p);
}

/* ===== Watched sockets (sag_selector_watch) ============================== */

static void test_watch(void) {
    section("watched sockets stay: reported by every wait while readable");
    pair_t p[2];
    sag_selector *sel = NULL;
    CHECK_ST(sag_selector_new(&sel, E), SAG_OK);
    for (int i = 0; i < 2; i++)
        if (make_pair(&p[i]) != 0) {
            check_fail(__FILE__, __LINE__, "make_pair", NULL);
            return;
        }
    CHECK_ST(sag_selector_watch(sel, p[0].acc, 7, E), SAG_OK);
    CHECK_ST(sag_selector_watch(sel, p[0].acc, 8, E), SAG_OK); /* kept as it was */
    CHECK_EQ(sel_size(sel), 1);
    waited_t w;
    /* Not readable: nothing. */
    CHECK_ST(wait_into(sel, 20000, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 0);
    /* Readable: reported by every wait, the entry stays. */
    CHECK_ST(send_str(p[0].cli, "abc"), SAG_OK);
    for (int round = 0; round < 3; round++) {
        CHECK_ST(wait_into(sel, 5000000, CAP, &w, E), SAG_OK);
        CHECK_EQ(w.count, 1);
        CHECK(w.socks[0] == p[0].acc);
        CHECK_EQ(w.tags[0], 7);
        CHECK_EQ(w.timed_out[0], 0);
        CHECK_EQ(sel_size(sel), 1);
    }
    /* Drained: no longer reported, still held. */
    uint8_t buf[8];
    CHECK_EQ(recv_n(p[0].acc, buf, 3, E), 3);
    CHECK_ST(wait_into(sel, 0, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 0);
    CHECK_EQ(sel_size(sel), 1);
    /* Watched and added side by side; capacity 1 with two ready: the
       watched one, unreported for lack of room, comes in a later wait. */
    CHECK_ST(sag_selector_add(sel, p[1].acc, -1, 9, E), SAG_OK);
    CHECK_ST(sag_selector_watch(sel, p[1].acc, 10, E), SAG_OK); /* held: unchanged */
    CHECK_ST(send_str(p[0].cli, "x"), SAG_OK);
    CHECK_ST(send_str(p[1].cli, "y"), SAG_OK);
    sleep_ms(20);
    int seen7 = 0, seen9 = 0;
    for (int round = 0; round < 3; round++) {
        CHECK_ST(wait_into(sel, 5000000, 1, &w, E), SAG_OK);
        CHECK_EQ(w.count, 1);
        seen7 += w.tags[0] == 7;
        seen9 += w.tags[0] == 9;
    }
    CHECK_EQ(seen9, 1); /* the added one once, then it left */
    CHECK_EQ(seen7, 2);
    CHECK_EQ(sel_size(sel), 1);
    CHECK_EQ(recv_n(p[1].acc, buf, 1, E), 1);

    section("unwatch removes a socket, also during a wait in another thread");
    CHECK_ST(sag_selector_unwatch(sel, p[0].acc, E), SAG_OK);
    CHECK_EQ(sel_size(sel), 0);
    CHECK_ST(sag_selector_unwatch(sel, p[0].acc, E), SAG_OK); /* not held: no-op */
    CHECK_ST(wait_into(sel, 0, CAP, &w, E), SAG_OK);            /* p[0] still readable */
    CHECK_EQ(w.count, 0);
    /* Watch again (the registration is made anew) and it is reported. */
    CHECK_ST(sag_selector_watch(sel, p[0].acc, 11, E), SAG_OK);
    CHECK_ST(wait_into(sel, 5000000, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK_EQ(w.tags[0], 11);
    CHECK_EQ(recv_n(p[0].acc, buf, 1, E), 1);
    /* unwatch of an added (one-shot) entry removes it too. */
    CHECK_ST(sag_selector_add(sel, p[1].acc, -1, 12, E), SAG_OK);
    CHECK_EQ(sel_size(sel), 2);
    CHECK_ST(sag_selector_unwatch(sel, p[1].acc, E), SAG_OK);
    CHECK_EQ(sel_size(sel), 1);
    /* During a blocked wait: unwatched, then the data comes: not reported. */
    waiter_t wt;
    waiter_start(&wt, sel, 300000);
    sleep_ms(50);
    CHECK(!atomic_load(&wt.done));
    CHECK_ST(sag_selector_unwatch(sel, p[0].acc, E), SAG_OK);
    CHECK_ST(send_str(p[0].cli, "z"), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    CHECK_ST(wt.w.status, SAG_OK);
    CHECK_EQ(wt.w.count, 0);
    CHECK_EQ(sel_size(sel), 0);
    CHECK_EQ(recv_n(p[0].acc, buf, 1, E), 1);
    /* Watched during a blocked wait: waited on at once. */
    waiter_start(&wt, sel, -1);
    sleep_ms(50);
    CHECK_ST(sag_selector_watch(sel, p[0].acc, 13, E), SAG_OK);
    sleep_ms(20);
    CHECK(!atomic_load(&wt.done));
    CHECK_ST(send_str(p[0].cli, "w"), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    CHECK_ST(wt.w.status, SAG_OK);
    CHECK_EQ(wt.w.count, 1);
    CHECK_EQ(wt.w.tags[0], 13);
    CHECK_EQ(sel_size(sel), 1);

    section("watched: interrupt, clear, closed socket, closed selector");
    /* Interrupt wakes a wait on a watched, not readable socket. */
    CHECK_EQ(recv_n(p[0].acc, buf, 1, E), 1);
    waiter_start(&wt, sel, -1);
    sleep_ms(50);
    CHECK(!atomic_load(&wt.done));
    CHECK_ST(sag_selector_interrupt(sel, E), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    CHECK_ST(wt.w.status, SAG_OK);
    CHECK_EQ(wt.w.count, 0);
    CHECK_EQ(sel_size(sel), 1);
    /* clear hands a watched socket back, and it is gone. */
    sag_socket *cs[2];
    int64_t ct[2];
    size_t n = 99;
    CHECK_ST(sag_selector_clear(sel, cs, ct, 2, &n, E), SAG_OK);
    CHECK_EQ(n, 1);
    CHECK(cs[0] == p[0].acc);
    CHECK_EQ(ct[0], 13);
    CHECK_ST(send_str(p[0].cli, "v"), SAG_OK);
    sleep_ms(20);
    CHECK_ST(wait_into(sel, 0, CAP, &w, E), SAG_OK);
    CHECK_EQ(w.count, 0);
    CHECK_EQ(recv_n(p[0].acc, buf, 1, E), 1);
    /* A watched socket closed during a wait leaves unreported. */
    CHECK_ST(sag_selector_watch(sel, p[1].acc, 14, E), SAG_OK);
    waiter_start(&wt, sel, 300000);
    sleep_ms(50);
    CHECK_ST(sag_socket_close(p[1].acc, E), SAG_OK);
    CHECK_ST(send_str(p[1].cli, "late"), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    CHECK_ST(wt.w.status, SAG_OK);
    CHECK_EQ(wt.w.count, 0);
    CHECK_EQ(sel_size(sel), 0);
    /* Closed while readable and watched, before a wait: not reported. */
    pair_t q;
    if (make_pair(&q) == 0) {
        CHECK_ST(sag_selector_watch(sel, q.acc, 15, E), SAG_OK);
        CHECK_ST(send_str(q.cli, "pending"), SAG_OK);
        sleep_ms(20);
        CHECK_ST(sag_socket_close(q.acc, E), SAG_OK);
        CHECK_ST(wait_into(sel, 0, CAP, &w, E), SAG_OK);
        CHECK_EQ(w.count, 0);
        CHECK_EQ(sel_size(sel), 0);
        free_pair(&q);
    }
    /* A closed socket is not watched; unwatch of it is a no-op. */
    CHECK_ST(sag_selector_watch(sel, p[1].acc, 16, E), SAG_OK);
    CHECK_EQ(sel_size(sel), 0);
    CHECK_ST(sag_selector_unwatch(sel, p[1].acc, E), SAG_OK);
    /* Close from another thread wakes a wait on a watched socket; the
       socket is let go, open. */
    CHECK_ST(sag_selector_watch(sel, p[0].acc, 17, E), SAG_OK);
    waiter_start(&wt, sel, -1);
    sleep_ms(50);
    CHECK(!atomic_load(&wt.done));
    CHECK_ST(sag_selector_close(sel, E), SAG_OK);
    CHECK(waiter_join(&wt, 10000));
    CHECK_ST(wt.w.status, SAG_E_CLOSED);
    int flag = -1;
    CHECK_ST(sag_socket_is_closed(p[0].acc, &flag, E), SAG_OK);
    CHECK_EQ(flag, 0);
    CHECK_ST(sag_selector_watch(sel, p[0].acc, 18, E), SAG_E_CLOSED);
    CHECK_ST(sag_selector_unwatch(sel, p[0].acc, E), SAG_E_CLOSED);
    CHECK_ST(sag_selector_free(sel), SAG_OK);
    /* Bad handles. */
    CHECK_ST(sag_selector_watch(sel, p[0].acc, 0, E), SAG_E_MISUSE); /* freed */
    CHECK_ST(sag_selector_unwatch(sel, p[0].acc, E), SAG_E_MISUSE);
    CHECK_ST(sag_selector_watch(NULL, p[0].acc, 0, E), SAG_E_MISUSE);
    CHECK_ST(sag_selector_unwatch((sag_selector *)p[0].acc, p[0].acc, E), SAG_E_MISUSE);
    sag_selector *sel2 = NULL;
    CHECK_ST(sag_selector_new(&sel2, E), SAG_OK);
    CHECK_ST(sag_selector_watch(sel2, NULL, 0, E), SAG_E_MISUSE);
    CHECK_ST(sag_selector_unwatch(sel2, (sag_socket *)sel2, E), SAG_E_MISUSE);
    CHECK_ST(sag_selector_free(sel2), SAG_OK);
    for (int i = 0; i < 2; i++)
        free_pair(&p[i]);
}

/* ===== Interests and raw descriptors (sag_selector_*_events, *_fd) ======== */

/* One wait_events's results. */
typedef struct {
    sag_socket *socks[CAP];
    int64_t tags[CAP];
    int events[CAP];
    size_t count;
} evwaited_t;

static int wait_events_into(sag_selector *sel, int64_t timeout, size_t cap, evwaited_t *w) {
    memset(w, 0, sizeof *w);
    w->count = 12345;
    return sag_selector_wait_events(sel, timeout, w->socks, w->tags, w->events, cap, &w->count, E);
}

/* The events reported for `tag` by one wait, -1 when it was not reported. */
static int events_of(const evwaited_t *w, int64_t tag) {
    for (size_t i = 0; i < w->count && i < CAP; i++)
        if (w->tags[i] == tag)
            return w->events[i];
    return -1;
}

/* Sends to s without waiting until the kernel has no room; bytes sent. */
static size_t fill_send_buffer(sag_socket *s) {
    static uint8_t chunk[65536];
    size_t total = 0;
    for (int i = 0; i < 4096; i++) {
        size_t sent = 0;
        int st = sag_socket_send(s, chunk, 0, sizeof chunk, SAG_MSG_DONTWAIT, &sent, E);
        total += sent;
        if (st != SAG_OK || sent == 0)
            break;
    }
    return total;
}

static void test_events(void) {
    const int R = SAG_SELECTOR_READ, W = SAG_SELECTOR_WRITE, T = SAG_SELECTOR_TIMED_OUT;
    section("write interest: a connected socket is writable, reported once (add_events)");
    sag_selector *sel = NULL;
    pair_t p;
    if (setup(&sel, &p) != 0)
        return;
    evwaited_t w;
    CHECK_ST(sag_selector_add_events(sel, p.cli, W, -1, 21, E), SAG_OK);
    CHECK_ST(sag_selector_add_events(sel, p.cli, R, -1, 22, E), SAG_OK); /* held: kept as it was */
    CHECK_EQ(sel_size(sel), 1);
    CHECK_ST(wait_events_into(sel, 5000000, CAP, &w), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK(w.socks[0] == p.cli);
    CHECK_EQ(w.tags[0], 21);
    CHECK_EQ(w.events[0], W);
    CHECK_EQ(sel_size(sel), 0); /* one-shot: it left */
    /* Its own timeout: not readable within 20 ms, reported timed out. */
    CHECK_ST(sag_selector_add_events(sel, p.acc, R, 20000, 23, E), SAG_OK);
    CHECK_ST(wait_events_into(sel, 5000000, CAP, &w), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK_EQ(events_of(&w, 23), T);
    /* The old wait reports a write-ready entry with timed_out 0. */
    waited_t ow;
    CHECK_ST(sag_selector_add_events(sel, p.cli, W, 5000000, 24, E), SAG_OK);
    CHECK_ST(wait_into(sel, 5000000, CAP, &ow, E), SAG_OK);
    CHECK_EQ(ow.count, 1);
    CHECK(ow.socks[0] == p.cli);
    CHECK_EQ(ow.timed_out[0], 0);

    section("read and write: watched, the events follow the socket's state");
    CHECK_ST(sag_selector_watch_events(sel, p.acc, R | W, 25, E), SAG_OK);
    CHECK_ST(wait_events_into(sel, 5000000, CAP, &w), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK(w.socks[0] == p.acc);
    CHECK_EQ(w.events[0], W); /* nothing to read yet */
    CHECK_ST(send_str(p.cli, "hello"), SAG_OK);
    CHECK(wait_readable(p.acc)); /* else the wait may see W alone */
    CHECK_ST(wait_events_into(sel, 5000000, CAP, &w), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK_EQ(w.events[0], R | W);
    CHECK_EQ(sel_size(sel), 1); /* watched: it stays */
    uint8_t buf[8];
    CHECK_EQ(recv_n(p.acc, buf, 5, E), 5);
    CHECK_ST(sag_selector_unwatch(sel, p.acc, E), SAG_OK);
    CHECK_EQ(sel_size(sel), 0);

    section("write interest: a full send buffer is not writable until the peer reads");
    /* Filled until a send would wait (again, should the kernel have made
       room meanwhile: bounded), then it is not reported. */
    CHECK_ST(sag_selector_watch_events(sel, p.cli, W, 26, E), SAG_OK);
    size_t filled = 0;
    for (int round = 0; round < 5; round++) {
        filled += fill_send_buffer(p.cli);
        if (wait_events_into(sel, 50000, CAP, &w) != SAG_OK || w.count == 0)
            break;
    }
    CHECK(filled > 0);
    CHECK_EQ(w.count, 0); /* no room: not reported */
    /* The peer drains everything: room again, reported writable. */
    static uint8_t sink[65536];
    CHECK_ST(sag_socket_set_read_timeout(p.acc, 5000000, E), SAG_OK);
    size_t got = 0;
    while (got < filled) {
        size_t n = 0;
        if (sag_socket_recv(p.acc, sink, 0, sizeof sink, 0, &n, E) != SAG_OK || n == 0)
            break;
        got += n;
    }
    CHECK_EQ(got, filled);
    CHECK_ST(wait_events_into(sel, 5000000, CAP, &w), SAG_OK);
    CHECK_EQ(w.count, 1);
    CHECK_EQ(events_of(&w, 26), W);
    CHECK_ST(sag_selector_unwatch(sel, p.cli, E), SAG_OK);

    section("raw descriptors: a pipe's ends, watched and added");
    int pfd[2];
    if (pipe(pfd) != 0) {
        check_fail(__FILE__, __LINE__, "pipe", NULL);
        return;
    }
    CHECK_ST(sag_selector_watch_fd(sel, pfd[0], R, 31, E), SAG_OK);
    CHECK_ST(sag_selector_watch_fd(sel, pfd[0], W, 99, E), SAG_OK); /* held: kept as it was */
    CHECK_ST(sag_selector_watch_fd(sel, pfd[1], W, 32, E), SAG_OK);
    CHECK_EQ(sel_size(sel), 2);
    CHECK_ST(wait_events_into(sel, 5000000, CAP, &w), SAG_OK);
    CHECK_EQ(w.count, 1); /* the write end only: the pipe is empty */
    CHECK(w.socks[0] == NULL);
    CHECK_EQ(events_of(&w, 32), W);
    CHECK_ST(sag_selector_unwatch_fd(sel, pfd[1], E), SAG_OK);
    CHECK_ST(sag_selector_unwatch_fd(sel, pfd[1], E), SAG_OK); /* not held: no-op */
    CHECK_EQ(write(pfd[1], "z", 1), 1);
    for (int round = 0; round < 2; round++) { /* watched: every wait */
        CHECK_ST(wait_events_into(sel, 5000000, CAP, &w), SAG_OK);
        CHECK_EQ(w.count, 1);
        CHECK(w.socks[0] == NULL);
        CHECK_EQ(events_of(&w, 31), R);
    }
    /* The old wait writes a NULL socket for it. */
    CHECK_ST(wait_into(sel, 5000000, CAP, &ow, E), SAG_OK);
    CHECK_EQ(ow.count, 1);
    CHECK(ow.socks[0] == NULL);
    CHECK_EQ(ow.tags[0], 31);
    char c;
    CHECK_EQ(read(pfd[0], &c, 1), 1);
    CHECK_ST(wait_events_into(sel, 0, CAP, &w), SAG_OK);
    CHECK_EQ(w.count, 0);
    CHECK_ST(sag_selector_unwatch_fd(sel, pfd[0], E), SAG_OK);
    /* One-shot raw entries: reported once, with an own timeout. */
    CHECK_ST(sag_selector_add_fd(sel, pfd[1], W, -1, 33, E), SAG_OK);
    CHECK_ST(sag_selector_add_fd(sel, pfd[0], R, 20000, 34, E), SAG_OK);
    int seen33 = -1, seen34 = -1;
    for (int round = 0; round < 2 && (seen33 < 0 || seen34 < 0); round++) {
        CHECK_ST(wait_events_into(sel, 5000000, CAP, &w), SAG_OK);
        if (events_of(&w, 33) >= 0) seen33 = events_of(&w, 33);
        if (events_of(&w, 34) >= 0) seen34 = events_of(&w, 34);
    }
    CHECK_EQ(seen33, W);
    CHECK_EQ(seen34, T);
    CHECK_EQ(sel_size(sel), 0);
    /* Added again after a report (its registration lingered): reported. */
    CHECK_ST(sag_selector_add_fd(sel, pfd[1], W, -1, 35, E), SAG_OK);
    CHECK_ST(wait_events_into(sel, 5000000, CAP, &w), SAG_OK);
    CHECK_EQ(events_of(&w, 35), W);
    /* clear hands a raw entry back with a NULL socket. */
    CHECK_ST(sag_selector_watch_fd(sel, pfd[0], R, 36, E), SAG_OK);
    sag_socket *cs[4];
    int64_t ct[4];
    size_t n = 0;
    CHECK_ST(sag_selector_clear(sel, cs, ct, 4, &n, E), SAG_OK);
    CHECK_EQ(n, 1);
    CHECK(cs[0] == NULL);
    CHECK_EQ(ct[0], 36);
    /* Closed without being removed: unwatch_fd still lets the entry go. */
    CHECK_ST(sag_selector_watch_fd(sel, pfd[0], R, 37, E), SAG_OK);
    close(pfd[0]);
    close(pfd[1]);
    CHECK_EQ(sel_size(sel), 1);
    CHECK_ST(sag_selector_unwatch_fd(sel, pfd[0], E), SAG_OK);
    CHECK_EQ(sel_size(sel), 0);

    section("raw descriptors: what epoll refuses, and one entry per descriptor");
    CHECK_ST(sag_selector_watch_fd(sel, -1, R, 0, E), SAG_E_INVALID);
    CHECK_EQ(sag_error_errno(E), EBADF);
    CHECK_ST(sag_selector_add_fd(sel, pfd[0], R, -1, 0, E), SAG_E_SOCKET); /* closed above */
    CHECK_EQ(sag_error_errno(E), EBADF);
    FILE *f = tmpfile();
    if (f) {
        CHECK_ST(sag_selector_watch_fd(sel, fileno(f), R, 0, E), SAG_E_SOCKET); /* a regular file */
        CHECK_EQ(sag_error_errno(E), EPERM);
        fclose(f);
    }
    int sfd = -1;
    CHECK_ST(sag_socket_fd(p.acc, &sfd, E), SAG_OK);
    CHECK_ST(sag_selector_watch(sel, p.acc, 38, E), SAG_OK);
    CHECK_ST(sag_selector_watch_fd(sel, sfd, R, 39, E), SAG_E_INVALID);
    CHECK_EQ(sag_error_errno(E), EEXIST);
    CHECK_ST(sag_selector_unwatch_fd(sel, sfd, E), SAG_OK); /* a socket's entry, by its number */
    CHECK_EQ(sel_size(sel), 0);
    CHECK_ST(sag_selector_watch_fd(sel, sfd, R, 40, E), SAG_OK);
    CHECK_ST(sag_selector_add(sel, p.acc, -1, 41, E), SAG_E_INVALID);
    CHECK_EQ(sag_error_errno(E), EEXIST);
    CHECK_ST(sag_selector_unwatch_fd(sel, sfd, E), SAG_OK);

    section("bad events, NULL arrays, interrupt, a second waiter, a closed selector");
    static const int bad[] = {0, 4, 8, -1, R | T, INT32_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(sag_selector_add_events(sel, p.cli, bad[i], -1, 0, E), SAG_E_INVALID);
        CHECK_ST(sag_selector_watch_events(sel, p.cli, bad[i], 0, E), SAG_E_INVALID);
        CHECK_ST(sag_selector_add_fd(sel, 0, bad[i], -1, 0, E), SAG_E_INVALID);
        CHECK_ST(sag_selector_watch_fd(sel, 0, bad[i], 0, E), SAG_E_INVALID);
    }
    CHECK_EQ(sel_size(sel), 0);
    size_t cnt = 0;
    CHECK_ST(sag_selector_wait_events(sel, 0, w.socks, w.tags, NULL, CAP, &cnt, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_wait_events(sel, 0, w.socks, w.tags, w.events, 0, &cnt, E), SAG_E_INVALID);
    CHECK_ST(sag_selector_interrupt(sel, E), SAG_OK); /* remembered: the next wait looks once */
    CHECK_ST(wait_events_into(sel, -1, CAP, &w), SAG_OK);
    CHECK_EQ(w.count, 0);
    waiter_t wt;
    waiter_start(&wt, sel, 5000000);
    CHECK_ST(wait_events_into(sel, 0, CAP, &w), SAG_E_INVALID);
    CHECK_EQ(sag_error_errno(E), EBUSY);
    CHECK_ST(sag_selector_add_events(sel, p.cli, W, -1, 42, E), SAG_OK); /* the waiter sees it */
    CHECK(waiter_join(&wt, 5000));
    CHECK_EQ(wt.w.count, 1);
    CHECK_EQ(wt.w.tags[0], 42);
    CHECK_ST(sag_selector_close(sel, E), SAG_OK);
    CHECK_ST(sag_selector_add_events(sel, p.cli, W, -1, 0, E), SAG_E_CLOSED);
    CHECK_ST(sag_selector_watch_events(sel, p.cli, W, 0, E), SAG_E_CLOSED);
    CHECK_ST(sag_selector_watch_fd(sel, 0, R, 0, E), SAG_E_CLOSED);
    CHECK_ST(sag_selector_add_fd(sel, 0, R, -1, 0, E), SAG_E_CLOSED);
    CHECK_ST(sag_selector_unwatch_fd(sel, 0, E), SAG_E_CLOSED);
    CHECK_ST(wait_events_into(sel, 0, CAP, &w), SAG_E_CLOSED);
    CHECK_ST(sag_selector_free(sel), SAG_OK);
    CHECK_ST(sag_selector_add_fd(sel, 0, R, -1, 0, E), SAG_E_MISUSE); /* freed */
    CHECK_ST(sag_selector_unwatch_fd(sel, 0, E), SAG_E_MISUSE);
    CHECK_ST(sag_selector_wait_events(sel, 0, w.socks, w.tags, w.events, CAP, &cnt, E), SAG_E_MISUSE);
    free_pair(&p);
}

/* More ready entries than one epoll_wait takes (1,024): a wait with room
 * for them all reports every one, each once, also watched ones that the
 * kernel queues again as it reports them. */
static void test_beyond_one_batch(void) {
    section("a wait reports more than 1,024 ready entries, each once");
    int n = connections_that_fit(1500);
    if (n < 1100) {
        printf("note: too few descriptors for more than one batch; skipped\n");
        return;
    }
    sag_selector *sel = NULL;
    CHECK_ST(sag_selector_new(&sel, E), SAG_OK);
    int (*pipes)[2] = calloc((size_t)n, sizeof *pipes);
    sag_socket **socks = calloc((size_t)n + 8, sizeof *socks);
    int64_t *tags = calloc((size_t)n + 8, sizeof *tags);
    int *events = calloc((size_t)n + 8, sizeof *events);
    char *seen = calloc((size_t)n, 1);
    int made = 0;
    if (!sel || !pipes || !socks || !tags || !events || !seen)
        goto out;
    for (; made < n; made++) {
        if (pipe(pipes[made]) != 0)
            break;
        /* every write end watched (always writable), every tenth added */
        int st = made % 10 ? sag_selector_watch_fd(sel, pipes[made][1], SAG_SELECTOR_WRITE, made, E)
                           : sag_selector_add_fd(sel, pipes[made][1], SAG_SELECTOR_WRITE, -1, made, E);
        if (st != SAG_OK) {
            close(pipes[made][0]);
            close(pipes[made][1]);
            break;
        }
    }
    CHECK_EQ(made, n);
    for (int round = 0; round < 2; round++) {
        size_t count = 0;
        memset(seen, 0, (size_t)n);
        CHECK_ST(sag_selector_wait_events(sel, 5000000, socks, tags, events, (size_t)n + 8, &count, E), SAG_OK);
        /* the first wait: all; the second: the watched ones (the added left) */
        size_t want = round == 0 ? (size_t)made : (size_t)(made - (made + 9) / 10);
        CHECK_EQ(count, want);
        int dup = 0, bad = 0;
        for (size_t i = 0; i < count && i < (size_t)n + 8; i++) {
            if (tags[i] < 0 || tags[i] >= made || socks[i] != NULL || events[i] != SAG_SELECTOR_WRITE)
                bad++;
            else if (seen[tags[i]]++)
                dup++;
        }
        CHECK_EQ(dup, 0);
        CHECK_EQ(bad, 0);
    }
out:
    if (sel)
        CHECK_ST(sag_selector_free(sel), SAG_OK);
    for (int i = 0; i < made; i++) {
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    free(pipes);
    free(socks);
    free(tags);
    free(events);
    free(seen);
}

/* ===== 3. Load ============================================================ */

enum { MSG = 16, LOAD_CLIENT_THREADS = 4 };

typedef struct {
    sag_selector *sel;
    sag_socket *srv;
    atomic_int accepted, failures;
    sag_socket **conns; /* accepted sockets, freed at the end */
    int max;
} load_server_t;

/* The echo server: one thread, one selector holding the listener (tag -1)
 * and every connection (tag = its index). */
static void *load_server(void *arg) {
    load_server_t *ls = arg;
    sag_error *te = NULL;
    sag_error_new(&te);
    static sag_socket *socks[256];
    static int64_t tags[256];
    static int timed_out[256];
    uint8_t buf[4096];
    size_t n;
    if (sag_selector_add(ls->sel, ls->srv, -1, -1, te) != SAG_OK)
        atomic_fetch_add(&ls->failures, 1);
    while (sag_selector_wait(ls->sel, -1, socks, tags, timed_out, 256, &n, te) == SAG_OK) {
        for (size_t i = 0; i < n; i++) {
            if (tags[i] == -1) {
                sag_socket *c = NULL;
                int k = atomic_load(&ls->accepted);
                if (sag_socket_accept(ls->srv, &c, te) == SAG_OK) {
                    if (k < ls->max && sag_selector_add(ls->sel, c, -1, k, te) == SAG_OK) {
                        ls->conns[k] = c;
                        atomic_store(&ls->accepted, k + 1);
                    } else {
                        atomic_fetch_add(&ls->failures, 1);
                        sag_socket_free(c);
                    }
                }
                sag_selector_add(ls->sel, ls->srv, -1, -1, te);
                continue;
            }
            size_t got = 0, sent = 0;
            int st = sag_socket_recv(socks[i], buf, 0, sizeof buf, 0, &got, te);
            if (st == SAG_OK && got == 0)
                continue; /* the client is done: not added again */
            /* Held again before the echo goes out: once a client has its
             * last answer, the main thread may close the selector, and an
             * add after the send could then meet SAG_E_CLOSED. */
            if (st != SAG_OK || sag_selector_add(ls->sel, socks[i], -1, tags[i], te) != SAG_OK ||
                sag_socket_send(socks[i], buf, 0, got, 0, &sent, te) != SAG_OK)
                atomic_fetch_add(&ls->failures, 1);
        }
    }
    if (sag_error_status(te) != SAG_E_CLOSED)
        atomic_fetch_add(&ls->failures, 1);
    sag_error_free(te);
    return NULL;
}

typedef struct {
    int port, from, to, messages;
    sag_socket **clients;
    long lost, reordered, corrupt, connected;
} load_client_t;

static void fill_msg(uint8_t *m, uint32_t conn, uint32_t seq) {
    memcpy(m, &conn, 4);
    memcpy(m + 4, &seq, 4);
    for (int i = 8; i < MSG; i++)
        m[i] = (uint8_t)(conn * 31 + seq * 7 + (uint32_t)i);
}

/* Drives its connections round-robin: each round sends message `seq` on
 * every connection, then reads every answer and checks it byte by byte. */
static void *load_client(void *arg) {
    load_client_t *lc = arg;
    sag_error *te = NULL;
    sag_error_new(&te);
    int n = lc->to - lc->from;
    for (int i = 0; i < n; i++) {
        lc->clients[i] = connect_to(lc->port, 0, te);
        if (!lc->clients[i])
            break;
        sag_socket_set_read_timeout(lc->clients[i], 20000000, te);
        lc->connected++;
    }
    int *dead = calloc((size_t)n, sizeof(int));
    for (int seq = 0; seq < lc->messages; seq++) {
        uint8_t m[MSG], got[MSG];
        for (int i = 0; i < lc->connected; i++) {
            size_t sent = 0;
            fill_msg(m, (uint32_t)(lc->from + i), (uint32_t)seq);
            if (!dead[i] && sag_socket_send(lc->clients[i], m, 0, MSG, 0, &sent, te) != SAG_OK)
                dead[i] = 1;
        }
        for (int i = 0; i < lc->connected; i++) {
            if (dead[i] || recv_n(lc->clients[i], got, MSG, te) != MSG) {
                dead[i] = 1;
                lc->lost++;
                continue;
            }
            uint32_t conn, s;
            memcpy(&conn, got, 4);
            memcpy(&s, got + 4, 4);
            fill_msg(m, (uint32_t)(lc->from + i), (uint32_t)seq);
            if (conn == (uint32_t)(lc->from + i) && s != (uint32_t)seq)
                lc->reordered++;
            else if (memcmp(m, got, MSG) != 0)
                lc->corrupt++;
        }
    }
    for (int i = 0; i < n - lc->connected; i++)
        lc->lost += lc->messages;
    free(dead);
    for (int i = 0; i < lc->connected; i++)
        sag_socket_free(lc->clients[i]);
    sag_error_free(te);
    return NULL;
}

static void test_load(void) {
    int wanted = (int)env_long("SELECTOR_LOAD_CONNECTIONS", 2000);
    int messages = (int)env_long("SELECTOR_LOAD_MESSAGES", 100);
    int conns = connections_that_fit(wanted);
    section("load: an echo server on one selector thread");
    if (conns < LOAD_CLIENT_THREADS) {
        printf("note: too few descriptors for the load test; skipped\n");
        return;
    }
    load_server_t ls;
    memset(&ls, 0, sizeof ls);
    int port = 0;
    ls.srv = listener(&port);
    CHECK_ST(sag_selector_new(&ls.sel, E), SAG_OK);
    ls.max = conns;
    ls.conns = calloc((size_t)conns, sizeof(sag_socket *));
    if (!ls.srv || !ls.sel || !ls.conns)
        return;
    pthread_t srv_th, cl_th[LOAD_CLIENT_THREADS];
    load_client_t lc[LOAD_CLIENT_THREADS];
    int64_t t0 = now_us();
    pthread_create(&srv_th, NULL, load_server, &ls);
    for (int t = 0; t < LOAD_CLIENT_THREADS; t++) {
        memset(&lc[t], 0, sizeof lc[t]);
        lc[t].port = port;
        lc[t].from = conns * t / LOAD_CLIENT_THREADS;
        lc[t].to = conns * (t + 1) / LOAD_CLIENT_THREADS;
        lc[t].messages = messages;
        lc[t].clients = calloc((size_t)(lc[t].to - lc[t].from), sizeof(sag_socket *));
        pthread_create(&cl_th[t], NULL, load_client, &lc[t]);
    }
    long connected = 0, lost = 0, reordered = 0, corrupt = 0;
    for (int t = 0; t < LOAD_CLIENT_THREADS; t++) {
        pthread_join(cl_th[t], NULL);
        connected += lc[t].connected;
        lost += lc[t].lost;
        reordered += lc[t].reordered;
        corrupt += lc[t].corrupt;
        free(lc[t].clients);
    }
    int64_t us = now_us() - t0;
    CHECK_ST(sag_selector_close(ls.sel, E), SAG_OK);
    pthread_join(srv_th, NULL);
    printf("selector-load: %ld connections, %ld messages, %ld lost, %ld reordered\n", connected,
           connected * messages, lost, reordered);
    printf("  (%d connections held at once by one selector thread; %.2f s, %.0f messages/s)\n",
           atomic_load(&ls.accepted), (double)us / 1e6, (double)(connected * messages) * 1e6 / (double)us);
    CHECK_EQ(connected, conns);
    CHECK_EQ(atomic_load(&ls.accepted), conns);
    CHECK_EQ(lost, 0);
    CHECK_EQ(reordered, 0);
    CHECK_EQ(corrupt, 0);
    CHECK_EQ(atomic_load(&ls.failures), 0);
    CHECK_ST(sag_selector_free(ls.sel), SAG_OK);
    for (int i = 0; i < atomic_load(&ls.accepted); i++)
        sag_socket_free(ls.conns[i]);
    free(ls.conns);
    sag_socket_free(ls.srv);
}

/* ===== 4. Descriptors at the end ========================================= */

/* Descriptors other than 0-2 and eventfds (threads keep one). */
static int counted_fd(int fd, const char *target) {
    return fd > 2 && strcmp(target, "anon_inode:[eventfd]") != 0;
}

static int open_fds(int report) { return count_fds(counted_fd, report); }

/* ===== main ============================================================== */

int main(void) {
    alarm(300);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fds0 = open_fds(0);
    CHECK_ST(sag_error_new(&E), SAG_OK);
    if (!E)
        return 1;

    test_sagittarius_basic();
    test_sagittarius_many();
    test_server_star();
    test_wake();
    test_add_during_wait();
    test_closed_socket_leaves();
    test_entries();
    test_misuse();
    test_watch();
    test_events();
    test_beyond_one_batch();
    test_load();

    CHECK_ST(sag_error_free(E), SAG_OK);
    section("file descriptors at the end");
    int fds1 = open_fds(0);
    if (fds1 != fds0) {
        printf("  %d open at start, %d now:\n", fds0, fds1);
        open_fds(1);
    }
    CHECK_EQ(fds1, fds0);
    summary_and_exit();
}
