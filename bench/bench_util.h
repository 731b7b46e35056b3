/* bench_util.h: what bench.c, bench_ports.c and cost.c share (header-only;
 * one bench per program): timing, dying with a message, the raw loopback
 * listener and its raw connect/accept/send/receive and echo, the
 * statistics, the common BENCH_* settings and the result table.
 *
 * Define BENCH_NAME (the program's name, the prefix of its messages) and
 * _GNU_SOURCE (for accept4) before including this header.
 */
#ifndef SAG_BENCH_UTIL_H
#define SAG_BENCH_UTIL_H

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)

/* ---- settings (parse_common_env) ---------------------------------------- */
static double scale = 1.0; /* BENCH_SCALE: sizes x scale */
static int rounds = 5;     /* BENCH_ROUNDS: at least 5 */
static int verbose;        /* BENCH_VERBOSE=1: every round's values on stderr */
static int cpu_clock;      /* BENCH_CLOCK=cpu: now() reads the process's CPU time */

/* ---- helpers ------------------------------------------------------------ */
/* Seconds on the monotonic clock or, with BENCH_CLOCK=cpu, of the CPU time
 * the whole process (every thread, user + system) has used: on a machine
 * loaded by other work, what a measurement costs rather than how long it
 * waited for a core. */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void die_errno(const char *what)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, strerror(errno));
    exit(2);
}

static inline void die(const char *what)
{
    fprintf(stderr, BENCH_NAME ": %s\n", what);
    exit(2);
}

static inline void set_nodelay(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        die_errno("setsockopt TCP_NODELAY");
}

/* ---- the raw listener (127.0.0.1) and the raw side ---------------------- */
static int listen_fd;
static struct sockaddr_in listen_addr; /* 127.0.0.1:port of listen_fd */
static char listen_service[16];        /* that port, in decimal */

static inline void listener_setup(void)
{
    int one = 1;
    socklen_t len = sizeof listen_addr;

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0)
        die_errno("socket");
    if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one))
        die_errno("setsockopt SO_REUSEADDR");
    memset(&listen_addr, 0, sizeof listen_addr);
    listen_addr.sin_family = AF_INET;
    listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd, (struct sockaddr *)&listen_addr, sizeof listen_addr))
        die_errno("bind");
    if (listen(listen_fd, SOMAXCONN))
        die_errno("listen");
    if (getsockname(listen_fd, (struct sockaddr *)&listen_addr, &len))
        die_errno("getsockname");
    snprintf(listen_service, sizeof listen_service, "%d",
             ntohs(listen_addr.sin_port));
}

/* A blocking socket connected to the listener, TCP_NODELAY on. */
static inline int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die_errno("socket");
    while (connect(fd, (struct sockaddr *)&listen_addr, sizeof listen_addr))
        if (errno != EINTR)
            die_errno("connect");
    set_nodelay(fd);
    return fd;
}

static inline int raw_accept(void)
{
    int fd;
    while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
        if (errno != EINTR)
            die_errno("accept4");
    set_nodelay(fd);
    return fd;
}

static inline void raw_send_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_errno("send");
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* A blocking receive, retried on EINTR; dies on a failure. */
static inline size_t raw_recv(int fd, uint8_t *buf, size_t len)
{
    ssize_t n;
    while ((n = recv(fd, buf, len, 0)) < 0)
        if (errno != EINTR)
            die_errno("recv");
    return (size_t)n;
}

/* A thread's body: echoes the bytes of the descriptor at p, one at a time,
 * until the end of the stream (the ping-pongs' raw peer). */
static inline void *raw_echo(void *p)
{
    int fd = *(int *)p;
    uint8_t b;
    while (raw_recv(fd, &b, 1) == 1)
        raw_send_all(fd, &b, 1);
    return NULL;
}

/* ---- statistics --------------------------------------------------------- */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double median(const double *v, int n)
{
    double *c = malloc(sizeof *c * (size_t)n), m;
    if (c == NULL)
        die_errno("malloc");
    memcpy(c, v, sizeof *c * (size_t)n);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

/* "lo-hi" of v[0, n), each with `digits` decimals. */
static inline void range(const double *v, int n, int digits, char *out,
                         size_t cap)
{
    double lo = v[0], hi = v[0];
    for (int i = 1; i < n; i++) {
        if (v[i] < lo)
            lo = v[i];
        if (v[i] > hi)
            hi = v[i];
    }
    snprintf(out, cap, "%.*f-%.*f", digits, lo, digits, hi);
}

/* BENCH_SCALE, BENCH_CLOCK, BENCH_VERBOSE and BENCH_ROUNDS into scale,
 * cpu_clock, verbose and rounds; dies on a BENCH_SCALE out of (0, 100]. */
static inline void parse_common_env(void)
{
    const char *v = getenv("BENCH_SCALE");
    if (v != NULL && *v != '\0') {
        char *end;
        scale = strtod(v, &end);
        if (*end != '\0' || !(scale > 0) || scale > 100)
            die("BENCH_SCALE must be a number in (0, 100]");
    }
    v = getenv("BENCH_CLOCK");
    cpu_clock = v != NULL && strcmp(v, "cpu") == 0;
    v = getenv("BENCH_VERBOSE");
    verbose = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
    v = getenv("BENCH_ROUNDS");
    if (v != NULL && *v != '\0') {
        rounds = atoi(v);
        if (rounds < 5)
            rounds = 5;
    }
}

/* ---- the table ---------------------------------------------------------- */
/* Column widths: the measurement's name, each value (raw, lib), the range
 * of the ratios, the goal. */
struct table {
    int name, value, range, goal;
};

static inline void table_head(const struct table *t)
{
    printf("\n%-*s %*s %*s %8s  %-*s %-*s %s\n", t->name, "measurement",
           t->value, "raw", t->value, "lib", "lib/raw", t->range, "range",
           t->goal, "goal", "");
}

/* met: 1 met, 0 MISSED, -1 a report row (no goal to meet). */
static inline void table_row(const struct table *t, const char *name,
                             const char *raw, const char *lib, double ratio,
                             const char *rng, const char *goal, int met)
{
    printf("%-*s %*s %*s %8.3f  %-*s %-*s %s\n", t->name, name, t->value, raw,
           t->value, lib, ratio, t->range, rng, t->goal, goal,
           met < 0 ? "" : met ? "met" : "MISSED");
}

#endif /* SAG_BENCH_UTIL_H */
