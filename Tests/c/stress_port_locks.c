#define _GNU_SOURCE
/* stress_port_locks.c: the ports' fast path (HandleTable.withLocked: a
 * line read or a buffered put that takes the port's own lock word, kept in
 * memory that a later port reuses, instead of counting a look-up) against
 * frees, reuse, blocked calls and buffer-mode switches.
 *  - a freed port's handle, its lock words now another port's, answers
 *    SAG_E_MISUSE and leaves that port's buffers alone (one thread, then
 *    several threads against a port that a checker reads end to end);
 *  - freeing a port returns while another thread is blocked in it (a
 *    refill waiting in recv, a flush stuck in send to a peer that does not
 *    read), and interrupt or close from a third thread ends that call;
 *  - a switch to buffer mode none racing with buffered puts leaves no byte
 *    behind in the buffer (every put returned: all of them are sent).
 * Every wait is bounded (join_within, the 120 s alarm). Ends with
 * "N passed, M failed". */
#include <sagsocket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static int pair(sag_socket **a, sag_socket **b)
{
    return sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, a, b, NULL);
}

static sag_port *port_owning(sag_socket *s, int own)
{
    sag_port *p = NULL;
    if (sag_socket_port(s, own, &p, NULL) != SAG_OK) return NULL;
    if (sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, NULL) != SAG_OK) return NULL;
    return p;
}

static sag_port *block_port(sag_socket *s) { return port_owning(s, 0); }

/* Bytes waiting on a non-blocking socket, all read. */
static size_t drain_now(sag_socket *s, uint8_t *buf, size_t cap)
{
    size_t got = 0, n;
    while (got < cap && sag_socket_recv(s, buf, got, cap - got, 0, &n, NULL) == SAG_OK && n > 0) got += n;
    return got;
}

/* ===== 1. a stale handle whose lock words another port now has =========== */
static void stale_one_thread(void)
{
    section("stale handle, lock words reused (one thread)");
    sag_socket *px, *py;
    CHECK_ST(pair(&px, &py), SAG_OK);
    CHECK_ST(sag_socket_set_nonblocking(py, 1, NULL), SAG_OK);
    int misuse = 0, intact = 0;
    for (int k = 0; k < 300; k++) {
        sag_port *a = block_port(px);
        const uint8_t *data;
        size_t len, n;
        sag_port_free(a);
        sag_port *b = block_port(px); /* most likely a's lock pair (reused last-in first-out) */
        sag_socket_send(py, (const uint8_t *)"one\ntwo\n", 0, 8, 0, &n, NULL);
        int st1 = sag_port_get_bytes_line(b, &data, &len, NULL);
        int ok1 = st1 == SAG_OK && len == 3 && memcmp(data, "one", 3) == 0;
        /* The stale handle: no line of b's, no byte into b's buffer. */
        int s2 = sag_port_get_bytes_line(a, &data, &len, NULL);
        int s3 = sag_port_put_bytevector(a, (const uint8_t *)"STALE", 0, 5, NULL);
        if (s2 == SAG_E_MISUSE && s3 == SAG_E_MISUSE) misuse++;
        int st4 = sag_port_get_bytes_line(b, &data, &len, NULL);
        int ok2 = st4 == SAG_OK && len == 3 && memcmp(data, "two", 3) == 0;
        sag_port_flush(b, NULL);
        uint8_t sink[64];
        if (ok1 && ok2 && drain_now(py, sink, sizeof sink) == 0) intact++;
        sag_port_free(b);
    }
    CHECK_EQ(misuse, 300);
    CHECK_EQ(intact, 300);
    sag_socket_free(px);
    sag_socket_free(py);
}

/* Several threads: an owner makes, uses and frees ports over one socket,
 * publishing each freed handle; attackers call the fast paths on those
 * stale handles (all must answer SAG_E_MISUSE); a checker reads what the
 * owner sent and finds its records only, whole and in order. */
