/* ports/text.c: part of test_ports.c, which includes it (textual ports: UTF-8 and Latin-1 decoding, end-of-line styles, text operations, malformed input in each error mode, characters a failed read kept).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_ports.c are shared by every part. */

static void test_utf8_byte_by_byte(void) {
    sag_socket *a, *b;
    sag_port *bin, *t;
    sender_t sd;
    static const uint8_t smile[4] = {0xF0, 0x9F, 0x98, 0x80};

    section("text: a 4-byte UTF-8 character arriving one byte per send");
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    sender_init(&sd, b, 0, 20, END_SHUT_WR);
    for (int i = 0; i < 4; i++)
        sender_add(&sd, &smile[i], 1);
    for (int i = 0; i < 4; i++)
        sender_add(&sd, &smile[i], 1);
    SENDER_LIT(&sd, "z");
    sender_start(&sd);
    EXPECT_CHAR(t, 0x1F600);
    {
        int32_t c = -7;
        CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_OK);
        CHECK_EQ(c, 0x1F600);
    }
    EXPECT_CHAR(t, 0x1F600);
    EXPECT_CHAR(t, 'z');
    EXPECT_CHAR(t, -1);
    SENDER_JOIN(&sd);
    close_text(t, bin, a, b);
}

static const int k_styles[7] = {SAG_EOL_LF,  SAG_EOL_CRLF,  SAG_EOL_CR,
                                SAG_EOL_NEL, SAG_EOL_CRNEL, SAG_EOL_LS,
                                SAG_EOL_NONE};
static const char *k_style_names[7] = {"lf",  "crlf",  "cr",  "nel",
                                       "crnel", "ls", "none"};

static void test_eol_input(void) {
    section("text: end-of-line sequences on input, every eol style");
    for (int i = 0; i < 6; i++) {
        sag_socket *a, *b;
        sag_port *bin, *t;
        int style = k_styles[i];
        printf("   style %s\n", k_style_names[i]);

        /* crlf, cr and lf all read as one linefeed. */
        open_text(&a, &b, SAG_CODEC_UTF8, style,
                  SAG_ERROR_MODE_RAISE, &bin, &t);
        SEND_NOW_LIT(b, "a\r\nb\rc\nd\r\r\ne\n\nf", END_SHUT_WR);
        EXPECT_LINE(t, "a");
        EXPECT_LINE(t, "b");
        EXPECT_LINE(t, "c");
        EXPECT_LINE(t, "d");
        EXPECT_LINE(t, "");
        EXPECT_LINE(t, "e");
        EXPECT_LINE(t, "");
        EXPECT_LINE(t, "f");
        EXPECT_LINE_EOF(t);
        close_text(t, bin, a, b);

        /* nel, cr nel and ls read as one linefeed too (R6RS). */
        open_text(&a, &b, SAG_CODEC_UTF8, style,
                  SAG_ERROR_MODE_RAISE, &bin, &t);
        SEND_NOW_LIT(b, "e\xC2\x85" "f\r\xC2\x85" "g\xE2\x80\xA8" "h\r",
                     END_SHUT_WR);
        EXPECT_LINE(t, "e");
        EXPECT_LINE(t, "f");
        EXPECT_LINE(t, "g");
        EXPECT_LINE(t, "h");
        EXPECT_LINE_EOF(t);
        close_text(t, bin, a, b);

        /* A CR at the end of one send and the LF in a later one: one line
         * end. A CR followed later by something else: a line end too. */
        {
            sender_t sd;
            open_text(&a, &b, SAG_CODEC_UTF8, style,
                      SAG_ERROR_MODE_RAISE, &bin, &t);
            sender_init(&sd, b, 0, 60, END_SHUT_WR);
            SENDER_LIT(&sd, "x\r");
            SENDER_LIT(&sd, "\ny\r");
            SENDER_LIT(&sd, "z\r");
            SENDER_LIT(&sd, "\xC2\x85w");
            sender_start(&sd);
            EXPECT_LINE(t, "x");
            EXPECT_LINE(t, "y");
            EXPECT_LINE(t, "z");
            EXPECT_LINE(t, "w");
            EXPECT_LINE_EOF(t);
            SENDER_JOIN(&sd);
            close_text(t, bin, a, b);
        }
    }

    /* SAG_EOL_NONE translates nothing. */
    {
        sag_socket *a, *b;
        sag_port *bin, *t;
        printf("   style none\n");
        open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_NONE,
                  SAG_ERROR_MODE_RAISE, &bin, &t);
        SEND_NOW_LIT(b, "a\r\nb\nc\rd\xC2\x85" "e\xE2\x80\xA8" "f\n\r",
                     END_SHUT_WR);
        EXPECT_LINE(t, "a\r");
        EXPECT_LINE(t, "b");
        EXPECT_LINE(t, "c\rd\xC2\x85" "e\xE2\x80\xA8" "f");
        EXPECT_LINE(t, "\r");
        EXPECT_LINE_EOF(t);
        close_text(t, bin, a, b);
    }
}

