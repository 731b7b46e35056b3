/* abi/transfer.c: part of test_abi.c, which includes it (recvfrom on a
 * stream socket, a peer that resets, a send that stops partway and says how
 * much went).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== recvfrom on a stream socket ======================================= */

/* recvfrom(2) on TCP fills no address: the call delivers the bytes with
 * SAG_OK and leaves the sockaddr empty (AF_UNSPEC); reading that sockaddr
 * afterwards fails on its own, and the stream loses nothing. */
static void test_recvfrom_stream(void) {
    section("recvfrom on a stream socket");
    pair_t p;
    if (!PAIR_OK(&p, SAG_AF_INET))
        return;
    CHECK_ST(sag_socket_set_read_timeout(p.acc, 5000000, E), SAG_OK);
    sag_sockaddr *from = NULL;
    CHECK_ST(sag_sockaddr_new(&from, E), SAG_OK);
    CHECK_ST(send_all(p.cli, "first-second", 12), SAG_OK);
    uint8_t buf[32];
    size_t n = 0;
    CHECK_ST(sag_socket_recvfrom(p.acc, buf, 0, 6, 0, from, &n, E), SAG_OK);
    CHECK_EQ(n, 6);
    CHECK(memcmp(buf, "first-", 6) == 0);
    int fam = -1;
    CHECK_ST(sag_sockaddr_family(from, &fam, E), SAG_OK);
    CHECK_EQ(fam, SAG_AF_UNSPEC);
    sag_ip_address *ip = NULL;
    CHECK_ST(sag_sockaddr_ip_address(from, &ip, E), SAG_E_INVALID);
    CHECK(ip == NULL);
    size_t got = 0;
    while (got < 6) {
        CHECK_ST(sag_socket_recv(p.acc, buf, got, sizeof buf - got, 0, &n, E), SAG_OK);
        if (n == 0)
            break;
        got += n;
    }
    CHECK_EQ(got, 6);
    CHECK(memcmp(buf, "second", 6) == 0);
    sag_sockaddr_free(from);
    free_pair(&p);
}

/* ===== Peer reset ======================================================== */

static void test_peer_reset(void) {
    section("peer reset");
    pair_t p;
    if (!PAIR_OK(&p, SAG_AF_INET))
        return;
    struct linger lg = {1, 0};
    CHECK_ST(sag_socket_setsockopt_bytes(p.acc, SAG_SOL_SOCKET, SAG_SO_LINGER,
                                         (const uint8_t *)&lg, 0, sizeof lg, E),
             SAG_OK);
    CHECK_ST(sag_socket_close(p.acc, E), SAG_OK);
    CHECK(wait_readable(p.cli)); /* the RST has arrived */
    static uint8_t big[64 * 1024];
    int st = SAG_OK, tries = 0;
    size_t sent = 0;
    for (tries = 0; tries < 10; tries++) {
        st = sag_socket_send(p.cli, big, 0, sizeof big, 0, &sent, E);
        if (st != SAG_OK)
            break;
    }
    CHECK_ST(st, SAG_E_SOCKET);
    CHECK(sag_error_errno(E) == EPIPE || sag_error_errno(E) == ECONNRESET);
    CHECK(sag_error_socket(E) == p.cli);
    CHECK(sag_error_message(E)[0] != '\0');
    /* Gone again: with MSG_NOSIGNAL the call answers 0. */
    sent = 99;
    CHECK_ST(sag_socket_send(p.cli, big, 0, sizeof big, SAG_MSG_NOSIGNAL, &sent, E),
             SAG_OK);
    CHECK_EQ(sent, 0);
    /* And without, still a failure, still no SIGPIPE. */
    st = sag_socket_send(p.cli, big, 0, sizeof big, 0, &sent, E);
    CHECK_ST(st, SAG_E_SOCKET);
    CHECK(sag_error_errno(E) == EPIPE || sag_error_errno(E) == ECONNRESET);
    free_pair(&p);
}

/* ===== A send that stops partway tells how much went ===================== */

#define PARTIAL_BYTES ((size_t)16 << 20) /* far more than the socket buffers */

/* Reads s to end of file (10 s read timeout) and checks that what came is
 * exactly src[0, expect). */
static void expect_exactly(sag_socket *s, const uint8_t *src, size_t expect,
                           int line) {
    static uint8_t buf[65536];
    size_t got = 0;
    int same = 1;
    CHECK_ST(sag_socket_set_read_timeout(s, 10 * 1000000LL, E), SAG_OK);
    for (;;) {
        size_t r = 0;
        if (sag_socket_recv(s, buf, 0, sizeof buf, 0, &r, E) != SAG_OK ||
            r == 0)
            break;
        if (got + r > expect || memcmp(buf, src + got, r) != 0)
            same = 0;
        got += r;
    }
    if (got == expect && same) {
        atomic_fetch_add(&g_pass, 1);
    } else {
        char d[160];
        snprintf(d, sizeof d, "the peer got %zu bytes%s, the error said %zu",
                 got, same ? "" : " (not the prefix sent)", expect);
        check_fail(__FILE__, line, "bytes at the peer == sag_error_sent", d);
    }
}

