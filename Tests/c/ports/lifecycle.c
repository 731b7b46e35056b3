/* ports/lifecycle.c: part of test_ports.c, which includes it (closing and shutting down ports, readiness, and the failures each call reports).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_ports.c are shared by every part. */

/* sag_socket_is_closed says `expected` (1 closed, 0 open) of s. */
static void check_is_closed(sag_socket *s, int expected) {
    int closed = -1;
    CHECK_ST(sag_socket_is_closed(s, &closed, E), SAG_OK);
    CHECK_EQ(closed, expected);
}

/* The binary operations after get-u8 (lookahead-u8, the get-bytevector
 * reads, get-bytes-line, the puts) on p each return `expected`: p closed, or
 * a textual port. */
static void check_binary_ops(sag_port *p, int expected) {
    uint8_t buf[16] = {0};
    size_t cnt, len;
    const uint8_t *d;
    int byte;
    CHECK_ST(sag_port_lookahead_u8(p, &byte, E), expected);
    CHECK_ST(sag_port_get_bytevector_n(p, buf, 0, 4, &cnt, E), expected);
    CHECK_ST(sag_port_get_bytevector_some(p, buf, 0, 4, &cnt, E), expected);
    CHECK_ST(sag_port_get_bytevector_all(p, &d, &len, E), expected);
    CHECK_ST(sag_port_get_bytes_line(p, &d, &len, E), expected);
    CHECK_ST(sag_port_put_u8(p, 1, E), expected);
    CHECK_ST(sag_port_put_bytevector(p, buf, 0, 1, E), expected);
}

