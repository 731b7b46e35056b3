#define _POSIX_C_SOURCE 200809L
/* stress_handles.c: handles looked up, freed and reused from several threads
 * at once. Lookups of a handle that another thread frees must answer SAG_OK
 * (still live) or SAG_E_MISUSE (freed), never crash, never find another
 * object; a freed slot's new occupant must not answer to the old handle.
 * The same for ports (below): their line reads and buffered puts take a
 * fast path that counts no look-up (HandleTable.withLocked), so a port
 * freed by one thread while others read lines from it and put into it
 * must answer SAG_OK, SAG_E_MISUSE, SAG_E_CLOSED or SAG_E_WOULD_BLOCK,
 * never crash (this program also runs under ASan) or hang.
 * Ends with "N passed, M failed". */
#include <sagsocket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

enum { THREADS = 4, ROUNDS = 20000, SLOTS = 64 };

static _Atomic(sag_fdset *) shared[SLOTS];
static atomic_long bad, calls;

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        int i = rand_r(&seed) % SLOTS;
        sag_fdset *fresh = NULL;
        if (sag_fdset_new(&fresh, NULL) != SAG_OK) { atomic_fetch_add(&bad, 1); continue; }
        sag_fdset *old = atomic_exchange(&shared[i], fresh);
        if (old != NULL && sag_fdset_free(old) != SAG_OK) atomic_fetch_add(&bad, 1);
        /* The freed handle must now be dead, whoever took its slot. */
        if (old != NULL && sag_handle_kind(old) != SAG_KIND_NONE) atomic_fetch_add(&bad, 1);
        atomic_fetch_add(&calls, 3);
    }
    return NULL;
}

static void *probe(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg;
    for (int r = 0; r < ROUNDS * 4; r++) {
        sag_fdset *h = atomic_load(&shared[rand_r(&seed) % SLOTS]);
        size_t count = 99;
        int st = sag_fdset_sockets(h, NULL, 0, &count, NULL);
        if (!((st == SAG_OK && count == 0) || st == SAG_E_MISUSE)) atomic_fetch_add(&bad, 1);
        /* A freed fdset handle is never taken for a socket. */
        int fd;
        if (sag_socket_fd((sag_socket *)h, &fd, NULL) != SAG_E_MISUSE) atomic_fetch_add(&bad, 1);
        atomic_fetch_add(&calls, 2);
    }
    return NULL;
}

/* ===== ports: line reads and puts against frees ========================= */
enum { PORT_SLOTS = 8, PORT_ROUNDS = 1500, PORT_PROBES = 20000 };

static sag_socket *px, *py;                    /* a connected pair; ports over px */
static _Atomic(sag_port *) bin_shared[PORT_SLOTS];  /* binary, buffer mode block */
static _Atomic(sag_port *) text_shared[PORT_SLOTS]; /* UTF-8 textual ports */
static sag_port *text_under[PORT_SLOTS];       /* their binary ports (churn_text's own) */
static atomic_int port_stop;

/* Feeds lines into px (through py) and drains what the ports put, both
 * non-blocking, until told to stop. */
static void *port_feeder(void *arg)
{
    static const uint8_t lines[] = "line one\nline two\nthe third line\n";
    uint8_t sink[4096];
    (void)arg;
    while (!atomic_load(&port_stop)) {
        size_t n;
        sag_socket_send(py, lines, 0, sizeof lines - 1, 0, &n, NULL);
        while (sag_socket_recv(py, sink, 0, sizeof sink, 0, &n, NULL) == SAG_OK && n > 0) {}
    }
    return NULL;
}

static int port_answer_ok(int st)
{
    return st == SAG_OK || st == SAG_E_MISUSE || st == SAG_E_CLOSED || st == SAG_E_WOULD_BLOCK;
}

/* Makes ports over px and frees the ones they replace: binary ports in
 * buffer mode block (arg 0) or textual ports over binary ones (arg 1). */
