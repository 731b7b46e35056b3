/* ports/binary.c: part of test_ports.c, which includes it (binary ports: the status tree, reads and writes, lines longer than the buffer, read mode once).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_ports.c are shared by every part. */

static void test_status_tree(void) {
    static const int kinds[4] = {SAG_E_IO_READ, SAG_E_IO_WRITE,
                                 SAG_E_IO_DECODING, SAG_E_IO_ENCODING};
    static const char *names[4] = {"&i/o-read", "&i/o-write", "&i/o-decoding",
                                   "&i/o-encoding"};
    section("status tree of the port conditions");
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(sag_status_is(kinds[i], SAG_E_IO), 1);
        CHECK_EQ(sag_status_is(kinds[i], kinds[i]), 1);
        CHECK_EQ(sag_status_is(kinds[i], SAG_E_SOCKET), 0);
        CHECK_EQ(sag_status_is(SAG_E_IO, kinds[i]), 0);
        CHECK_EQ(sag_status_parent(kinds[i]), SAG_E_IO);
        if (strcmp(sag_status_name(kinds[i]), names[i]) == 0) {
            atomic_fetch_add(&g_pass, 1);
        } else {
            char d[120];
            snprintf(d, sizeof d, "status %d: got \"%s\", expected \"%s\"",
                     kinds[i], sag_status_name(kinds[i]), names[i]);
            check_fail(__FILE__, __LINE__, "sag_status_name", d);
        }
        CHECK(sag_status_message(kinds[i])[0] != 0);
    }
    CHECK_EQ(sag_status_is(SAG_E_IO_READ, SAG_E_IO_WRITE), 0);
    CHECK_EQ(sag_status_is(SAG_E_PORT, SAG_E_IO), 1);
}