static void test_close(void) {
    sag_socket *a, *b;
    sag_port *p, *q, *bin, *t;
    int byte;
    uint8_t buf[16];
    size_t cnt, len;
    const char *s;

    section("closing ports");
    /* close_socket = 1: closing the port closes the socket. */
    open_binary(&a, &b, &p);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"last", 0, 4, E),
             SAG_OK);
    CHECK_ST(sag_port_close(p, E), SAG_OK);
    check_is_closed(a, 1);
    PEER_EXPECT_LIT(b, "last"); /* close flushed */
    PEER_EXPECT_EOF(b);
    CHECK_ST(sag_port_close(p, E), SAG_OK); /* idempotent */
    CHECK_PORT_ERROR(sag_port_get_u8(p, &byte, E), SAG_E_CLOSED, p);
    check_binary_ops(p, SAG_E_CLOSED);
    CHECK_ST(sag_port_flush(p, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_ready(p, &byte, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_shutdown(p, SAG_SHUT_WR, E), SAG_E_CLOSED);
    CHECK_ST(sag_transcoded_port(p, SAG_CODEC_UTF8, SAG_EOL_LF,
                                 SAG_ERROR_MODE_RAISE, &t, E),
             SAG_E_CLOSED);
    CHECK_ST(sag_port_free(p), SAG_OK);
    CHECK_ST(sag_port_free(p), SAG_OK); /* free twice */
    CHECK_EQ(sag_handle_kind(p), SAG_KIND_NONE);
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_MISUSE); /* freed handle */
    CHECK_ST(sag_port_close(p, E), SAG_E_MISUSE);
    free_pair(a, b);

    /* close_socket = 0: the socket stays open; close flushes. */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 0, &p, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"unflushed", 0, 9, E),
             SAG_OK);
    CHECK_ST(sag_port_close(p, E), SAG_OK);
    check_is_closed(a, 0);
    PEER_EXPECT_LIT(b, "unflushed");
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_CLOSED);
    peer_send(a, "still", 5);
    PEER_EXPECT_LIT(b, "still");
    CHECK_ST(sag_port_free(p), SAG_OK);
    check_is_closed(a, 0);
    free_pair(a, b);

    /* socket-input-port / socket-output-port never close the socket. */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_input_port(a, &p, E), SAG_OK);
    CHECK_ST(sag_socket_output_port(a, &q, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(q, (const uint8_t *)"bye", 0, 3, E),
             SAG_OK);
    CHECK_ST(sag_port_close(q, E), SAG_OK);
    PEER_EXPECT_LIT(b, "bye");
    CHECK_ST(sag_port_close(p, E), SAG_OK);
    CHECK_ST(sag_port_close(p, E), SAG_OK);
    check_is_closed(a, 0);
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_put_u8(q, 1, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_free(p), SAG_OK);
    CHECK_ST(sag_port_free(q), SAG_OK);
    check_is_closed(a, 0);
    /* ports over one socket share its input buffer */
    PEER_SEND_LIT(b, "abcdef");
    sleep_ms(30);
    CHECK_ST(sag_socket_input_port(a, &p, E), SAG_OK);
    byte = -2;
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, 'a');
    CHECK_ST(sag_port_close(p, E), SAG_OK);
    CHECK_ST(sag_port_free(p), SAG_OK);
    CHECK_ST(sag_socket_port(a, 0, &q, E), SAG_OK);
    cnt = 0;
    memset(buf, 0, sizeof buf);
    CHECK_ST(sag_port_get_bytevector_n(q, buf, 0, 5, &cnt, E), SAG_OK);
    CHECK_LIT(buf, cnt, "bcdef");
    CHECK_ST(sag_port_free(q), SAG_OK);
    free_pair(a, b);

    /* Closing the textual port closes the binary port and the socket. */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_put_string(t, "ok\n", 0, 3, E), SAG_OK);
    CHECK_ST(sag_port_close(t, E), SAG_OK);
    CHECK_ST(sag_port_close(t, E), SAG_OK);
    check_is_closed(a, 1);
    PEER_EXPECT_LIT(b, "ok\n");
    PEER_EXPECT_EOF(b);
    {
        int32_t c;
        CHECK_ST(sag_port_get_char(t, &c, E), SAG_E_CLOSED);
        CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_CLOSED);
        CHECK_ST(sag_port_put_char(t, 'x', E), SAG_E_CLOSED);
        CHECK_ST(sag_port_put_string(t, "x", 0, 1, E), SAG_E_CLOSED);
    }
    CHECK_ST(sag_port_get_u8(bin, &byte, E), SAG_E_CLOSED);
    free_ports(t, bin);
    CHECK_ST(sag_port_free(t), SAG_OK);
    CHECK_ST(sag_port_free(bin), SAG_OK);
    free_pair(a, b);

    /* Freeing an open port made with close_socket = 1 closes the socket. */
    open_binary(&a, &b, &p);
    CHECK_ST(sag_port_free(p), SAG_OK);
    check_is_closed(a, 1);
    free_pair(a, b);

    /* A port whose socket was freed: SAG_E_CLOSED, no crash. */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 0, &p, E), SAG_OK);
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, E), SAG_OK);
    CHECK_ST(sag_socket_free(a), SAG_OK);
    CHECK_PORT_ERROR(sag_port_get_u8(p, &byte, E), SAG_E_CLOSED, p);
    {
        /* A put may only fill the buffer (the contract does not say that
         * it must look at the socket); the flush must fail. */
        int st = sag_port_put_u8(p, 1, E);
        CHECK(st == SAG_OK || st == SAG_E_CLOSED);
    }
    CHECK_ST(sag_port_flush(p, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_free(p), SAG_OK);
    CHECK_ST(sag_socket_free(b), SAG_OK);

    /* The same through a textual port: the failure carries the textual
     * port (the handle the caller used), not the binary one under it. */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_socket_close(a, E), SAG_OK);
    {
        int32_t c;
        CHECK_PORT_ERROR(sag_port_get_char(t, &c, E), SAG_E_CLOSED, t);
        CHECK_PORT_ERROR(sag_port_get_line(t, &s, &len, E), SAG_E_CLOSED, t);
        CHECK_ST(sag_error_clear(E), SAG_OK);
        if (sag_port_put_char(t, 'x', E) == SAG_OK) /* buffered only */
            CHECK_ST(sag_port_flush(t, E), SAG_E_CLOSED);
        CHECK_EQ(sag_error_status(E), SAG_E_CLOSED);
        CHECK_EPORT(E, t);
    }
    free_ports(t, bin);
    CHECK_ST(sag_socket_free(a), SAG_OK);
    CHECK_ST(sag_socket_free(b), SAG_OK);

    /* A port over a closed socket cannot be made. */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_close(a, E), SAG_OK);
    p = (sag_port *)1;
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_E_CLOSED);
    CHECK(p == (sag_port *)1); /* out written only on success */
    CHECK_ST(sag_socket_input_port(a, &p, E), SAG_E_CLOSED);
    CHECK_ST(sag_socket_output_port(a, &p, E), SAG_E_CLOSED);
    free_pair(a, b);

    CHECK_ST(sag_port_free(NULL), SAG_OK);
    CHECK_ST(sag_port_close(NULL, E), SAG_E_MISUSE);
}

