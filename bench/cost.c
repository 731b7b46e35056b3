/* cost.c: the work of one operation, to be counted by callgrind
 * (bench/run_cost.sh): instructions executed in user space per operation,
 * through the library's C ABI and through the same raw calls. Not timed;
 * instruction counts do not depend on what else the machine runs.
 *
 *   cost MODE N
 *     pingpong-lib / pingpong-raw   N 1-byte round trips, an echo thread
 *     connect-lib  / connect-raw    N connect/accept/close cycles
 *     lines-binary / lines-text / lines-raw
 *                                   N lines of 40 bytes read with
 *                                   sag_port_get_bytes_line, sag_port_get_line
 *                                   (UTF-8, lf) or fdopen + getline(3)
 *     put-none / put-block / put-raw
 *                                   N puts of 1 KiB with
 *                                   sag_port_put_bytevector in buffer mode
 *                                   none or block (then sag_port_flush), or
 *                                   send(2); a thread drains the other end
 *     selector-lib / selector-raw   N waits that find 1 ready socket of 10
 *                                   (AF_UNIX pairs), each followed by adding
 *                                   it again: sag_selector_wait +
 *                                   sag_selector_add, or epoll_wait +
 *                                   EPOLL_CTL_MOD (EPOLLIN|EPOLLONESHOT)
 *     watch-lib / watch-raw         N waits on 10 watched sockets, 1 ready:
 *                                   sag_selector_wait, or epoll_wait on a
 *                                   level-triggered registration
 *     fd-lib                        N calls of sag_socket_fd
 *
 * Each mode runs a warm-up of N/10 operations first; run_cost.sh subtracts a
 * run of N from a run of 2N, so setup and warm-up cancel out.
 */
#define _GNU_SOURCE /* accept4, getline */

#define BENCH_NAME "cost"

#include <sagsocket.h>

#include <pthread.h>
#include <sys/epoll.h>

#include "bench_util.h"
#include "bench_sag.h"
#include "bench_lines.h"

static long n_ops;
static sag_socket *lib_listen;
static sag_addrinfo *lib_ai;

/* ---- ping-pong ---------------------------------------------------------- */
static void *lib_echo(void *p)
{
    sag_socket *s = p;
    sag_error *e = NULL;
    uint8_t b;
    size_t n, sent;
    SAG(sag_error_new(&e));
    for (;;) {
        SAG(sag_socket_recv(s, &b, 0, 1, 0, &n, e));
        if (n == 0)
            break;
        SAG(sag_socket_send(s, &b, 0, 1, 0, &sent, e));
    }
    sag_error_free(e);
    return NULL;
}

static void pingpong_raw(long n)
{
    int c = raw_connect(), s = raw_accept();
    pthread_t th;
    uint8_t b = 'x';
    if (pthread_create(&th, NULL, raw_echo, &s))
        die_errno("pthread_create");
    for (long i = 0; i < n; i++) {
        raw_send_all(c, &b, 1);
        if (raw_recv(c, &b, 1) != 1)
            die("early end of stream");
    }
    shutdown(c, SHUT_WR);
    pthread_join(th, NULL);
    close(c);
    close(s);
}

static void lib_listener(void);

static void pingpong_lib(long n)
{
    sag_socket *c = NULL, *s = NULL;
    pthread_t th;
    uint8_t b = 'x';
    size_t got, sent;
    SAG(sag_create_socket(lib_ai, &c, err));
    SAG(sag_socket_connect(c, lib_ai, -1, err));
    SAG(sag_socket_accept(lib_listen, &s, err));
    if (pthread_create(&th, NULL, lib_echo, s))
        die_errno("pthread_create");
    for (long i = 0; i < n; i++) {
        SAG(sag_socket_send(c, &b, 0, 1, 0, &sent, err));
        SAG(sag_socket_recv(c, &b, 0, 1, 0, &got, err));
        if (got != 1)
            die("early end of stream");
    }
    SAG(sag_socket_shutdown(c, SAG_SHUT_WR, err));
    pthread_join(th, NULL);
    sag_socket_free(c);
    sag_socket_free(s);
}

/* ---- connect/accept/close ----------------------------------------------- */
static void connect_raw(long n)
{
    uint8_t b;
    for (long i = 0; i < n; i++) {
        int c = raw_connect();
        int s = raw_accept();
        close(s);
        if (raw_recv(c, &b, 1) != 0)
            die("data instead of EOF");
        close(c);
    }
}

