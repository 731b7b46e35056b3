/* bench.c: libsagsocket through its C ABI against the same work done with
 * raw POSIX calls, in one process, in the same run. A report, not a test:
 * it exits 0 whether or not the goals are met (non-zero only when something
 * fails outright).
 *
 *   cc -O2 bench.c $(pkg-config --cflags --libs sagsocket) -pthread
 *   BENCH_SCALE=0.1 ./bench        (sizes x 0.1; default 1)
 *   BENCH_ROUNDS=9 ./bench         (rounds; default and minimum 5)
 *   BENCH_VERBOSE=1 ./bench        (every round's values on stderr)
 *   BENCH_CLOCK=cpu ./bench        (times are the process's CPU time,
 *                                   every thread, user + system)
 *
 * Each round runs every measurement twice, raw and lib, alternating which
 * goes first (even rounds raw first, odd rounds lib first). The table shows
 * the median of each side and the median of the per-round ratios lib/raw.
 *
 *   bulk        1 GiB in 64 KiB sends over loopback TCP, a receiver thread
 *               doing 64 KiB receives; throughput (goal lib/raw >= 0.95)
 *   ping-pong   1-byte round trips with TCP_NODELAY against an echo
 *               thread; latency (goal lib/raw <= 1.03)
 *   floor       the same ping-pong in plain C waiting as an interruptible
 *               wait must (ppoll on the socket and an eventfd, then recv;
 *               non-blocking ends) against blocking C; a report: what any
 *               wait another thread can end costs over blocking recv(2)
 *   connect     serial connect/accept/close on loopback; rate
 *               (goal lib/raw >= 1.0)
 *   abi call    sag_socket_fd in a loop, ns per call (goal <= 20 ns), next to
 *               a call through a volatile function pointer
 *   memory      the resident memory 10,000 idle sockets (sag_make_socket)
 *               add, per socket (goal <= 512 B); once, after the rounds
 *
 * Both sides do the same socket work: the library turns TCP_NODELAY on for
 * every connected and accepted stream socket, so the raw side does too; the
 * raw side uses blocking fds, SOCK_CLOEXEC, accept4 and MSG_NOSIGNAL.
 */
#define _GNU_SOURCE /* accept4, ppoll */

#define BENCH_NAME "bench"

#include <sagsocket.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include "bench_util.h"

#define CHUNK (64 * 1024)

/* ---- sizes -------------------------------------------------------------- */
static uint64_t bulk_bytes; /* a multiple of CHUNK */
static long pingpong_n, connect_n, abi_n;

/* ---- helpers ------------------------------------------------------------ */
static void die_sag(const char *what, int st, const sag_error *err)
{
    fprintf(stderr, "bench: %s: %s [%s]\n", what,
            err ? sag_error_message(err) : sag_status_message(st),
            sag_status_name(st));
    exit(2);
}