static void test_eol_output(void) {
    static const char *seqs[7] = {"\n", "\r\n", "\r", "\xC2\x85",
                                  "\r\xC2\x85", "\xE2\x80\xA8", "\n"};
    section("text: put-string / put-char of a linefeed, every eol style");
    for (int i = 0; i < 7; i++) {
        sag_socket *a, *b;
        sag_port *bin, *t;
        char exp[64];
        size_t sl = strlen(seqs[i]);
        size_t n = 0;
        printf("   style %s\n", k_style_names[i]);
        exp[n++] = 'x';
        memcpy(exp + n, seqs[i], sl);
        n += sl;
        exp[n++] = 'y';
        memcpy(exp + n, seqs[i], sl);
        n += sl;

        open_text(&a, &b, SAG_CODEC_UTF8, k_styles[i],
                  SAG_ERROR_MODE_RAISE, &bin, &t);
        CHECK_ST(sag_port_put_string(t, "--x\ny--", 2, 3, E), SAG_OK);
        CHECK_ST(sag_port_put_char(t, '\n', E), SAG_OK);
        CHECK_ST(sag_port_flush(t, E), SAG_OK);
        peer_expect(b, exp, n, __LINE__);
        close_text(t, bin, a, b);
    }
}

static void test_text_ops(void) {
    sag_socket *a, *b;
    sag_port *bin, *t;
    const char *s;
    size_t len;
    int32_t c;

    section("text: get-char, lookahead-char, get-string-n, get-line, "
            "get-string-all, put-char, put-string");
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "h\xC3\xA9llo w\xC3\xB6rld\n\xF0\x9F\x98\x80" "end",
                 END_SHUT_WR);
    c = -7;
    CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_OK);
    CHECK_EQ(c, 'h');
    EXPECT_CHAR(t, 'h');
    c = -7;
    CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_OK);
    CHECK_EQ(c, 0xE9);
    c = -7;
    CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_OK);
    CHECK_EQ(c, 0xE9);
    s = NULL;
    len = 0;
    CHECK_ST(sag_port_get_string_n(t, 4, &s, &len, E), SAG_OK);
    CHECK_LIT(s, len, "\xC3\xA9llo");
    EXPECT_LINE(t, " w\xC3\xB6rld");
    s = NULL;
    CHECK_ST(sag_port_get_string_n(t, 100, &s, &len, E), SAG_OK);
    CHECK_LIT(s, len, "\xF0\x9F\x98\x80" "end");
    s = "unset";
    CHECK_ST(sag_port_get_string_n(t, 5, &s, &len, E), SAG_OK);
    CHECK(s == NULL);
    EXPECT_CHAR(t, -1);
    c = -7;
    CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_OK);
    CHECK_EQ(c, -1);
    EXPECT_LINE_EOF(t);
    s = "unset";
    CHECK_ST(sag_port_get_string_all(t, &s, &len, E), SAG_OK);
    CHECK(s == NULL);

    /* put-char and put-string (with a NUL inside) */
    CHECK_ST(sag_port_put_char(t, 'A', E), SAG_OK);
    CHECK_ST(sag_port_put_char(t, 0xE9, E), SAG_OK);
    CHECK_ST(sag_port_put_char(t, 0x1F600, E), SAG_OK);
    CHECK_ST(sag_port_put_char(t, 0x20AC, E), SAG_OK);
    CHECK_ST(sag_port_put_char(t, 0, E), SAG_OK);
    CHECK_ST(sag_port_put_string(t, "\xC3\xBC" "a\0b", 0, 5, E), SAG_OK);
    CHECK_ST(sag_port_put_string(t, "", 0, 0, E), SAG_OK);
    CHECK_ST(sag_port_flush(t, E), SAG_OK);
    PEER_EXPECT_LIT(b, "A\xC3\xA9\xF0\x9F\x98\x80\xE2\x82\xAC\x00"
                       "\xC3\xBC" "a\0b");
    close_text(t, bin, a, b);

    /* get-string-all (read mode full) over several sends (a character
     * split between two), with crlf translated. */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_CRLF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_set_read_mode(t, SAG_READ_FULL, E), SAG_OK);
    {
        sender_t sd;
        sender_init(&sd, b, 0, 30, END_SHUT_WR);
        SENDER_LIT(&sd, "abc\r");
        SENDER_LIT(&sd, "\nd\xC3");
        SENDER_LIT(&sd, "\xA9" "f\r\n");
        sender_start(&sd);
        EXPECT_CHAR(t, 'a');
        s = NULL;
        len = 0;
        CHECK_ST(sag_port_get_string_all(t, &s, &len, E), SAG_OK);
        CHECK_LIT(s, len, "bc\nd\xC3\xA9" "f\n");
        s = "unset";
        CHECK_ST(sag_port_get_string_all(t, &s, &len, E), SAG_OK);
        CHECK(s == NULL);
        SENDER_JOIN(&sd);
    }
    close_text(t, bin, a, b);

    /* lookahead-char reports a linefeed for a whole crlf; get-char then
     * consumes both bytes. */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "\r\nX\r\xC2\x85Y", END_SHUT_WR);
    c = -7;
    CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_OK);
    CHECK_EQ(c, '\n');
    EXPECT_CHAR(t, '\n');
    EXPECT_CHAR(t, 'X');
    c = -7;
    CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_OK);
    CHECK_EQ(c, '\n');
    EXPECT_CHAR(t, '\n');
    EXPECT_CHAR(t, 'Y');
    EXPECT_CHAR(t, -1);
    close_text(t, bin, a, b);
}