enum { STALE_RING = 64, OWNER_PORTS = 3000, RECORDS = 8 };
static _Atomic(sag_port *) stale_ring[STALE_RING];
static atomic_int owner_done;
static atomic_long stale_calls, stale_wrong;
static sag_socket *sx, *sy;
static atomic_int checker_whole;

static void *owner(void *arg)
{
    (void)arg;
    uint32_t seq = 0;
    for (int k = 0; k < OWNER_PORTS; k++) {
        sag_port *p = block_port(sx);
        if (p == NULL) { atomic_fetch_add(&stale_wrong, 1); break; }
        for (int r = 0; r < RECORDS; r++, seq++) {
            char rec[16];
            snprintf(rec, sizeof rec, "R%08u\n", seq); /* 10 bytes */
            if (sag_port_put_bytevector(p, (const uint8_t *)rec, 0, 10, NULL) != SAG_OK) atomic_fetch_add(&stale_wrong, 1);
        }
        if (sag_port_flush(p, NULL) != SAG_OK) atomic_fetch_add(&stale_wrong, 1);
        sag_port_free(p);
        atomic_store(&stale_ring[k % STALE_RING], p);
    }
    atomic_store(&owner_done, 1);
    return NULL;
}

static void *attacker(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg;
    while (!atomic_load(&owner_done)) {
        sag_port *h = atomic_load(&stale_ring[rand_r(&seed) % STALE_RING]);
        if (h == NULL) continue;
        const uint8_t *data;
        size_t len;
        int st = (rand_r(&seed) & 1) ? sag_port_put_bytevector(h, (const uint8_t *)"XXXXXXXXX\n", 0, 10, NULL)
                                      : sag_port_get_bytes_line(h, &data, &len, NULL);
        if (st != SAG_E_MISUSE) {
            atomic_fetch_add(&stale_wrong, 1);
            fprintf(stderr, "stress_port_locks: a freed port's handle answered %d\n", st);
        }
        atomic_fetch_add(&stale_calls, 1);
    }
    return NULL;
}

static void *checker(void *arg)
{
    (void)arg;
    uint32_t want = 0, total = OWNER_PORTS * RECORDS;
    char rec[10];
    while (want < total) {
        size_t got = recv_n(sy, (uint8_t *)rec, 10, NULL);
        if (got != 10) {
            fprintf(stderr, "stress_port_locks: record %u: %zu bytes (%s)\n", want, got, sag_error_message(sag_last_error()));
            break;
        }
        char exp[16];
        snprintf(exp, sizeof exp, "R%08u\n", want);
        if (memcmp(rec, exp, 10) != 0) {
            atomic_fetch_add(&stale_wrong, 1);
            fprintf(stderr, "stress_port_locks: record %u arrived as %.9s\n", want, rec);
            break;
        }
        want++;
    }
    atomic_store(&checker_whole, want == total);
    return NULL;
}

static void stale_threads(void)
{
    section("stale handles from several threads, lock words reused");
    CHECK_ST(pair(&sx, &sy), SAG_OK);
    pthread_t o, c, a[3];
    pthread_create(&c, NULL, checker, NULL);
    for (int i = 0; i < 3; i++) pthread_create(&a[i], NULL, attacker, (void *)(size_t)(i + 1));
    pthread_create(&o, NULL, owner, NULL);
    pthread_join(o, NULL);
    for (int i = 0; i < 3; i++) pthread_join(a[i], NULL);
    CHECK_EQ(join_within(c, 30000), 0); /* (joined when 0) */
    CHECK(atomic_load(&checker_whole));
    CHECK_EQ(atomic_load(&stale_wrong), 0);
    printf("  %ld calls on freed handles\n", atomic_load(&stale_calls));
    sag_socket_free(sx);
    sag_socket_free(sy);
}