#define SAG(call, err)                                                         \
    do {                                                                       \
        int st_ = (call);                                                      \
        if (st_ != SAG_OK)                                                     \
            die_sag(#call, st_, (err));                                        \
    } while (0)

static sag_error *new_error(void)
{
    sag_error *e = NULL;
    SAG(sag_error_new(&e), NULL);
    return e;
}

/* ---- raw POSIX side ----------------------------------------------------- */

/* ---- library side ------------------------------------------------------- */
static sag_error *err;        /* the main thread's error object */
static sag_socket *lib_listen; /* listening on 127.0.0.1:lib_port */
static char lib_port[16];
static sag_addrinfo *lib_ai;  /* 127.0.0.1:lib_port, for connect */

static void lib_setup(void)
{
    sag_addrinfo *hints = NULL, *bind_ai = NULL;
    sag_socket_info *info = NULL;
    int port;

    /* A listener on loopback only: the low-level calls, since
     * sag_make_server_socket binds the wildcard address. */
    SAG(sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM,
                               SAG_AI_PASSIVE | SAG_AI_NUMERICHOST, 0, &hints,
                               err), err);
    SAG(sag_get_addrinfo("127.0.0.1", "0", hints, &bind_ai, err), err);
    SAG(sag_create_socket(bind_ai, &lib_listen, err), err);
    SAG(sag_socket_setsockopt_int(lib_listen, SAG_SOL_SOCKET, SAG_SO_REUSEADDR,
                                  1, err), err);
    SAG(sag_socket_bind(lib_listen, bind_ai, err), err);
    SAG(sag_socket_listen(lib_listen, SAG_SOMAXCONN, err), err);
    SAG(sag_socket_get_info(lib_listen, &info, err), err);
    if (info == NULL) {
        fprintf(stderr, "bench: sag_socket_get_info gave no info\n");
        exit(2);
    }
    SAG(sag_socket_info_port(info, &port, err), err);
    snprintf(lib_port, sizeof lib_port, "%d", port);
    sag_socket_info_free(info);
    sag_addrinfo_free(bind_ai);
    sag_addrinfo_free(hints);

    SAG(sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM,
                               SAG_AI_NUMERICHOST | SAG_AI_NUMERICSERV, 0,
                               &hints, err), err);
    SAG(sag_get_addrinfo("127.0.0.1", lib_port, hints, &lib_ai, err), err);
    sag_addrinfo_free(hints);
}

/* A connected pair through the library: the client side the way a user
 * would make it (make-client-socket), the server side from accept. */
static void lib_pair(sag_socket **client, sag_socket **server)
{
    SAG(sag_make_client_socket("127.0.0.1", lib_port, SAG_AF_INET,
                               SAG_SOCK_STREAM, 0, 0, client, err), err);
    SAG(sag_socket_accept(lib_listen, server, err), err);
}

/* ---- bulk --------------------------------------------------------------- */
struct bulk_rx {
    int fd;
    sag_socket *s;
    uint64_t got;
};

static void *raw_bulk_receiver(void *p)
{
    struct bulk_rx *rx = p;
    uint8_t *buf = malloc(CHUNK);
    size_t n;
    if (buf == NULL)
        die_errno("malloc");
    while ((n = raw_recv(rx->fd, buf, CHUNK)) > 0)
        rx->got += n;
    free(buf);
    return NULL;
}

static void *lib_bulk_receiver(void *p)
{
    struct bulk_rx *rx = p;
    sag_error *e = new_error(); /* one error object per thread */
    uint8_t *buf = malloc(CHUNK);
    size_t n;
    if (buf == NULL)
        die_errno("malloc");
    for (;;) {
        SAG(sag_socket_recv(rx->s, buf, 0, CHUNK, 0, &n, e), e);
        if (n == 0)
            break;
        rx->got += n;
    }
    free(buf);
    sag_error_free(e);
    return NULL;
}

static uint8_t *send_buf;

/* Joins the receiver th, which must have got every byte; the bytes per
 * second since t0. */
static double bulk_done(const char *which, pthread_t th, const struct bulk_rx *rx, double t0)
{
    double t1;
    pthread_join(th, NULL);
    t1 = now();
    if (rx->got != bulk_bytes) {
        fprintf(stderr, "bench: %s bulk received %llu of %llu bytes\n", which,
                (unsigned long long)rx->got, (unsigned long long)bulk_bytes);
        exit(2);
    }
    return (double)bulk_bytes / (t1 - t0);
}

/* Returns bytes per second. Timed: from the first send until the receiver
 * has read every byte and seen the end of the stream. */
static double bulk_raw(void)
{
    struct bulk_rx rx = {-1, NULL, 0};
    int c = raw_connect(), s = raw_accept();
    pthread_t th;
    uint64_t left;
    double t0, rate;

    rx.fd = s;
    if (pthread_create(&th, NULL, raw_bulk_receiver, &rx))
        die_errno("pthread_create");
    t0 = now();
    for (left = bulk_bytes; left > 0; left -= CHUNK)
        raw_send_all(c, send_buf, CHUNK);
    shutdown(c, SHUT_WR);
    rate = bulk_done("raw", th, &rx, t0);
    close(c);
    close(s);
    return rate;
}

