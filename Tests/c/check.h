/* check.h: the check harness the C tests share (header-only; one test
 * program per translation unit).
 *
 * Each check counts a pass or prints one line for a failure
 * ("file:line: FAIL: the expression  -- what was got"); check_summary()
 * prints the closing "N passed, M failed" line.
 *
 * The including file defines _GNU_SOURCE or _POSIX_C_SOURCE (>= 200809L)
 * before its first #include (for clock_gettime, nanosleep; join_within
 * needs _GNU_SOURCE). Define
 * CHECK_EQ_HEX before including this header for CHECK_EQ failures that
 * also show both values in hexadecimal.
 */
#ifndef SAG_TEST_CHECK_H
#define SAG_TEST_CHECK_H

#include <sagsocket.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _GNU_SOURCE
#include <sys/syscall.h>
#endif

/* ===== Checks ============================================================ */

static atomic_int g_pass, g_fail;

static inline void check_fail(const char *file, int line, const char *expr,
                              const char *detail) {
    atomic_fetch_add(&g_fail, 1);
    printf("%s:%d: FAIL: %s%s%s\n", file, line, expr, detail ? "  -- " : "",
           detail ? detail : "");
    fflush(stdout);
}

#define CHECK(e)                                                             \
    do {                                                                     \
        if (e)                                                               \
            atomic_fetch_add(&g_pass, 1);                                    \
        else                                                                 \
            check_fail(__FILE__, __LINE__, #e, NULL);                        \
    } while (0)

/* A status check: prints the status got, its name and the calling thread's
 * last error message when it differs. */
#define CHECK_ST(call, expected)                                             \
    do {                                                                     \
        int r_ = (call);                                                     \
        int x_ = (expected);                                                 \
        if (r_ == x_) {                                                      \
            atomic_fetch_add(&g_pass, 1);                                    \
        } else {                                                             \
            char d_[640];                                                    \
            snprintf(d_, sizeof d_, "got %d %s, expected %d %s (%s)", r_,   \
                     sag_status_name(r_), x_, sag_status_name(x_),           \
                     sag_error_message(sag_last_error()));                   \
            check_fail(__FILE__, __LINE__, #call " == " #expected, d_);      \
        }                                                                    \
    } while (0)

static inline void check_eq(const char *file, int line, const char *expr,
                            long long g, long long x) {
    char d[128];
    if (g == x) {
        atomic_fetch_add(&g_pass, 1);
        return;
    }
#ifdef CHECK_EQ_HEX
    snprintf(d, sizeof d, "got %lld (0x%llx), expected %lld (0x%llx)", g,
             (unsigned long long)g, x, (unsigned long long)x);
#else
    snprintf(d, sizeof d, "got %lld, expected %lld", g, x);
#endif
    check_fail(file, line, expr, d);
}

/* Two integers equal, printing both when not (`got` is evaluated first). */
#define CHECK_EQ(got, expected)                                              \
    do {                                                                     \
        long long g_ = (long long)(got);                                     \
        long long x_ = (long long)(expected);                                \
        check_eq(__FILE__, __LINE__, #got " == " #expected, g_, x_);         \
    } while (0)

static inline void section(const char *name) {
    printf("-- %s\n", name);
    fflush(stdout);
}

/* Prints "N passed, M failed"; returns M. */
static inline int check_summary(void) {
    int p = atomic_load(&g_pass), f = atomic_load(&g_fail);
    printf("%d passed, %d failed\n", p, f);
    return f;
}

/* The summary, then exit 1 when a check failed, else 0. */
static inline void summary_and_exit(void) {
    exit(check_summary() > 0 ? 1 : 0);
}

/* ===== Helpers =========================================================== */

static inline int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#ifdef _GNU_SOURCE
/* Joins t within ms milliseconds: 0, or pthread_timedjoin_np's error
 * (ETIMEDOUT: the thread still runs). */
static inline int join_within(pthread_t t, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_timedjoin_np(t, NULL, &ts);
}
#endif

/* Waits (at most 10 s) until s is readable: data, end of file, a reset or,
 * on a listener, a connection has arrived; 1 when it is. Loopback delivery
 * can lag behind the send on a loaded machine (the kernel may leave it to
 * ksoftirqd), so a test that needs the bytes there waits for them. */
static inline int wait_readable(sag_socket *s) {
    sag_socket *ready[1] = {NULL};
    size_t n = 0;
    return sag_socket_read_select(10000000, &s, 1, ready, &n, NULL) == SAG_OK &&
           n == 1;
}

#ifdef _GNU_SOURCE
/* The calling thread's kernel id (for wait_until_polling). */
static inline int thread_id(void) { return (int)syscall(SYS_gettid); }

/* 1 when thread `tid` of this process is blocked in a poll-family system
 * call, where every wait of the library blocks (its waits poll the socket
 * with the thread's wake descriptor; a selector's wait is an epoll wait). */
static inline int thread_is_polling(int tid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long nr = -1;
    int known = fscanf(f, "%ld", &nr) == 1; /* "running": not blocked */
    fclose(f);
    return known && (nr == SYS_ppoll || nr == SYS_epoll_pwait
#ifdef SYS_poll
                     || nr == SYS_poll
#endif
#ifdef SYS_epoll_wait
                     || nr == SYS_epoll_wait
#endif
#ifdef SYS_epoll_pwait2
                     || nr == SYS_epoll_pwait2
#endif
                    );
}

/* Waits (1 ms at a time, at most 10 s) until the thread whose id *tid holds
 * (0 until that thread has stored it) is blocked in the library's wait; 1
 * when it was seen there. An interrupt reaches only a call already waiting
 * and a close before the call is another case, so a test that means to wake
 * a blocked call waits for this rather than sleeping: on a loaded machine
 * no sleep is long enough for certain. */
static inline int wait_until_polling(atomic_int *tid) {
    for (int i = 0; i < 10000; i++) {
        int t = atomic_load(tid);
        if (t > 0 && thread_is_polling(t))
            return 1;
        sleep_ms(1);
    }
    return 0;
}
#endif

/* Receives exactly n bytes (or until EOF/failure); returns the count. */
static inline size_t recv_n(sag_socket *s, uint8_t *buf, size_t n,
                            sag_error *err) {
    size_t got = 0;
    while (got < n) {
        size_t r = 0;
        if (sag_socket_recv(s, buf, got, n - got, 0, &r, err) != SAG_OK ||
            r == 0)
            break;
        got += r;
    }
    return got;
}

/* The local port of a socket (getsockname), or -1. */
static inline int local_port(sag_socket *s) {
    sag_socket_info *info = NULL;
    int port = -1;
    if (sag_socket_get_info(s, &info, NULL) != SAG_OK || info == NULL)
        return -1;
    if (sag_socket_info_port(info, &port, NULL) != SAG_OK)
        port = -1;
    sag_socket_info_free(info);
    return port;
}

/* The descriptors this process has open (/proc/self/fd, but for the
 * directory's own) whose link target `keep` accepts, each printed when
 * `report`; -1 when /proc/self/fd cannot be read. */
static inline int count_fds(int (*keep)(int fd, const char *target), int report) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char path[300], target[300];
        int fd = atoi(de->d_name);
        if (de->d_name[0] == '.' || fd == dirfd(d))
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
        ssize_t r = readlink(path, target, sizeof target - 1);
        target[r > 0 ? r : 0] = 0;
        if (!keep(fd, target))
            continue;
        if (report)
            printf("  fd %d open: %s\n", fd, target);
        n++;
    }
    closedir(d);
    return n;
}

#endif /* SAG_TEST_CHECK_H */
