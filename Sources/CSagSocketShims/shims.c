/* shims.c: the thread-local variables the shims keep, the lock word's slow
 * paths, the handle table's directory and allocation, and the embedder's
 * close hook (see include/shims.h). */
#include "shims.h"

#include <linux/futex.h>
#include <stdlib.h>
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

/* The word is held: mark it contended (2) and sleep until it is released;
 * whoever takes it from here keeps it marked, so its release wakes the next. */
void sag_lock_wait(uint32_t *word) {
    while (__atomic_exchange_n(word, 2, __ATOMIC_ACQUIRE) != 0)
        syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 2, (void *)0, (void *)0, 0);
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
