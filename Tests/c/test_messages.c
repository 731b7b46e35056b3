/* test_messages.c: descriptors and messages (include/sagsocket_decls.h,
 * "Descriptors and messages"): sag_socket_from_fd, sag_socket_dup,
 * sag_socket_detach, sag_socket_sendmsg, sag_socket_recvmsg,
 * sag_cmsg_append and sag_cmsg_next, on socket pairs, loopback TCP and
 * loopback UDP; bad input of every kind; waiting, timeouts, interrupt,
 * close and detach from another thread. Run by Tests/c/run.sh. */
#define _GNU_SOURCE
#include "check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

static sag_error *E;

static int fd_open(int fd) { return fcntl(fd, F_GETFD) != -1; }
static int fd_cloexec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }
static int fd_nonblock(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

static int sock_fd(sag_socket *s) {
    int fd = -1;
    if (sag_socket_fd(s, &fd, E) != SAG_OK)
        return -1;
    return fd;
}

/* A raw UDP socket bound to 127.0.0.1, port chosen by the kernel. */
static int raw_udp(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    return fd;
}

static int send_bytes(sag_socket *s, const char *text) {
    size_t sent = 0;
    return sag_socket_send(s, (const uint8_t *)text, 0, strlen(text), 0, &sent, E);
}

/* What `from` sends (text, at most 16 bytes), `to` receives in one call. */
static void check_passes(sag_socket *from, sag_socket *to, const char *text) {
    uint8_t buf[16];
    size_t got = 0, n = strlen(text);
    CHECK_ST(send_bytes(from, text), SAG_OK);
    CHECK_ST(sag_socket_recv(to, buf, 0, sizeof buf, 0, &got, E), SAG_OK);
    CHECK(got == n && memcmp(buf, text, n) == 0);
}

/* One buffer's recvmsg, no control, no address. */
static int recvmsg1(sag_socket *s, uint8_t *buf, size_t len, int flags, size_t *got, int *mflags) {
    uint8_t *bufs[1] = {buf};
    size_t lens[1] = {len}, clen = 0;
    return sag_socket_recvmsg(s, bufs, lens, 1, NULL, 0, 0, flags, NULL, got, &clen, mflags, E);
}

/* ===== Adopting a descriptor ============================================= */

static void test_from_fd(void) {
    section("sag_socket_from_fd");
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(!fd_nonblock(sv[0]) && !fd_cloexec(sv[0]));
    sag_socket *a = NULL, *b = NULL;
    CHECK_ST(sag_socket_from_fd(sv[0], &a, E), SAG_OK);
    CHECK_ST(sag_socket_from_fd(sv[1], &b, E), SAG_OK);
    CHECK_EQ(sock_fd(a), sv[0]);
    /* the library's rules for its descriptors: close-on-exec, O_NONBLOCK */
    CHECK(fd_nonblock(sv[0]) && fd_cloexec(sv[0]));
    int v = -1, nb = -1;
    CHECK_ST(sag_socket_getsockopt_int(a, SAG_SOL_SOCKET, SAG_SO_TYPE, &v, E), SAG_OK);
    CHECK_EQ(v, SOCK_STREAM);
    CHECK_ST(sag_socket_is_nonblocking(a, &nb, E), SAG_OK);
    CHECK_EQ(nb, 0);
    /* a blocking receive waits for what the other end sends */
    check_passes(b, a, "adopted");
    /* closing the socket closes the adopted descriptor */
    CHECK_ST(sag_socket_free(a), SAG_OK);
    CHECK(!fd_open(sv[0]));
    CHECK_ST(sag_socket_free(b), SAG_OK);

    /* family, type and protocol come from the kernel: a UDP socket */
    int u = raw_udp();
    CHECK(u >= 0);
    sag_socket *us = NULL;
    CHECK_ST(sag_socket_from_fd(u, &us, E), SAG_OK);
    sag_sockaddr *sa = NULL;
    int fam = -1;
    CHECK_ST(sag_socket_sockaddr(us, 0, &sa, E), SAG_OK);
    CHECK_ST(sag_sockaddr_family(sa, &fam, E), SAG_OK);
    CHECK_EQ(fam, SAG_AF_INET);
    CHECK_ST(sag_socket_getsockopt_int(us, SAG_SOL_SOCKET, SAG_SO_TYPE, &v, E), SAG_OK);
    CHECK_EQ(v, SOCK_DGRAM);
    sag_sockaddr_free(sa);
    sag_socket_free(us);

    /* bad input: a negative, a closed and a non-socket descriptor, out NULL */
    sag_socket *x = NULL;
    CHECK_ST(sag_socket_from_fd(-1, &x, E), SAG_E_INVALID);
    CHECK(x == NULL);
    CHECK_ST(sag_socket_from_fd(sv[0], &x, E), SAG_E_SOCKET); /* closed above */
    CHECK_EQ(sag_error_errno(E), EBADF);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_ST(sag_socket_from_fd(p[0], &x, E), SAG_E_SOCKET);
    CHECK_EQ(sag_error_errno(E), ENOTSOCK);
    CHECK(x == NULL);
    /* refused: the descriptor is left as it was, still the caller's */
    CHECK(fd_open(p[0]) && !fd_cloexec(p[0]) && !fd_nonblock(p[0]));
    CHECK_ST(sag_socket_from_fd(p[0], NULL, E), SAG_E_INVALID);
    close(p[0]);
    close(p[1]);
    CHECK_ST(sag_socket_from_fd(1 << 30, &x, E), SAG_E_SOCKET);
    CHECK_EQ(sag_error_errno(E), EBADF);
}

/* ===== Duplicating ========================================================= */

static void test_dup(void) {
    section("sag_socket_dup");
    sag_socket *a = NULL, *b = NULL, *d = NULL;
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &a, &b, E), SAG_OK);
    CHECK_ST(sag_socket_set_read_timeout(a, 250000, E), SAG_OK);
    CHECK_ST(sag_socket_dup(a, &d, E), SAG_OK);
    CHECK(d != NULL && d != a);
    int fa = sock_fd(a), fdd = sock_fd(d);
    CHECK(fdd >= 0 && fdd != fa);
    CHECK(fd_cloexec(fdd) && fd_nonblock(fdd));
    int64_t t = 0;
    CHECK_ST(sag_socket_get_read_timeout(d, &t, E), SAG_OK);
    CHECK_EQ(t, 250000);
    /* the same kernel socket: what b sends, d reads; what d sends, b reads */
    check_passes(b, d, "to-dup");
    /* closed independently: a closed, d still works */
    CHECK_ST(sag_socket_close(a, E), SAG_OK);
    CHECK(fd_open(fdd));
    check_passes(d, b, "still");
    /* bad input */
    sag_socket *x = NULL;
    CHECK_ST(sag_socket_dup(a, &x, E), SAG_E_CLOSED);
    CHECK(x == NULL);
    CHECK_ST(sag_socket_dup(NULL, &x, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_dup(d, NULL, E), SAG_E_INVALID);
    sag_socket_free(a);
    CHECK_ST(sag_socket_dup(a, &x, E), SAG_E_MISUSE); /* freed */
    sag_socket_free(b);
    sag_socket_free(d);
}

