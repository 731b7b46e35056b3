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
 * write (PortLock.swift): 0 free, 1 held, 2 held with a thread waiting. Its
 * uncontended acquire and release are one atomic instruction each and need
 * no thread id (Synchronization.Mutex reads one from thread-local storage
 * on every lock); a contended acquire sleeps on the word with futex(2). */
#include <stdint.h>
void sag_lock_wait(uint32_t *word) __attribute__((visibility("hidden")));
void sag_lock_wake(uint32_t *word) __attribute__((visibility("hidden")));

static inline void sag_lock_acquire(uint32_t *word) {
    uint32_t expected = 0;
    if (!__atomic_compare_exchange_n(word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        sag_lock_wait(word);
}
static inline int sag_lock_try(uint32_t *word) {
    uint32_t expected = 0;
    return __atomic_compare_exchange_n(word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
static inline void sag_lock_release(uint32_t *word) {
    if (__atomic_exchange_n(word, 0, __ATOMIC_RELEASE) == 2)
        sag_lock_wake(word);
}
/* Whether the 16 bytes at p are all ASCII and none is a CR (a UTF-8 port's
 * buffered line needs no decoding then; UTF8.swift): one vector compare a
 * step, where Swift's SIMD comparisons compile to a loop over the bytes. */
typedef unsigned char sag_bytes16 __attribute__((vector_size(16)));
static inline int sag_plain_ascii_no_cr16(const void *p) {
    sag_bytes16 v, bad;
    unsigned long long w[2];
    __builtin_memcpy(&v, p, 16);
    bad = (sag_bytes16)((v >= 0x80) | (v == 0x0D));
    __builtin_memcpy(w, &bad, 16);
    return (w[0] | w[1]) == 0;
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
