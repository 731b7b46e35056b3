/* shims.h: the Linux calls that Swift's Glibc module hides behind
 * _GNU_SOURCE, declared here exactly as glibc declares them, and epoll's own
 * header, which the Glibc module leaves out; and the per-call transfer and
 * wait calls made as plain system calls, the thread's wake descriptor,
 * the ports' lock word, the handle table's directory, the embedder's close
 * hook and a 16-byte ASCII test (below). Nothing else. */
#ifndef SAGSOCKET_SHIMS_H
#define SAGSOCKET_SHIMS_H
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <stdint.h>
#include <time.h>

extern int eventfd(unsigned int count, int flags);

/* The calls every send, receive, accept and wait makes, as plain system
 * calls through syscall(2) rather than glibc's wrappers of the same name.
 * Those wrappers are thread-cancellation points: each call switches the
 * thread to asynchronous cancellation and back (two atomic operations, about
 * a hundred instructions), and a pthread_cancel arriving meanwhile would
 * unwind the thread through the library's frames, which cannot be unwound
 * (their cleanup would not run). Made plainly, the calls cost less and a
 * cancellation waits for the caller's next cancellation point. Each returns
 * -1 with errno set on failure, as the wrappers do. */
#include <sys/syscall.h>
#include <unistd.h>
#include <signal.h>

static inline long sag_sys_recvfrom(int fd, void *buf, size_t len, int flags,
                                    struct sockaddr *addr, socklen_t *alen) {
    return syscall(SYS_recvfrom, fd, buf, len, flags, addr, alen);
}
static inline long sag_sys_sendto(int fd, const void *buf, size_t len, int flags,
                                  const struct sockaddr *addr, socklen_t alen) {
    return syscall(SYS_sendto, fd, buf, len, flags, addr, alen);
}
static inline long sag_sys_sendmsg(int fd, const struct msghdr *msg, int flags) {
    return syscall(SYS_sendmsg, fd, msg, flags);
}
static inline long sag_sys_recvmsg(int fd, struct msghdr *msg, int flags) {
    return syscall(SYS_recvmsg, fd, msg, flags);
}
/* fcntl(2) with an int argument (Swift cannot call the variadic one). */
static inline int sag_sys_fcntl(int fd, int cmd, int arg) {
    return (int)syscall(SYS_fcntl, fd, cmd, arg);
}
static inline int sag_sys_accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags) {
    return (int)syscall(SYS_accept4, fd, addr, alen, flags);
}
/* ppoll with no signal mask; the kernel writes the time left back into
 * *timeout, so it is the caller's own copy. */
static inline int sag_sys_ppoll(struct pollfd *fds, nfds_t n, struct timespec *timeout) {
    return (int)syscall(SYS_ppoll, fds, n, timeout, (void *)0, (size_t)(_NSIG / 8));
}

/* The calling thread's wake descriptor plus one (0: none yet), read on
 * every wait (Waiting.swift): a thread-local variable (shims.c) costs a
 * fraction of pthread_getspecific(3), which is kept only for its destructor. */
int sag_thread_waker_get(void) __attribute__((visibility("hidden")));
void sag_thread_waker_set(int value) __attribute__((visibility("hidden")));

/* The calling thread's deadline for its waits (ThreadDeadline in
 * Waiting.swift), in nanoseconds on the monotonic clock; 0: none. */
int64_t sag_thread_deadline_get(void) __attribute__((visibility("hidden")));
void sag_thread_deadline_set(int64_t value) __attribute__((visibility("hidden")));

/* A lock word for the port buffers' paths, taken on every port read and
 * write (PortLock.swift): 0 free; otherwise held, with bit 1 (2) set when a
 * thread waits and bit 2 (4) set while the C layer's fast path holds it
 * (sag_lock_try_fast). Its uncontended acquire and release are one atomic
 * instruction each and need no thread id (Synchronization.Mutex reads one
 * from thread-local storage on every lock); a contended acquire sleeps on
 * the word with futex(2), marking it waited for and keeping bit 2. */
#include <stdint.h>
/* The ThreadSanitizer build (Tests/tsan/run.sh passes -Xcc -DSAG_TSAN):
 * these atomics are compiled without TSan's instrumentation, so each
 * acquire and release of a lock word is told to TSan, which then sees the
 * order the word's holders keep, the C layer's fast path's included. */