/* ===== 2. frees, interrupts and closes while a call is blocked ============ */
struct blocked { sag_port *p; int write; atomic_int st; atomic_int started; };

static void *blocked_call(void *arg)
{
    struct blocked *b = arg;
    atomic_store(&b->started, 1);
    if (b->write) {
        static uint8_t chunk[65536];
        int st = SAG_OK;
        /* 16 MB to a peer that never reads: a flush is soon stuck in send. */
        for (int i = 0; i < 256 && st == SAG_OK; i++)
            st = sag_port_put_bytevector(b->p, chunk, 0, sizeof chunk, NULL);
        atomic_store(&b->st, st);
    } else {
        const uint8_t *data;
        size_t len;
        atomic_store(&b->st, sag_port_get_bytes_line(b->p, &data, &len, NULL));
    }
    return NULL;
}

struct freer { sag_port *p; };
static void *free_port(void *arg) { sag_port_free(((struct freer *)arg)->p); return NULL; }

enum { END_FREE_THEN_CLOSE, END_INTERRUPT, END_SOCKET_CLOSE, END_PORT_CLOSE, END_FREE_OWNING, END_HOWS };
static const char *end_name[] = {"free, then socket close", "interrupt", "socket close", "port close",
                                 "free of a port that owns the socket"};

/* A call blocked in a read (write = 0) or a write (1) of a port over a
 * socket it does not own, ended as `how` says; each step within 10 s. */
static void blocked_and_ended(int write, int how)
{
    char name[96];
    snprintf(name, sizeof name, "a blocked %s, then %s", write ? "put (send stuck)" : "get-line (recv)", end_name[how]);
    section(name);
    sag_socket *px, *py;
    CHECK_ST(pair(&px, &py), SAG_OK);
    struct blocked b = {.p = port_owning(px, how == END_FREE_OWNING), .write = write};
    CHECK(b.p != NULL);
    pthread_t t;
    pthread_create(&t, NULL, blocked_call, &b);
    while (!atomic_load(&b.started)) sleep_ms(1);
    sleep_ms(100); /* let it block (the result does not depend on it) */
    switch (how) {
    case END_FREE_THEN_CLOSE: {
        struct freer f = {b.p};
        pthread_t ft;
        pthread_create(&ft, NULL, free_port, &f);
        int freed = join_within(ft, 10000);
        CHECK_EQ(freed, 0); /* the free must not wait for the blocked call */
        /* The free closed the port: the blocked call may end already;
         * closing the socket must end it if not. */
        int ended = freed == 0 && join_within(t, 500) == 0;
        printf("  (the call %s)\n", ended ? "ended with the free" : "was ended by the socket's close");
        CHECK_ST(sag_socket_close(px, NULL), SAG_OK);
        if (!ended) CHECK_EQ(join_within(t, 10000), 0);
        if (freed != 0) { sag_socket_close(py, NULL); pthread_join(ft, NULL); }
        b.p = NULL;
        break;
    }
    case END_FREE_OWNING: {
        /* Closing the port closes its socket, which wakes the call. */
        struct freer f = {b.p};
        pthread_t ft;
        pthread_create(&ft, NULL, free_port, &f);
        int freed = join_within(ft, 10000);
        CHECK_EQ(freed, 0);
        CHECK_EQ(join_within(t, 10000), 0);
        if (freed != 0) { sag_socket_close(px, NULL); pthread_join(ft, NULL); }
        b.p = NULL;
        break;
    }
    case END_INTERRUPT:
        CHECK_ST(sag_socket_interrupt(px, NULL), SAG_OK);
        CHECK_EQ(join_within(t, 10000), 0);
        CHECK_EQ(atomic_load(&b.st), SAG_E_INTERRUPTED);
        break;
    case END_SOCKET_CLOSE:
        CHECK_ST(sag_socket_close(px, NULL), SAG_OK);
        CHECK_EQ(join_within(t, 10000), 0);
        break;
    case END_PORT_CLOSE:
        sag_port_close(b.p, NULL);
        /* A port over a socket it does not own leaves the call waiting (as
         * documented): closing the socket ends it. */
        if (join_within(t, 500) != 0) {
            printf("  (the port's close left the call waiting; the socket's close ends it)\n");
            CHECK_ST(sag_socket_close(px, NULL), SAG_OK);
            CHECK_EQ(join_within(t, 10000), 0);
        }
        break;
    }
    if (how != END_INTERRUPT) CHECK(atomic_load(&b.st) != SAG_OK);
    sag_port_free(b.p);
    sag_socket_free(px);
    sag_socket_free(py);
}