static void test_binary_reads(void) {
    sag_socket *a, *b, *s = NULL;
    sag_port *p = NULL;
    uint8_t buf[256];
    size_t cnt;
    int byte;
    const uint8_t *data;
    size_t len;

    section("binary reads: get-u8, lookahead-u8, get-bytevector-n/some/all");
    open_binary(&a, &b, &p);
    CHECK_EQ(sag_handle_kind(p), SAG_KIND_PORT);
    CHECK_ST(sag_port_socket(p, &s, E), SAG_OK);
    CHECK(s == a);

    PEER_SEND_LIT(b, "ABCDEF");
    byte = -2;
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, 'A');
    byte = -2;
    CHECK_ST(sag_port_lookahead_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, 'B');
    byte = -2;
    CHECK_ST(sag_port_lookahead_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, 'B');
    byte = -2;
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, 'B');
    memset(buf, '.', sizeof buf);
    cnt = 99;
    CHECK_ST(sag_port_get_bytevector_n(p, buf, 2, 4, &cnt, E), SAG_OK);
    CHECK_EQ(cnt, 4);
    CHECK_LIT(buf, 8, "..CDEF..");

    /* Read mode full: get-bytevector-n blocks until n bytes have come,
     * over several sends. */
    CHECK_ST(sag_port_set_read_mode(p, SAG_READ_FULL, E), SAG_OK);
    {
        sender_t sd;
        sender_init(&sd, b, 0, 40, END_NONE);
        SENDER_LIT(&sd, "12");
        SENDER_LIT(&sd, "345");
        SENDER_LIT(&sd, "6789");
        sender_start(&sd);
        cnt = 0;
        CHECK_ST(sag_port_get_bytevector_n(p, buf, 0, 9, &cnt, E), SAG_OK);
        CHECK_EQ(cnt, 9);
        CHECK_LIT(buf, cnt, "123456789");
        SENDER_JOIN(&sd);
    }
    CHECK_ST(sag_port_set_read_mode(p, SAG_READ_ONCE, E), SAG_OK);

    /* get-bytevector-some does not block when data is buffered. */
    {
        read_job j;
        memset(&j, 0, sizeof j);
        PEER_SEND_LIT(b, "0123456789");
        sleep_ms(50); /* all 10 bytes in the kernel before the first read */
        byte = -2;
        CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
        CHECK_EQ(byte, '0');
        memset(buf, 0, sizeof buf);
        j.p = p;
        j.buf = buf;
        j.start = 0;
        j.len = 100;
        j.some = 1;
        read_must_not_block(&j, b, 3000, __LINE__);
        CHECK_ST(j.st, SAG_OK);
        CHECK_EQ(j.count, 9);
        CHECK_LIT(buf, 9, "123456789");

        /* len smaller than what is buffered: len bytes, then the rest
         * without blocking. */
        PEER_SEND_LIT(b, "abcdef");
        sleep_ms(50);
        byte = -2;
        CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
        CHECK_EQ(byte, 'a');
        j.start = 10;
        j.len = 3;
        read_must_not_block(&j, b, 3000, __LINE__);
        CHECK_ST(j.st, SAG_OK);
        CHECK_EQ(j.count, 3);
        CHECK_LIT(buf + 10, 3, "bcd");
        j.start = 0;
        j.len = 100;
        read_must_not_block(&j, b, 3000, __LINE__);
        CHECK_ST(j.st, SAG_OK);
        CHECK_EQ(j.count, 2);
        CHECK_LIT(buf, 2, "ef");
    }

    /* get-bytevector-some with nothing buffered waits for what comes. */
    {
        sender_t sd;
        sender_init(&sd, b, 100, 0, END_NONE);
        SENDER_LIT(&sd, "xy");
        sender_start(&sd);
        cnt = 0;
        memset(buf, 0, sizeof buf);
        CHECK_ST(sag_port_get_bytevector_some(p, buf, 0, 100, &cnt, E),
                 SAG_OK);
        CHECK(cnt >= 1 && cnt <= 2);
        CHECK(memcmp(buf, "xy", cnt) == 0);
        SENDER_JOIN(&sd);
        if (cnt == 1) {
            byte = -2;
            CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
            CHECK_EQ(byte, 'y');
        }
    }

    /* Binary get-line, then every read at end of file. */
    SEND_NOW_LIT(b, "line1\nline2\n\ncr\r\nlast", END_SHUT_WR);
    EXPECT_BLINE(p, "line1");
    EXPECT_BLINE(p, "line2");
    EXPECT_BLINE(p, "");
    EXPECT_BLINE(p, "cr\r");
    EXPECT_BLINE(p, "last");
    EXPECT_BLINE_EOF(p);
    EXPECT_BLINE_EOF(p);
    byte = -2;
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, -1);
    byte = -2;
    CHECK_ST(sag_port_lookahead_u8(p, &byte, E), SAG_OK);
    CHECK_EQ(byte, -1);
    cnt = 99;
    CHECK_ST(sag_port_get_bytevector_n(p, buf, 0, 10, &cnt, E), SAG_OK);
    CHECK_EQ(cnt, 0);
    cnt = 99;
    CHECK_ST(sag_port_get_bytevector_some(p, buf, 0, 10, &cnt, E), SAG_OK);
    CHECK_EQ(cnt, 0);
    data = (const uint8_t *)"unset";
    CHECK_ST(sag_port_get_bytevector_all(p, &data, &len, E), SAG_OK);
    CHECK(data == NULL);
    close_binary(p, a, b);

    /* get-bytevector-n (read mode full) when the peer closes early: what
     * came, then EOF. */
    open_binary(&a, &b, &p);
    CHECK_ST(sag_port_set_read_mode(p, SAG_READ_FULL, E), SAG_OK);
    {
        sender_t sd;
        sender_init(&sd, b, 0, 50, END_CLOSE);
        SENDER_LIT(&sd, "hel");
        SENDER_LIT(&sd, "lo");
        sender_start(&sd);
        cnt = 0;
        memset(buf, 0, sizeof buf);
        CHECK_ST(sag_port_get_bytevector_n(p, buf, 0, 100, &cnt, E), SAG_OK);
        CHECK_EQ(cnt, 5);
        CHECK_LIT(buf, cnt, "hello");
        cnt = 99;
        CHECK_ST(sag_port_get_bytevector_n(p, buf, 0, 100, &cnt, E), SAG_OK);
        CHECK_EQ(cnt, 0);
        SENDER_JOIN(&sd);
    }
    close_binary(p, a, b);

    /* get-bytevector-all (read mode full): everything up to EOF (buffered
     * part included), then NULL. */
    open_binary(&a, &b, &p);
    CHECK_ST(sag_port_set_read_mode(p, SAG_READ_FULL, E), SAG_OK);
    {
        sender_t sd;
        sender_init(&sd, b, 0, 30, END_SHUT_WR);
        SENDER_LIT(&sd, "part1-");
        SENDER_LIT(&sd, "part2-");
        SENDER_LIT(&sd, "part3");
        sender_start(&sd);
        byte = -2;
        CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
        CHECK_EQ(byte, 'p');
        data = NULL;
        len = 0;
        CHECK_ST(sag_port_get_bytevector_all(p, &data, &len, E), SAG_OK);
        CHECK_LIT(data, len, "art1-part2-part3");
        data = (const uint8_t *)"unset";
        CHECK_ST(sag_port_get_bytevector_all(p, &data, &len, E), SAG_OK);
        CHECK(data == NULL);
        SENDER_JOIN(&sd);
    }
    close_binary(p, a, b);
}

