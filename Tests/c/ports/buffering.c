/* ports/buffering.c: part of test_ports.c, which includes it (output buffering: both directions at once, when output goes out, buffer modes, no stall of a request/answer exchange).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_ports.c are shared by every part. */

/* --- full duplex: a writer and a reader thread on one port -------------- */
typedef struct {
    sag_socket *s;
    size_t echoed;
    pthread_t th;
} echo_peer;

static void *echo_main(void *arg) {
    echo_peer *ep = arg;
    uint8_t *buf = malloc(65536);
    for (;;) {
        size_t r = 0, sent = 0;
        int st = sag_socket_recv(ep->s, buf, 0, 65536, 0, &r, NULL);
        if (st != SAG_OK) {
            CHECK_ST(st, SAG_OK);
            break;
        }
        if (r == 0)
            break;
        st = sag_socket_send(ep->s, buf, 0, r, 0, &sent, NULL);
        if (st != SAG_OK) {
            CHECK_ST(st, SAG_OK);
            break;
        }
        ep->echoed += r;
    }
    CHECK_ST(sag_socket_shutdown(ep->s, SAG_SHUT_WR, NULL), SAG_OK);
    free(buf);
    return NULL;
}

#define DUPLEX_BYTES (4u * 1024u * 1024u)

typedef struct {
    sag_port *p;
    const uint8_t *src;
    uint8_t *dst;
    int st_w, st_f, st_r;
    size_t got;
    pthread_t tw, tr;
} duplex_job;

static void *duplex_writer(void *arg) {
    duplex_job *j = arg;
    j->st_w = SAG_OK;
    for (size_t off = 0; off < DUPLEX_BYTES; off += 1024) {
        int st = sag_port_put_bytevector(j->p, j->src, off, 1024, NULL);
        if (st != SAG_OK) {
            j->st_w = st;
            break;
        }
    }
    j->st_f = sag_port_flush(j->p, NULL);
    return NULL;
}

static void *duplex_reader(void *arg) {
    duplex_job *j = arg;
    j->st_r = sag_port_get_bytevector_n(j->p, j->dst, 0, DUPLEX_BYTES, &j->got,
                                        NULL);
    return NULL;
}

static void test_duplex(void) {
    sag_socket *a, *b;
    echo_peer ep;
    duplex_job j;
    uint8_t *src = malloc(DUPLEX_BYTES), *dst = calloc(1, DUPLEX_BYTES);
    int byte;

    section("full duplex: a writer thread and a reader thread on one port");
    for (size_t i = 0; i < DUPLEX_BYTES; i++)
        src[i] = (uint8_t)((i * 131u + (i >> 10)) % 251u);
    make_pair(&a, &b);
    memset(&ep, 0, sizeof ep);
    memset(&j, 0, sizeof j);
    ep.s = b;
    pthread_create(&ep.th, NULL, echo_main, &ep);
    CHECK_ST(sag_socket_port(a, 1, &j.p, E), SAG_OK);
    CHECK_ST(sag_port_set_read_mode(j.p, SAG_READ_FULL, E), SAG_OK);
    j.src = src;
    j.dst = dst;
    pthread_create(&j.tr, NULL, duplex_reader, &j);
    pthread_create(&j.tw, NULL, duplex_writer, &j);
    JOIN(j.tw, 60);
    JOIN(j.tr, 60);
    CHECK_ST(j.st_w, SAG_OK);
    CHECK_ST(j.st_f, SAG_OK);
    CHECK_ST(j.st_r, SAG_OK);
    CHECK_EQ(j.got, DUPLEX_BYTES);
    CHECK(memcmp(src, dst, DUPLEX_BYTES) == 0);
    CHECK_ST(sag_port_shutdown(j.p, SAG_SHUT_WR, E), SAG_OK);
    JOIN(ep.th, 30);
    CHECK_EQ(ep.echoed, DUPLEX_BYTES);
    byte = -2;
    CHECK_ST(sag_port_get_u8(j.p, &byte, E), SAG_OK);
    CHECK_EQ(byte, -1);
    CHECK_ST(sag_port_free(j.p), SAG_OK);
    free_pair(a, b);
    free(src);
    free(dst);
}

/* --- auto-flush before a blocking read ----------------------------------- */
static const char *const mode_names[] = {"none", "line", "block"};
typedef struct {
    sag_socket *s;
    uint8_t got[64];
    size_t n;
    pthread_t th;
} pong_peer;