static void connect_lib(long n)
{
    uint8_t b;
    size_t got;
    for (long i = 0; i < n; i++) {
        sag_socket *c = NULL, *s = NULL;
        SAG(sag_create_socket(lib_ai, &c, err));
        SAG(sag_socket_connect(c, lib_ai, -1, err));
        SAG(sag_socket_accept(lib_listen, &s, err));
        SAG(sag_socket_free(s));
        SAG(sag_socket_recv(c, &b, 0, 1, 0, &got, err));
        if (got != 0)
            die("data instead of EOF");
        SAG(sag_socket_free(c));
    }
}

static void lib_listener(void)
{
    sag_addrinfo *hints = NULL, *bind_ai = NULL;
    sag_socket_info *info = NULL;
    char port_s[16];
    int port;
    SAG(sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM,
                               SAG_AI_PASSIVE | SAG_AI_NUMERICHOST, 0, &hints,
                               err));
    SAG(sag_get_addrinfo("127.0.0.1", "0", hints, &bind_ai, err));
    SAG(sag_create_socket(bind_ai, &lib_listen, err));
    SAG(sag_socket_setsockopt_int(lib_listen, SAG_SOL_SOCKET, SAG_SO_REUSEADDR,
                                  1, err));
    SAG(sag_socket_bind(lib_listen, bind_ai, err));
    SAG(sag_socket_listen(lib_listen, SAG_SOMAXCONN, err));
    SAG(sag_socket_get_info(lib_listen, &info, err));
    if (info == NULL)
        die("no socket info");
    SAG(sag_socket_info_port(info, &port, err));
    snprintf(port_s, sizeof port_s, "%d", port);
    sag_socket_info_free(info);
    sag_addrinfo_free(bind_ai);
    sag_addrinfo_free(hints);
    SAG(sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM,
                               SAG_AI_NUMERICHOST | SAG_AI_NUMERICSERV, 0,
                               &hints, err));
    SAG(sag_get_addrinfo("127.0.0.1", port_s, hints, &lib_ai, err));
    sag_addrinfo_free(hints);
}

/* ---- lines (bench_lines.h) ---------------------------------------------- */
static void lines(long n, enum line_reader reader)
{
    uint64_t bytes;
    long got;
    n_lines = n;
    got = read_lines(reader, &bytes, NULL);
    check_lines("cost", got, bytes);
}

/* ---- put -------------------------------------------------------------- */
#define PUT_LEN 1024
static uint8_t put_buf[PUT_LEN];

static void *put_drainer(void *arg)
{
    static uint8_t buf[1 << 20];
    int fd = raw_accept();
    (void)arg;
    while (raw_recv(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
    return NULL;
}

/* mode: -1 raw send(2); otherwise the port's buffer mode */
static void puts_(long n, int mode)
{
    pthread_t th;
    if (pthread_create(&th, NULL, put_drainer, NULL))
        die("pthread_create");
    if (mode < 0) {
        int fd = raw_connect();
        for (long i = 0; i < n; i++)
            raw_send_all(fd, put_buf, PUT_LEN);
        close(fd);
    } else {
        sag_socket *s = NULL;
        sag_port *p = NULL;
        SAG(sag_make_client_socket("127.0.0.1", listen_service, SAG_AF_INET,
                                   SAG_SOCK_STREAM, SAG_AI_NUMERICHOST, 0, &s,
                                   err));
        SAG(sag_socket_port(s, 1, &p, err));
        SAG(sag_port_set_buffer_mode(p, mode, err));
        for (long i = 0; i < n; i++)
            SAG(sag_port_put_bytevector(p, put_buf, 0, PUT_LEN, err));
        SAG(sag_port_flush(p, err));
        sag_port_free(p);
        sag_socket_free(s);
    }
    pthread_join(th, NULL);
}

/* ---- selector ----------------------------------------------------------- */
#define SEL_N 10
#define SEL_CAP 64

/* SEL_N AF_UNIX pairs; the peer of the first has written a byte that is
 * never read, so that end stays readable. */
static void sel_pairs(sag_socket **s, sag_socket **peer)
{
    size_t sent;
    for (int i = 0; i < SEL_N; i++)
        SAG(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &s[i], &peer[i], err));
    SAG(sag_socket_send(peer[0], (const uint8_t *)"x", 0, 1, 0, &sent, err));
}

static void selector_lib(long n, int watched)
{
    sag_socket *s[SEL_N], *peer[SEL_N], *socks[SEL_CAP];
    sag_selector *sel = NULL;
    int64_t tags[SEL_CAP];
    int timed_out[SEL_CAP];
    size_t got;
    sel_pairs(s, peer);
    SAG(sag_selector_new(&sel, err));
    for (int i = 0; i < SEL_N; i++) {
        if (watched)
            SAG(sag_selector_watch(sel, s[i], i, err));
        else
            SAG(sag_selector_add(sel, s[i], -1, i, err));
    }
    for (long i = 0; i < n; i++) {
        SAG(sag_selector_wait(sel, -1, socks, tags, timed_out, SEL_CAP, &got, err));
        if (got != 1)
            die("not one ready socket");
        if (!watched)
            SAG(sag_selector_add(sel, socks[0], -1, tags[0], err));
    }
    sag_selector_free(sel);
    for (int i = 0; i < SEL_N; i++) {
        sag_socket_free(s[i]);
        sag_socket_free(peer[i]);
    }
}

static void selector_raw(long n, int watched)
{
    int fds[SEL_N][2], e = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event evs[SEL_CAP];
    uint32_t events = watched ? EPOLLIN : EPOLLIN | EPOLLONESHOT;
    if (e < 0)
        die_errno("epoll_create1");
    for (int i = 0; i < SEL_N; i++) {
        struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)i};
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds[i]))
            die_errno("socketpair");
        if (epoll_ctl(e, EPOLL_CTL_ADD, fds[i][0], &ev))
            die_errno("epoll_ctl");
    }
    raw_send_all(fds[0][1], (const uint8_t *)"x", 1);
    for (long i = 0; i < n; i++) {
        if (epoll_wait(e, evs, SEL_CAP, -1) != 1)
            die("not one ready descriptor");
        if (!watched) {
            struct epoll_event ev = {.events = events, .data = evs[0].data};
            if (epoll_ctl(e, EPOLL_CTL_MOD, fds[evs[0].data.u64][0], &ev))
                die_errno("epoll_ctl MOD");
        }
    }
    for (int i = 0; i < SEL_N; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
    close(e);
}

