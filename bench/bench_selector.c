/* bench_selector.c: the socket selector against the same work on raw epoll
 * (and against the library's own poll-based read-select), in one run. A
 * report, not a test: it exits 0 whether or not the goals are met.
 *
 *   cc -O2 bench_selector.c $(pkg-config --cflags --libs sagsocket) -pthread
 *   BENCH_SCALE=0.1 ./bench_selector   (connections x 0.1, shorter timings)
 *   BENCH_ROUNDS=9 ./bench_selector    (rounds; default and minimum 5)
 *   BENCH_VERBOSE=1 ./bench_selector   (every round's values on stderr)
 *   BENCH_CLOCK=cpu ./bench_selector   (times are the process's CPU time,
 *                                      user + system; the echo's rate is
 *                                      the server's CPU time)
 *   BENCH_PART=1 or 2 ./bench_selector (only that part)
 *
 * Each round runs every measurement on both sides, alternating which goes
 * first (even rounds raw first). The tables show the medians of each side
 * and the median of the per-round ratios.
 *
 * 1. One ready socket among N registered (N = 10, 1,000, 10,000 connected
 *    sockets, whose peers live in a child process; one peer has sent a byte
 *    that is never read, so that socket is always readable). A selector
 *    reports a socket once and lets it go, so the realistic cycle is a wait
 *    that finds the socket plus adding it again:
 *      lib   sag_selector_wait (capacity 64) + sag_selector_add
 *      raw   epoll_wait (64 events) + EPOLL_CTL_MOD re-arming the socket
 *            (registered EPOLLIN|EPOLLONESHOT, level-triggered), the same
 *            descriptors in an epoll instance of its own
 *    goal lib/raw <= 1.5 at every N, and flat in N. Then watched sockets
 *    (sag_selector_watch: registered once, reported by every wait while
 *    readable): lib = sag_selector_wait alone, raw = epoll_wait alone on a
 *    level-triggered registration without ONESHOT; goal lib/raw <= 1.5.
 *    Next to it the library's
 *    poll-based sag_socket_read_select over the same N sockets (one call
 *    finds the ready one), as selector/select. And, at N = 1,000, two other
 *    ways raw epoll could do the cycle, against the raw row: edge-triggered
 *    EPOLLET|EPOLLONESHOT with MOD, and level-triggered without ONESHOT,
 *    removing the socket on report (EPOLL_CTL_DEL) and adding it back
 *    (EPOLL_CTL_ADD).
 * 2. Echo: C connections (10,000) from a child process, each sending 100
 *    numbered 16-byte messages one after the other, echoed by a server on
 *    one thread: lib = the selector (listener included), raw = the same loop
 *    on epoll (LT, ONESHOT, MOD). The child's clients are the same raw epoll
 *    loop for both and time from the first message to the last echo;
 *    messages/s, goal lib/raw >= 1.0.
 */
#define _GNU_SOURCE /* accept4 */

#define BENCH_NAME "bench_selector"

#include <sagsocket.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bench_util.h"

enum { MSG = 16, MESSAGES = 100, CAP = 64, ECHO_CAP = 256 };

static sag_error *err;
static double budget = 0.3; /* seconds per measurement per side and round */

static void die_sag(const char *what)
{
    fprintf(stderr, BENCH_NAME ": %s: %s [%s]\n", what, sag_error_message(err),
            sag_status_name(sag_error_status(err)));
    exit(2);
}

#define SAG(call)                                                              \
    do {                                                                       \
        if ((call) != SAG_OK)                                                  \
            die_sag(#call);                                                    \
    } while (0)

/* RLIMIT_NOFILE raised to its hard limit; returns the soft limit. */
static long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die_errno("getrlimit");
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            die_errno("setrlimit");
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_cur;
}