static double bulk_lib(void)
{
    struct bulk_rx rx = {-1, NULL, 0};
    sag_socket *c = NULL, *s = NULL;
    pthread_t th;
    uint64_t left;
    size_t sent;
    double t0, rate;

    lib_pair(&c, &s);
    rx.s = s;
    if (pthread_create(&th, NULL, lib_bulk_receiver, &rx))
        die_errno("pthread_create");
    t0 = now();
    for (left = bulk_bytes; left > 0; left -= CHUNK)
        SAG(sag_socket_send(c, send_buf, 0, CHUNK, 0, &sent, err), err);
    SAG(sag_socket_shutdown(c, SAG_SHUT_WR, err), err);
    rate = bulk_done("lib", th, &rx, t0);
    sag_socket_free(c);
    sag_socket_free(s);
    return rate;
}

/* ---- ping-pong ---------------------------------------------------------- */
#define WARMUP 200


static void *lib_echo(void *p)
{
    sag_socket *s = p;
    sag_error *e = new_error();
    uint8_t b;
    size_t n, sent;
    for (;;) {
        SAG(sag_socket_recv(s, &b, 0, 1, 0, &n, e), e);
        if (n == 0)
            break;
        SAG(sag_socket_send(s, &b, 0, 1, 0, &sent, e), e);
    }
    sag_error_free(e);
    return NULL;
}

/* Returns seconds per round trip. */
static double pingpong_raw(void)
{
    int c = raw_connect(), s = raw_accept();
    pthread_t th;
    uint8_t b = 'x';
    long i;
    double t0 = 0, t1;

    if (pthread_create(&th, NULL, raw_echo, &s))
        die_errno("pthread_create");
    for (i = -WARMUP; i < pingpong_n; i++) {
        if (i == 0)
            t0 = now();
        raw_send_all(c, &b, 1);
        if (raw_recv(c, &b, 1) != 1) {
            fprintf(stderr, "bench: raw ping-pong: early end of stream\n");
            exit(2);
        }
    }
    t1 = now();
    shutdown(c, SHUT_WR);
    pthread_join(th, NULL);
    close(c);
    close(s);
    return (t1 - t0) / (double)pingpong_n;
}

static double pingpong_lib(void)
{
    sag_socket *c = NULL, *s = NULL;
    pthread_t th;
    uint8_t b = 'x';
    size_t n, sent;
    long i;
    double t0 = 0, t1;

    lib_pair(&c, &s);
    if (pthread_create(&th, NULL, lib_echo, s))
        die_errno("pthread_create");
    for (i = -WARMUP; i < pingpong_n; i++) {
        if (i == 0)
            t0 = now();
        SAG(sag_socket_send(c, &b, 0, 1, 0, &sent, err), err);
        SAG(sag_socket_recv(c, &b, 0, 1, 0, &n, err), err);
        if (n != 1) {
            fprintf(stderr, "bench: lib ping-pong: early end of stream\n");
            exit(2);
        }
    }
    t1 = now();
    SAG(sag_socket_shutdown(c, SAG_SHUT_WR, err), err);
    pthread_join(th, NULL);
    sag_socket_free(c);
    sag_socket_free(s);
    return (t1 - t0) / (double)pingpong_n;
}

/* The floor of an interruptible wait, in plain C: both ends non-blocking, a
 * receive waits in ppoll(2) on the socket and on an eventfd another thread
 * could write to end the wait (as the library's waits do), then receives.
 * Blocking recv(2), the raw row, cannot be ended by another thread without a
 * signal; this row prints what waiting in a way that can be costs by itself. */
