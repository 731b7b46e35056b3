/* shims.c: the thread-local variables the shims keep, the lock word's slow
 * paths, the handle table's directory and the embedder's close hook (see
 * include/shims.h). */
#include "shims.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

uintptr_t sag_handle_chunks[SAG_HANDLE_MAX_CHUNKS];
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
