/* shims.c: the thread-local variables the shims keep, the lock word's slow
 * paths, the handle table's directory and allocation, and the embedder's
 * close hook (see include/shims.h). */
#include "shims.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

uintptr_t sag_handle_chunks[SAG_HANDLE_MAX_CHUNKS];
struct sag_handle_allocation sag_handle_allocation;
long sag_handle_live;
sag_embedder_closed_hook sag_embedder_closed_hook_fn;

static __thread int thread_waker;
static __thread int64_t thread_deadline;

int sag_thread_waker_get(void) { return thread_waker; }

void sag_thread_waker_set(int value) { thread_waker = value; }

int64_t sag_thread_deadline_get(void) { return thread_deadline; }

void sag_thread_deadline_set(int64_t value) { thread_deadline = value; }

/* The word is held: mark it waited for (keeping the fast path's mark) and
 * sleep until it is released; whoever takes it from here keeps it marked,
 * so its release wakes the next. */
void sag_lock_wait(uint32_t *word) {
    for (;;) {
        uint32_t w = __atomic_load_n(word, __ATOMIC_RELAXED);
        if (w == 0) {
            if (__atomic_compare_exchange_n(word, &w, SAG_LOCK_WAITED, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return;
            continue;
        }
        if (!(w & SAG_LOCK_WAITED)
            && !__atomic_compare_exchange_n(word, &w, w | SAG_LOCK_WAITED, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            continue;
        syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, w | SAG_LOCK_WAITED, (void *)0, (void *)0, 0);
    }
}

void sag_lock_wake(uint32_t *word) {
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, (void *)0, (void *)0, 0);
}

long sag_handle_index_take(long limit, int *fresh) {
    struct sag_handle_allocation *a = &sag_handle_allocation;
    *fresh = 0;
    if (a->count > 0) {
        long index = a->freed[a->head];
        a->head = (a->head + 1) & (a->cap - 1); /* cap: a power of two */
        a->count--;
        return index;
    }
    if (a->used >= limit)
        return -1;
    *fresh = 1;
    return a->used++;
}

int sag_handle_index_give(long index) {
    struct sag_handle_allocation *a = &sag_handle_allocation;
    if (a->count == a->cap) {
        long cap = a->cap ? a->cap * 2 : 1024;
        long *grown = malloc(sizeof(long) * (size_t)cap);
        if (grown == NULL)
            return 0;
        for (long i = 0; i < a->count; i++)
            grown[i] = a->freed[(a->head + i) & (a->cap - 1)];
        free(a->freed);
        a->freed = grown;
        a->head = 0;
        a->cap = cap;
    }
    a->freed[(a->head + a->count) & (a->cap - 1)] = index;
    a->count++;
    return 1;
}

/* Lock pairs are allocated 64 at a time and never freed; freed pairs are
 * reused first. Made and freed with sockets, not per call: a mutex is enough. */
static pthread_mutex_t lock_pairs_mutex = PTHREAD_MUTEX_INITIALIZER;
static sag_lock_pair *lock_pairs_free;

sag_lock_pair *sag_lock_pair_new(void) {
    sag_lock_pair *p;
    pthread_mutex_lock(&lock_pairs_mutex);
    if (lock_pairs_free == NULL) {
        enum { batch = 64 };
        sag_lock_pair *block = aligned_alloc(64, batch * sizeof(sag_lock_pair));
        if (block != NULL) {
            memset(block, 0, batch * sizeof(sag_lock_pair));
            for (int i = 0; i < batch; i++) {
                block[i].next = lock_pairs_free;
                lock_pairs_free = &block[i];
            }
        }
    }
    p = lock_pairs_free;
    if (p != NULL)
        lock_pairs_free = p->next;
    pthread_mutex_unlock(&lock_pairs_mutex);
    return p;
}

void sag_lock_pair_free(sag_lock_pair *pair) {
    if (pair == NULL)
        return;
    pthread_mutex_lock(&lock_pairs_mutex);
    pair->next = lock_pairs_free;
    lock_pairs_free = pair;
    pthread_mutex_unlock(&lock_pairs_mutex);
}

_Static_assert(sizeof(sag_lock_pair) == 128, "two cache lines");