static void test_binary_writes(void) {
    sag_socket *a, *b;
    sag_port *p = NULL;
    static const uint8_t src[] = "xxHELLOyy";

    section("binary writes: put-u8, put-bytevector, flush");
    open_binary(&a, &b, &p);
    CHECK_ST(sag_port_put_u8(p, 'A', E), SAG_OK);
    CHECK_ST(sag_port_put_u8(p, 0, E), SAG_OK);
    CHECK_ST(sag_port_put_u8(p, 255, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, src, 2, 5, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, src, 9, 0, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, NULL, 0, 0, E), SAG_OK);
    CHECK_ST(sag_port_flush(p, E), SAG_OK);
    CHECK_ST(sag_port_flush(p, E), SAG_OK);
    PEER_EXPECT_LIT(b, "A\x00\xFFHELLO");
    close_binary(p, a, b);
}

typedef struct {
    sag_socket *s;
    uint8_t *buf;
    size_t len;
    pthread_t th;
} big_sender;

static void *big_sender_main(void *arg) {
    big_sender *bs = arg;
    peer_send(bs->s, bs->buf, bs->len);
    CHECK_ST(sag_socket_shutdown(bs->s, SAG_SHUT_WR, NULL), SAG_OK);
    return NULL;
}

static int all_a(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 'a')
            return 0;
    return 1;
}

static void test_long_line(void) {
    const size_t MIB = 1024 * 1024;
    big_sender bs;
    sag_socket *a, *b;
    sag_port *p, *bin, *t;
    const uint8_t *d;
    const char *s;
    size_t len;

    section("a 1 MiB line, binary and text get-line");
    bs.len = MIB + 6;
    bs.buf = malloc(bs.len);
    memset(bs.buf, 'a', MIB);
    memcpy(bs.buf + MIB, "\ntail\n", 6);

    open_binary(&a, &b, &p);
    bs.s = b;
    pthread_create(&bs.th, NULL, big_sender_main, &bs);
    d = NULL;
    len = 0;
    CHECK_ST(sag_port_get_bytes_line(p, &d, &len, E), SAG_OK);
    CHECK(d != NULL);
    CHECK_EQ(len, MIB);
    CHECK(d != NULL && len == MIB && all_a(d, len));
    EXPECT_BLINE(p, "tail");
    EXPECT_BLINE_EOF(p);
    JOIN(bs.th, 30);
    close_binary(p, a, b);

    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_CRLF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    bs.s = b;
    pthread_create(&bs.th, NULL, big_sender_main, &bs);
    s = NULL;
    len = 0;
    CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_OK);
    CHECK(s != NULL);
    CHECK_EQ(len, MIB);
    CHECK(s != NULL && len == MIB && all_a(s, len));
    EXPECT_LINE(t, "tail");
    EXPECT_LINE_EOF(t);
    JOIN(bs.th, 30);
    close_text(t, bin, a, b);
    free(bs.buf);
}

