/* faults.c: libsagsocket on a real network that misbehaves, through the C
 * ABI.
 *
 * Run by Tests/faults/run.sh, which makes two network namespaces joined by a
 * veth pair and passes their names:
 *
 *   faults NS_CLIENT NS_SERVER IF_CLIENT IF_SERVER
 *
 *   NS_CLIENT: 192.0.2.1/24 on IF_CLIENT    NS_SERVER: 192.0.2.2/24 on IF_SERVER
 *
 * (RFC 5737 documentation addresses; nothing leaves the two namespaces.)
 * The program moves its main thread into NS_CLIENT at start and into
 * NS_SERVER only to make the listening sockets there (a socket stays in the
 * namespace it was made in, whichever thread uses it later). Faults are made
 * with `ip -n NS ...`: a blackhole route back to the client in the server's
 * namespace (answers vanish), and the link set down and up. The script has
 * lowered net.ipv4.tcp_syn_retries in NS_CLIENT to 1, so the kernel gives up
 * a connect whose SYN is never answered after about 3 s.
 *
 * Every wait is bounded: helper threads are joined with a deadline, reads
 * have read timeouts, and alarm(420) is the global watchdog. SIGPIPE keeps
 * its default disposition: a SIGPIPE would kill the test.
 *
 * Prints one line per failed check, then "N passed, M failed".
 */
#define _GNU_SOURCE /* setns, pthread_timedjoin_np */
#include <sagsocket.h>

#include <fcntl.h>
#include <linux/sockios.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "../c/check.h"

static const char *ns_client, *ns_server, *if_client, *if_server;
static int nsfd_client = -1, nsfd_server = -1;
static const char *server_ip = "192.0.2.2";

/* ===== Plumbing ========================================================== */

/* Runs `ip -n NS ARGS...` quietly; returns its exit status. */
static int ip_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ip_cmd(const char *fmt, ...) {
    char args[300], cmd[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "ip %s >/dev/null 2>&1", args);
    int rc = system(cmd);
    return rc;
}

static int link_set(const char *ns, const char *ifname, const char *state) {
    return ip_cmd("-n %s link set %s %s", ns, ifname, state);
}

static int enter(int nsfd) { return setns(nsfd, CLONE_NEWNET); }

/* A listening TCP socket on an ephemeral port of every address of
 * NS_SERVER; its port in *port. NULL when that fails. */
static sag_socket *server_in_peer(int *port) {
    sag_socket *srv = NULL;
    if (enter(nsfd_server) != 0) {
        perror("setns(server)");
        return NULL;
    }
    int st = sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &srv, NULL);
    if (enter(nsfd_client) != 0) {
        perror("setns(client)");
        exit(2);
    }
    if (st != SAG_OK) {
        printf("  make-server-socket in %s: %s\n", ns_server,
               sag_error_message(sag_last_error()));
        return NULL;
    }
    *port = local_port(srv);
    return srv;
}

/* The addrinfo of server_ip:port (numeric: no resolver). */
static sag_addrinfo *server_addr(int port) {
    sag_addrinfo *hints = NULL, *ai = NULL;
    char svc[16];
    snprintf(svc, sizeof svc, "%d", port);
    if (sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM,
                               SAG_AI_NUMERICHOST | SAG_AI_NUMERICSERV, 0,
                               &hints, NULL) != SAG_OK)
        return NULL;
    if (sag_get_addrinfo(server_ip, svc, hints, &ai, NULL) != SAG_OK)
        ai = NULL;
    sag_addrinfo_free(hints);
    return ai;
}

/* A client socket connected to server_ip:port (with a 5 s connect timeout). */
static sag_socket *connect_to(int port) {
    sag_addrinfo *ai = server_addr(port);
    sag_socket *s = NULL;
    if (ai == NULL)
        return NULL;
    if (sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, NULL) == SAG_OK &&
        sag_socket_connect(s, ai, 5000000, NULL) != SAG_OK) {
        printf("  connect: %s\n", sag_error_message(sag_last_error()));
        sag_socket_free(s);
        s = NULL;
    }
    sag_addrinfo_free(ai);
    return s;
}