static void test_malformed(void) {
    sag_socket *a, *b;
    sag_port *bin, *t;
    int32_t c;
    int st;

    section("text: malformed UTF-8 in replace and raise modes");
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_REPLACE, &bin, &t);
    SEND_NOW_LIT(b, "a\xFF" "b\n", END_SHUT_WR);
    EXPECT_LINE(t, "a\xEF\xBF\xBD" "b");
    EXPECT_LINE_EOF(t);
    close_text(t, bin, a, b);

    /* raise, through get-char: the bad byte fails once, reading goes on. */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "a\xFF" "b\ncd\n", END_SHUT_WR);
    EXPECT_CHAR(t, 'a');
    CHECK_ST(sag_error_clear(E), SAG_OK);
    c = -7;
    CHECK_ST(sag_port_get_char(t, &c, E), SAG_E_IO_DECODING);
    CHECK_EQ(sag_error_status(E), SAG_E_IO_DECODING);
    CHECK_EPORT(E, t);
    CHECK_EPORT(sag_last_error(), t);
    EXPECT_LINE(t, "b");
    EXPECT_LINE(t, "cd");
    EXPECT_LINE_EOF(t);
    close_text(t, bin, a, b);

    /* raise, through get-line: a decoding error, then later lines read. */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "a\xFF" "b\nnext\n", END_SHUT_WR);
    {
        const char *s = NULL;
        size_t len = 0;
        int found = 0;
        CHECK_PORT_ERROR(sag_port_get_line(t, &s, &len, E),
                         SAG_E_IO_DECODING, t);
        for (int i = 0; i < 3 && !found; i++) {
            st = sag_port_get_line(t, &s, &len, E);
            if (st != SAG_OK || s == NULL)
                break;
            found = len == 4 && memcmp(s, "next", 4) == 0;
        }
        CHECK(found); /* "next" is read within 3 get-line calls */
    }
    close_text(t, bin, a, b);

    /* raise: the characters decoded before malformed bytes are not lost,
     * however the bytes arrive (found by Tests/fuzz/decode.swift: the
     * whole input at once lost "ab", one byte at a time kept it).
     * get-line raises and keeps the line's characters for the next
     * get-line; get-string-all returns them and the next read raises. */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "ab\xFF" "cd\nnext\n", END_SHUT_WR);
    {
        const char *s = NULL;
        size_t len = 0;
        CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_IO_DECODING);
    }
    EXPECT_LINE(t, "abcd");
    EXPECT_LINE(t, "next");
    EXPECT_LINE_EOF(t);
    close_text(t, bin, a, b);

    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "ab\xFF" "cd", END_SHUT_WR);
    {
        const char *s = NULL;
        size_t len = 0;
        CHECK_ST(sag_port_get_string_all(t, &s, &len, E), SAG_OK);
        CHECK(s != NULL && len == 2 && memcmp(s, "ab", 2) == 0);
        CHECK_ST(sag_port_get_string_all(t, &s, &len, E), SAG_E_IO_DECODING);
        CHECK_ST(sag_port_get_string_all(t, &s, &len, E), SAG_OK);
        CHECK(s != NULL && len == 2 && memcmp(s, "cd", 2) == 0);
        CHECK_ST(sag_port_get_string_all(t, &s, &len, E), SAG_OK);
        CHECK(s == NULL);
    }
    close_text(t, bin, a, b);
}

