/* syscalls.c: how many system calls the library makes for an operation,
 * counted by strace(1) on the release library (run.sh). The main thread marks
 * each measured stretch with a write(2) to descriptor -1 ("mark NAME N", N
 * operations; it fails with EBADF and changes nothing); run.sh counts the
 * main thread's calls between the marks. The peer thread is not traced.
 *
 *   recv-ready         1,000 one-byte receives whose data is already there,
 *                      on a socket whose previous receive had to wait
 *   recv-after-select  receives of data a selector reported, each on a
 *                      socket whose previous receive waited and which sent
 *                      since (the case where a receive would wait first)
 *   ping-pong          1-byte exchanges with an echoing peer (a send and a
 *                      receive per exchange)
 *   get-line           binary get-line over 1,000 lines already received
 */
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>
#include <sys/syscall.h>

static sag_error *E;

static void mark(const char *what, int n) {
    char m[64];
    int len = snprintf(m, sizeof m, "mark %s %d", what, n);
    syscall(SYS_write, -1, m, (size_t)len);
}

static void connect_pair(sag_socket **srv, sag_socket **cli, sag_socket **acc) {
    char svc[16];
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, srv, E), SAG_OK);
    snprintf(svc, sizeof svc, "%d", local_port(*srv));
    CHECK_ST(sag_make_client_socket("127.0.0.1", svc, SAG_AF_INET, SAG_SOCK_STREAM,
                                    SAG_AI_NUMERICHOST, 0, cli, E), SAG_OK);
    CHECK_ST(sag_socket_accept(*srv, acc, E), SAG_OK);
}

struct peer {
    sag_socket *s;
    int mode;        /* 0: echo until end of stream; 1: send `count` bytes after 50 ms */
    int count;
};

static void *peer_main(void *arg) {
    struct peer *p = arg;
    sag_error *e = NULL;
    sag_error_new(&e);
    uint8_t b = 'x';
    size_t n = 0, sent = 0;
    if (p->mode == 1) {
        sleep_ms(50);
        for (int i = 0; i < p->count; i++)
            sag_socket_send(p->s, &b, 0, 1, 0, &sent, e);
    } else {
        while (sag_socket_recv(p->s, &b, 0, 1, 0, &n, e) == SAG_OK && n == 1)
            sag_socket_send(p->s, &b, 0, 1, 0, &sent, e);
    }
    sag_error_free(e);
    return NULL;
}

/* Makes `s`'s next receive as likely to wait first as it can be: a receive
 * that has to wait (the peer sends one byte 50 ms later), then a send. */
static void after_a_wait_and_a_send(sag_socket *s, sag_socket *peer_end) {
    struct peer p = {.s = peer_end, .mode = 1, .count = 1};
    pthread_t t;
    uint8_t b;
    size_t n = 0, sent = 0;
    pthread_create(&t, NULL, peer_main, &p);
    CHECK_ST(sag_socket_recv(s, &b, 0, 1, 0, &n, E), SAG_OK);
    CHECK_EQ(n, 1);
    pthread_join(t, NULL);
    CHECK_ST(sag_socket_send(s, &b, 0, 1, 0, &sent, E), SAG_OK);
    CHECK_EQ(recv_n(peer_end, &b, 1, E), 1);
}

enum { N = 1000 };

static void recv_ready(void) {
    section("recv-ready");
    sag_socket *srv, *cli, *acc;
    connect_pair(&srv, &cli, &acc);
    struct peer p = {.s = acc, .mode = 1, .count = 1};
    pthread_t t;
    uint8_t b;
    size_t n = 0;
    /* the receive waits (the byte comes 50 ms later) */
    pthread_create(&t, NULL, peer_main, &p);
    CHECK_ST(sag_socket_recv(cli, &b, 0, 1, 0, &n, E), SAG_OK);
    pthread_join(t, NULL);
    uint8_t data[N];
    memset(data, 'r', N);
    size_t sent = 0;
    CHECK_ST(sag_socket_send(acc, data, 0, N, 0, &sent, E), SAG_OK);
    sleep_ms(20); /* all of it in cli's receive queue */
    int got = 0;
    mark("recv-ready", N);
    for (int i = 0; i < N; i++)
        if (sag_socket_recv(cli, &b, 0, 1, 0, &n, E) == SAG_OK && n == 1)
            got++;
    mark("end", 0);
    CHECK_EQ(got, N);
    sag_socket_free(acc);
    sag_socket_free(cli);
    sag_socket_free(srv);
}