static void test_shutdown_ready(void) {
    sag_socket *a, *b;
    sag_port *p, *bin, *t;
    int r, byte;
    uint8_t buf[16];
    size_t cnt;

    section("shutdown-port and port-ready");
    open_binary(&a, &b, &p);
    r = -1;
    CHECK_ST(sag_port_ready(p, &r, E), SAG_OK); /* nothing buffered */
    CHECK_EQ(r, 0);
    PEER_SEND_LIT(b, "x");
    CHECK_EQ(wait_ready(p), 1);
    byte = -2;
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, 'x');
    r = -1;
    CHECK_ST(sag_port_ready(p, &r, E), SAG_OK);
    CHECK_EQ(r, 0);
    PEER_SEND_LIT(b, "yz");
    sleep_ms(30);
    byte = -2;
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, 'y');
    r = -1;
    CHECK_ST(sag_port_ready(p, &r, E), SAG_OK); /* 'z' is buffered */
    CHECK_EQ(r, 1);
    byte = -2;
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, 'z');
    CHECK_ST(sag_socket_shutdown(b, SAG_SHUT_WR, E), SAG_OK);
    CHECK_EQ(wait_ready(p), 1); /* end of file: a read would not block */
    byte = -2;
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, -1);
    r = -1;
    CHECK_ST(sag_port_ready(p, &r, E), SAG_OK);
    CHECK_EQ(r, 1);

    /* shutdown-output-port flushes first; the peer sees EOF; reading still
     * works. */
    close_binary(p, a, b);
    open_binary(&a, &b, &p);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"tail", 0, 4, E),
             SAG_OK);
    CHECK_ST(sag_port_shutdown(p, SAG_SHUT_WR, E), SAG_OK);
    PEER_EXPECT_LIT(b, "tail");
    PEER_EXPECT_EOF(b);
    PEER_SEND_LIT(b, "after");
    cnt = 0;
    CHECK_ST(sag_port_get_bytevector_n(p, buf, 0, 5, &cnt, E), SAG_OK);
    CHECK_LIT(buf, cnt, "after");
    check_is_closed(a, 0);
    close_binary(p, a, b);

    /* textual port: ready, and shutdown through it */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_CRLF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    r = -1;
    CHECK_ST(sag_port_ready(t, &r, E), SAG_OK);
    CHECK_EQ(r, 0);
    PEER_SEND_LIT(b, "q");
    CHECK_EQ(wait_ready(t), 1);
    EXPECT_CHAR(t, 'q');
    CHECK_ST(sag_port_put_string(t, "end\n", 0, 4, E), SAG_OK);
    CHECK_ST(sag_port_shutdown(t, SAG_SHUT_WR, E), SAG_OK);
    PEER_EXPECT_LIT(b, "end\r\n");
    PEER_EXPECT_EOF(b);
    close_text(t, bin, a, b);
}

typedef struct {
    sag_port *p;
    int st;
    sag_port *err_port;
    atomic_int done;
    pthread_t th;
} blocked_read;

static void *blocked_read_main(void *arg) {
    blocked_read *br = arg;
    sag_error *e = NULL;
    int byte = -2;
    sag_error_new(&e);
    br->st = sag_port_get_u8(br->p, &byte, e);
    br->err_port = sag_error_port(e);
    sag_error_free(e);
    atomic_store(&br->done, 1);
    return NULL;
}

/* The peer b resets the connection (SO_LINGER 0, close); returns once a
 * has the reset. */