/* ===== Detaching =========================================================== */

/* A thread's blocking receive on s: sag_socket_recvmsg when msg, else
 * sag_socket_recv (no error object: E is the main thread's); its status. */
typedef struct {
    sag_socket *s;
    int msg;
    int status;
    atomic_int tid;
} waiter_t;

static void *recv_waiter(void *arg) {
    waiter_t *w = arg;
    atomic_store(&w->tid, thread_id());
    uint8_t buf[8];
    uint8_t *bufs[1] = {buf};
    size_t got = 0, lens[1] = {sizeof buf}, clen = 0;
    int mf = 0;
    w->status = w->msg ? sag_socket_recvmsg(w->s, bufs, lens, 1, NULL, 0, 0, 0, NULL, &got, &clen, &mf, NULL)
                       : sag_socket_recv(w->s, buf, 0, sizeof buf, 0, &got, NULL);
    return NULL;
}

static void test_detach(void) {
    section("sag_socket_detach");
    sag_socket *a = NULL, *b = NULL;
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &a, &b, E), SAG_OK);
    int fa = sock_fd(a), fd = -1, closed = 0;
    CHECK_ST(sag_socket_detach(a, &fd, E), SAG_OK);
    CHECK_EQ(fd, fa);
    CHECK(fd_open(fd));
    CHECK_ST(sag_socket_is_closed(a, &closed, E), SAG_OK);
    CHECK_EQ(closed, 1);
    /* twice: closed, *fd not written */
    int fd2 = -7;
    CHECK_ST(sag_socket_detach(a, &fd2, E), SAG_E_CLOSED);
    CHECK_EQ(fd2, -7);
    /* sag_socket_fd reads the descriptor from the handle's slot: a
     * detached socket's is no longer there to read */
    CHECK_ST(sag_socket_fd(a, &fd2, E), SAG_E_CLOSED);
    CHECK_EQ(fd2, -7);
    /* freeing the handle does not close the descriptor now the caller's */
    CHECK_ST(sag_socket_free(a), SAG_OK);
    CHECK(fd_open(fd));
    /* the descriptor works, and can be adopted again */
    sag_socket *again = NULL;
    CHECK_ST(sag_socket_from_fd(fd, &again, E), SAG_OK);
    check_passes(b, again, "back");

    /* bad input */
    CHECK_ST(sag_socket_detach(again, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_detach(NULL, &fd2, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_detach(a, &fd2, E), SAG_E_MISUSE); /* freed */
    sag_socket *c = NULL;
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &c, &a, E), SAG_OK);
    CHECK_ST(sag_socket_close(c, E), SAG_OK);
    CHECK_ST(sag_socket_detach(c, &fd2, E), SAG_E_CLOSED); /* after close */
    sag_socket_free(c);
    sag_socket_free(a);
    /* a socket closed by the port that owns it: sag_socket_fd sees it */
    sag_port *p = NULL;
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &c, &a, E), SAG_OK);
    CHECK(sock_fd(c) >= 0);
    CHECK_ST(sag_socket_port(c, 1, &p, E), SAG_OK);
    CHECK_ST(sag_port_close(p, E), SAG_OK);
    fd2 = -7;
    CHECK_ST(sag_socket_fd(c, &fd2, E), SAG_E_CLOSED);
    CHECK_EQ(fd2, -7);
    sag_port_free(p);
    sag_socket_free(c);
    sag_socket_free(a);

    /* detach while another thread waits on the socket: the waiter ends
     * with SAG_E_CLOSED, and the descriptor is handed over open */
    waiter_t w = {.s = again, .msg = 0, .status = -100};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, recv_waiter, &w) == 0);
    CHECK(wait_until_polling(&w.tid)); /* woken, not refused as detached */
    fd = -1;
    CHECK_ST(sag_socket_detach(again, &fd, E), SAG_OK);
    CHECK_EQ(join_within(t, 10000), 0);
    CHECK_ST(w.status, SAG_E_CLOSED);
    CHECK(fd_open(fd));
    /* nothing was read by the woken call: the bytes are all still there */
    CHECK_ST(send_bytes(b, "kept"), SAG_OK);
    char raw[8];
    ssize_t n = -1;
    for (int i = 0; i < 1000 && n < 0; i++) {
        n = read(fd, raw, sizeof raw);
        if (n < 0)
            sleep_ms(2);
    }
    CHECK(n == 4 && memcmp(raw, "kept", 4) == 0);
    close(fd);
    sag_socket_free(again);
    sag_socket_free(b);
}