/* accept with a 5 s read timeout on the listening socket. */
static sag_socket *accept_one(sag_socket *srv) {
    sag_socket *c = NULL;
    sag_socket_set_read_timeout(srv, 5000000, NULL);
    if (sag_socket_accept(srv, &c, NULL) != SAG_OK) {
        printf("  accept: %s\n", sag_error_message(sag_last_error()));
        return NULL;
    }
    return c;
}

/* The byte at offset i of every test stream: not periodic with any small
 * period, so a lost, repeated or reordered block shows. */
static inline uint8_t pat(uint64_t i) {
    return (uint8_t)(((i + 1) * 2654435761u) >> 13);
}

static void fill(uint8_t *buf, uint64_t offset, size_t n) {
    for (size_t k = 0; k < n; k++)
        buf[k] = pat(offset + k);
}

/* The first offset in buf (holding offset .. offset+n) that breaks the
 * pattern, or -1. */
static int64_t first_bad(const uint8_t *buf, uint64_t offset, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (buf[k] != pat(offset + k))
            return (int64_t)(offset + k);
    return -1;
}

/* Bytes the kernel holds unacknowledged in the socket's send queue. */
static int outq(sag_socket *s) {
    int fd = -1, n = -1;
    if (sag_socket_fd(s, &fd, NULL) != SAG_OK || ioctl(fd, SIOCOUTQ, &n) != 0)
        return -1;
    return n;
}

/* Joins t within ms milliseconds; 0 when joined. */
static int any_fd(int fd, const char *target) {
    (void)fd;
    (void)target;
    return 1;
}

/* ===== 1. Answers that vanish ============================================ */

static void test_blackhole(void) {
    section("connect to a peer whose answers vanish (blackhole route back)");
    int port = 0;
    sag_socket *srv = server_in_peer(&port);
    CHECK(srv != NULL);
    if (srv == NULL)
        return;
    CHECK_EQ(ip_cmd("-n %s route add blackhole 192.0.2.1/32", ns_server), 0);

    /* connect with a timeout: &socket-connection once it passes, errno
     * ETIMEDOUT and the timeout in the error. The bound: within
     * 1.5x of the timeout. */
    const int64_t timeout = 1500000;
    sag_addrinfo *ai = server_addr(port);
    sag_socket *s = NULL;
    sag_error *err = NULL;
    sag_error_new(&err);
    CHECK_ST(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, NULL), SAG_OK);
    int64_t t0 = now_us();
    CHECK_ST(sag_socket_connect(s, ai, timeout, err), SAG_E_CONNECTION);
    int64_t took = now_us() - t0;
    printf("  connect timed out after %.3f s (timeout %.3f s)\n", took / 1e6,
           timeout / 1e6);
    CHECK_EQ(sag_error_status(err), SAG_E_CONNECTION);
    CHECK_EQ(sag_error_errno(err), SAG_ETIMEDOUT);
    CHECK_EQ(sag_error_timeout(err), timeout);
    /* Not before the timeout (1 ms for the two clocks' reading), and within
     * the 1.5x of it: a generous bound for a wake-up that takes
     * well under a millisecond. */
    CHECK(took >= timeout - 1000);
    CHECK(took <= timeout * 3 / 2);
    /* The failed socket is still a socket; closing it is clean. */
    CHECK_ST(sag_socket_close(s, NULL), SAG_OK);
    sag_socket_free(s);

    /* make-client-socket: no timeout of its own, so the kernel's SYN
     * retries decide (1 in this namespace: about 3 s). It must fail with
     * &host-not-found carrying the node and service it was given. */
    char svc[16];
    snprintf(svc, sizeof svc, "%d", port);
    s = NULL;
    t0 = now_us();
    CHECK_ST(sag_make_client_socket(server_ip, svc, SAG_AF_INET, SAG_SOCK_STREAM,
                                    SAG_AI_NUMERICHOST | SAG_AI_NUMERICSERV, 0,
                                    &s, err),
             SAG_E_HOST_NOT_FOUND);
    took = now_us() - t0;
    printf("  make-client-socket gave up after %.3f s (tcp_syn_retries=1)\n",
           took / 1e6);
    CHECK(s == NULL);
    CHECK(sag_error_node(err) != NULL && strcmp(sag_error_node(err), server_ip) == 0);
    CHECK(sag_error_service(err) != NULL && strcmp(sag_error_service(err), svc) == 0);
    CHECK_EQ(sag_error_errno(err), SAG_ETIMEDOUT);

    CHECK_EQ(ip_cmd("-n %s route del blackhole 192.0.2.1/32", ns_server), 0);
    /* With the route gone the same peer answers. */
    s = connect_to(port);
    CHECK(s != NULL);
    sag_socket *c = accept_one(srv);
    CHECK(c != NULL);
    sag_socket_free(c);
    sag_socket_free(s);
    sag_addrinfo_free(ai);
    sag_error_free(err);
    sag_socket_free(srv);
}