/* --- lines across refills -------------------------------------------------- */

/* Line i of the refill stream: refill_len(i) bytes, byte j being
 * 'a' + (i + j) % 26. Lengths from 0 to 8,999 bytes, so that the unread
 * start of a line a refill keeps is sometimes under 4,096 bytes (moved to
 * just before a 64-byte boundary, the receive landing aligned) and
 * sometimes more (moved to the front of the buffer). */
#define REFILL_LINES 600
static size_t refill_len(int i) { return (size_t)(i * 7919 % 9000); }

typedef struct {
    sag_socket *s;
    pthread_t th;
} refill_sender;

/* Sends the stream in pieces of 1 to 9,001 bytes (where each refill ends
 * moves), then ends it. */
static void *refill_sender_main(void *arg) {
    refill_sender *rs = arg;
    size_t total = 0, off = 0, piece = 1;
    uint8_t *buf;
    for (int i = 0; i < REFILL_LINES; i++)
        total += refill_len(i) + 1;
    buf = malloc(total);
    if (buf == NULL)
        return NULL;
    for (int i = 0; i < REFILL_LINES; i++) {
        size_t n = refill_len(i);
        for (size_t j = 0; j < n; j++)
            buf[off + j] = (uint8_t)('a' + (i + (int)j) % 26);
        buf[off + n] = '\n';
        off += n + 1;
    }
    for (off = 0; off < total; off += piece) {
        piece = piece * 31 % 9001 + 1;
        if (piece > total - off)
            piece = total - off;
        peer_send(rs->s, buf + off, piece);
    }
    free(buf);
    CHECK_ST(sag_socket_shutdown(rs->s, SAG_SHUT_WR, NULL), SAG_OK);
    return NULL;
}

/* Whether `d` is line i of the refill stream. */
static int refill_line_ok(int i, const void *d, size_t len) {
    const uint8_t *b = d;
    if (d == NULL || len != refill_len(i))
        return 0;
    for (size_t j = 0; j < len; j++)
        if (b[j] != (uint8_t)('a' + (i + (int)j) % 26))
            return 0;
    return 1;
}

/* Reads the refill stream from port p (get-line of a textual port when
 * `text`, else the binary get-line) while a sender sends it on the peer;
 * checks every line, then the end of file. */
static void read_refill_lines(sag_port *p, sag_socket *peer, int text) {
    refill_sender rs;
    int i, good = 0;
    rs.s = peer;
    pthread_create(&rs.th, NULL, refill_sender_main, &rs);
    for (i = 0; i < REFILL_LINES; i++) {
        const void *d = NULL;
        size_t len = 0;
        int st = text ? sag_port_get_line(p, (const char **)&d, &len, E)
                      : sag_port_get_bytes_line(p, (const uint8_t **)&d, &len, E);
        if (st != SAG_OK)
            break;
        good += refill_line_ok(i, d, len);
    }
    CHECK_EQ(good, REFILL_LINES);
    if (text)
        EXPECT_LINE_EOF(p);
    else
        EXPECT_BLINE_EOF(p);
    JOIN(rs.th, 30);
}

static void test_refill_lines(void) {
    static const int styles[2] = {SAG_EOL_LF, SAG_EOL_NONE};
    sag_socket *a, *b;
    sag_port *p, *bin, *t;

    section("lines of 0 to 8,999 bytes across refills, binary and text "
            "get-line");
    open_binary(&a, &b, &p);
    read_refill_lines(p, b, 0);
    close_binary(p, a, b);
    for (int k = 0; k < 2; k++) {
        open_text(&a, &b, SAG_CODEC_UTF8, styles[k], SAG_ERROR_MODE_RAISE,
                  &bin, &t);
        read_refill_lines(t, b, 1);
        close_text(t, bin, a, b);
    }
}

