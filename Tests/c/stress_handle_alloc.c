#define _GNU_SOURCE
/* stress_handle_alloc.c: the handle table's allocation (shims.c: the
 * indexes handed out, a first-in first-out ring of freed ones that grows
 * by doubling, under the shims' lock word).
 *  - retirement: one slot reused until its generation is spent is retired
 *    and never answers to an old handle again (run first, alone: the ring
 *    then holds that one index);
 *  - malloc failure while the ring grows (this program's own malloc fails
 *    that size once): the indexes that found no room are never reused, and
 *    inserting and freeing go on (not in the ASan build, whose allocator
 *    this program cannot stand in for);
 *  - bursts from several threads: each makes many handles, all live
 *    handles are distinct, all are freed (the ring grows several times at
 *    once), freed ones answer SAG_KIND_NONE and the count comes back.
 * Argument: "short" for a quick run (under valgrind). Ends with
 * "N passed, M failed". */
#include <sagsocket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#ifndef __SANITIZE_ADDRESS__
#define MALLOC_FAIL 1
/* glibc's allocator under its own name: this malloc fails the ring's
 * growth to 2048 indexes while armed, and is the library's otherwise. */
extern void *__libc_malloc(size_t n);
static atomic_int fail_armed, fail_count;
void *malloc(size_t n)
{
    if (atomic_load_explicit(&fail_armed, memory_order_relaxed) && n == 2048 * sizeof(long)) {
        atomic_fetch_add(&fail_count, 1);
        return NULL;
    }
    return __libc_malloc(n);
}
#endif

static int short_run;

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

static int all_distinct(void **h, size_t n)
{
    qsort(h, n, sizeof *h, cmp_ptr);
    for (size_t i = 1; i < n; i++)
        if (h[i] == h[i - 1]) return 0;
    return 1;
}

/* ===== retirement ========================================================= */
static void retirement(void)
{
    section("a slot reused until its generation is spent is retired");
    int base = sag_handle_count();
    sag_fdset *first = NULL;
    CHECK_ST(sag_fdset_new(&first, NULL), SAG_OK);
    sag_fdset_free(first);
    /* 2^20 generations (Handles.swift) and some: with one index in the
     * ring, every new handle takes the same slot until it retires. */
    long rounds = short_run ? 20000 : (1L << 20) + 4096;
    enum { KEEP = 300 };
    static sag_fdset *old[KEEP];
    int kept = 0, bad = 0;
    for (long r = 0; r < rounds; r++) {
        sag_fdset *f = NULL;
        if (sag_fdset_new(&f, NULL) != SAG_OK) { bad++; break; }
        if (f == first) bad++; /* the first handle's own value again */
        if (sag_fdset_free(f) != SAG_OK) bad++;
        if (r % 4096 == 0 && kept < KEEP) old[kept++] = f;
    }
    CHECK_EQ(bad, 0);
    /* Live handles now, some of them perhaps in the retired slot's place. */
    enum { LIVE = 64 };
    sag_fdset *live[LIVE];
    for (int i = 0; i < LIVE; i++) CHECK_ST(sag_fdset_new(&live[i], NULL), SAG_OK);
    int dead = sag_handle_kind(first) == SAG_KIND_NONE;
    for (int i = 0; i < kept; i++) dead += sag_handle_kind(old[i]) == SAG_KIND_NONE;
    CHECK_EQ(dead, kept + 1);
    CHECK_EQ(sag_handle_count(), base + LIVE);
    for (int i = 0; i < LIVE; i++) sag_fdset_free(live[i]);
    CHECK_EQ(sag_handle_count(), base);
    /* (A failure's message is kept per thread, as a handle: checked last.) */
    size_t count = 99;
    CHECK_ST(sag_fdset_sockets(first, NULL, 0, &count, NULL), SAG_E_MISUSE);
}

/* ===== the ring's growth failing ========================================== */
#ifdef MALLOC_FAIL
static void growth_fails(void)
{
    section("the freed ring cannot grow: those indexes are not reused");
    enum { N = 1100 }; /* more than the ring's first 1024 */
    static void *a[N], *b[2 * N];
    int base = sag_handle_count();
    for (int i = 0; i < N; i++) CHECK_ST(sag_fdset_new((sag_fdset **)&a[i], NULL), SAG_OK);
    atomic_store(&fail_armed, 1);
    for (int i = 0; i < N; i++) CHECK_ST(sag_fdset_free(a[i]), SAG_OK);
    atomic_store(&fail_armed, 0);
    CHECK(atomic_load(&fail_count) >= 1);
    CHECK_EQ(sag_handle_count(), base);
    int dead = 0;
    for (int i = 0; i < N; i++) dead += sag_handle_kind(a[i]) == SAG_KIND_NONE;
    CHECK_EQ(dead, N);
    /* Twice as many again: reused and fresh indexes, all distinct, none an
     * old handle; then freed (the ring grows this time). */
    int ok = 0;
    for (int i = 0; i < 2 * N; i++) ok += sag_fdset_new((sag_fdset **)&b[i], NULL) == SAG_OK;
    CHECK_EQ(ok, 2 * N);
    dead = 0;
    for (int i = 0; i < N; i++) dead += sag_handle_kind(a[i]) == SAG_KIND_NONE;
    CHECK_EQ(dead, N);
    CHECK_EQ(sag_handle_count(), base + 2 * N);
    for (int i = 0; i < 2 * N; i++) sag_fdset_free(b[i]);
    CHECK(all_distinct(b, 2 * N));
    CHECK_EQ(sag_handle_count(), base);
}
#endif

/* ===== bursts from several threads ======================================== */
enum { THREADS = 8, BURST = 1500, BURST_ROUNDS = 4 };
static void *burst_handles[THREADS * BURST];
static pthread_barrier_t barrier;
static atomic_long burst_bad;

static void *burst(void *arg)
{
    int id = (int)(size_t)arg;
    void **mine = burst_handles + (size_t)id * BURST;
    int rounds = short_run ? 1 : BURST_ROUNDS;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < BURST; i++) {
            sag_fdset *f = NULL;
            if (sag_fdset_new(&f, NULL) != SAG_OK) atomic_fetch_add(&burst_bad, 1);
            mine[i] = f;
        }
        pthread_barrier_wait(&barrier);
        if (id == 0) {
            static void *copy[THREADS * BURST];
            memcpy(copy, burst_handles, sizeof copy);
            if (!all_distinct(copy, THREADS * BURST)) atomic_fetch_add(&burst_bad, 1);
        }
        pthread_barrier_wait(&barrier);
        for (int i = 0; i < BURST; i++) {
            if (sag_handle_kind(mine[i]) != SAG_KIND_FDSET) atomic_fetch_add(&burst_bad, 1);
            if (sag_fdset_free(mine[i]) != SAG_OK) atomic_fetch_add(&burst_bad, 1);
            if (sag_handle_kind(mine[i]) != SAG_KIND_NONE) atomic_fetch_add(&burst_bad, 1);
        }
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

static void bursts(void)
{
    section("bursts of handles made and freed from several threads");
    int base = sag_handle_count();
    pthread_t t[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, burst, (void *)(size_t)i);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    CHECK_EQ(atomic_load(&burst_bad), 0);
    CHECK_EQ(sag_handle_count(), base);
}

int main(int argc, char **argv)
{
    alarm(120);
    short_run = argc > 1 && strcmp(argv[1], "short") == 0;
    retirement();
#ifdef MALLOC_FAIL
    if (!getenv("SAG_TEST_NO_MALLOC_FAIL")) growth_fails();
#endif
    bursts();
    return check_summary() > 0 ? 1 : 0;
}