/* --- raise mode: characters kept by a failed read reach any later read --- */
enum { NEXT_CHAR, NEXT_LOOKAHEAD, NEXT_STRING_N, NEXT_STRING_ALL, NEXT_LINE };
static const char *const next_names[] = {"get-char", "lookahead-char",
                                         "get-string-n", "get-string-all",
                                         "get-line"};

/* Reads everything left on t with the read `kind` (then get-char for
 * lookahead-char) into out, a linefeed for each end of line of get-line;
 * the count of bytes, or -1 on a failure (reported). */
static long read_rest(sag_port *t, int kind, char *out, size_t cap, int line) {
    size_t n = 0;
    for (int i = 0; i < 1000000; i++) {
        const char *s = NULL;
        size_t len = 0;
        int32_t c = -7, c2 = -7;
        int st;
        switch (kind) {
        case NEXT_CHAR:
        case NEXT_LOOKAHEAD:
            if (kind == NEXT_LOOKAHEAD) {
                st = sag_port_lookahead_char(t, &c2, E);
                if (st != SAG_OK)
                    goto fail;
            }
            st = sag_port_get_char(t, &c, E);
            if (st != SAG_OK)
                goto fail;
            if (kind == NEXT_LOOKAHEAD && c2 != c) {
                check_fail(__FILE__, line, "lookahead-char == get-char",
                           "they differ");
                return -1;
            }
            if (c < 0)
                return (long)n;
            if (c >= 0x80 || n + 1 > cap) {
                check_fail(__FILE__, line, "an ASCII character", "not one");
                return -1;
            }
            out[n++] = (char)c;
            continue;
        case NEXT_STRING_N:
            st = sag_port_get_string_n(t, 3, &s, &len, E);
            break;
        case NEXT_STRING_ALL:
            st = sag_port_get_string_all(t, &s, &len, E);
            break;
        default:
            st = sag_port_get_line(t, &s, &len, E);
            break;
        }
        if (st != SAG_OK)
            goto fail;
        if (s == NULL)
            return (long)n;
        if (n + len + 1 > cap) {
            check_fail(__FILE__, line, "the text fits", "too long");
            return -1;
        }
        memcpy(out + n, s, len);
        n += len;
        if (kind == NEXT_LINE)
            out[n++] = '\n';
        continue;
    fail: {
        char d[300];
        snprintf(d, sizeof d, "%s: status %s (%s)", next_names[kind],
                 sag_status_name(st), sag_error_message(E));
        check_fail(__FILE__, line, "the read succeeds", d);
        return -1;
    }
    }
    check_fail(__FILE__, line, "end of file", "never came");
    return -1;
}

typedef struct {
    sag_socket *s;
    const char *buf;
    size_t len;
    pthread_t th;
} plain_sender;