#ifdef SAG_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define SAG_TSAN_ACQUIRE(w) __tsan_acquire(w)
#define SAG_TSAN_RELEASE(w) __tsan_release(w)
#else
#define SAG_TSAN_ACQUIRE(w) ((void)0)
#define SAG_TSAN_RELEASE(w) ((void)0)
#endif
void sag_lock_wait(uint32_t *word) __attribute__((visibility("hidden")));
void sag_lock_wake(uint32_t *word) __attribute__((visibility("hidden")));

#define SAG_LOCK_WAITED 2u
#define SAG_LOCK_FAST 4u

static inline void sag_lock_acquire(uint32_t *word) {
    uint32_t expected = 0;
    if (!__atomic_compare_exchange_n(word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        sag_lock_wait(word);
    SAG_TSAN_ACQUIRE(word);
}
static inline int sag_lock_try(uint32_t *word) {
    uint32_t expected = 0;
    int taken = __atomic_compare_exchange_n(word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
    if (taken)
        SAG_TSAN_ACQUIRE(word);
    return taken;
}
static inline void sag_lock_release(uint32_t *word) {
    SAG_TSAN_RELEASE(word);
    if (__atomic_exchange_n(word, 0, __ATOMIC_RELEASE) & SAG_LOCK_WAITED)
        sag_lock_wake(word);
}

/* The fast path's lock (SagSocketCABI/Handles.swift, HandleTable.withLocked):
 * taken only when free at once, marked with bit 2, and never held across
 * anything that can wait. Sequentially consistent: the handle's slot is
 * read after it (is the handle still live?), and freeing a handle clears
 * live and then waits while bit 2 is set (sag_lock_fast_held), so that
 * either the fast path sees the handle freed or the free sees it held. */
static inline int sag_lock_try_fast(uint32_t *word) {
    uint32_t expected = 0;
    int taken = __atomic_compare_exchange_n(word, &expected, 1 | SAG_LOCK_FAST, 0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_RELAXED);
    if (taken)
        SAG_TSAN_ACQUIRE(word);
    return taken;
}
/* Not held by a fast path: what the last one did is seen (a free goes on
 * to release the port it used). */
static inline int sag_lock_fast_held(uint32_t *word) {
    int held = (__atomic_load_n(word, __ATOMIC_SEQ_CST) & SAG_LOCK_FAST) != 0;
    if (!held)
        SAG_TSAN_ACQUIRE(word);
    return held;
}

/* The two lock words of a socket's port buffers (input, output), each in
 * a cache line of its own (a reader and a writer thread do not share one).
 * Their memory is never freed, only reused (sag_lock_pair_new/free): the
 * C layer's fast path may touch the words of a port that another thread
 * has just freed, finds the handle gone, and lets go (only ever through
 * the lock protocol, so a reused pair stays a correct lock). NULL when no
 * memory could be had. */
typedef struct sag_lock_pair {
    uint32_t input;
    char pad0[60];
    uint32_t output;
    char pad1[52];
    struct sag_lock_pair *next; /* in the free list */
} sag_lock_pair;
sag_lock_pair *sag_lock_pair_new(void) __attribute__((visibility("hidden")));
static inline uint32_t *sag_lock_pair_input(sag_lock_pair *pair) { return &pair->input; }
static inline uint32_t *sag_lock_pair_output(sag_lock_pair *pair) { return &pair->output; }
void sag_lock_pair_free(sag_lock_pair *pair) __attribute__((visibility("hidden")));

/* Sixteen bytes, compared a vector at a time (sag_plain_line_length). */
typedef unsigned char sag_bytes16 __attribute__((vector_size(16)));

/* A 16-byte compare's result (bytes 0 or 0xFF) as 16 bits, byte i in bit i. */
static inline unsigned sag_mask16(sag_bytes16 m) {
#if defined(__SSE2__) && !defined(SAG_NO_SSE2_MASK)
    return (unsigned)__builtin_ia32_pmovmskb128((__attribute__((vector_size(16))) char)m);
#else
    unsigned long long w[2];
    const unsigned long long high = 0x8080808080808080ULL, gather = 0x0002040810204081ULL;
    __builtin_memcpy(w, &m, 16);
    return (unsigned)(((w[0] & high) * gather) >> 56) | (unsigned)((((w[1] & high) * gather) >> 56) << 8);
#endif
}

/* The length of the line at p when it is plain: the count of bytes before
 * the first LF among the n bytes there, when those bytes are all ASCII and,
 * with no_cr, none of them is a CR; -1 when there is no LF or the line is
 * not plain (a UTF-8 textual port's buffered line then takes the general
 * path: SocketPort.bufferedLine). One pass, 16 bytes a step, looking for the
 * first byte that stops the scan (a LF, a CR, a byte from 0x80); the last
 * step overlaps the one before it, whose bytes did not stop it. It costs
 * two thirds of a memchr for the LF and a second pass over the line. */
static inline __attribute__((always_inline)) long sag_plain_line_length(const void *p, long n, int no_cr) {
    const unsigned char *b = (const unsigned char *)p;
    const unsigned char cr = no_cr ? 0x0D : 0x0A;
    long at = 0;
    if (n >= 16) {
        for (;;) {
            sag_bytes16 v, lf;
            unsigned stop;
            __builtin_memcpy(&v, b + at, 16);
            lf = (sag_bytes16)(v == 0x0A);
            /* the high bit of each byte: a LF, a CR, or a byte from 0x80 */
            stop = sag_mask16(lf | (sag_bytes16)(v == cr) | v);
            if (stop != 0) {
                int first = __builtin_ctz(stop);
                return (sag_mask16(lf) >> first) & 1 ? at + first : -1;
            }
            at += 16;
            if (at + 16 > n) {
                if (at >= n)
                    return -1;
                at = n - 16;
            }
        }
    }
    for (; at < n; at++) {
        if (b[at] == 0x0A)
            return at;
        if (b[at] >= 0x80 || b[at] == cr)
            return -1;
    }
    return -1;
}

/* The directory of the handle table's chunks (SagSocketCABI/Handles.swift):
 * a chunk's address, published once with release order and read with
 * acquire order; 0 until the chunk is made. A C array, so that every handle
 * look-up reads it without the first-use check a Swift global object costs. */
#define SAG_HANDLE_MAX_CHUNKS 4096
extern uintptr_t sag_handle_chunks[SAG_HANDLE_MAX_CHUNKS] __attribute__((visibility("hidden")));

static inline uintptr_t sag_handle_chunk_load(long i) {
    return __atomic_load_n(&sag_handle_chunks[i], __ATOMIC_ACQUIRE);
}
static inline void sag_handle_chunk_publish(long i, uintptr_t chunk) {
    __atomic_store_n(&sag_handle_chunks[i], chunk, __ATOMIC_RELEASE);
}

/* The rest of the handle table's state, used to insert and remove (the
 * look-ups never touch it): the indexes handed out so far, the freed ones
 * in the order they were freed (reused first-in first-out), the live
 * handles, and the lock word of the first two. C variables, so that an
 * insert or a removal neither checks that a Swift global was made nor
 * reads the thread's id, as Synchronization.Mutex does on every lock. The
 * ThreadSanitizer build guards them with a pthread mutex of its own
 * instead of the lock word (Handles.swift). */
struct sag_handle_allocation {
    uint32_t lock;
    long used;                     /* indexes 0 ..< used were handed out */
    long *freed, head, count, cap; /* a ring of freed indexes */
};
extern struct sag_handle_allocation sag_handle_allocation __attribute__((visibility("hidden")));
extern long sag_handle_live __attribute__((visibility("hidden")));

static inline void sag_handle_allocation_lock(void) { sag_lock_acquire(&sag_handle_allocation.lock); }
static inline void sag_handle_allocation_unlock(void) { sag_lock_release(&sag_handle_allocation.lock); }
/* Under the allocation's lock: the index freed longest ago, or else the next
 * never used (*fresh set to 1) while it is below `limit`; -1 when neither. */
long sag_handle_index_take(long limit, int *fresh);
/* Under the allocation's lock: `index` to be reused; 0 when its room could
 * not grow (the index is then never reused). */
int sag_handle_index_give(long index);
static inline void sag_handle_live_add(long delta) {
    __atomic_fetch_add(&sag_handle_live, delta, __ATOMIC_RELAXED);
}
static inline long sag_handle_live_load(void) { return __atomic_load_n(&sag_handle_live, __ATOMIC_RELAXED); }

/* The embedder's close hook (SagSocketCore/Internals/EmbedderSlot.swift):
 * called with a socket's embedder word when the socket closes; the C layer
 * installs it (its handle table marks the handle's slot closed). A C
 * variable, read without the first-use check of a Swift global. */
typedef void (*sag_embedder_closed_hook)(uintptr_t word);
extern sag_embedder_closed_hook sag_embedder_closed_hook_fn __attribute__((visibility("hidden")));

static inline void sag_embedder_closed_hook_set(sag_embedder_closed_hook hook) {
    __atomic_store_n(&sag_embedder_closed_hook_fn, hook, __ATOMIC_RELEASE);
}
static inline sag_embedder_closed_hook sag_embedder_closed_hook_load(void) {
    return __atomic_load_n(&sag_embedder_closed_hook_fn, __ATOMIC_ACQUIRE);
}
#endif