struct floor_end {
    int fd, wake;
};

static size_t floor_recv(const struct floor_end *e, uint8_t *b)
{
    struct pollfd p[2] = {{e->fd, POLLIN, 0}, {e->wake, POLLIN, 0}};
    ssize_t n;
    for (;;) {
        if (ppoll(p, 2, NULL, NULL) < 0 && errno != EINTR)
            die_errno("ppoll");
        n = recv(e->fd, b, 1, 0);
        if (n >= 0)
            return (size_t)n;
        if (errno != EAGAIN && errno != EINTR)
            die_errno("recv");
    }
}

static void *floor_echo(void *p)
{
    const struct floor_end *e = p;
    uint8_t b;
    while (floor_recv(e, &b) == 1)
        raw_send_all(e->fd, &b, 1);
    return NULL;
}

static double pingpong_floor(void)
{
    struct floor_end c = {raw_connect(), eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    struct floor_end s = {raw_accept(), eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    pthread_t th;
    uint8_t b = 'x';
    long i;
    double t0 = 0, t1;

    if (c.wake < 0 || s.wake < 0)
        die_errno("eventfd");
    if (fcntl(c.fd, F_SETFL, O_NONBLOCK) < 0 || fcntl(s.fd, F_SETFL, O_NONBLOCK) < 0)
        die_errno("fcntl");
    if (pthread_create(&th, NULL, floor_echo, &s))
        die_errno("pthread_create");
    for (i = -WARMUP; i < pingpong_n; i++) {
        if (i == 0)
            t0 = now();
        raw_send_all(c.fd, &b, 1);
        if (floor_recv(&c, &b) != 1) {
            fprintf(stderr, "bench: floor ping-pong: early end of stream\n");
            exit(2);
        }
    }
    t1 = now();
    shutdown(c.fd, SHUT_WR);
    pthread_join(th, NULL);
    close(c.fd);
    close(s.fd);
    close(c.wake);
    close(s.wake);
    return (t1 - t0) / (double)pingpong_n;
}

/* ---- connect/accept/close ----------------------------------------------- */
/* One iteration: a new socket connects, the listener accepts, the server
 * side closes first, the client reads the end of stream and closes. So the
 * TIME_WAIT state lands on the server side (keyed by the listening port)
 * and the client's ephemeral ports are free again at once: no exhaustion. */

/* Returns connections per second. */
static double connect_raw(void)
{
    uint8_t b;
    long i;
    double t0 = now();
    for (i = 0; i < connect_n; i++) {
        int c = raw_connect();
        int s = raw_accept();
        close(s);
        if (raw_recv(c, &b, 1) != 0) {
            fprintf(stderr, "bench: raw connect: data instead of EOF\n");
            exit(2);
        }
        close(c);
    }
    return (double)connect_n / (now() - t0);
}

static double connect_lib(void)
{
    uint8_t b;
    size_t n;
    long i;
    double t0 = now();
    for (i = 0; i < connect_n; i++) {
        sag_socket *c = NULL, *s = NULL;
        /* (create-socket ai) (socket-connect! c ai): the same work as
         * socket()+connect() with the address resolved once, up front. */
        SAG(sag_create_socket(lib_ai, &c, err), err);
        SAG(sag_socket_connect(c, lib_ai, -1, err), err);
        SAG(sag_socket_accept(lib_listen, &s, err), err);
        SAG(sag_socket_free(s), err); /* closes and releases */
        SAG(sag_socket_recv(c, &b, 0, 1, 0, &n, err), err);
        if (n != 0) {
            fprintf(stderr, "bench: lib connect: data instead of EOF\n");
            exit(2);
        }
        SAG(sag_socket_free(c), err);
    }
    return (double)connect_n / (now() - t0);
}

/* ---- one ABI call ------------------------------------------------------- */
/* The raw reference: a call that cannot be inlined, through a volatile
 * function pointer, doing what sag_socket_fd does minus the handle check. */
struct fake_socket {
    int fd;
};
__attribute__((noinline)) static int fake_socket_fd(void *s, int *out,
                                                    void *e)
{
    (void)e;
    *out = ((struct fake_socket *)s)->fd;
    return 0;
}
static int (*volatile fake_fd_fn)(void *, int *, void *) = fake_socket_fd;
static volatile int sink;

/* Returns seconds per call. */
static double abi_raw(void)
{
    struct fake_socket fs = {3};
    int fd = 0, acc = 0, st = 0;
    long i;
    double t0 = now();
    for (i = 0; i < abi_n; i++) {
        st |= fake_fd_fn(&fs, &fd, NULL);
        acc += fd;
    }
    double t = now() - t0;
    sink = acc + st;
    return t / (double)abi_n;
}

static double abi_lib(void)
{
    int fd = 0, acc = 0, st = 0;
    long i;
    double t0 = now(), t;
    for (i = 0; i < abi_n; i++) {
        st |= sag_socket_fd(lib_listen, &fd, err);
        acc += fd;
    }
    t = now() - t0;
    if (st != SAG_OK)
        die_sag("sag_socket_fd", st, err);
    sink = acc;
    return t / (double)abi_n;
}

/* ---- memory per idle socket -------------------------------------------- */
static long resident_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2)
        die_errno("/proc/self/statm");
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

/* Bytes of resident memory per socket that 10,000 sag_make_socket add (the
 * first few made and freed before, so that one-time setup is not counted);
 * -1 when the descriptor limit cannot be raised that far. */
static double memory_per_socket(void)
{
    enum { N = 10000 };
    struct rlimit rl;
    sag_socket **s = calloc(N, sizeof *s);
    long before, after;
    int i;
    if (s == NULL)
        die_errno("calloc");
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die_errno("getrlimit");
    if (rl.rlim_cur < N + 100) {
        rl.rlim_cur = rl.rlim_max < N + 100 ? rl.rlim_max : N + 100;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < N + 100) {
            free(s);
            return -1;
        }
    }
    for (i = 0; i < 100; i++) {
        SAG(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &s[i], err), err);
        SAG(sag_socket_free(s[i]), err);
    }
    before = resident_bytes();
    for (i = 0; i < N; i++)
        SAG(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &s[i], err), err);
    after = resident_bytes();
    for (i = 0; i < N; i++)
        sag_socket_free(s[i]);
    free(s);
    return (double)(after - before) / N;
}

