#define _POSIX_C_SOURCE 200809L
/* stress_handles.c: handles looked up, freed and reused from several threads
 * at once. Lookups of a handle that another thread frees must answer SAG_OK
 * (still live) or SAG_E_MISUSE (freed), never crash, never find another
 * object; a freed slot's new occupant must not answer to the old handle.
 * Ends with "N passed, M failed". */
#include <sagsocket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

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

int main(void)
{
    pthread_t t[2 * THREADS];
    for (int i = 0; i < THREADS; i++) {
        pthread_create(&t[i], NULL, churn, (void *)(size_t)(i + 1));
        pthread_create(&t[THREADS + i], NULL, probe, (void *)(size_t)(i + 100));
    }
    for (int i = 0; i < 2 * THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < SLOTS; i++) sag_fdset_free(atomic_load(&shared[i]));
    long b = atomic_load(&bad);
    printf("stress_handles: %ld calls from %d threads\n", atomic_load(&calls), 2 * THREADS);
    atomic_fetch_add(b == 0 ? &g_pass : &g_fail, 1); /* one verdict */
    int f = check_summary();
    if (b) fprintf(stderr, "stress_handles: %ld unexpected answers\n", b);
    return f > 0 ? 1 : 0;
}