static void *pong_main(void *arg) {
    pong_peer *pp = arg;
    pp->n = 0;
    while (pp->n < 5) {
        size_t r = 0;
        if (sag_socket_recv(pp->s, pp->got, pp->n, 5 - pp->n, 0, &r, NULL) !=
                SAG_OK ||
            r == 0)
            break;
        pp->n += r;
    }
    if (pp->n == 5 && memcmp(pp->got, "ping\n", 5) == 0)
        peer_send(pp->s, "pong\n", 5);
    return NULL;
}

static void test_autoflush(void) {
    sag_socket *a, *b;
    pong_peer pp;

    section("output is flushed before a read that would block, in every "
            "buffer mode");
    for (int run = 0; run < 9; run++) {
        int variant = run % 3, mode = run / 3;
        sag_port *p = NULL, *q = NULL, *t = NULL;
        printf("   buffer mode %s:", mode_names[mode]);
        make_pair(&a, &b);
        memset(&pp, 0, sizeof pp);
        pp.s = b;
        pthread_create(&pp.th, NULL, pong_main, &pp);
        if (variant == 0) {
            printf("   binary socket-port\n");
            CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
            CHECK_ST(sag_port_set_buffer_mode(p, mode, E), SAG_OK);
            CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"ping\n", 0,
                                             5, E),
                     SAG_OK);
            EXPECT_BLINE(p, "pong");
        } else if (variant == 1) {
            printf("   textual port\n");
            make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &p,
                      &t);
            CHECK_ST(sag_port_set_buffer_mode(t, mode, E), SAG_OK);
            CHECK_ST(sag_port_put_string(t, "ping\n", 0, 5, E), SAG_OK);
            EXPECT_LINE(t, "pong");
        } else {
            printf("   socket-output-port, then socket-input-port\n");
            CHECK_ST(sag_socket_output_port(a, &q, E), SAG_OK);
            CHECK_ST(sag_socket_input_port(a, &p, E), SAG_OK);
            CHECK_ST(sag_port_set_buffer_mode(q, mode, E), SAG_OK);
            CHECK_ST(sag_port_put_bytevector(q, (const uint8_t *)"ping\n", 0,
                                             5, E),
                     SAG_OK);
            EXPECT_BLINE(p, "pong");
        }
        JOIN(pp.th, 30);
        CHECK_LIT(pp.got, pp.n, "ping\n");
        CHECK_ST(sag_port_free(t), SAG_OK);
        CHECK_ST(sag_port_free(q), SAG_OK);
        close_binary(p, a, b);
    }
}

/* --- buffer modes: when a put reaches the peer ---------------------------- */

/* What has reached the peer 20 ms after a put (up to cap bytes), read
 * without waiting: a put that holds its output leaves nothing there. (A put
 * that sends is checked with PEER_EXPECT_LIT: the bytes arrive while the
 * writer makes no further call.) */
static size_t peer_drain_now(sag_socket *peer, uint8_t *buf, size_t cap) {
    size_t got = 0;
    sleep_ms(20);
    while (got < cap) {
        size_t r = 0;
        int st = sag_socket_recv(peer, buf, got, cap - got, SAG_MSG_DONTWAIT,
                                 &r, NULL);
        if (st != SAG_OK || r == 0)
            break;
        got += r;
    }
    return got;
}