/* ===== 2. The link goes down mid-transfer ================================ */

struct reader {
    sag_socket *s;
    uint8_t *buf;
    size_t cap, got;
    int timeouts;  /* SAG_E_READ_TIMEOUT statuses seen */
    int other;     /* any other failure status */
    int eof;
    int64_t deadline_us;
};

/* Reads until end of stream, a hard failure or the deadline; read timeouts
 * are counted and the read goes on (a read timeout loses nothing). */
static void *reader_main(void *arg) {
    struct reader *r = arg;
    sag_error *err = NULL;
    sag_error_new(&err);
    while (now_us() < r->deadline_us && r->got < r->cap) {
        size_t n = 0;
        int st = sag_socket_recv(r->s, r->buf, r->got, r->cap - r->got, 0, &n, err);
        if (st == SAG_E_READ_TIMEOUT) {
            if (sag_error_timeout(err) != 500000)
                r->other = SAG_E_IO; /* the timeout it carries is wrong */
            r->timeouts++;
            continue;
        }
        if (st != SAG_OK) {
            r->other = st;
            printf("  reader: %s\n", sag_error_message(err));
            break;
        }
        if (n == 0) {
            r->eof = 1;
            break;
        }
        r->got += n;
    }
    if (r->got == r->cap) { /* one more read: end of stream expected */
        size_t n = 1;
        uint8_t extra;
        if (sag_socket_recv(r->s, &extra, 0, 1, 0, &n, err) == SAG_OK && n == 0)
            r->eof = 1;
    }
    sag_error_free(err);
    return NULL;
}

/* A listener in the peer's namespace (*srv, on *port), a client connected to it from
 * ours (*s) and the peer's side of that connection (*c); 0 (checks failed,
 * everything freed) when any of them cannot be made. */
static int cross_connection(int *port, sag_socket **srv, sag_socket **s, sag_socket **c) {
    *srv = server_in_peer(port);
    *s = *srv ? connect_to(*port) : NULL;
    *c = *s ? accept_one(*srv) : NULL;
    CHECK(*srv != NULL && *s != NULL && *c != NULL);
    if (*c != NULL)
        return 1;
    sag_socket_free(*s);
    sag_socket_free(*srv);
    return 0;
}