/* ===== 3. a switch to mode none racing with buffered puts ================= */
enum { WRITERS = 2, PUTS = 1500 };
struct writer { sag_port *p; int id; atomic_int *go; };

static void *mode_writer(void *arg)
{
    struct writer *w = arg;
    while (!atomic_load(w->go)) {}
    for (uint32_t i = 0; i < PUTS; i++) {
        uint8_t rec[8] = {(uint8_t)w->id, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 'r', 'e', 'c', '\n'};
        sag_port_put_bytevector(w->p, rec, 0, sizeof rec, NULL);
    }
    return NULL;
}

/* Reads py as the puts arrive (8-byte sends in mode none fill a Unix
 * socket's buffer soon), then once more after the writers are done. */
struct reader { sag_socket *s; uint8_t *buf; size_t cap, n; atomic_int *stop; };

static void *mode_reader(void *arg)
{
    struct reader *r = arg;
    for (;;) {
        int last = atomic_load(r->stop);
        r->n += drain_now(r->s, r->buf + r->n, r->cap - r->n);
        if (last) return NULL;
    }
}

static void mode_switch(void)
{
    section("buffer mode none set while puts buffer");
    static uint8_t got[WRITERS * PUTS * 8 + 64];
    const size_t want = WRITERS * PUTS * 8;
    int whole = 0, ordered = 0, trials = 200, told = 0;
    for (int k = 0; k < trials; k++) {
        sag_socket *px, *py;
        if (pair(&px, &py) != SAG_OK) break;
        sag_socket_set_nonblocking(py, 1, NULL);
        sag_port *p = block_port(px);
        atomic_int go = 0, stop = 0;
        struct reader rd = {py, got, sizeof got, 0, &stop};
        struct writer w[WRITERS];
        pthread_t t[WRITERS], rt;
        pthread_create(&rt, NULL, mode_reader, &rd);
        for (int i = 0; i < WRITERS; i++) {
            w[i] = (struct writer){p, i, &go};
            pthread_create(&t[i], NULL, mode_writer, &w[i]);
        }
        atomic_store(&go, 1);
        for (volatile int spin = 0; spin < (k % 50) * 200; spin++) {}
        sag_port_set_buffer_mode(p, SAG_BUFFER_NONE, NULL);
        for (int i = 0; i < WRITERS; i++) pthread_join(t[i], NULL);
        atomic_store(&stop, 1);
        pthread_join(rt, NULL);
        /* Every put returned and the mode is none: nothing may wait in the buffer. */
        size_t n = rd.n;
        if (n == want) whole++;
        else if (told++ < 3) fprintf(stderr, "  trial %d: %zu of %zu bytes sent without a flush\n", k, n, want);
        sag_port_flush(p, NULL);
        n += drain_now(py, got + n, sizeof got - n);
        /* Each writer's records in its order. */
        uint32_t next[WRITERS] = {0};
        int ok = n == want;
        for (size_t i = 0; ok && i + 8 <= n; i += 8) {
            int id = got[i];
            uint32_t seq = (uint32_t)got[i + 1] << 16 | (uint32_t)got[i + 2] << 8 | got[i + 3];
            if (id >= WRITERS || seq != next[id] || memcmp(got + i + 4, "rec\n", 4) != 0) ok = 0;
            else next[id]++;
        }
        ordered += ok;
        sag_port_free(p);
        sag_socket_free(px);
        sag_socket_free(py);
    }
    CHECK_EQ(ordered, trials);
    CHECK_EQ(whole, trials);
}