static void test_buffer_modes(void) {
    sag_socket *a, *b;
    sag_port *p = NULL, *bin = NULL, *t = NULL;
    uint8_t buf[16384];
    static char big[10000];
    int mode = -1;
    size_t n;

    section("buffer modes: none sends each put at once, line at a linefeed, "
            "block when flushed");
    open_binary(&a, &b, &p);
    CHECK_ST(sag_port_buffer_mode(p, &mode, E), SAG_OK);
    CHECK_EQ(mode, SAG_BUFFER_NONE); /* the default, as in Sagittarius */
    /* none: in the peer's receive queue as soon as the put returns
     * (loopback delivers a send before it returns). */
    CHECK_ST(sag_port_put_u8(p, 'x', E), SAG_OK);
    PEER_EXPECT_LIT(b, "x");
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"abc", 0, 3, E),
             SAG_OK);
    PEER_EXPECT_LIT(b, "abc");

    /* line: held until a linefeed */
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_LINE, E), SAG_OK);
    CHECK_ST(sag_port_buffer_mode(p, &mode, E), SAG_OK);
    CHECK_EQ(mode, SAG_BUFFER_LINE);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"ab", 0, 2, E),
             SAG_OK);
    CHECK_EQ(peer_drain_now(b, buf, sizeof buf), 0);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"c\nd", 0, 3, E),
             SAG_OK);
    PEER_EXPECT_LIT(b, "abc\nd");

    /* block: held until a flush; switching to none sends what is held */
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"1\n2\n", 0, 4, E),
             SAG_OK);
    CHECK_EQ(peer_drain_now(b, buf, sizeof buf), 0);
    CHECK_ST(sag_port_flush(p, E), SAG_OK);
    PEER_EXPECT_LIT(b, "1\n2\n");
    CHECK_ST(sag_port_put_u8(p, 'z', E), SAG_OK);
    CHECK_EQ(peer_drain_now(b, buf, sizeof buf), 0);
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_NONE, E), SAG_OK);
    PEER_EXPECT_LIT(b, "z");
    CHECK_ST(sag_port_set_buffer_mode(p, 3, E), SAG_E_INVALID);
    CHECK_ST(sag_port_set_buffer_mode(p, -1, E), SAG_E_INVALID);
    /* block: a put that does not fit sends what is held, then waits in the
     * buffer itself (1 KiB puts: the 65th does not fit 64 KiB) */
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, E), SAG_OK);
    memset(big, 'k', 1024);
    for (int i = 0; i < 64; i++)
        CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)big, 0, 1024, E),
                 SAG_OK);
    CHECK_EQ(peer_drain_now(b, buf, sizeof buf), 0);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)big, 0, 1024, E),
             SAG_OK);
    n = recv_n(b, buf, sizeof buf, NULL);
    for (int i = 1; i < 4; i++)
        n += recv_n(b, buf, sizeof buf, NULL);
    CHECK_EQ(n, 65536); /* the 64 held, not the 65th */
    CHECK_EQ(peer_drain_now(b, buf, sizeof buf), 0);
    CHECK_ST(sag_port_flush(p, E), SAG_OK);
    CHECK_EQ(recv_n(b, buf, 1024, NULL), 1024);
    /* a closed port in block mode takes no put */
    CHECK_ST(sag_port_close(p, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"x", 0, 1, E),
             SAG_E_CLOSED);
    close_binary(p, a, b);

    /* A textual port: put-string of a long string in mode none arrives
     * whole at once; line mode flushes at a linefeed character even when the
     * eol style writes no LF byte (cr). */
    memset(big, 'q', sizeof big - 1);
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_CR,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_buffer_mode(t, &mode, E), SAG_OK);
    CHECK_EQ(mode, SAG_BUFFER_NONE);
    CHECK_ST(sag_port_put_string(t, big, 0, sizeof big - 1, E), SAG_OK);
    n = recv_n(b, buf, sizeof big - 1, NULL);
    CHECK_EQ(n, sizeof big - 1);
    CHECK_ST(sag_port_set_buffer_mode(t, SAG_BUFFER_LINE, E), SAG_OK);
    CHECK_ST(sag_port_buffer_mode(bin, &mode, E), SAG_E_CLOSED); /* taken over */
    CHECK_ST(sag_port_put_bytevector(bin, (const uint8_t *)"x", 0, 1, E),
             SAG_E_CLOSED); /* nor does it take a put, in any mode */
    CHECK_ST(sag_port_put_string(t, "ab", 0, 2, E), SAG_OK);
    CHECK_EQ(peer_drain_now(b, buf, sizeof buf), 0);
    CHECK_ST(sag_port_put_char(t, '\n', E), SAG_OK);
    PEER_EXPECT_LIT(b, "ab\r");
    close_text(t, bin, a, b);

    /* An input port has no buffer mode to set. */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_input_port(a, &p, E), SAG_OK);
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, E), SAG_E_INVALID);
    CHECK_ST(sag_port_set_read_mode(p, SAG_READ_FULL, E), SAG_OK);
    /* nor has a textual port over one: the input port, taken over, is not
     * closed for the mode's own checks */
    CHECK_ST(sag_transcoded_port(p, SAG_CODEC_UTF8, SAG_EOL_LF,
                                 SAG_ERROR_MODE_RAISE, &t, E), SAG_OK);
    CHECK_ST(sag_port_set_buffer_mode(t, SAG_BUFFER_BLOCK, E), SAG_E_INVALID);
    CHECK_ST(sag_port_free(t), SAG_OK);
    CHECK_ST(sag_port_free(p), SAG_OK);
    CHECK_ST(sag_socket_output_port(a, &p, E), SAG_OK);
    CHECK_ST(sag_port_set_read_mode(p, SAG_READ_FULL, E), SAG_E_INVALID);
    close_binary(p, a, b);
}

/* --- no stall: output reaches the peer under a waiting reader ------------ */