static void test_link_down(void) {
    section("the link goes down mid-transfer, then comes back");
    int port = 0;
    sag_socket *srv, *s, *c;
    if (!cross_connection(&port, &srv, &s, &c))
        return;
    const size_t total = 16u << 20;
    uint8_t *out = malloc(total);
    struct reader r = {.s = c, .buf = calloc(1, total), .cap = total,
                       .deadline_us = now_us() + 120000000};
    fill(out, 0, total);
    CHECK_ST(sag_socket_set_read_timeout(c, 500000, NULL), SAG_OK);
    CHECK_ST(sag_socket_setsockopt_duration(s, SAG_SOL_SOCKET, SAG_SO_SNDTIMEO,
                                            1000000, NULL),
             SAG_OK);
    pthread_t rt;
    pthread_create(&rt, NULL, reader_main, &r);

    /* Some bytes go while the link is up. */
    size_t sent = 0, n = 0;
    CHECK_ST(sag_socket_send(s, out, 0, 256 * 1024, 0, &n, NULL), SAG_OK);
    sent += n;

    CHECK_EQ(link_set(ns_client, if_client, "down"), 0);
    /* A send of the rest blocks once the buffers fill, and SO_SNDTIMEO ends
     * it: &socket with ETIMEDOUT, and the count of bytes that went before. */
    sag_error *err = NULL;
    sag_error_new(&err);
    int64_t t0 = now_us();
    CHECK_ST(sag_socket_send(s, out, sent, total - sent, 0, &n, err), SAG_E_SOCKET);
    int64_t took = now_us() - t0;
    size_t partial = sag_error_sent(err);
    printf("  send with the link down: %s after %.3f s, %zu of %zu bytes went\n",
           sag_status_name(sag_error_status(err)), took / 1e6, partial, total - sent);
    CHECK_EQ(sag_error_errno(err), SAG_ETIMEDOUT);
    CHECK_EQ(sag_error_timeout(err), 1000000);
    CHECK(partial > 0 && partial < total - sent);
    sent += partial;
    /* The reader waits on with its 0.5 s read timeout and sees it pass. */
    sleep_ms(1200);
    int timeouts_while_down = r.timeouts;
    printf("  reader: %d read timeouts while the link was down, %zu bytes so far\n",
           timeouts_while_down, r.got);
    CHECK(timeouts_while_down >= 1);

    CHECK_EQ(link_set(ns_client, if_client, "up"), 0);
    /* Resume where the failed send stopped: every byte exactly once. A send
     * timeout while TCP's backed-off retransmission catches up is resumed
     * the same way (bounded). */
    int resumes = 0;
    while (sent < total && resumes < 60) {
        int st = sag_socket_send(s, out, sent, total - sent, 0, &n, err);
        if (st == SAG_OK) {
            sent += n;
            break;
        }
        if (st != SAG_E_SOCKET || sag_error_errno(err) != SAG_ETIMEDOUT) {
            printf("  resume: %s\n", sag_error_message(err));
            break;
        }
        sent += sag_error_sent(err);
        resumes++;
    }
    CHECK_EQ(sent, total);
    CHECK_ST(sag_socket_shutdown(s, SAG_SHUT_WR, NULL), SAG_OK);
    CHECK_EQ(join_within(rt, 130000), 0);
    printf("  after the link came back: %zu bytes received (%d resumed sends)\n",
           r.got, resumes);
    CHECK_EQ(r.got, total);
    CHECK_EQ(first_bad(r.buf, 0, r.got), -1);
    CHECK(r.eof);
    CHECK_EQ(r.other, 0);

    /* A new connection works once the link is back. */
    sag_socket *s2 = connect_to(port);
    sag_socket *c2 = s2 ? accept_one(srv) : NULL;
    CHECK(s2 != NULL && c2 != NULL);
    if (s2 && c2) {
        uint8_t b[5] = {0};
        CHECK_ST(sag_socket_send(s2, (const uint8_t *)"hello", 0, 5, 0, &n, NULL), SAG_OK);
        CHECK_EQ(recv_n(c2, b, 5, NULL), 5);
        CHECK(memcmp(b, "hello", 5) == 0);
    }
    sag_socket_free(c2);
    sag_socket_free(s2);
    sag_error_free(err);
    free(out);
    free(r.buf);
    sag_socket_free(c);
    sag_socket_free(s);
    sag_socket_free(srv);
}

/* ===== 3. The peer resets mid-transfer =================================== */