/* ---- statistics and the table ------------------------------------------- */
enum { T_BULK, T_PINGPONG, T_FLOOR, T_CONNECT, T_ABI, N_TESTS };

struct test {
    double (*raw)(void);
    double (*lib)(void);
    double *raw_v, *lib_v, *ratio_v;
};

static struct test tests[N_TESTS] = {
    {bulk_raw, bulk_lib, NULL, NULL, NULL},
    {pingpong_raw, pingpong_lib, NULL, NULL, NULL},
    {pingpong_raw, pingpong_floor, NULL, NULL, NULL},
    {connect_raw, connect_lib, NULL, NULL, NULL},
    {abi_raw, abi_lib, NULL, NULL, NULL},
};

static const struct table table = {38, 14, 12, 14};

static void print_row(const char *name, const char *raw, const char *lib,
                      int t, const char *goal, int met)
{
    char rng[32];
    range(tests[t].ratio_v, rounds, 3, rng, sizeof rng);
    table_row(&table, name, raw, lib, median(tests[t].ratio_v, rounds), rng,
              goal, met);
}

static void parse_env(void)
{
    parse_common_env();
    bulk_bytes = (uint64_t)(GIB * scale / CHUNK) * CHUNK;
    if (bulk_bytes < 16 * CHUNK)
        bulk_bytes = 16 * CHUNK;
    pingpong_n = (long)(20000 * scale);
    if (pingpong_n < 100)
        pingpong_n = 100;
    connect_n = (long)(20000 * scale);
    if (connect_n < 100)
        connect_n = 100;
    abi_n = (long)(10000000 * scale);
    if (abi_n < 1000000)
        abi_n = 1000000;
}