/* The peer: waits for the 3-byte request "req", then answers "ans". */
typedef struct {
    sag_socket *s;
    uint8_t got[8];
    size_t n;
    pthread_t th;
} answer_peer;

static void *answer_main(void *arg) {
    answer_peer *ap = arg;
    ap->n = recv_n(ap->s, ap->got, 3, NULL); /* 10 s read timeout */
    if (ap->n == 3 && memcmp(ap->got, "req", 3) == 0)
        peer_send(ap->s, "ans", 3);
    return NULL;
}

typedef struct {
    sag_port *p;
    uint8_t buf[8];
    size_t n;
    int st;
    pthread_t th;
} blocked_reader;

static void *blocked_reader_main(void *arg) {
    blocked_reader *r = arg;
    r->st = sag_port_get_bytevector_n(r->p, r->buf, 0, 3, &r->n, NULL);
    return NULL;
}

static void test_no_stall(void) {
    static const char *const ways[] = {
        "reader blocked first, then a put from another thread",
        "a put, then socket-read-select", "a put, then socket-recv",
        "a put, then a selector wait", "a selector waiting, then a put"};

    section("no stall: a put reaches the peer while its answer is awaited, "
            "in every buffer mode");
    for (int mode = 0; mode < 3; mode++) {
        for (int way = 0; way < 5; way++) {
            sag_socket *a, *b;
            sag_port *p = NULL;
            answer_peer ap;
            printf("   %s: %s\n", mode_names[mode], ways[way]);
            make_pair(&a, &b);
            memset(&ap, 0, sizeof ap);
            ap.s = b;
            pthread_create(&ap.th, NULL, answer_main, &ap);
            CHECK_ST(sag_socket_port(a, 0, &p, E), SAG_OK);
            CHECK_ST(sag_port_set_buffer_mode(p, mode, E), SAG_OK);
            CHECK_ST(sag_socket_set_read_timeout(a, 5 * 1000000LL, E),
                     SAG_OK);
            if (way == 0) {
                blocked_reader r;
                memset(&r, 0, sizeof r);
                r.p = p;
                pthread_create(&r.th, NULL, blocked_reader_main, &r);
                sleep_ms(100); /* the reader is blocked in recv by now */
                /* no linefeed: line mode would hold it but for the reader */
                CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"req", 0,
                                                 3, E),
                         SAG_OK);
                JOIN(r.th, 30);
                CHECK_ST(r.st, SAG_OK); /* not a 5 s read timeout */
                CHECK_LIT(r.buf, r.n, "ans");
            } else if (way >= 3) {
                sag_selector *sel = NULL;
                sag_socket *got[1] = {NULL};
                int64_t tag[1] = {0};
                int timed[1] = {-1};
                size_t n = 99;
                CHECK_ST(sag_selector_new(&sel, E), SAG_OK);
                if (way == 3) /* written before the add */
                    CHECK_ST(sag_port_put_bytevector(
                                 p, (const uint8_t *)"req", 0, 3, E),
                             SAG_OK);
                CHECK_ST(sag_selector_add(sel, a, 5 * 1000000LL, 7, E),
                         SAG_OK);
                if (way == 4) /* written while the selector holds it */
                    CHECK_ST(sag_port_put_bytevector(
                                 p, (const uint8_t *)"req", 0, 3, E),
                             SAG_OK);
                CHECK_ST(sag_selector_wait(sel, 10 * 1000000LL, got, tag,
                                           timed, 1, &n, E),
                         SAG_OK);
                CHECK_EQ(n, 1);
                CHECK(got[0] == a && tag[0] == 7);
                CHECK_EQ(timed[0], 0); /* readable, not its 5 s timeout */
                CHECK_ST(sag_selector_free(sel), SAG_OK);
                uint8_t buf[8];
                size_t m = recv_n(a, buf, 3, NULL);
                CHECK_LIT(buf, m, "ans");
            } else {
                CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"req", 0,
                                                 3, E),
                         SAG_OK);
                if (way == 1) {
                    sag_socket *ready[1] = {NULL};
                    size_t nready = 99;
                    CHECK_ST(sag_socket_read_select(5 * 1000000LL, &a, 1,
                                                    ready, &nready, E),
                             SAG_OK);
                    CHECK_EQ(nready, 1); /* 0 would be the 5 s timeout */
                }
                uint8_t buf[8];
                size_t n = recv_n(a, buf, 3, NULL);
                CHECK_LIT(buf, n, "ans");
            }
            JOIN(ap.th, 30);
            CHECK_LIT(ap.got, ap.n, "req");
            close_binary(p, a, b);
        }
    }
}