static void *port_churn(void *arg)
{
    int text = (int)(size_t)arg;
    unsigned seed = (unsigned)(size_t)arg + 7;
    for (int r = 0; r < PORT_ROUNDS; r++) {
        int i = rand_r(&seed) % PORT_SLOTS;
        sag_port *b = NULL, *t = NULL;
        if (sag_socket_port(px, 0, &b, NULL) != SAG_OK) { atomic_fetch_add(&bad, 1); continue; }
        if (!text) {
            if (sag_port_set_buffer_mode(b, SAG_BUFFER_BLOCK, NULL) != SAG_OK) atomic_fetch_add(&bad, 1);
            sag_port *old = atomic_exchange(&bin_shared[i], b);
            if (old != NULL && sag_port_free(old) != SAG_OK) atomic_fetch_add(&bad, 1);
        } else {
            if (sag_transcoded_port(b, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_REPLACE, &t, NULL) != SAG_OK) {
                atomic_fetch_add(&bad, 1);
                sag_port_free(b);
                continue;
            }
            sag_port *old = atomic_exchange(&text_shared[i], t);
            sag_port *old_under = text_under[i]; /* only this thread writes text_under */
            text_under[i] = b;
            if (old != NULL && sag_port_free(old) != SAG_OK) atomic_fetch_add(&bad, 1);
            if (old_under != NULL && sag_port_free(old_under) != SAG_OK) atomic_fetch_add(&bad, 1);
        }
        atomic_fetch_add(&calls, 3);
    }
    return NULL;
}

/* Reads lines from and puts into whatever ports are shared at the time. */
static void *port_probe(void *arg)
{
    static const uint8_t put[16] = "sixteen bytes..";
    unsigned seed = (unsigned)(size_t)arg;
    for (int r = 0; r < PORT_PROBES; r++) {
        int i = rand_r(&seed) % PORT_SLOTS;
        const uint8_t *data;
        const char *utf8;
        size_t len;
        int st;
        switch (r % 3) {
        case 0: st = sag_port_get_bytes_line(atomic_load(&bin_shared[i]), &data, &len, NULL); break;
        case 1: st = sag_port_get_line(atomic_load(&text_shared[i]), &utf8, &len, NULL); break;
        default: st = sag_port_put_bytevector(atomic_load(&bin_shared[i]), put, 0, sizeof put, NULL); break;
        }
        if (!port_answer_ok(st)) {
            atomic_fetch_add(&bad, 1);
            fprintf(stderr, "stress_handles: port call %d answered %d\n", r % 3, st);
        }
        atomic_fetch_add(&calls, 1);
    }
    return NULL;
}

static void ports_stress(void)
{
    pthread_t feeder, t[2 + THREADS];
    if (sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &px, &py, NULL) != SAG_OK
        || sag_socket_set_nonblocking(px, 1, NULL) != SAG_OK || sag_socket_set_nonblocking(py, 1, NULL) != SAG_OK) {
        atomic_fetch_add(&bad, 1);
        return;
    }
    pthread_create(&feeder, NULL, port_feeder, NULL);
    pthread_create(&t[0], NULL, port_churn, (void *)0);
    pthread_create(&t[1], NULL, port_churn, (void *)1);
    for (int i = 0; i < THREADS; i++) pthread_create(&t[2 + i], NULL, port_probe, (void *)(size_t)(i + 200));
    for (int i = 0; i < 2 + THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < PORT_SLOTS; i++) {
        sag_port_free(atomic_load(&bin_shared[i]));
        sag_port_free(atomic_load(&text_shared[i]));
        sag_port_free(text_under[i]);
    }
    atomic_store(&port_stop, 1);
    pthread_join(feeder, NULL);
    sag_socket_free(px);
    sag_socket_free(py);
}

int main(void)
{
    pthread_t t[2 * THREADS];
    for (int i = 0; i < THREADS; i++) {
        pthread_create(&t[i], NULL, churn, (void *)(size_t)(i + 1));
        pthread_create(&t[THREADS + i], NULL, probe, (void *)(size_t)(i + 100));
    }
    for (int i = 0; i < 2 * THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < SLOTS; i++) sag_fdset_free(atomic_load(&shared[i]));
    ports_stress();
    long b = atomic_load(&bad);
    printf("stress_handles: %ld calls from %d threads\n", atomic_load(&calls), 2 * THREADS);
    atomic_fetch_add(b == 0 ? &g_pass : &g_fail, 1); /* one verdict */
    int f = check_summary();
    if (b) fprintf(stderr, "stress_handles: %ld unexpected answers\n", b);
    return f > 0 ? 1 : 0;
}