/* ---- one plain ABI call -------------------------------------------------- */
static void fd_lib(long n)
{
    sag_socket *s = NULL;
    int fd = 0;
    long sum = 0;
    SAG(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, err));
    for (long i = 0; i < n; i++) {
        SAG(sag_socket_fd(s, &fd, err));
        sum += fd;
    }
    if (sum != (long)fd * n)
        die("sag_socket_fd changed its answer");
    sag_socket_free(s);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        die("usage: cost MODE N");
    n_ops = atol(argv[2]);
    if (n_ops <= 0)
        die("N must be positive");
    listener_setup();
    SAG(sag_error_new(&err));
    const char *m = argv[1];
    long w = n_ops / 10 + 1;
    if (!strcmp(m, "pingpong-raw")) {
        pingpong_raw(w);
        pingpong_raw(n_ops);
    } else if (!strcmp(m, "pingpong-lib")) {
        lib_listener();
        pingpong_lib(w);
        pingpong_lib(n_ops);
    } else if (!strcmp(m, "connect-raw")) {
        connect_raw(w);
        connect_raw(n_ops);
    } else if (!strcmp(m, "connect-lib")) {
        lib_listener();
        connect_lib(w);
        connect_lib(n_ops);
    } else if (!strcmp(m, "lines-raw")) {
        lines(w, LINES_RAW);
        lines(n_ops, LINES_RAW);
    } else if (!strcmp(m, "lines-binary")) {
        lines(w, LINES_BINARY);
        lines(n_ops, LINES_BINARY);
    } else if (!strcmp(m, "lines-text")) {
        lines(w, LINES_TEXT);
        lines(n_ops, LINES_TEXT);
    } else if (!strcmp(m, "put-raw")) {
        puts_(w, -1);
        puts_(n_ops, -1);
    } else if (!strcmp(m, "put-none")) {
        puts_(w, SAG_BUFFER_NONE);
        puts_(n_ops, SAG_BUFFER_NONE);
    } else if (!strcmp(m, "put-block")) {
        puts_(w, SAG_BUFFER_BLOCK);
        puts_(n_ops, SAG_BUFFER_BLOCK);
    } else if (!strcmp(m, "selector-lib") || !strcmp(m, "watch-lib")) {
        int watched = m[0] == 'w';
        selector_lib(w, watched);
        selector_lib(n_ops, watched);
    } else if (!strcmp(m, "selector-raw") || !strcmp(m, "watch-raw")) {
        int watched = m[0] == 'w';
        selector_raw(w, watched);
        selector_raw(n_ops, watched);
    } else if (!strcmp(m, "fd-lib")) {
        fd_lib(w);
        fd_lib(n_ops);
    } else {
        die("unknown mode");
    }
    sag_error_free(err);
    return 0;
}