typedef struct {
    sag_socket *s;
    sag_port *port; /* a port write instead of sag_socket_send */
    const uint8_t *buf;
    int flags, st, err_no;
    size_t sent, went;
    pthread_t th;
    atomic_int tid;
} send_job;

static void *send_job_main(void *arg) {
    send_job *j = arg;
    sag_error *e = NULL;
    if (sag_error_new(&e) != SAG_OK)
        return NULL;
    atomic_store(&j->tid, thread_id());
    j->sent = (size_t)-7;
    if (j->port)
        j->st = sag_port_put_bytevector(j->port, j->buf, 0, PARTIAL_BYTES, e);
    else
        j->st = sag_socket_send(j->s, j->buf, 0, PARTIAL_BYTES, j->flags,
                                &j->sent, e);
    j->went = sag_error_sent(e);
    j->err_no = sag_error_errno(e);
    sag_error_free(e);
    return NULL;
}

static void test_partial_send(void) {
    uint8_t *src = malloc(PARTIAL_BYTES);
    for (size_t i = 0; i < PARTIAL_BYTES; i++)
        src[i] = (uint8_t)((i * 7u + (i >> 9)) % 251u);

    section("a send stopped partway tells how much went: SO_SNDTIMEO");
    for (int via_port = 0; via_port < 2; via_port++) {
        pair_t p;
        sag_port *port = NULL;
        size_t sent = (size_t)-7;
        if (!PAIR_OK(&p, SAG_AF_INET)) {
            break;
        }
        CHECK_ST(sag_socket_setsockopt_duration(p.cli, SAG_SOL_SOCKET,
                                                SAG_SO_SNDTIMEO, 200000, E),
                 SAG_OK);
        sag_error_clear(E);
        if (via_port) {
            /* a put on a port (buffer mode none) reports it too */
            CHECK_ST(sag_socket_port(p.cli, 0, &port, E), SAG_OK);
            CHECK_ST(sag_port_put_bytevector(port, src, 0, PARTIAL_BYTES, E),
                     SAG_E_IO_WRITE);
        } else {
            CHECK_ST(sag_socket_send(p.cli, src, 0, PARTIAL_BYTES, 0, &sent, E),
                     SAG_E_SOCKET);
            CHECK_EQ(sent, (size_t)-7); /* out-parameters: success only */
        }
        CHECK_EQ(sag_error_errno(E), ETIMEDOUT);
        size_t went = sag_error_sent(E);
        CHECK(went > 0 && went < PARTIAL_BYTES);
        CHECK_ST(sag_socket_shutdown(p.cli, SAG_SHUT_WR, E), SAG_OK);
        expect_exactly(p.acc, src, went, __LINE__);
        CHECK_ST(sag_port_free(port), SAG_OK);
        free_pair(&p);
    }

    section("a send stopped partway tells how much went: interrupt");
    {
        pair_t p;
        send_job j;
        if (PAIR_OK(&p, SAG_AF_INET)) {
            memset(&j, 0, sizeof j);
            j.s = p.cli;
            j.buf = src;
            pthread_create(&j.th, NULL, send_job_main, &j);
            /* the sender fills the buffers and waits */
            CHECK(wait_until_polling(&j.tid));
            CHECK_ST(sag_socket_interrupt(p.cli, E), SAG_OK);
            pthread_join(j.th, NULL);
            CHECK_ST(j.st, SAG_E_INTERRUPTED);
            CHECK(j.went > 0 && j.went < PARTIAL_BYTES);
            CHECK_ST(sag_socket_shutdown(p.cli, SAG_SHUT_WR, E), SAG_OK);
            expect_exactly(p.acc, src, j.went, __LINE__);
            free_pair(&p);
        }
    }

    section("a send stopped partway tells how much went: reset by the peer");
    for (int nosignal = 0; nosignal < 2; nosignal++) {
        pair_t p;
        send_job j;
        struct linger lg = {1, 0};
        if (!PAIR_OK(&p, SAG_AF_INET)) {
            break;
        }
        memset(&j, 0, sizeof j);
        j.s = p.cli;
        j.buf = src;
        j.flags = nosignal ? SAG_MSG_NOSIGNAL : 0;
        pthread_create(&j.th, NULL, send_job_main, &j);
        CHECK(wait_until_polling(&j.tid)); /* buffers full, waiting */
        CHECK_ST(sag_socket_setsockopt_bytes(p.acc, SAG_SOL_SOCKET,
                                             SAG_SO_LINGER,
                                             (const uint8_t *)&lg, 0,
                                             sizeof lg, E),
                 SAG_OK);
        CHECK_ST(sag_socket_close(p.acc, E), SAG_OK); /* RST */
        pthread_join(j.th, NULL);
        if (nosignal) {
            /* Sagittarius: with MSG_NOSIGNAL a gone peer is no failure; the
             * count is what went before */
            CHECK_ST(j.st, SAG_OK);
            CHECK(j.sent > 0 && j.sent < PARTIAL_BYTES);
        } else {
            CHECK_ST(j.st, SAG_E_SOCKET);
            CHECK(j.err_no == ECONNRESET || j.err_no == EPIPE);
            CHECK(j.went > 0 && j.went < PARTIAL_BYTES);
        }
        free_pair(&p);
    }
    free(src);
}