/* ===== 4. freeing a port whose sibling's fast paths keep the words busy == */
/* Every port over one socket shares its buffers and so its lock words: a
 * free of one port waits while any fast path holds them. Threads putting
 * into and reading lines from a sibling port, without pause, must not keep
 * that free from returning. */
static atomic_int sib_stop;
static sag_socket *bx, *by;

static void *sib_put(void *arg)
{
    sag_port *p = arg;
    while (!atomic_load(&sib_stop)) sag_port_put_bytevector(p, (const uint8_t *)"0123456789abcde\n", 0, 16, NULL);
    return NULL;
}

static void *sib_line(void *arg)
{
    sag_port *p = arg;
    const uint8_t *data;
    size_t len;
    while (!atomic_load(&sib_stop)) sag_port_get_bytes_line(p, &data, &len, NULL);
    return NULL;
}

/* Echoes what px's ports send back to them: lines to read, room to put. */
static void *sib_echo(void *arg)
{
    (void)arg;
    static uint8_t buf[65536];
    while (!atomic_load(&sib_stop)) {
        size_t n = drain_now(by, buf, sizeof buf), sent, off = 0;
        while (off < n && !atomic_load(&sib_stop) && sag_socket_send(by, buf, off, n - off, 0, &sent, NULL) == SAG_OK) off += sent;
    }
    return NULL;
}

struct free_many { sag_port **p; int n; };
static void *free_all(void *arg)
{
    struct free_many *f = arg;
    for (int i = 0; i < f->n; i++) sag_port_free(f->p[i]);
    return NULL;
}

static void sibling_free(void)
{
    section("freeing a port while a sibling's fast paths run without pause");
    CHECK_ST(pair(&bx, &by), SAG_OK);
    CHECK_ST(sag_socket_set_nonblocking(bx, 1, NULL), SAG_OK);
    CHECK_ST(sag_socket_set_nonblocking(by, 1, NULL), SAG_OK);
    sag_port *busy = block_port(bx);
    enum { FREES = 2000 };
    static sag_port *victims[FREES];
    for (int i = 0; i < FREES; i++) victims[i] = block_port(bx);
    pthread_t t[4];
    pthread_create(&t[0], NULL, sib_echo, NULL);
    pthread_create(&t[1], NULL, sib_put, busy);
    pthread_create(&t[2], NULL, sib_put, busy);
    pthread_create(&t[3], NULL, sib_line, busy);
    sleep_ms(50);
    struct free_many f = {victims, FREES};
    pthread_t ft;
    pthread_create(&ft, NULL, free_all, &f);
    int64_t t0 = now_us();
    int rc = join_within(ft, 60000);
    CHECK_EQ(rc, 0);
    printf("  %d frees took %lld ms with the sibling busy\n", FREES, (long long)((now_us() - t0) / 1000));
    atomic_store(&sib_stop, 1);
    sag_socket_close(bx, NULL); /* a put may wait to send: closing ends it */
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    if (rc != 0) pthread_join(ft, NULL);
    sag_port_free(busy);
    sag_socket_free(bx);
    sag_socket_free(by);
}

int main(int argc, char **argv)
{
    alarm(120);
    int only = argc > 1 ? atoi(argv[1]) : 0;
    if (!only || only == 1) {
        stale_one_thread();
        stale_threads();
    }
    if (!only || only == 2)
        for (int write = 0; write < 2; write++)
            for (int how = 0; how < END_HOWS; how++) blocked_and_ended(write, how);
    if (!only || only == 3) mode_switch();
    if (!only || only == 4) sibling_free();
    return check_summary() > 0 ? 1 : 0;
}