/* ===== Control buffers ===================================================== */

static void test_cmsg(void) {
    section("sag_cmsg_append, sag_cmsg_next");
    uint8_t ctl[256];
    size_t used = 0;
    int fds[2] = {5, 6};
    int one = 1;
    /* the size asked with cap 0 */
    CHECK_ST(sag_cmsg_append(NULL, 0, 0, &used, SOL_SOCKET, SCM_RIGHTS, (const uint8_t *)fds, 0, sizeof fds, E),
             SAG_E_INVALID);
    CHECK_EQ(used, CMSG_SPACE(sizeof fds));
    used = 0;
    memset(ctl, 0xAA, sizeof ctl);
    CHECK_ST(sag_cmsg_append(ctl, 0, sizeof ctl, &used, SOL_SOCKET, SCM_RIGHTS, (const uint8_t *)fds, 0, sizeof fds, E),
             SAG_OK);
    CHECK_EQ(used, CMSG_SPACE(sizeof fds));
    CHECK_ST(sag_cmsg_append(ctl, 0, sizeof ctl, &used, 41, 99, (const uint8_t *)&one, 0, 1, E), SAG_OK);
    CHECK_EQ(used, CMSG_SPACE(sizeof fds) + CMSG_SPACE(1));

    /* the layout is the C library's, as its macros read it */
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_control = ctl;
    m.msg_controllen = used;
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    CHECK(h != NULL && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS);
    CHECK(h != NULL && h->cmsg_len == CMSG_LEN(sizeof fds));
    CHECK(h != NULL && memcmp(CMSG_DATA(h), fds, sizeof fds) == 0);
    h = h ? CMSG_NXTHDR(&m, h) : NULL;
    CHECK(h != NULL && h->cmsg_level == 41 && h->cmsg_type == 99 && h->cmsg_len == CMSG_LEN(1));
    CHECK(h != NULL && CMSG_DATA(h)[0] == 1 && CMSG_DATA(h)[1] == 0); /* padding zeroed */

    /* read back */
    size_t off = 0, ds = 0, dl = 0;
    int lv = 0, ty = 0, found = -1;
    CHECK_ST(sag_cmsg_next(ctl, 0, used, &off, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
    CHECK(found == 1 && lv == SOL_SOCKET && ty == SCM_RIGHTS && dl == sizeof fds);
    CHECK(memcmp(ctl + ds, fds, sizeof fds) == 0);
    CHECK_ST(sag_cmsg_next(ctl, 0, used, &off, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
    CHECK(found == 1 && lv == 41 && ty == 99 && dl == 1 && ctl[ds] == 1);
    CHECK_EQ(off, used);
    CHECK_ST(sag_cmsg_next(ctl, 0, used, &off, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
    CHECK_EQ(found, 0);
    /* a truncated message: its data cut at the end of the buffer */
    off = 0;
    CHECK_ST(sag_cmsg_next(ctl, 0, CMSG_LEN(sizeof(int)), &off, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
    CHECK(found == 1 && dl == sizeof(int));
    CHECK_ST(sag_cmsg_next(ctl, 0, CMSG_LEN(sizeof(int)), &off, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
    CHECK_EQ(found, 0);
    /* malformed: a length smaller than a header ends the walk */
    struct cmsghdr bad;
    memset(&bad, 0, sizeof bad);
    bad.cmsg_len = 3;
    off = 0;
    CHECK_ST(sag_cmsg_next((const uint8_t *)&bad, 0, sizeof bad, &off, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
    CHECK_EQ(found, 0);
    /* a huge length stays inside the buffer */
    bad.cmsg_len = (size_t)-1;
    off = 0;
    CHECK_ST(sag_cmsg_next((const uint8_t *)&bad, 0, sizeof bad, &off, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
    CHECK(found == 1 && dl == 0 && off == sizeof bad);

    /* a control buffer that starts inside a larger one: offsets are relative to start */
    {
        uint8_t big[64];
        size_t u = 0, o = 0;
        memset(big, 0xEE, sizeof big);
        CHECK_ST(sag_cmsg_append(big, 5, 40, &u, 7, 8, (const uint8_t *)fds, 0, sizeof(int), E), SAG_OK);
        CHECK_EQ(u, CMSG_SPACE(sizeof(int)));
        CHECK(big[4] == 0xEE && big[5 + u] == 0xEE);
        CHECK_ST(sag_cmsg_next(big, 5, u, &o, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
        CHECK(found == 1 && lv == 7 && ty == 8 && dl == sizeof(int) && ds == CMSG_LEN(0));
        CHECK(memcmp(big + 5 + ds, fds, sizeof(int)) == 0);
        CHECK_ST(sag_cmsg_append(big, 60, 8, &u, 7, 8, NULL, 0, 0, E), SAG_E_INVALID); /* *used already past these 8 bytes */
    }
    /* bad input */
    used = 3;
    CHECK_ST(sag_cmsg_append(ctl, 0, sizeof ctl, &used, 1, 1, NULL, 0, 0, E), SAG_E_INVALID); /* unaligned */
    CHECK_EQ(used, 3);
    CHECK_ST(sag_cmsg_append(ctl, 0, sizeof ctl, NULL, 1, 1, NULL, 0, 0, E), SAG_E_INVALID);
    used = 0;
    CHECK_ST(sag_cmsg_append(ctl, 0, sizeof ctl, &used, 1, 1, NULL, 0, 4, E), SAG_E_INVALID);
    CHECK_ST(sag_cmsg_append(NULL, 0, 16, &used, 1, 1, NULL, 0, 0, E), SAG_E_INVALID);
    CHECK_ST(sag_cmsg_append(ctl, 0, sizeof ctl, &used, 1, 1, ctl, 0, (size_t)-1, E), SAG_E_INVALID);
    CHECK_ST(sag_cmsg_next(ctl, 0, 16, NULL, &lv, &ty, &ds, &dl, &found, E), SAG_E_INVALID);
    CHECK_ST(sag_cmsg_next(NULL, 0, 16, &off, &lv, &ty, &ds, &dl, &found, E), SAG_E_INVALID);
    off = (size_t)-1;
    CHECK_ST(sag_cmsg_next(ctl, 0, 16, &off, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
    CHECK_EQ(found, 0);
}

/* ===== Messages ============================================================ */

static void test_scatter_gather(void) {
    section("sendmsg/recvmsg: gather, scatter");
    sag_socket *a = NULL, *b = NULL;
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &a, &b, E), SAG_OK);
    const uint8_t *out[3] = {(const uint8_t *)"abc", NULL, (const uint8_t *)"defgh"};
    size_t outl[3] = {3, 0, 5}, sent = 0;
    CHECK_ST(sag_socket_sendmsg(a, out, outl, 3, NULL, 0, 0, 0, NULL, &sent, E), SAG_OK);
    CHECK_EQ(sent, 8);
    uint8_t x[2], y[10];
    uint8_t *in[2] = {x, y};
    size_t inl[2] = {2, 10}, got = 0, clen = 99;
    int mf = -1;
    sag_sockaddr *from = NULL;
    CHECK_ST(sag_sockaddr_new(&from, E), SAG_OK);
    CHECK_ST(sag_socket_recvmsg(b, in, inl, 2, NULL, 0, 0, 0, from, &got, &clen, &mf, E), SAG_OK);
    CHECK(got == 8 && memcmp(x, "ab", 2) == 0 && memcmp(y, "cdefgh", 6) == 0);
    CHECK_EQ(clen, 0);
    CHECK_EQ(mf, 0);
    /* no sender address on a connected pair: the sockaddr says AF_UNSPEC */
    int fam = -1;
    CHECK_ST(sag_sockaddr_family(from, &fam, E), SAG_OK);
    CHECK(fam == SAG_AF_UNSPEC || fam == SAG_AF_UNIX);
    /* no buffers at all: a zero-length message */
    CHECK_ST(sag_socket_sendmsg(a, NULL, NULL, 0, NULL, 0, 0, 0, NULL, &sent, E), SAG_OK);
    CHECK_EQ(sent, 0);
    /* end of stream: 0 */
    CHECK_ST(sag_socket_shutdown(a, SAG_SHUT_WR, E), SAG_OK);
    CHECK_ST(recvmsg1(b, y, sizeof y, 0, &got, &mf), SAG_OK);
    CHECK_EQ(got, 0);
    sag_sockaddr_free(from);
    sag_socket_free(a);
    sag_socket_free(b);
}

static void test_pass_fd(void) {
    section("sendmsg/recvmsg: SCM_RIGHTS");
    sag_socket *a = NULL, *b = NULL;
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &a, &b, E), SAG_OK);
    int p[2], q[2];
    CHECK(pipe(p) == 0 && pipe(q) == 0);
    uint8_t ctl[64];
    size_t used = 0, sent = 0;
    int give[2] = {p[1], q[1]};
    CHECK_ST(sag_cmsg_append(ctl, 0, sizeof ctl, &used, SOL_SOCKET, SCM_RIGHTS, (const uint8_t *)give, 0, sizeof give, E),
             SAG_OK);
    const uint8_t *out[1] = {(const uint8_t *)"F"};
    size_t outl[1] = {1};
    CHECK_ST(sag_socket_sendmsg(a, out, outl, 1, ctl, 0, used, 0, NULL, &sent, E), SAG_OK);
    CHECK_EQ(sent, 1);

    uint8_t buf[4], rctl[64];
    uint8_t *in[1] = {buf};
    size_t inl[1] = {sizeof buf}, got = 0, clen = 0;
    int mf = -1;
    CHECK_ST(sag_socket_recvmsg(b, in, inl, 1, rctl, 0, sizeof rctl, 0, NULL, &got, &clen, &mf, E), SAG_OK);
    CHECK(got == 1 && buf[0] == 'F');
    CHECK_EQ(mf & SAG_MSG_CTRUNC, 0);
    size_t off = 0, ds = 0, dl = 0;
    int lv = 0, ty = 0, found = 0;
    CHECK_ST(sag_cmsg_next(rctl, 0, clen, &off, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
    CHECK(found == 1 && lv == SOL_SOCKET && ty == SCM_RIGHTS && dl == 2 * sizeof(int));
    int got_fds[2] = {-1, -1};
    if (found && dl == sizeof got_fds)
        memcpy(got_fds, rctl + ds, sizeof got_fds);
    /* new descriptors, close-on-exec, for the same pipes */
    CHECK(got_fds[0] >= 0 && got_fds[0] != p[1] && fd_cloexec(got_fds[0]));
    CHECK(got_fds[1] >= 0 && fd_cloexec(got_fds[1]));
    CHECK(write(got_fds[0], "via", 3) == 3);
    char r[4];
    CHECK(read(p[0], r, 3) == 3 && memcmp(r, "via", 3) == 0);
    close(got_fds[0]);
    close(got_fds[1]);

    /* MSG_CTRUNC: room for one descriptor of two (CMSG_LEN, not
     * CMSG_SPACE, which has room for two); the kernel closes the other,
     * the one that fits arrives */
    CHECK_ST(sag_socket_sendmsg(a, out, outl, 1, ctl, 0, used, 0, NULL, &sent, E), SAG_OK);
    clen = 0;
    CHECK_ST(sag_socket_recvmsg(b, in, inl, 1, rctl, 0, CMSG_LEN(sizeof(int)), 0, NULL, &got, &clen, &mf, E),
             SAG_OK);
    CHECK(got == 1 && (mf & SAG_MSG_CTRUNC) != 0);
    off = 0;
    CHECK_ST(sag_cmsg_next(rctl, 0, clen, &off, &lv, &ty, &ds, &dl, &found, E), SAG_OK);
    CHECK(found == 1 && ty == SCM_RIGHTS && dl == sizeof(int));
    if (found && dl == sizeof(int)) {
        int one = -1;
        memcpy(&one, rctl + ds, sizeof one);
        CHECK(one >= 0 && fd_open(one));
        close(one);
    }
    /* no room at all: the control data is dropped, the byte arrives */
    CHECK_ST(sag_socket_sendmsg(a, out, outl, 1, ctl, 0, used, 0, NULL, &sent, E), SAG_OK);
    CHECK_ST(sag_socket_recvmsg(b, in, inl, 1, NULL, 0, 0, 0, NULL, &got, &clen, &mf, E), SAG_OK);
    CHECK(got == 1 && clen == 0 && (mf & SAG_MSG_CTRUNC) != 0);

    /* the kernel's refusals: a closed descriptor, malformed control data */
    int closed_fd = dup(p[0]);
    close(closed_fd);
    used = 0;
    CHECK_ST(sag_cmsg_append(ctl, 0, sizeof ctl, &used, SOL_SOCKET, SCM_RIGHTS, (const uint8_t *)&closed_fd, 0,
                             sizeof closed_fd, E), SAG_OK);
    CHECK_ST(sag_socket_sendmsg(a, out, outl, 1, ctl, 0, used, 0, NULL, &sent, E), SAG_E_SOCKET);
    CHECK_EQ(sag_error_errno(E), EBADF);
    struct cmsghdr bogus;
    memset(&bogus, 0, sizeof bogus);
    bogus.cmsg_len = 1000;
    bogus.cmsg_level = SOL_SOCKET;
    bogus.cmsg_type = SCM_RIGHTS;
    CHECK_ST(sag_socket_sendmsg(a, out, outl, 1, (const uint8_t *)&bogus, 0, sizeof bogus, 0, NULL, &sent, E),
             SAG_E_SOCKET);
    CHECK_EQ(sag_error_errno(E), EINVAL);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    sag_socket_free(a);
    sag_socket_free(b);
}

static void test_udp(void) {
    section("sendmsg/recvmsg: loopback UDP, MSG_TRUNC, the sender's address");
    int f1 = raw_udp(), f2 = raw_udp();
    sag_socket *u1 = NULL, *u2 = NULL;
    CHECK_ST(sag_socket_from_fd(f1, &u1, E), SAG_OK);
    CHECK_ST(sag_socket_from_fd(f2, &u2, E), SAG_OK);
    sag_sockaddr *to = NULL, *me = NULL, *from = NULL;
    CHECK_ST(sag_socket_sockaddr(u2, 0, &to, E), SAG_OK);
    CHECK_ST(sag_socket_sockaddr(u1, 0, &me, E), SAG_OK);
    CHECK_ST(sag_sockaddr_new(&from, E), SAG_OK);
    const uint8_t *out[2] = {(const uint8_t *)"0123", (const uint8_t *)"456789"};
    size_t outl[2] = {4, 6}, sent = 0, got = 0, clen = 0;
    int mf = -1;
    CHECK_ST(sag_socket_sendmsg(u1, out, outl, 2, NULL, 0, 0, 0, to, &sent, E), SAG_OK);
    CHECK_EQ(sent, 10);
    uint8_t small[4];
    uint8_t *in[1] = {small};
    size_t inl[1] = {sizeof small};
    CHECK_ST(sag_socket_recvmsg(u2, in, inl, 1, NULL, 0, 0, 0, from, &got, &clen, &mf, E), SAG_OK);
    CHECK(got == 4 && memcmp(small, "0123", 4) == 0 && (mf & SAG_MSG_TRUNC) != 0);
    int port = -1, myport = -2;
    CHECK_ST(sag_sockaddr_port(from, &port, E), SAG_OK);
    CHECK_ST(sag_sockaddr_port(me, &myport, E), SAG_OK);
    CHECK_EQ(port, myport);
    /* with MSG_TRUNC given, the datagram's full length */
    CHECK_ST(sag_socket_sendmsg(u1, out, outl, 2, NULL, 0, 0, 0, to, &sent, E), SAG_OK);
    CHECK_ST(recvmsg1(u2, small, sizeof small, SAG_MSG_TRUNC, &got, &mf), SAG_OK);
    CHECK(got == 10 && (mf & SAG_MSG_TRUNC) != 0);
    /* one that fits: no flag */
    CHECK_ST(sag_socket_sendmsg(u1, out, outl, 1, NULL, 0, 0, 0, to, &sent, E), SAG_OK);
    CHECK_ST(recvmsg1(u2, small, sizeof small, 0, &got, &mf), SAG_OK);
    CHECK(got == 4 && mf == 0);
    /* to: not a sockaddr */
    CHECK_ST(sag_socket_sendmsg(u1, out, outl, 1, NULL, 0, 0, 0, (sag_sockaddr *)u2, &sent, E), SAG_E_MISUSE);
    sag_sockaddr_free(to);
    sag_sockaddr_free(me);
    sag_sockaddr_free(from);
    sag_socket_free(u1);
    sag_socket_free(u2);
}

static void test_tcp_no_loss(void) {
    section("recvmsg on TCP: no address, and bad arguments take nothing");
    sag_socket *srv = NULL, *cli = NULL, *acc = NULL;
    char svc[16];
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &srv, E), SAG_OK);
    snprintf(svc, sizeof svc, "%d", local_port(srv));
    CHECK_ST(sag_make_client_socket("127.0.0.1", svc, SAG_AF_INET, SAG_SOCK_STREAM, SAG_AI_NUMERICHOST, 0, &cli, E),
             SAG_OK);
    CHECK_ST(sag_socket_accept(srv, &acc, E), SAG_OK);
    CHECK_ST(send_bytes(cli, "stream"), SAG_OK);
    uint8_t buf[16];
    uint8_t *in[1] = {buf};
    size_t inl[1] = {sizeof buf}, got = 0, clen = 0;
    int mf = 0;
    /* every bad argument is refused before anything is read */
    CHECK_ST(sag_socket_recvmsg(acc, in, inl, 1, NULL, 0, 0, 0, NULL, NULL, &clen, &mf, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_recvmsg(acc, in, inl, 1, NULL, 0, 0, 0, NULL, &got, NULL, &mf, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_recvmsg(acc, in, inl, 1, NULL, 0, 0, 0, NULL, &got, &clen, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_recvmsg(acc, NULL, inl, 1, NULL, 0, 0, 0, NULL, &got, &clen, &mf, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_recvmsg(acc, in, inl, 5000, NULL, 0, 0, 0, NULL, &got, &clen, &mf, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_recvmsg(acc, in, inl, 1, NULL, 0, 8, 0, NULL, &got, &clen, &mf, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_recvmsg(acc, in, inl, 1, NULL, 0, 0, 0, (sag_sockaddr *)srv, &got, &clen, &mf, E),
             SAG_E_MISUSE);
    uint8_t *nullbuf[1] = {NULL};
    CHECK_ST(sag_socket_recvmsg(acc, nullbuf, inl, 1, NULL, 0, 0, 0, NULL, &got, &clen, &mf, E), SAG_E_INVALID);
    /* the bytes are all there, and a TCP peer gives no address */
    sag_sockaddr *from = NULL;
    int fam = -1;
    CHECK_ST(sag_sockaddr_new(&from, E), SAG_OK);
    CHECK_ST(sag_socket_recvmsg(acc, in, inl, 1, NULL, 0, 0, 0, from, &got, &clen, &mf, E), SAG_OK);
    CHECK(got == 6 && memcmp(buf, "stream", 6) == 0);
    CHECK_ST(sag_sockaddr_family(from, &fam, E), SAG_OK);
    CHECK_EQ(fam, SAG_AF_UNSPEC);
    /* bad sendmsg arguments */
    const uint8_t *out[1] = {(const uint8_t *)"x"};
    size_t outl[1] = {1}, sent = 0;
    CHECK_ST(sag_socket_sendmsg(cli, out, outl, 1, NULL, 0, 0, 0, NULL, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_sendmsg(cli, out, NULL, 1, NULL, 0, 0, 0, NULL, &sent, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_sendmsg(cli, out, outl, 1025, NULL, 0, 0, 0, NULL, &sent, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_sendmsg(cli, out, outl, 1, NULL, 0, 4, 0, NULL, &sent, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_sendmsg(NULL, out, outl, 1, NULL, 0, 0, 0, NULL, &sent, E), SAG_E_MISUSE);
    size_t huge[1] = {(size_t)-1};
    CHECK_ST(sag_socket_sendmsg(cli, out, huge, 1, NULL, 0, 0, 0, NULL, &sent, E), SAG_E_INVALID);
    sag_sockaddr_free(from);
    sag_socket_free(acc);
    sag_socket_free(cli);
    sag_socket_free(srv);
}

static void test_waiting(void) {
    section("sendmsg/recvmsg: timeouts, non-blocking, interrupt, close");
    sag_socket *a = NULL, *b = NULL;
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &a, &b, E), SAG_OK);
    uint8_t buf[8];
    size_t got = 0, sent = 0;
    int mf = 0;
    /* the read timeout */
    CHECK_ST(sag_socket_set_read_timeout(b, 100000, E), SAG_OK);
    CHECK_ST(recvmsg1(b, buf, sizeof buf, 0, &got, &mf), SAG_E_READ_TIMEOUT);
    CHECK_EQ(sag_error_timeout(E), 100000);
    CHECK_ST(sag_socket_set_read_timeout(b, 0, E), SAG_OK);
    /* non-blocking, and MSG_DONTWAIT */
    CHECK_ST(recvmsg1(b, buf, sizeof buf, SAG_MSG_DONTWAIT, &got, &mf), SAG_E_WOULD_BLOCK);
    CHECK_ST(sag_socket_set_nonblocking(b, 1, E), SAG_OK);
    CHECK_ST(recvmsg1(b, buf, sizeof buf, 0, &got, &mf), SAG_E_WOULD_BLOCK);
    CHECK_ST(sag_socket_set_nonblocking(b, 0, E), SAG_OK);

    /* the send timeout: fill the pair, then a send waits SO_SNDTIMEO */
    static uint8_t chunk[65536];
    const uint8_t *out[1] = {chunk};
    size_t outl[1] = {sizeof chunk};
    int st = SAG_OK;
    for (int i = 0; i < 10000 && st == SAG_OK; i++)
        st = sag_socket_sendmsg(a, out, outl, 1, NULL, 0, 0, SAG_MSG_DONTWAIT, NULL, &sent, E);
    CHECK_ST(st, SAG_E_WOULD_BLOCK);
    CHECK_ST(sag_socket_setsockopt_duration(a, SAG_SOL_SOCKET, SAG_SO_SNDTIMEO, 100000, E), SAG_OK);
    CHECK_ST(sag_socket_sendmsg(a, out, outl, 1, NULL, 0, 0, 0, NULL, &sent, E), SAG_E_SOCKET);
    CHECK_EQ(sag_error_errno(E), ETIMEDOUT);
    CHECK_ST(sag_socket_set_nonblocking(a, 1, E), SAG_OK);
    CHECK_ST(sag_socket_sendmsg(a, out, outl, 1, NULL, 0, 0, 0, NULL, &sent, E), SAG_E_WOULD_BLOCK);
    CHECK_ST(sag_socket_free(a), SAG_OK);
    CHECK_ST(sag_socket_free(b), SAG_OK);

    /* interrupt and close from another thread end a waiting recvmsg */
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &a, &b, E), SAG_OK);
    waiter_t w = {.s = b, .msg = 1, .status = -100};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, recv_waiter, &w) == 0);
    int joined = -1;
    for (int i = 0; i < 200 && joined != 0; i++) {
        sag_socket_interrupt(b, NULL);
        joined = join_within(t, 50);
    }
    CHECK_EQ(joined, 0);
    CHECK_ST(w.status, SAG_E_INTERRUPTED);
    w.status = -100;
    atomic_store(&w.tid, 0);
    CHECK(pthread_create(&t, NULL, recv_waiter, &w) == 0);
    CHECK(wait_until_polling(&w.tid)); /* woken, not refused as closed */
    CHECK_ST(sag_socket_close(b, E), SAG_OK);
    CHECK_EQ(join_within(t, 10000), 0);
    CHECK_ST(w.status, SAG_E_CLOSED);
    CHECK_ST(recvmsg1(b, buf, sizeof buf, 0, &got, &mf), SAG_E_CLOSED);
    const uint8_t *one[1] = {(const uint8_t *)"z"};
    size_t onel[1] = {1};
    CHECK_ST(sag_socket_sendmsg(b, one, onel, 1, NULL, 0, 0, 0, NULL, &sent, E), SAG_E_CLOSED);
    /* a peer that has gone: a status, no SIGPIPE; with MSG_NOSIGNAL, 0 */
    CHECK_ST(sag_socket_sendmsg(a, one, onel, 1, NULL, 0, 0, 0, NULL, &sent, E), SAG_E_SOCKET);
    CHECK_EQ(sag_error_errno(E), EPIPE);
    CHECK_ST(sag_socket_sendmsg(a, one, onel, 1, NULL, 0, 0, SAG_MSG_NOSIGNAL, NULL, &sent, E), SAG_OK);
    CHECK_EQ(sent, 0);
    sag_socket_free(a);
    sag_socket_free(b);
}

int main(void) {
    alarm(120);
    if (sag_error_new(&E) != SAG_OK)
        return 2;
    test_from_fd();
    test_dup();
    test_detach();
    test_cmsg();
    test_scatter_gather();
    test_pass_fd();
    test_udp();
    test_tcp_no_loss();
    test_waiting();
    sag_error_free(E);
    summary_and_exit();
}