static void test_reset(void) {
    section("a peer that resets mid-transfer (SO_LINGER 0, close)");
    int port = 0;
    sag_socket *srv, *s, *c;
    if (!cross_connection(&port, &srv, &s, &c))
        return;
    const size_t total = 4u << 20;
    uint8_t *out = malloc(total);
    fill(out, 0, total);
    struct reader r = {.s = s, .buf = calloc(1, total + 1), .cap = total + 1,
                       .deadline_us = now_us() + 60000000};
    CHECK_ST(sag_socket_set_read_timeout(s, 500000, NULL), SAG_OK);
    pthread_t rt;
    pthread_create(&rt, NULL, reader_main, &r);

    /* The peer sends, waits until the client's kernel has acknowledged every
     * byte (its send queue empty), then resets the connection. */
    size_t n = 0;
    CHECK_ST(sag_socket_send(c, out, 0, total, 0, &n, NULL), SAG_OK);
    int q = -1;
    for (int i = 0; i < 1000 && (q = outq(c)) != 0; i++)
        sleep_ms(10);
    CHECK_EQ(q, 0);
    struct linger lg = {1, 0};
    CHECK_ST(sag_socket_setsockopt_bytes(c, SAG_SOL_SOCKET, SAG_SO_LINGER,
                                         (const uint8_t *)&lg, 0, sizeof lg, NULL),
             SAG_OK);
    CHECK_ST(sag_socket_close(c, NULL), SAG_OK);

    CHECK_EQ(join_within(rt, 70000), 0);
    printf("  reader: %zu of %zu bytes, then %s\n", r.got, total,
           sag_status_name(r.other));
    CHECK_EQ(r.got, total);
    CHECK_EQ(first_bad(r.buf, 0, r.got), -1);
    CHECK_EQ(r.other, SAG_E_SOCKET);
    /* The reset is recorded on the socket: &socket, errno ECONNRESET. */
    sag_error *last = NULL;
    sag_error_new(&last);
    CHECK_ST(sag_socket_last_error(s, last, NULL), SAG_OK);
    CHECK_EQ(sag_error_status(last), SAG_E_SOCKET);
    CHECK_EQ(sag_error_errno(last), SAG_ECONNRESET);
    /* Writing to the reset connection fails with a status, no SIGPIPE
     * (its default disposition would end this program). */
    int st = sag_socket_send(s, out, 0, 65536, 0, &n, last);
    CHECK_EQ(st, SAG_E_SOCKET);
    CHECK(sag_error_errno(last) == SAG_EPIPE || sag_error_errno(last) == SAG_ECONNRESET);
    sag_error_free(last);
    free(out);
    free(r.buf);
    sag_socket_free(c);
    sag_socket_free(s);
    sag_socket_free(srv);
}

/* ===== 4. A peer that accepts and never reads ============================ */

struct sender {
    sag_socket *s;
    const uint8_t *buf;
    size_t len;
    int status;
    size_t sent; /* sag_error_sent of the failure */
    atomic_int done;
};

static void *sender_main(void *arg) {
    struct sender *w = arg;
    sag_error *err = NULL;
    size_t n = 0;
    sag_error_new(&err);
    w->status = sag_socket_send(w->s, w->buf, 0, w->len, 0, &n, err);
    w->sent = w->status == SAG_OK ? n : sag_error_sent(err);
    sag_error_free(err);
    atomic_store(&w->done, 1);
    return NULL;
}

/* Waits until the sender's send queue stops growing (it is blocked on full
 * buffers): true when it did within 10 s and the sender has not returned. */
static int wait_blocked(struct sender *w) {
    int last = -1, stable = 0;
    for (int i = 0; i < 200 && !atomic_load(&w->done); i++) {
        sleep_ms(50);
        int q = outq(w->s);
        stable = (q > 0 && q == last) ? stable + 1 : 0;
        last = q;
        if (stable >= 4)
            return 1;
    }
    return 0;
}

static void test_never_reads(void) {
    section("a peer that accepts and never reads: interrupt and close wake the send");
    int port = 0;
    sag_socket *srv = server_in_peer(&port);
    CHECK(srv != NULL);
    if (srv == NULL)
        return;
    const size_t total = 64u << 20;
    uint8_t *out = malloc(total);
    fill(out, 0, total);
    for (int round = 0; round < 2; round++) {
        const char *how = round == 0 ? "sag_socket_interrupt" : "sag_socket_close";
        sag_socket *s = connect_to(port);
        sag_socket *c = s ? accept_one(srv) : NULL;
        CHECK(s != NULL && c != NULL);
        if (s == NULL || c == NULL) {
            sag_socket_free(s);
            continue;
        }
        struct sender w = {.s = s, .buf = out, .len = total};
        pthread_t t;
        pthread_create(&t, NULL, sender_main, &w);
        CHECK(wait_blocked(&w));
        int q = outq(s);
        int64_t t0 = now_us();
        if (round == 0)
            CHECK_ST(sag_socket_interrupt(s, NULL), SAG_OK);
        else
            CHECK_ST(sag_socket_close(s, NULL), SAG_OK);
        int joined = join_within(t, 10000) == 0;
        CHECK(joined);
        if (!joined) { /* do not leave it blocked on a freed socket */
            sag_socket_close(s, NULL);
            join_within(t, 10000);
        }
        printf("  %s woke the blocked send after %.1f ms: %s, %zu bytes went "
               "(%d unacknowledged)\n",
               how, (now_us() - t0) / 1e3, sag_status_name(w.status), w.sent, q);
        CHECK_EQ(w.status, round == 0 ? SAG_E_INTERRUPTED : SAG_E_CLOSED);
        CHECK(w.sent > 0 && w.sent < total);
        /* Nothing lost, nothing extra: the peer, reading at last, gets
         * exactly the bytes the failed send reported, then end of stream
         * (after a shutdown of the interrupted socket, which still works;
         * after the close, whose FIN follows the queued bytes). */
        if (round == 0)
            CHECK_ST(sag_socket_shutdown(s, SAG_SHUT_WR, NULL), SAG_OK);
        struct reader r = {.s = c, .buf = calloc(1, total), .cap = total,
                           .deadline_us = now_us() + 60000000};
        sag_socket_set_read_timeout(c, 500000, NULL);
        reader_main(&r);
        printf("  the peer read %zu bytes, then %s\n", r.got,
               r.eof ? "end of stream" : sag_status_name(r.other));
        CHECK_EQ(r.got, w.sent);
        CHECK_EQ(first_bad(r.buf, 0, r.got), -1);
        CHECK(r.eof);
        free(r.buf);
        sag_socket_free(c);
        sag_socket_free(s);
    }
    free(out);
    sag_socket_free(srv);
}