/* --- read-once ports ------------------------------------------------------ */

static void test_read_once(void) {
    sag_socket *a, *b;
    sag_port *p = NULL, *bin = NULL, *t = NULL;
    uint8_t buf[64];
    read_job j;
    int mode = -1;

    section("read-once: bulk reads return what one read brings");
    open_binary(&a, &b, &p);
    CHECK_ST(sag_port_read_mode(p, &mode, E), SAG_OK);
    CHECK_EQ(mode, SAG_READ_ONCE); /* the default, as in Sagittarius */
    memset(&j, 0, sizeof j);
    j.p = p;
    j.buf = buf;

    /* get-bytevector-n of 10 with 5 sent and the connection open: 5 */
    PEER_SEND_LIT(b, "hello");
    j.len = 10;
    j.some = 0;
    read_must_not_block(&j, b, 3000, __LINE__);
    CHECK_ST(j.st, SAG_OK);
    CHECK_LIT(buf, j.count, "hello");

    /* what is buffered is taken without another read */
    PEER_SEND_LIT(b, "0123456789");
    sleep_ms(50);
    j.len = 4;
    read_must_not_block(&j, b, 3000, __LINE__);
    CHECK_LIT(buf, j.count, "0123");
    j.len = 10;
    read_must_not_block(&j, b, 3000, __LINE__);
    CHECK_LIT(buf, j.count, "456789");

    /* get-bytevector-all: what is there, then the next arrival, then EOF */
    PEER_SEND_LIT(b, "abc");
    j.some = READ_ALL;
    read_must_not_block(&j, b, 3000, __LINE__);
    CHECK_ST(j.st, SAG_OK);
    CHECK_LIT(j.data, j.count, "abc");
    SEND_NOW_LIT(b, "de", END_SHUT_WR);
    read_must_not_block(&j, b, 3000, __LINE__);
    CHECK_LIT(j.data, j.count, "de");
    read_must_not_block(&j, b, 3000, __LINE__);
    CHECK(j.data == NULL);
    CHECK_ST(sag_port_set_read_mode(p, 2, E), SAG_E_INVALID);
    close_binary(p, a, b);

    /* get-string-n and get-string-all: whole characters only; a character
     * split between two sends comes with the next read. */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_read_mode(t, &mode, E), SAG_OK);
    CHECK_EQ(mode, SAG_READ_ONCE);
    memset(&j, 0, sizeof j);
    j.p = t;
    PEER_SEND_LIT(b, "h\xC3");
    sleep_ms(50);
    j.some = READ_STRING_N;
    j.len = 10;
    read_must_not_block(&j, b, 3000, __LINE__);
    CHECK_ST(j.st, SAG_OK);
    CHECK_LIT(j.data, j.count, "h");
    PEER_SEND_LIT(b, "\xA9llo");
    sleep_ms(50);
    read_must_not_block(&j, b, 3000, __LINE__);
    CHECK_LIT(j.data, j.count, "\xC3\xA9llo");
    PEER_SEND_LIT(b, "wor");
    j.some = READ_STRING_ALL;
    read_must_not_block(&j, b, 3000, __LINE__);
    CHECK_LIT(j.data, j.count, "wor");
    /* read mode full on the textual port: waits for all n characters */
    CHECK_ST(sag_port_set_read_mode(t, SAG_READ_FULL, E), SAG_OK);
    {
        sender_t sd;
        const char *s = NULL;
        size_t len = 0;
        sender_init(&sd, b, 50, 50, END_NONE);
        SENDER_LIT(&sd, "ab");
        SENDER_LIT(&sd, "cd");
        sender_start(&sd);
        CHECK_ST(sag_port_get_string_n(t, 4, &s, &len, E), SAG_OK);
        CHECK_LIT(s, len, "abcd");
        SENDER_JOIN(&sd);
    }
    close_text(t, bin, a, b);
}