static void recv_after_select(void) {
    section("recv-after-select");
    enum { K = 100 };
    sag_socket *srv, *cli, *acc;
    connect_pair(&srv, &cli, &acc);
    sag_selector *sel = NULL;
    CHECK_ST(sag_selector_new(&sel, E), SAG_OK);
    int got = 0;
    for (int i = 0; i < K; i++) {
        after_a_wait_and_a_send(cli, acc);
        CHECK_ST(sag_selector_add(sel, cli, -1, i, E), SAG_OK);
        uint8_t b = 's';
        size_t n = 0, sent = 0, count = 0;
        CHECK_ST(sag_socket_send(acc, &b, 0, 1, 0, &sent, E), SAG_OK);
        sag_socket *ready[1];
        int64_t tags[1];
        int timed_out[1];
        CHECK_ST(sag_selector_wait(sel, 5000000, ready, tags, timed_out, 1, &count, E), SAG_OK);
        CHECK_EQ(count, 1);
        mark("recv-after-select", 1);
        if (sag_socket_recv(cli, &b, 0, 1, 0, &n, E) == SAG_OK && n == 1)
            got++;
        mark("end", 0);
    }
    CHECK_EQ(got, K);
    sag_selector_free(sel);
    sag_socket_free(acc);
    sag_socket_free(cli);
    sag_socket_free(srv);
}

static void ping_pong(void) {
    section("ping-pong");
    enum { K = 2000 };
    sag_socket *srv, *cli, *acc;
    connect_pair(&srv, &cli, &acc);
    struct peer p = {.s = acc, .mode = 0};
    pthread_t t;
    pthread_create(&t, NULL, peer_main, &p);
    uint8_t b = 'p';
    size_t n = 0, sent = 0;
    int ok = 0;
    for (int i = 0; i < 100; i++) /* the socket settles into its pattern */
        if (sag_socket_send(cli, &b, 0, 1, 0, &sent, E) != SAG_OK ||
            sag_socket_recv(cli, &b, 0, 1, 0, &n, E) != SAG_OK || n != 1)
            break;
    /* a side counts 2 calls per exchange (send, receive) plus the waits */
    mark("ping-pong", 2 * K);
    for (int i = 0; i < K; i++)
        if (sag_socket_send(cli, &b, 0, 1, 0, &sent, E) == SAG_OK &&
            sag_socket_recv(cli, &b, 0, 1, 0, &n, E) == SAG_OK && n == 1)
            ok++;
    mark("end", 0);
    CHECK_EQ(ok, K);
    CHECK_ST(sag_socket_shutdown(cli, SAG_SHUT_WR, E), SAG_OK);
    pthread_join(t, NULL);
    sag_socket_free(acc);
    sag_socket_free(cli);
    sag_socket_free(srv);
}

static void get_line(void) {
    section("get-line");
    sag_socket *srv, *cli, *acc;
    connect_pair(&srv, &cli, &acc);
    static char lines[N * 40 + 1]; /* and the last snprintf's NUL */
    for (int i = 0; i < N; i++)
        snprintf(lines + 40 * i, 41, "line %05d of the buffered block ......\n", i);
    size_t sent = 0;
    CHECK_ST(sag_socket_send(acc, (const uint8_t *)lines, 0, N * 40, 0, &sent, E), SAG_OK);
    CHECK_ST(sag_socket_shutdown(acc, SAG_SHUT_WR, E), SAG_OK);
    sleep_ms(20);
    sag_port *in = NULL;
    CHECK_ST(sag_socket_input_port(cli, &in, E), SAG_OK);
    /* the first line fills the port's buffer: the lines after it are read
     * from the buffer */
    const uint8_t *data = NULL;
    size_t len = 0;
    CHECK_ST(sag_port_get_bytes_line(in, &data, &len, E), SAG_OK);
    int good = 1;
    mark("get-line", N - 1);
    for (int i = 1; i < N; i++)
        if (sag_port_get_bytes_line(in, &data, &len, E) != SAG_OK || len != 39 ||
            memcmp(data, lines + 40 * i, 39) != 0)
            good = 0;
    mark("end", 0);
    CHECK(good);
    sag_port_free(in);
    sag_socket_free(acc);
    sag_socket_free(cli);
    sag_socket_free(srv);
}

int main(void) {
    alarm(60);
    setvbuf(stdout, NULL, _IOLBF, 0);
    sag_error_new(&E);
    recv_ready();
    recv_after_select();
    ping_pong();
    get_line();
    sag_error_free(E);
    summary_and_exit();
}