/* ===== 5. 64 MiB through a socket port while the link flaps ============== */

/* The link goes down for 100 ms, FLAPS times. Before each flap the flapper
 * waits until the reader has received FLAP_PROGRESS more bytes since the link
 * last came up (at most 10 s): the transfer has really resumed, so TCP's
 * retransmission back-off starts afresh at each flap instead of growing
 * against a link that is down half the time (a 100/100 ms square wave took
 * most of 300 s for 64 MiB). */
enum { FLAPS = 6 };
#define FLAP_PROGRESS ((size_t)4 << 20)
static atomic_int flapping;
static atomic_int flaps;
static atomic_size_t flap_got; /* bytes the reader has received */

static void *flapper_main(void *arg) {
    (void)arg;
    while (atomic_load(&flapping) && atomic_load(&flaps) < FLAPS) {
        size_t from = atomic_load(&flap_got);
        for (int i = 0; i < 1000 && atomic_load(&flapping) &&
                        atomic_load(&flap_got) < from + FLAP_PROGRESS; i++)
            sleep_ms(10);
        if (!atomic_load(&flapping))
            break;
        link_set(ns_server, if_server, "down");
        sleep_ms(100);
        link_set(ns_server, if_server, "up");
        atomic_fetch_add(&flaps, 1);
    }
    return NULL;
}

struct port_writer {
    sag_socket *s;
    size_t total;
    int status;
};

static void *port_writer_main(void *arg) {
    struct port_writer *w = arg;
    sag_port *p = NULL;
    uint8_t chunk[65536];
    w->status = sag_socket_output_port(w->s, &p, NULL);
    for (size_t off = 0; w->status == SAG_OK && off < w->total; off += sizeof chunk) {
        /* At each quarter, wait (at most 10 s) for one more flap, so at least
         * three happen during the transfer however fast it goes. */
        if (off > 0 && off % (w->total / 4) == 0) {
            int want = (int)(off / (w->total / 4));
            for (int i = 0; i < 1000 && atomic_load(&flaps) < want; i++)
                sleep_ms(10);
        }
        size_t n = w->total - off < sizeof chunk ? w->total - off : sizeof chunk;
        fill(chunk, off, n);
        w->status = sag_port_put_bytevector(p, chunk, 0, n, NULL);
    }
    if (w->status == SAG_OK)
        w->status = sag_port_flush(p, NULL);
    if (w->status == SAG_OK)
        w->status = sag_port_close(p, NULL);
    if (w->status != SAG_OK)
        printf("  port writer: %s\n", sag_error_message(sag_last_error()));
    sag_port_free(p);
    sag_socket_shutdown(w->s, SAG_SHUT_WR, NULL);
    return NULL;
}