static void *plain_sender_main(void *arg) {
    plain_sender *ps = arg;
    peer_send(ps->s, ps->buf, ps->len);
    return NULL;
}

static void test_kept_chars(void) {
    sag_socket *a, *b;
    sag_port *bin, *t;
    const char *s;
    size_t len;
    char *got = malloc(200000);

    section("text, raise mode: what a failed get-line kept reaches any read");
    for (int kind = NEXT_CHAR; kind <= NEXT_LINE; kind++) {
        long n;
        open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_CRLF,
                  SAG_ERROR_MODE_RAISE, &bin, &t);
        CHECK_ST(sag_port_set_read_mode(t, SAG_READ_FULL, E), SAG_OK);
        SEND_NOW_LIT(b, "ab\xFF" "cd\r\nnext\r\n", END_SHUT_WR);
        s = NULL;
        CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_IO_DECODING);
        n = read_rest(t, kind, got, 200000, __LINE__);
        if (n >= 0)
            check_bytes(__FILE__, __LINE__, next_names[kind], got, (size_t)n,
                        "abcd\nnext\n", 10);
        close_text(t, bin, a, b);
    }

    /* the kept characters are handed out in pieces: get-string-n of 1,
     * then get-char, lookahead-char, then get-line for the rest */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "x\xC3\xA9yz\xFF" "w\n", END_SHUT_WR);
    CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_IO_DECODING);
    CHECK_ST(sag_port_get_string_n(t, 1, &s, &len, E), SAG_OK);
    CHECK_LIT(s, len, "x");
    EXPECT_CHAR(t, 0xE9);
    {
        int32_t c = -7;
        CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_OK);
        CHECK_EQ(c, 'y');
    }
    EXPECT_LINE(t, "yzw");
    EXPECT_LINE_EOF(t);
    close_text(t, bin, a, b);

    /* port-ready? counts the kept characters: nothing is left in the
     * buffer and the peer has not finished, yet "ab" is there to read. */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "ab\xFF", END_NONE);
    CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_IO_DECODING);
    {
        int r = -1;
        CHECK_ST(sag_port_ready(t, &r, E), SAG_OK);
        CHECK_EQ(r, 1);
    }
    EXPECT_CHAR(t, 'a');
    EXPECT_CHAR(t, 'b');
    {
        int r = -1;
        CHECK_ST(sag_port_ready(t, &r, E), SAG_OK);
        CHECK_EQ(r, 0);
    }
    close_text(t, bin, a, b);

    /* lookahead-char raises without consuming the bad bytes: lookahead-char
     * again raises too, and so does the get-char after it, which consumes
     * them (a decoding error at the same place raises each time). */
    open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "a\xFF" "b", END_SHUT_WR);
    EXPECT_CHAR(t, 'a');
    {
        int32_t c = -7;
        CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_E_IO_DECODING);
        CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_E_IO_DECODING);
        CHECK_ST(sag_port_get_char(t, &c, E), SAG_E_IO_DECODING);
        CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_OK);
        CHECK_EQ(c, 'b');
    }
    EXPECT_CHAR(t, 'b');
    EXPECT_CHAR(t, -1);
    close_text(t, bin, a, b);

    /* a retryable failure too: get-line of a line longer than the buffer
     * times out having consumed most of it; get-string-n then gets all of
     * it (70,000 'x', sent by a thread so the peer never blocks us). */
    section("text: a timed-out get-line's characters reach get-string-n");
    {
        enum { LONG = 70000 };
        char *big = malloc(LONG);
        plain_sender ps;
        memset(big, 'x', LONG);
        open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
                  SAG_ERROR_MODE_RAISE, &bin, &t);
        CHECK_ST(sag_port_set_read_mode(t, SAG_READ_FULL, E), SAG_OK);
        CHECK_ST(sag_socket_set_read_timeout(a, 300000, E), SAG_OK);
        ps.s = b;
        ps.buf = big;
        ps.len = LONG;
        pthread_create(&ps.th, NULL, plain_sender_main, &ps);
        CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_READ_TIMEOUT);
        JOIN(ps.th, 30);
        SEND_NOW_LIT(b, "\nrest\n", END_SHUT_WR);
        s = NULL;
        len = 0;
        CHECK_ST(sag_port_get_string_n(t, LONG, &s, &len, E), SAG_OK);
        CHECK_EQ(len, (size_t)LONG);
        CHECK(s != NULL && len == LONG && memcmp(s, big, LONG) == 0);
        EXPECT_LINE(t, "");
        EXPECT_LINE(t, "rest");
        EXPECT_LINE_EOF(t);
        close_text(t, bin, a, b);

        /* get-string-n that times out with lines in what it kept: get-line
         * splits them (7,000 lines of nine 'y'). */
        for (size_t i = 0; i < LONG; i++)
            big[i] = i % 10 == 9 ? '\n' : 'y';
        open_text(&a, &b, SAG_CODEC_UTF8, SAG_EOL_LF,
                  SAG_ERROR_MODE_RAISE, &bin, &t);
        CHECK_ST(sag_port_set_read_mode(t, SAG_READ_FULL, E), SAG_OK);
        CHECK_ST(sag_socket_set_read_timeout(a, 300000, E), SAG_OK);
        ps.s = b;
        pthread_create(&ps.th, NULL, plain_sender_main, &ps);
        CHECK_ST(sag_port_get_string_n(t, 2 * LONG, &s, &len, E),
                 SAG_E_READ_TIMEOUT);
        JOIN(ps.th, 30);
        CHECK_ST(sag_socket_shutdown(b, SAG_SHUT_WR, E), SAG_OK);
        {
            long n = read_rest(t, NEXT_LINE, got, 200000, __LINE__);
            if (n >= 0)
                CHECK_BYTES(got, (size_t)n, big, (size_t)LONG);
        }
        close_text(t, bin, a, b);
        free(big);
    }
    free(got);
}