/* A library listener on 127.0.0.1 only; its port into *port. */
static sag_socket *lib_listener(int *port)
{
    sag_addrinfo *hints = NULL, *ai = NULL;
    sag_socket *s = NULL;
    sag_socket_info *info = NULL;
    SAG(sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM, SAG_AI_PASSIVE | SAG_AI_NUMERICHOST, 0,
                               &hints, err));
    SAG(sag_get_addrinfo("127.0.0.1", "0", hints, &ai, err));
    SAG(sag_create_socket(ai, &s, err));
    SAG(sag_socket_setsockopt_int(s, SAG_SOL_SOCKET, SAG_SO_REUSEADDR, 1, err));
    SAG(sag_socket_bind(s, ai, err));
    SAG(sag_socket_listen(s, SAG_SOMAXCONN, err));
    SAG(sag_socket_get_info(s, &info, err));
    if (info == NULL)
        die("no socket-info for the listener");
    SAG(sag_socket_info_port(info, port, err));
    sag_socket_info_free(info);
    sag_addrinfo_free(ai);
    sag_addrinfo_free(hints);
    return s;
}

/* A raw client socket connected to 127.0.0.1:port, blocking, NODELAY. */
static int raw_connect_port(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die_errno("socket");
    while (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        if (errno != EINTR)
            die_errno("connect");
    set_nodelay(fd);
    return fd;
}

/* Closes with a reset: no TIME_WAIT left behind by thousands of clients. */
static void close_reset(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void epoll_add(int ep, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        die_errno("epoll_ctl ADD");
}

static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* ===== 1. one ready socket among N ======================================= */

static const int sizes[3] = {10, 1000, 10000};
enum { N_SIZES = 3 };

static int nmax;                /* connections made (10,000 or what fits) */
static sag_socket **held;       /* the accepted library sockets */
static int *held_fd;            /* their descriptors */
static sag_selector *sel[N_SIZES];
static int ep[N_SIZES];         /* raw: LT + ONESHOT */
static int ep_et, ep_del;       /* N = 1,000: ET + ONESHOT; LT, DEL + ADD */
static sag_selector *selw[N_SIZES]; /* watched (sag_selector_watch) */
static int ep_lt[N_SIZES];      /* raw: level-triggered, registered once */
static pid_t peers_pid;
static int peers_pipe;          /* closing it ends the peers' process */

static int n_of(int k) { return sizes[k] < nmax ? sizes[k] : nmax; }

/* The peers: a child process that connects n sockets to the listener,
 * sends one byte on the first, and keeps them open until its pipe closes.
 * The parent accepts them into held[]; the readable one goes first. */
static void start_peers(sag_socket *listener, int port, int n)
{
    int go[2], done[2];
    if (pipe(go) != 0 || pipe(done) != 0)
        die_errno("pipe");
    peers_pid = fork();
    if (peers_pid < 0)
        die_errno("fork");
    if (peers_pid == 0) {
        close(go[1]);
        close(done[0]);
        int *fds = malloc(sizeof(int) * (size_t)n);
        if (fds == NULL)
            _exit(1);
        for (int i = 0; i < n; i++)
            fds[i] = raw_connect_port(port);
        raw_send_all(fds[0], (const uint8_t *)"!", 1);
        if (write(done[1], "k", 1) != 1)
            _exit(1);
        char c;
        while (read(go[0], &c, 1) < 0 && errno == EINTR) {
        }
        for (int i = 0; i < n; i++)
            close_reset(fds[i]);
        _exit(0);
    }
    close(go[0]);
    close(done[1]);
    peers_pipe = go[1];
    for (int i = 0; i < n; i++) {
        SAG(sag_socket_accept(listener, &held[i], err));
        SAG(sag_socket_fd(held[i], &held_fd[i], err));
    }
    char c;
    if (read(done[0], &c, 1) != 1)
        die("the peers' process failed");
    close(done[0]);
    /* The readable one first (it is, as connections are accepted in order;
     * made sure). */
    sag_socket **ready = malloc(sizeof(sag_socket *) * (size_t)n);
    size_t nready = 0;
    if (ready == NULL)
        die_errno("malloc");
    for (int tries = 0; tries < 100 && nready == 0; tries++)
        SAG(sag_socket_read_select(100000, held, (size_t)n, ready, &nready, err));
    if (nready != 1)
        die("expected exactly one readable socket among the peers");
    for (int i = 0; i < n; i++)
        if (held[i] == ready[0]) {
            sag_socket *t = held[0];
            int tf = held_fd[0];
            held[0] = held[i];
            held_fd[0] = held_fd[i];
            held[i] = t;
            held_fd[i] = tf;
        }
    free(ready);
}

static void one_ready_setup(void)
{
    int port = 0;
    sag_socket *listener = lib_listener(&port);
    long fit = raise_nofile() - 100; /* the peers are in their own process */
    nmax = sizes[N_SIZES - 1];
    if (fit < nmax) {
        printf("note: RLIMIT_NOFILE allows %ld connections of 10,000\n", fit);
        nmax = (int)fit;
    }
    held = calloc((size_t)nmax, sizeof(sag_socket *));
    held_fd = calloc((size_t)nmax, sizeof(int));
    if (held == NULL || held_fd == NULL)
        die_errno("calloc");
    start_peers(listener, port, nmax);
    sag_socket_free(listener);
    for (int k = 0; k < N_SIZES; k++) {
        SAG(sag_selector_new(&sel[k], err));
        ep[k] = epoll_create1(EPOLL_CLOEXEC);
        if (ep[k] < 0)
            die_errno("epoll_create1");
        for (int i = 0; i < n_of(k); i++) {
            SAG(sag_selector_add(sel[k], held[i], -1, i, err));
            epoll_add(ep[k], held_fd[i], EPOLLIN | EPOLLONESHOT, (uint64_t)i);
        }
        SAG(sag_selector_new(&selw[k], err));
        ep_lt[k] = epoll_create1(EPOLL_CLOEXEC);
        if (ep_lt[k] < 0)
            die_errno("epoll_create1");
        for (int i = 0; i < n_of(k); i++) {
            SAG(sag_selector_watch(selw[k], held[i], i, err));
            epoll_add(ep_lt[k], held_fd[i], EPOLLIN, (uint64_t)i);
        }
    }
    ep_et = epoll_create1(EPOLL_CLOEXEC);
    ep_del = epoll_create1(EPOLL_CLOEXEC);
    if (ep_et < 0 || ep_del < 0)
        die_errno("epoll_create1");
    for (int i = 0; i < n_of(1); i++) {
        epoll_add(ep_et, held_fd[i], EPOLLIN | EPOLLONESHOT | EPOLLET, (uint64_t)i);
        epoll_add(ep_del, held_fd[i], EPOLLIN, (uint64_t)i);
    }
}

static void one_ready_teardown(void)
{
    for (int k = 0; k < N_SIZES; k++) {
        sag_selector_free(sel[k]);
        close(ep[k]);
        sag_selector_free(selw[k]);
        close(ep_lt[k]);
    }
    close(ep_et);
    close(ep_del);
    for (int i = 0; i < nmax; i++)
        sag_socket_free(held[i]);
    free(held);
    free(held_fd);
    close(peers_pipe);
    while (waitpid(peers_pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

/* Runs `cycle` for about `budget` seconds; seconds per cycle. */
#define TIMED(...)                                                             \
    do {                                                                       \
        long n_ = 0;                                                           \
        double t0_ = now(), t_;                                                \
        do {                                                                   \
            for (int i_ = 0; i_ < 16; i_++) {                                  \
                __VA_ARGS__;                                                   \
            }                                                                  \
            n_ += 16;                                                          \
            t_ = now() - t0_;                                                  \
        } while (t_ < budget);                                                 \
        return t_ / (double)n_;                                                \
    } while (0)

static double cycle_lib(int k)
{
    sag_socket *socks[CAP];
    int64_t tags[CAP];
    int timed_out[CAP];
    size_t n = 0;
    TIMED({
        if (sag_selector_wait(sel[k], -1, socks, tags, timed_out, CAP, &n, err) != SAG_OK || n != 1)
            die_sag("sag_selector_wait (one ready)");
        if (sag_selector_add(sel[k], socks[0], -1, tags[0], err) != SAG_OK)
            die_sag("sag_selector_add");
    });
}

/* epoll_wait + re-arm: MOD for ONESHOT registrations, DEL then ADD for a
 * plain level-triggered one. */
static double cycle_raw_on(int e, uint32_t events, int del_add)
{
    struct epoll_event evs[CAP];
    TIMED({
        int r = epoll_wait(e, evs, CAP, -1);
        if (r != 1)
            die_errno("epoll_wait (one ready)");
        int fd = held_fd[evs[0].data.u64];
        struct epoll_event ev = {.events = events, .data = evs[0].data};
        if (del_add) {
            if (epoll_ctl(e, EPOLL_CTL_DEL, fd, &ev) != 0 || epoll_ctl(e, EPOLL_CTL_ADD, fd, &ev) != 0)
                die_errno("epoll_ctl DEL/ADD");
        } else if (epoll_ctl(e, EPOLL_CTL_MOD, fd, &ev) != 0) {
            die_errno("epoll_ctl MOD");
        }
    });
}

static double cycle_raw(int k) { return cycle_raw_on(ep[k], EPOLLIN | EPOLLONESHOT, 0); }

/* Watched: the socket stays registered, so the cycle is the wait alone. */
static double watch_lib(int k)
{
    sag_socket *socks[CAP];
    int64_t tags[CAP];
    int timed_out[CAP];
    size_t n = 0;
    TIMED({
        if (sag_selector_wait(selw[k], -1, socks, tags, timed_out, CAP, &n, err) != SAG_OK || n != 1)
            die_sag("sag_selector_wait (watched, one ready)");
    });
}

static double watch_raw(int k)
{
    struct epoll_event evs[CAP];
    TIMED({
        if (epoll_wait(ep_lt[k], evs, CAP, -1) != 1)
            die_errno("epoll_wait (level, one ready)");
    });
}

static double cycle_select(int k)
{
    static sag_socket **ready;
    size_t nready = 0;
    if (ready == NULL && (ready = malloc(sizeof(sag_socket *) * (size_t)nmax)) == NULL)
        die_errno("malloc");
    TIMED({
        if (sag_socket_read_select(-1, held, (size_t)n_of(k), ready, &nready, err) != SAG_OK || nready != 1)
            die_sag("sag_socket_read_select (one ready)");
    });
}

/* ===== 2. echo: C connections x 100 messages ============================= */

static int echo_conns;

static void fill_msg(uint8_t *m, uint32_t conn, uint32_t seq)
{
    memcpy(m, &conn, 4);
    memcpy(m + 4, &seq, 4);
    for (int i = 8; i < MSG; i++)
        m[i] = (uint8_t)(conn * 31 + seq * 7 + (uint32_t)i);
}

/* The clients (in a child process): connect every connection, then send
 * message 0 on each and answer every complete echo with the next message,
 * on one raw epoll loop; write the seconds from the first send to the last
 * echo (negative on a wrong echo) to `out`. */
static void echo_clients(int port, int out)
{
    int n = echo_conns;
    int *fd = malloc(sizeof(int) * (size_t)n);
    int *seq = calloc((size_t)n, sizeof(int));
    int *have = calloc((size_t)n, sizeof(int));
    uint8_t(*buf)[MSG] = malloc((size_t)n * MSG);
    struct epoll_event evs[256];
    int e = epoll_create1(EPOLL_CLOEXEC);
    if (!fd || !seq || !have || !buf || e < 0)
        _exit(1);
    raise_nofile();
    for (int i = 0; i < n; i++) {
        fd[i] = raw_connect_port(port);
        epoll_add(e, fd[i], EPOLLIN, (uint64_t)i);
    }
    long done = 0, total = (long)n * MESSAGES;
    int bad = 0;
    double t0 = now();
    for (int i = 0; i < n; i++) {
        uint8_t m[MSG];
        fill_msg(m, (uint32_t)i, 0);
        raw_send_all(fd[i], m, MSG);
    }
    while (done < total && !bad) {
        int r = epoll_wait(e, evs, 256, 30000);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            bad = 1;
            break;
        }
        for (int k = 0; k < r; k++) {
            int i = (int)evs[k].data.u64;
            ssize_t g = recv(fd[i], buf[i] + have[i], (size_t)(MSG - have[i]), 0);
            if (g <= 0) {
                bad = 1;
                break;
            }
            have[i] += (int)g;
            if (have[i] < MSG)
                continue;
            uint8_t m[MSG];
            fill_msg(m, (uint32_t)i, (uint32_t)seq[i]);
            if (memcmp(m, buf[i], MSG) != 0)
                bad = 1;
            have[i] = 0;
            done++;
            if (++seq[i] < MESSAGES) {
                fill_msg(m, (uint32_t)i, (uint32_t)seq[i]);
                raw_send_all(fd[i], m, MSG);
            }
        }
    }
    double t = now() - t0;
    if (bad)
        t = -1;
    if (write(out, &t, sizeof t) != (ssize_t)sizeof t)
        _exit(1);
    for (int i = 0; i < n; i++)
        close_reset(fd[i]);
    _exit(0);
}

/* Runs the calling process on one CPU (when there are two or more), so that
 * the server and its clients do not trade places from round to round. */
static void pin_cpu(int cpu)
{
    cpu_set_t set;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Forks the clients against port; returns the pid and the read end of the
 * pipe their result comes through. */
static pid_t fork_clients(int port, int *result)
{
    int p[2];
    if (pipe(p) != 0)
        die_errno("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die_errno("fork");
    if (pid == 0) {
        close(p[0]);
        pin_cpu(1);
        echo_clients(port, p[1]);
    }
    close(p[1]);
    *result = p[0];
    return pid;
}

/* Messages per second: by the clients' clock, from their first message to
 * their last echo; with BENCH_CLOCK=cpu, by the server's own CPU time over
 * the whole run (`server_cpu` seconds; its accepts included), since the
 * clients' CPU time says nothing of the server's. */
static double clients_result(pid_t pid, int result, double server_cpu)
{
    double t = -1;
    if (read_full(result, &t, sizeof t) != 0)
        t = -1;
    close(result);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (t <= 0)
        die("the echo clients failed (a lost, wrong or late echo)");
    return (double)echo_conns * MESSAGES / (cpu_clock ? server_cpu : t);
}

static sag_socket *echo_listener;
static int echo_port;

/* The selector server: one thread, the listener in the selector too. */
static double echo_lib(void)
{
    int result;
    pid_t pid = fork_clients(echo_port, &result);
    sag_selector *s = NULL;
    sag_socket **conns = calloc((size_t)echo_conns, sizeof(sag_socket *));
    static sag_socket *socks[ECHO_CAP];
    static int64_t tags[ECHO_CAP];
    static int timed_out[ECHO_CAP];
    uint8_t buf[4096];
    size_t n;
    long accepted = 0, echoed = 0, total = (long)echo_conns * MESSAGES * MSG;
    if (conns == NULL)
        die_errno("calloc");
    double t0 = now();
    SAG(sag_selector_new(&s, err));
    SAG(sag_selector_add(s, echo_listener, -1, -1, err));
    while (echoed < total) {
        SAG(sag_selector_wait(s, -1, socks, tags, timed_out, ECHO_CAP, &n, err));
        for (size_t i = 0; i < n; i++) {
            size_t got = 0, sent = 0;
            if (tags[i] < 0) {
                SAG(sag_socket_accept(echo_listener, &conns[accepted], err));
                SAG(sag_selector_add(s, conns[accepted], -1, accepted, err));
                accepted++;
                if (accepted < echo_conns)
                    SAG(sag_selector_add(s, echo_listener, -1, -1, err));
                continue;
            }
            SAG(sag_socket_recv(socks[i], buf, 0, sizeof buf, 0, &got, err));
            if (got == 0)
                die("an echo client closed early");
            SAG(sag_socket_send(socks[i], buf, 0, got, 0, &sent, err));
            echoed += (long)got;
            SAG(sag_selector_add(s, socks[i], -1, tags[i], err));
        }
    }
    double rate = clients_result(pid, result, now() - t0);
    sag_selector_free(s);
    for (long i = 0; i < accepted; i++)
        sag_socket_free(conns[i]);
    free(conns);
    return rate;
}

/* The same server on raw epoll: LT + ONESHOT, re-armed with MOD. */
static double echo_raw(void)
{
    int result;
    pid_t pid = fork_clients(ntohs(listen_addr.sin_port), &result);
    int e = epoll_create1(EPOLL_CLOEXEC);
    int *conns = malloc(sizeof(int) * (size_t)echo_conns);
    struct epoll_event evs[ECHO_CAP];
    uint8_t buf[4096];
    long accepted = 0, echoed = 0, total = (long)echo_conns * MESSAGES * MSG;
    if (e < 0 || conns == NULL)
        die_errno("echo_raw setup");
    double t0 = now();
    epoll_add(e, listen_fd, EPOLLIN | EPOLLONESHOT, UINT64_MAX);
    while (echoed < total) {
        int r = epoll_wait(e, evs, ECHO_CAP, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die_errno("epoll_wait");
        for (int i = 0; i < r; i++) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data = evs[i].data};
            if (evs[i].data.u64 == UINT64_MAX) {
                int c = raw_accept();
                conns[accepted] = c;
                epoll_add(e, c, EPOLLIN | EPOLLONESHOT, (uint64_t)accepted);
                accepted++;
                if (accepted < echo_conns && epoll_ctl(e, EPOLL_CTL_MOD, listen_fd, &ev) != 0)
                    die_errno("epoll_ctl MOD");
                continue;
            }
            int fd = conns[evs[i].data.u64];
            ssize_t got;
            while ((got = recv(fd, buf, sizeof buf, 0)) < 0 && errno == EINTR) {
            }
            if (got <= 0)
                die("an echo client closed early");
            raw_send_all(fd, buf, (size_t)got);
            echoed += got;
            if (epoll_ctl(e, EPOLL_CTL_MOD, fd, &ev) != 0)
                die_errno("epoll_ctl MOD");
        }
    }
    double rate = clients_result(pid, result, now() - t0);
    epoll_ctl(e, EPOLL_CTL_DEL, listen_fd, NULL);
    close(e);
    for (long i = 0; i < accepted; i++)
        close(conns[i]);
    free(conns);
    return rate;
}

/* ===== rounds and the report ============================================= */

/* One measurement: two sides, their values per round, the ratio a/b. */
struct pair_m {
    double (*a)(int), (*b)(int);
    int arg;
    double *av, *bv, *ratio;
};

static void measure(struct pair_m *m, int r)
{
    if (r % 2 == 0) {
        m->bv[r] = m->b(m->arg);
        m->av[r] = m->a(m->arg);
    } else {
        m->av[r] = m->a(m->arg);
        m->bv[r] = m->b(m->arg);
    }
    m->ratio[r] = m->av[r] / m->bv[r];
}

static void alloc_m(struct pair_m *m)
{
    m->av = calloc((size_t)rounds, sizeof(double));
    m->bv = calloc((size_t)rounds, sizeof(double));
    m->ratio = calloc((size_t)rounds, sizeof(double));
    if (!m->av || !m->bv || !m->ratio)
        die_errno("calloc");
}

/* The measurements that take no N, in the shape struct pair_m calls. */
static double et_raw(int k) { (void)k; return cycle_raw_on(ep_et, EPOLLIN | EPOLLONESHOT | EPOLLET, 0); }
static double del_raw(int k) { (void)k; return cycle_raw_on(ep_del, EPOLLIN, 1); }
static double echo_lib_m(int k) { (void)k; return echo_lib(); }
static double echo_raw_m(int k) { (void)k; return echo_raw(); }

static const struct table table = {44, 14, 12, 14};

static void row_us(struct pair_m *m, const char *name, const char *goal, int met_if_below, double limit)
{
    char a[32], b[32], rng[32];
    snprintf(b, sizeof b, "%.2f us", median(m->bv, rounds) * 1e6);
    snprintf(a, sizeof a, "%.2f us", median(m->av, rounds) * 1e6);
    range(m->ratio, rounds, 3, rng, sizeof rng);
    double ratio = median(m->ratio, rounds);
    table_row(&table, name, b, a, ratio, rng, goal, met_if_below ? ratio <= limit : 1);
}

static void report_one_ready(void);
static void report_echo(void);

int main(void)
{
    parse_common_env();
    budget = 0.3 * scale;
    if (budget < 0.05)
        budget = 0.05;
    signal(SIGPIPE, SIG_IGN); /* the raw side's clients; the library never raises it */
    SAG(sag_error_new(&err));
    printf("sagsocket selector bench: libsagsocket %s through its C ABI vs raw epoll in C, loopback "
           "TCP, same run.\n", sag_version_string());
    printf("  BENCH_SCALE=%g, %d interleaved rounds (even rounds raw first); medians shown, ratio = "
           "median of per-round ratios. A report, not a test.\n", scale, rounds);
    if (cpu_clock)
        printf("  BENCH_CLOCK=cpu: times are the process's CPU time (user + system), the echo's "
               "rate the server's CPU time.\n");

    const char *part = getenv("BENCH_PART");
    int part1 = !part || strcmp(part, "2") != 0, part2 = !part || strcmp(part, "1") != 0;

    /* ---- 1 ---- */
    if (part1)
        report_one_ready();
    if (part2)
        report_echo();
    sag_error_free(err);
    return 0;
}

/* A table with a row for each N of N_SIZES: m[k] measured at n_of(k),
 * named by fmt (a "%d" for N); goal and limit as row_us. */
static void size_rows(struct pair_m *m, const char *fmt, const char *goal, int met_if_below, double limit)
{
    char name[80];
    table_head(&table);
    for (int k = 0; k < N_SIZES; k++) {
        snprintf(name, sizeof name, fmt, n_of(k));
        row_us(&m[k], name, goal, met_if_below, limit);
    }
}

static void report_one_ready(void)
{
    one_ready_setup();
    struct pair_m cyc[N_SIZES], vs_select[N_SIZES], watched[N_SIZES], et, del;
    for (int k = 0; k < N_SIZES; k++) {
        watched[k] = (struct pair_m){watch_lib, watch_raw, k, NULL, NULL, NULL};
        alloc_m(&watched[k]);
        cyc[k] = (struct pair_m){cycle_lib, cycle_raw, k, NULL, NULL, NULL};
        vs_select[k] = (struct pair_m){cycle_lib, cycle_select, k, NULL, NULL, NULL};
        alloc_m(&cyc[k]);
        alloc_m(&vs_select[k]);
    }
    et = (struct pair_m){et_raw, cycle_raw, 1, NULL, NULL, NULL};
    del = (struct pair_m){del_raw, cycle_raw, 1, NULL, NULL, NULL};
    alloc_m(&et);
    alloc_m(&del);
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < N_SIZES; k++) {
            measure(&cyc[k], r);
            measure(&vs_select[k], r);
            measure(&watched[k], r);
        }
        measure(&et, r);
        measure(&del, r);
        fprintf(stderr, BENCH_NAME ": round %d/%d: wait+re-add lib/raw %.3f %.3f %.3f\n", r + 1, rounds,
                cyc[0].ratio[r], cyc[1].ratio[r], cyc[2].ratio[r]);
    }
    one_ready_teardown();

    printf("\n1. one ready socket among N: one wait that finds it + adding it again (a selector lets a "
           "reported socket go)\n");
    printf("   raw = epoll_wait + EPOLL_CTL_MOD re-arm (EPOLLIN|EPOLLONESHOT, level); lib = "
           "sag_selector_wait + sag_selector_add\n");
    size_rows(cyc, "wait+re-add, 1 ready of %d", "lib/raw<=1.5", 1, 1.5);
    printf("\n   watched sockets (registered once, reported while readable): raw = epoll_wait on a level-"
           "triggered registration (no re-arm); lib = sag_selector_wait on sag_selector_watch\n");
    size_rows(watched, "watched: wait, 1 ready of %d", "lib/raw<=1.5", 1, 1.5);
    printf("\n   the library's poll-based read-select over the same N (one call finds the ready "
           "socket); column raw = read-select, lib = selector\n");
    size_rows(vs_select, "selector vs read-select, N=%d", "(report)", 0, 0);
    printf("\n   other raw epoll cycles at N=%d, against the raw row above; column raw = LT+ONESHOT+MOD\n",
           n_of(1));
    table_head(&table);
    row_us(&et, "EPOLLET|EPOLLONESHOT + MOD", "(report)", 0, 0);
    row_us(&del, "level, no ONESHOT: DEL + ADD", "(report)", 0, 0);

}

static void report_echo(void)
{
    echo_conns = (int)(10000 * scale);
    if (echo_conns < 100)
        echo_conns = 100;
    long fit = raise_nofile() - 200;
    if (echo_conns > fit) {
        printf("note: RLIMIT_NOFILE allows %ld connections\n", fit);
        echo_conns = (int)fit;
    }
    listener_setup();
    echo_listener = lib_listener(&echo_port);
    struct pair_m echo = {echo_lib_m, echo_raw_m, 0, NULL, NULL, NULL};
    alloc_m(&echo);
    pin_cpu(0);
    /* A round of each side first, not counted: the first thousands of
     * connections of a run are slower (the kernel's allocations warm up). */
    echo_raw();
    echo_lib();
    for (int r = 0; r < rounds; r++) {
        measure(&echo, r);
        fprintf(stderr, BENCH_NAME ": round %d/%d: echo lib/raw %.3f (%.0f / %.0f messages/s)\n", r + 1, rounds,
                echo.ratio[r], echo.av[r], echo.bv[r]);
    }
    printf("\n2. echo: %d connections x %d messages of %d bytes, one server thread (lib: the selector; "
           "raw: epoll LT+ONESHOT+MOD); messages/s\n", echo_conns, MESSAGES, MSG);
    table_head(&table);
    char a[32], b[32], rng[32], name[80];
    snprintf(b, sizeof b, "%.0f msg/s", median(echo.bv, rounds));
    snprintf(a, sizeof a, "%.0f msg/s", median(echo.av, rounds));
    range(echo.ratio, rounds, 3, rng, sizeof rng);
    snprintf(name, sizeof name, "echo %d conns x %d msgs", echo_conns, MESSAGES);
    table_row(&table, name, b, a, median(echo.ratio, rounds), rng, "lib/raw>=1.0",
              median(echo.ratio, rounds) >= 1.0);
    printf("\nsection 1 ratios are times (lower is better for lib); section 2 is a rate (higher is better).\n");
    sag_socket_free(echo_listener);
    close(listen_fd);
}