static void test_flapping_port(void) {
    section("64 MiB through a socket port while the link goes down for 100 ms, 6 times");
    int port = 0;
    sag_socket *srv, *s, *c;
    if (!cross_connection(&port, &srv, &s, &c))
        return;
    const size_t total = 64u << 20;
    /* A read timeout only so that a lost connection cannot hang the test;
     * timeouts are retried (a port read that times out loses nothing). */
    CHECK_ST(sag_socket_set_read_timeout(c, 1000000, NULL), SAG_OK);
    sag_port *in = NULL;
    CHECK_ST(sag_socket_input_port(c, &in, NULL), SAG_OK);
    struct port_writer w = {.s = s, .total = total};
    atomic_store(&flap_got, 0);
    atomic_store(&flaps, 0);
    atomic_store(&flapping, 1);
    pthread_t ft, wt;
    pthread_create(&ft, NULL, flapper_main, NULL);
    pthread_create(&wt, NULL, port_writer_main, &w);

    uint8_t *buf = malloc(1 << 20);
    size_t got = 0;
    int64_t bad = -1, t0 = now_us(), deadline = t0 + 120000000;
    int timeouts = 0, other = 0, eof = 0;
    sag_error *err = NULL;
    sag_error_new(&err);
    while (now_us() < deadline) {
        size_t n = 0;
        int st = sag_port_get_bytevector_some(in, buf, 0, 1 << 20, &n, err);
        if (st == SAG_E_READ_TIMEOUT) {
            timeouts++;
            continue;
        }
        if (st != SAG_OK) {
            other = st;
            printf("  port reader: %s\n", sag_error_message(err));
            break;
        }
        if (n == 0) {
            eof = 1;
            break;
        }
        if (bad < 0)
            bad = first_bad(buf, got, n);
        got += n;
        atomic_store(&flap_got, got);
    }
    double secs = (now_us() - t0) / 1e6;
    atomic_store(&flapping, 0);
    CHECK_EQ(join_within(ft, 5000), 0);
    link_set(ns_server, if_server, "up");
    CHECK_EQ(join_within(wt, 60000), 0);
    printf("  %zu bytes in %.1f s across %d link flaps (%d read timeouts retried)\n",
           got, secs, atomic_load(&flaps), timeouts);
    CHECK_EQ(w.status, SAG_OK);
    CHECK_EQ(other, 0);
    CHECK(eof);
    CHECK_EQ(got, total);
    CHECK_EQ(bad, -1);
    CHECK(atomic_load(&flaps) >= 3);
    sag_error_free(err);
    free(buf);
    sag_port_free(in);
    sag_socket_free(c);
    sag_socket_free(s);
    sag_socket_free(srv);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s NS_CLIENT NS_SERVER IF_CLIENT IF_SERVER\n", argv[0]);
        return 2;
    }
    ns_client = argv[1];
    ns_server = argv[2];
    if_client = argv[3];
    if_server = argv[4];
    char path[300];
    snprintf(path, sizeof path, "/run/netns/%s", ns_client);
    nsfd_client = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/run/netns/%s", ns_server);
    nsfd_server = open(path, O_RDONLY | O_CLOEXEC);
    if (nsfd_client < 0 || nsfd_server < 0 || enter(nsfd_client) != 0) {
        perror("faults: cannot enter the namespaces");
        return 2;
    }
    alarm(420);
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* This thread's last-error object and wake descriptor, made now so that
     * the counts below start with them. */
    sag_socket_close(NULL, NULL);
    sag_socket *warm = server_in_peer(&(int){0});
    sag_socket *none = NULL;
    if (warm) {
        sag_socket_set_read_timeout(warm, 1000, NULL);
        sag_socket_accept(warm, &none, NULL);
        sag_socket_free(warm);
    }
    int fds0 = count_fds(any_fd, 0), handles0 = sag_handle_count();
    const char *only = getenv("FAULTS_ONLY");
    if (!only || strstr(only, "blackhole")) test_blackhole();
    if (!only || strstr(only, "linkdown")) test_link_down();
    if (!only || strstr(only, "reset")) test_reset();
    if (!only || strstr(only, "neverread")) test_never_reads();
    if (!only || strstr(only, "flap")) test_flapping_port();
    section("nothing left behind");
    CHECK_EQ(sag_handle_count(), handles0);
    int fds1 = count_fds(any_fd, 0);
    CHECK_EQ(fds1, fds0);
    if (fds1 != fds0)
        count_fds(any_fd, 1);
    summary_and_exit();
}