static void test_latin1(void) {
    sag_socket *a, *b;
    sag_port *bin, *t;

    section("text: Latin-1 codec");
    open_text(&a, &b, SAG_CODEC_LATIN1, SAG_EOL_LF,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "caf\xE9\n\xFF\x85", END_SHUT_WR);
    EXPECT_LINE(t, "caf\xC3\xA9");
    EXPECT_CHAR(t, 0xFF);
    EXPECT_CHAR(t, '\n'); /* 0x85 is NEL: an end of line in style lf */
    EXPECT_CHAR(t, -1);
    /* raise mode: U+20AC cannot be encoded */
    CHECK_ST(sag_port_put_char(t, 0xE9, E), SAG_OK);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_put_char(t, 0x20AC, E), SAG_E_IO_ENCODING);
    CHECK_EQ(sag_error_status(E), SAG_E_IO_ENCODING);
    CHECK_EPORT(E, t);
    CHECK_ST(sag_port_put_char(t, '!', E), SAG_OK);
    CHECK_ST(sag_port_put_string(t, "\xE2\x82\xAC", 0, 3, E),
             SAG_E_IO_ENCODING);
    CHECK_ST(sag_port_put_string(t, "\xC3\xBC", 0, 2, E), SAG_OK);
    CHECK_ST(sag_port_flush(t, E), SAG_OK);
    PEER_EXPECT_LIT(b, "\xE9!\xFC");
    close_text(t, bin, a, b);

    /* replace mode: '?' */
    open_text(&a, &b, SAG_CODEC_LATIN1, SAG_EOL_LF,
              SAG_ERROR_MODE_REPLACE, &bin, &t);
    CHECK_ST(sag_port_put_char(t, 0x20AC, E), SAG_OK);
    CHECK_ST(sag_port_put_string(t, "x\xE2\x82\xACy\xF0\x9F\x98\x80", 0, 9, E),
             SAG_OK);
    CHECK_ST(sag_port_flush(t, E), SAG_OK);
    PEER_EXPECT_LIT(b, "?x?y?");
    close_text(t, bin, a, b);

    /* Latin-1 with eol style nel: a linefeed goes out as the byte 0x85. */
    open_text(&a, &b, SAG_CODEC_LATIN1, SAG_EOL_NEL,
              SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_put_string(t, "x\ny", 0, 3, E), SAG_OK);
    CHECK_ST(sag_port_flush(t, E), SAG_OK);
    PEER_EXPECT_LIT(b, "x\x85y");
    close_text(t, bin, a, b);
}