int main(void)
{
    char raw_s[32], lib_s[32], name[64];
    int r, t;
    double raw_m, lib_m, ratio;

    parse_env();
    if (sag_version_number() / 10000 != SAG_VERSION_MAJOR) {
        fprintf(stderr, "bench: header %s but library %s\n",
                SAG_VERSION_STRING, sag_version_string());
        return 2;
    }
    err = new_error();
    send_buf = malloc(CHUNK);
    if (send_buf == NULL)
        die_errno("malloc");
    memset(send_buf, 0x5a, CHUNK);
    for (t = 0; t < N_TESTS; t++) {
        tests[t].raw_v = calloc((size_t)rounds, sizeof(double));
        tests[t].lib_v = calloc((size_t)rounds, sizeof(double));
        tests[t].ratio_v = calloc((size_t)rounds, sizeof(double));
        if (!tests[t].raw_v || !tests[t].lib_v || !tests[t].ratio_v)
            die_errno("calloc");
    }
    listener_setup();
    lib_setup();

    printf("sagsocket bench: libsagsocket %s through its C ABI vs raw POSIX "
           "calls in C, loopback TCP, same process and run.\n",
           sag_version_string());
    printf("  BENCH_SCALE=%g, %d interleaved rounds (even rounds raw first, "
           "odd rounds lib first); medians shown, ratio = median of "
           "per-round lib/raw.\n", scale, rounds);
    if (cpu_clock)
        printf("  BENCH_CLOCK=cpu: times are the process's CPU time (every "
               "thread, user + system), not the wall clock's.\n");
    printf("  A report, not a test. Rerun: make bench  (quick: BENCH_SCALE=0.1 "
           "bash bench/run.sh build/stage)\n");
    fflush(stdout);

    for (r = 0; r < rounds; r++) {
        for (t = 0; t < N_TESTS; t++) {
            if (r % 2 == 0) {
                tests[t].raw_v[r] = tests[t].raw();
                tests[t].lib_v[r] = tests[t].lib();
            } else {
                tests[t].lib_v[r] = tests[t].lib();
                tests[t].raw_v[r] = tests[t].raw();
            }
            tests[t].ratio_v[r] = tests[t].lib_v[r] / tests[t].raw_v[r];
        }
        fprintf(stderr, "bench: round %d/%d (%s first): lib/raw bulk %.3f, "
                "ping-pong %.3f (C ppoll + recv %.3f), connect %.3f, abi call %.3f\n", r + 1, rounds,
                r % 2 == 0 ? "raw" : "lib", tests[T_BULK].ratio_v[r],
                tests[T_PINGPONG].ratio_v[r], tests[T_FLOOR].ratio_v[r], tests[T_CONNECT].ratio_v[r],
                tests[T_ABI].ratio_v[r]);
        if (verbose)
            fprintf(stderr, "  raw/lib: bulk %.2f/%.2f GiB/s, ping-pong "
                    "%.2f/%.2f us, connect %.0f/%.0f per s, abi %.2f/%.2f ns\n",
                    tests[T_BULK].raw_v[r] / GIB, tests[T_BULK].lib_v[r] / GIB,
                    tests[T_PINGPONG].raw_v[r] * 1e6,
                    tests[T_PINGPONG].lib_v[r] * 1e6, tests[T_CONNECT].raw_v[r],
                    tests[T_CONNECT].lib_v[r], tests[T_ABI].raw_v[r] * 1e9,
                    tests[T_ABI].lib_v[r] * 1e9);
    }

    table_head(&table);

    snprintf(name, sizeof name, "bulk %.2f GiB, 64 KiB sends",
             (double)bulk_bytes / GIB);
    raw_m = median(tests[T_BULK].raw_v, rounds);
    lib_m = median(tests[T_BULK].lib_v, rounds);
    ratio = median(tests[T_BULK].ratio_v, rounds);
    snprintf(raw_s, sizeof raw_s, "%.2f GiB/s", raw_m / GIB);
    snprintf(lib_s, sizeof lib_s, "%.2f GiB/s", lib_m / GIB);
    print_row(name, raw_s, lib_s, T_BULK, "lib/raw>=0.95", ratio >= 0.95);

    snprintf(name, sizeof name, "ping-pong 1 byte, %ld round trips",
             pingpong_n);
    raw_m = median(tests[T_PINGPONG].raw_v, rounds);
    lib_m = median(tests[T_PINGPONG].lib_v, rounds);
    ratio = median(tests[T_PINGPONG].ratio_v, rounds);
    snprintf(raw_s, sizeof raw_s, "%.2f us/rt", raw_m * 1e6);
    snprintf(lib_s, sizeof lib_s, "%.2f us/rt", lib_m * 1e6);
    print_row(name, raw_s, lib_s, T_PINGPONG, "lib/raw<=1.03", ratio <= 1.03);

    /* Not the library: plain C waiting as an interruptible wait must. */
    snprintf(name, sizeof name, "  C ppoll+recv (interruptible floor)");
    raw_m = median(tests[T_FLOOR].raw_v, rounds);
    lib_m = median(tests[T_FLOOR].lib_v, rounds);
    snprintf(raw_s, sizeof raw_s, "%.2f us/rt", raw_m * 1e6);
    snprintf(lib_s, sizeof lib_s, "%.2f us/rt", lib_m * 1e6);
    print_row(name, raw_s, lib_s, T_FLOOR, "(report)", -1);

    snprintf(name, sizeof name, "connect/accept/close x%ld", connect_n);
    raw_m = median(tests[T_CONNECT].raw_v, rounds);
    lib_m = median(tests[T_CONNECT].lib_v, rounds);
    ratio = median(tests[T_CONNECT].ratio_v, rounds);
    snprintf(raw_s, sizeof raw_s, "%.0f conn/s", raw_m);
    snprintf(lib_s, sizeof lib_s, "%.0f conn/s", lib_m);
    print_row(name, raw_s, lib_s, T_CONNECT, "lib/raw>=1.0", ratio >= 1.0);

    snprintf(name, sizeof name, "sag_socket_fd x%ld (raw: fn ptr)", abi_n);
    raw_m = median(tests[T_ABI].raw_v, rounds);
    lib_m = median(tests[T_ABI].lib_v, rounds);
    snprintf(raw_s, sizeof raw_s, "%.2f ns/call", raw_m * 1e9);
    snprintf(lib_s, sizeof lib_s, "%.2f ns/call", lib_m * 1e9);
    print_row(name, raw_s, lib_s, T_ABI, "lib<=20 ns", lib_m * 1e9 <= 20.0);

    {
        double m = memory_per_socket();
        if (m < 0)
            printf("%-38s (the descriptor limit is below 10,100)\n",
                   "memory per idle socket");
        else
            printf("%-38s %14s %11.0f B %8s  %-12s %-14s %s\n",
                   "memory per idle socket (RSS, 10,000)", "", m, "", "",
                   "lib<=512 B", m <= 512 ? "met" : "MISSED");
    }

    printf("\nbulk and connect ratios are rates (higher is better for lib); "
           "ping-pong and the ABI call are times (lower is better).\n");

    for (t = 0; t < N_TESTS; t++) {
        free(tests[t].raw_v);
        free(tests[t].lib_v);
        free(tests[t].ratio_v);
    }
    free(send_buf);
    sag_addrinfo_free(lib_ai);
    sag_socket_free(lib_listen);
    close(listen_fd);
    sag_error_free(err);
    return 0;
}