static void peer_reset(sag_socket *a, sag_socket *b) {
    struct {
        int onoff, linger;
    } lg = {1, 0};
    CHECK_ST(sag_socket_setsockopt_bytes(b, SAG_SOL_SOCKET, SAG_SO_LINGER,
                                         (const uint8_t *)&lg, 0, sizeof lg,
                                         E),
             SAG_OK);
    CHECK_ST(sag_socket_close(b, E), SAG_OK);
    CHECK(wait_readable(a)); /* the RST has arrived at a */
}

/* A binary port (open_binary) in buffer mode block holding 4 bytes it has
 * not sent yet, its peer reset: the next flush fails. */
static void open_unsent(sag_socket **a, sag_socket **b, sag_port **p) {
    open_binary(a, b, p);
    CHECK_ST(sag_port_set_buffer_mode(*p, SAG_BUFFER_BLOCK, E), SAG_OK);
    peer_reset(*a, *b);
    CHECK_ST(sag_port_put_bytevector(*p, (const uint8_t *)"data", 0, 4, E),
             SAG_OK);
}

static void test_errors(void) {
    sag_socket *a, *b;
    sag_port *p, *q, *bin, *t, *t2;
    uint8_t buf[16];
    size_t cnt, len;
    const uint8_t *d;
    const char *s;
    int byte, r;
    int32_t c;

    section("errors");
    /* binary operations on a textual port, text on a binary one */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_get_u8(t, &byte, E), SAG_E_INVALID);
    check_binary_ops(t, SAG_E_INVALID);
    t2 = NULL;
    CHECK_ST(sag_transcoded_port(t, SAG_CODEC_UTF8, SAG_EOL_LF,
                                 SAG_ERROR_MODE_RAISE, &t2, E),
             SAG_E_INVALID);
    /* the binary port after transcoded-port: closed to direct use */
    CHECK_ST(sag_port_get_u8(bin, &byte, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_put_u8(bin, 1, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_get_bytes_line(bin, &d, &len, E), SAG_E_CLOSED);
    CHECK_ST(sag_transcoded_port(bin, SAG_CODEC_UTF8, SAG_EOL_LF,
                                 SAG_ERROR_MODE_RAISE, &t2, E),
             SAG_E_CLOSED);
    /* bad characters and strings */
    CHECK_ST(sag_port_put_char(t, 0xD800, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_char(t, 0xDFFF, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_char(t, 0x110000, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_char(t, -1, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_string(t, "a\xFF" "b", 0, 3, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_string(t, "\xED\xA0\x80", 0, 3, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_string(t, "\xC3\xA9", 0, 1, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_string(t, NULL, 0, 2, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_string_n(t, 1, NULL, &len, E), SAG_E_INVALID);
    /* nothing of the failed puts went out */
    CHECK_ST(sag_port_put_string(t, "ok", 0, 2, E), SAG_OK);
    CHECK_ST(sag_port_flush(t, E), SAG_OK);
    PEER_EXPECT_LIT(b, "ok");
    close_text(t, bin, a, b);

    open_binary(&a, &b, &p);
    CHECK_ST(sag_port_get_char(p, &c, E), SAG_E_INVALID);
    CHECK_ST(sag_port_lookahead_char(p, &c, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_line(p, &s, &len, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_string_n(p, 2, &s, &len, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_string_all(p, &s, &len, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_char(p, 'x', E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_string(p, "x", 0, 1, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_u8(p, 256, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_u8(p, -1, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_bytevector(p, NULL, 0, 3, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_bytevector(p, buf, SIZE_MAX, 2, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_bytevector_n(p, NULL, 0, 3, &cnt, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_bytevector_n(p, buf, SIZE_MAX, 2, &cnt, E),
             SAG_E_INVALID);
    CHECK_ST(sag_port_get_bytevector_some(p, NULL, 0, 3, &cnt, E),
             SAG_E_INVALID);
    CHECK_ST(sag_transcoded_port(p, 99, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &t2,
                                 E),
             SAG_E_INVALID);
    CHECK_ST(sag_transcoded_port(p, SAG_CODEC_UTF8, 42, SAG_ERROR_MODE_RAISE,
                                 &t2, E),
             SAG_E_INVALID);
    CHECK_ST(sag_transcoded_port(p, SAG_CODEC_UTF8, SAG_EOL_LF, 7, &t2, E),
             SAG_E_INVALID);
    CHECK_ST(sag_port_shutdown(p, 17, E), SAG_E_INVALID);
    /* the port still works after all that */
    CHECK_ST(sag_port_put_u8(p, 'k', E), SAG_OK);
    CHECK_ST(sag_port_flush(p, E), SAG_OK);
    PEER_EXPECT_LIT(b, "k");
    close_binary(p, a, b);

    /* put on an input port, get on an output port */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_input_port(a, &p, E), SAG_OK);
    CHECK_ST(sag_socket_output_port(a, &q, E), SAG_OK);
    CHECK_ST(sag_port_put_u8(p, 1, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_bytevector(p, buf, 0, 1, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_u8(q, &byte, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_bytes_line(q, &d, &len, E), SAG_E_INVALID);
    CHECK_ST(sag_port_free(p), SAG_OK);
    CHECK_ST(sag_port_free(q), SAG_OK);
    free_pair(a, b);

    /* NULL and bad handles */
    CHECK_ST(sag_socket_port(NULL, 1, &p, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_input_port(NULL, &p, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_output_port(NULL, &p, E), SAG_E_MISUSE);
    CHECK_ST(sag_transcoded_port(NULL, SAG_CODEC_UTF8, SAG_EOL_LF,
                                 SAG_ERROR_MODE_RAISE, &t2, E),
             SAG_E_MISUSE);
    CHECK_ST(sag_port_socket(NULL, &a, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_close(NULL, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_shutdown(NULL, SAG_SHUT_WR, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_ready(NULL, &r, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_flush(NULL, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_get_u8(NULL, &byte, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_lookahead_u8(NULL, &byte, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_get_bytevector_n(NULL, buf, 0, 1, &cnt, E),
             SAG_E_MISUSE);
    CHECK_ST(sag_port_get_bytevector_some(NULL, buf, 0, 1, &cnt, E),
             SAG_E_MISUSE);
    CHECK_ST(sag_port_get_bytevector_all(NULL, &d, &len, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_get_bytes_line(NULL, &d, &len, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_put_u8(NULL, 1, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_put_bytevector(NULL, buf, 0, 1, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_get_char(NULL, &c, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_lookahead_char(NULL, &c, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_get_string_n(NULL, 1, &s, &len, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_get_line(NULL, &s, &len, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_get_string_all(NULL, &s, &len, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_put_char(NULL, 'x', E), SAG_E_MISUSE);
    CHECK_ST(sag_port_put_string(NULL, "x", 0, 1, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_get_u8((sag_port *)E, &byte, E), SAG_E_MISUSE);
    CHECK_ST(sag_port_free((sag_port *)E), SAG_E_MISUSE);
    CHECK_EQ(sag_handle_kind(E), SAG_KIND_ERROR); /* E survived */
    make_pair(&a, &b);
    CHECK_ST(sag_port_free((sag_port *)a), SAG_E_MISUSE);
    CHECK_ST(sag_socket_port(a, 1, NULL, E), SAG_E_INVALID);
    free_pair(a, b);

    /* read timeout through a port */
    open_binary(&a, &b, &p);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_socket_set_read_timeout(a, 200000, E), SAG_OK);
    {
        int64_t t0 = now_us(), el;
        CHECK_ST(sag_error_clear(E), SAG_OK);
        CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_READ_TIMEOUT);
        el = now_us() - t0;
        CHECK_EQ(sag_error_status(E), SAG_E_READ_TIMEOUT);
        CHECK_EPORT(E, p);
        CHECK_EPORT(sag_last_error(), p);
        CHECK_EQ(sag_error_timeout(E), 200000);
        CHECK(el >= 150000);
        /* through the textual port: the failure carries the textual port */
        CHECK_PORT_ERROR(sag_port_get_char(t, &c, E), SAG_E_READ_TIMEOUT, t);
        CHECK_PORT_ERROR(sag_port_lookahead_char(t, &c, E),
                         SAG_E_READ_TIMEOUT, t);
        CHECK_PORT_ERROR(sag_port_get_line(t, &s, &len, E),
                         SAG_E_READ_TIMEOUT, t);
        CHECK_PORT_ERROR(sag_port_get_string_n(t, 3, &s, &len, E),
                         SAG_E_READ_TIMEOUT, t);
        CHECK_EQ(sag_error_timeout(E), 200000);
        /* the port goes on working after a timeout */
        PEER_SEND_LIT(b, "k");
        byte = -2;
        CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
        CHECK_EQ(byte, 'k');
    }
    free_ports(t, bin);
    close_binary(p, a, b);

    /* non-blocking socket with nothing to read */
    open_binary(&a, &b, &p);
    CHECK_ST(sag_socket_set_nonblocking(a, 1, E), SAG_OK);
    CHECK_PORT_ERROR(sag_port_get_u8(p, &byte, E), SAG_E_WOULD_BLOCK, p);
    PEER_SEND_LIT(b, "n");
    {
        int st = SAG_E_WOULD_BLOCK;
        byte = -2;
        for (int i = 0; i < 300 && st == SAG_E_WOULD_BLOCK; i++) {
            st = sag_port_get_u8(p, &byte, E);
            if (st == SAG_E_WOULD_BLOCK)
                sleep_ms(10);
        }
        CHECK_ST(st, SAG_OK);
        CHECK_EQ(byte, 'n');
    }
    close_binary(p, a, b);

    /* interrupt of a read blocked in a port */
    open_binary(&a, &b, &p);
    {
        blocked_read br;
        memset(&br, 0, sizeof br);
        br.p = p;
        pthread_create(&br.th, NULL, blocked_read_main, &br);
        for (int i = 0; i < 60 && !atomic_load(&br.done); i++) {
            sleep_ms(50);
            sag_socket_interrupt(a, E);
        }
        JOIN(br.th, 30);
        CHECK_ST(br.st, SAG_E_INTERRUPTED);
        CHECK(br.err_port == p);
    }
    close_binary(p, a, b);

    /* &i/o-read: the peer resets the connection */
    open_binary(&a, &b, &p);
    peer_reset(a, b);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_IO_READ);
    CHECK_EQ(sag_error_errno(E), ECONNRESET);
    CHECK_EPORT(E, p);
    close_binary(p, a, b);

    /* &i/o-write: a put (buffer mode none) to a reset connection */
    open_binary(&a, &b, &p);
    peer_reset(a, b);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"data", 0, 4, E),
             SAG_E_IO_WRITE);
    CHECK(sag_error_errno(E) == ECONNRESET || sag_error_errno(E) == EPIPE);
    CHECK_EQ(sag_error_sent(E), 0);
    CHECK_EPORT(E, p);
    close_binary(p, a, b);

    /* &i/o-write: a flush (buffer mode block) to a reset connection */
    open_unsent(&a, &b, &p);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_flush(p, E), SAG_E_IO_WRITE);
    CHECK(sag_error_errno(E) == ECONNRESET || sag_error_errno(E) == EPIPE);
    CHECK_EPORT(E, p);
    close_binary(p, a, b);

    /* the same two through a textual port */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    peer_reset(a, b);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_IO_READ);
    CHECK_EQ(sag_error_errno(E), ECONNRESET);
    CHECK_EPORT(E, t);
    close_text(t, bin, a, b);
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_set_buffer_mode(t, SAG_BUFFER_BLOCK, E), SAG_OK);
    peer_reset(a, b);
    CHECK_ST(sag_port_put_string(t, "data\n", 0, 5, E), SAG_OK);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_flush(t, E), SAG_E_IO_WRITE);
    CHECK(sag_error_errno(E) == ECONNRESET || sag_error_errno(E) == EPIPE);
    CHECK_EPORT(E, t);
    close_text(t, bin, a, b);

    /* close whose flush fails: SAG_E_IO_WRITE, the port closed anyway */
    open_unsent(&a, &b, &p);
    CHECK_ST(sag_port_close(p, E), SAG_E_IO_WRITE);
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_close(p, E), SAG_OK);
    check_is_closed(a, 1);
    close_binary(p, a, b);

    /* free with a failing flush: SAG_OK */
    open_unsent(&a, &b, &p);
    close_binary(p, a, b);
}
