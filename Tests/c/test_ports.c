/* test_ports.c: the socket ports of libsagsocket (sag_socket_port,
 * sag_transcoded_port and the sag_port_* functions) through the C ABI, on
 * real loopback sockets.
 *
 * Built against the installed header through pkg-config
 * (Tests/c/run_ports.sh). Only 127.0.0.1 is used. The port under test is on
 * the client side of a connected pair; the accepted side is the "peer",
 * driven with plain sag_socket_send / sag_socket_recv (from helper threads
 * where bytes must arrive in a controlled way). Every peer socket has a 10 s
 * read timeout, every helper thread is joined with a deadline, and alarm(120)
 * is the global watchdog (default SIGALRM disposition: the test dies).
 * SIGPIPE keeps its default disposition: a SIGPIPE kills the test.
 *
 * Prints one line per failed check (file:line: the expression, and what was
 * got), then "N passed, M failed"; exits 1 when M > 0.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <sagsocket.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHECK_EQ_HEX /* CHECK_EQ failures also in hexadecimal */
#include "check.h"

/* ===== Checks ============================================================ */

/* The port an error object carries is `expected`. */
#define CHECK_EPORT(err, expected)                                           \
    do {                                                                     \
        const void *g_ = (const void *)sag_error_port(err);                  \
        const void *x_ = (const void *)(expected);                           \
        if (g_ == x_) {                                                      \
            atomic_fetch_add(&g_pass, 1);                                    \
        } else {                                                             \
            char d_[200];                                                    \
            snprintf(d_, sizeof d_, "got port %p, expected %p (" #expected   \
                     ")", g_, x_);                                           \
            check_fail(__FILE__, __LINE__,                                   \
                       "sag_error_port(" #err ") == " #expected, d_);        \
        }                                                                    \
    } while (0)

/* Writes bytes escaped (printable ASCII as is, others \xHH), shortened. */
static void escape(char *out, size_t cap, const void *data, size_t len) {
    const uint8_t *b = data;
    size_t o = 0;
    if (data == NULL) {
        snprintf(out, cap, "NULL");
        return;
    }
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        if (i == 40 && len > 48) {
            o += (size_t)snprintf(out + o, cap - o, "...(%zu bytes)", len);
            break;
        }
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' && b[i] != '\\')
            out[o++] = (char)b[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", b[i]);
    }
    if (o + 2 < cap)
        out[o++] = '"';
    out[o] = 0;
}

/* got[0, glen) equals exp[0, elen); got NULL means "end of file" and
 * matches only exp NULL. */
static void check_bytes(const char *file, int line, const char *expr,
                        const void *got, size_t glen, const void *exp,
                        size_t elen) {
    int ok;
    if (got == NULL || exp == NULL)
        ok = got == NULL && exp == NULL;
    else
        ok = glen == elen && memcmp(got, exp, elen) == 0;
    if (ok) {
        atomic_fetch_add(&g_pass, 1);
    } else {
        char g[256], x[256], d[600];
        escape(g, sizeof g, got, glen);
        escape(x, sizeof x, exp, elen);
        snprintf(d, sizeof d, "got %s (len %zu), expected %s (len %zu)", g,
                 glen, x, elen);
        check_fail(file, line, expr, d);
    }
}
#define CHECK_BYTES(got, glen, exp, elen)                                    \
    check_bytes(__FILE__, __LINE__, #got " == " #exp, (got), (glen), (exp), \
                (elen))
/* Against a string literal (its length without the NUL). */
#define CHECK_LIT(got, glen, lit)                                            \
    check_bytes(__FILE__, __LINE__, #got " == " #lit, (got), (glen), (lit), \
                sizeof(lit) - 1)

/* ===== Helpers =========================================================== */

static sag_error *E; /* the main thread's error object */
static sag_socket *g_listener;
static char g_service[16];

/* Joins th within secs seconds; a thread that hangs is a failure that ends
 * the test (its state cannot be cleaned up). */
static void join_or_end(pthread_t th, int secs, const char *what, int line) {
    if (join_within(th, secs * 1000) != 0) {
        char d[160];
        snprintf(d, sizeof d, "did not finish within %d s (a hang)", secs);
        check_fail(__FILE__, line, what, d);
        summary_and_exit();
    }
}
#define JOIN(th, secs) join_or_end((th), (secs), #th, __LINE__)

static void setup_listener(void) {
    sag_socket_info *info = NULL;
    int port = -1;
    if (sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0,
                               &g_listener, E) != SAG_OK ||
        sag_socket_get_info(g_listener, &info, E) != SAG_OK || info == NULL ||
        sag_socket_info_port(info, &port, E) != SAG_OK || port <= 0) {
        printf("FATAL: cannot make the listening socket: %s\n",
               sag_error_message(E));
        exit(1);
    }
    sag_socket_info_free(info);
    snprintf(g_service, sizeof g_service, "%d", port);
}

/* A connected pair: *cli (the side the ports go on) and *peer (accepted,
 * with a 10 s read timeout so that no peer read hangs forever). */
static void make_pair(sag_socket **cli, sag_socket **peer) {
    *cli = *peer = NULL;
    if (sag_make_client_socket("127.0.0.1", g_service, SAG_AF_INET,
                               SAG_SOCK_STREAM, SAG_AI_NUMERICHOST, 0, cli,
                               E) != SAG_OK ||
        sag_socket_accept(g_listener, peer, E) != SAG_OK ||
        sag_socket_set_read_timeout(*peer, 10 * 1000000LL, E) != SAG_OK) {
        printf("FATAL: cannot make a connected pair: %s\n",
               sag_error_message(E));
        summary_and_exit();
    }
}

static void free_pair(sag_socket *cli, sag_socket *peer) {
    CHECK_ST(sag_socket_free(cli), SAG_OK);
    CHECK_ST(sag_socket_free(peer), SAG_OK);
}

/* The peer sends all of buf (any thread). */
static void peer_send(sag_socket *s, const void *buf, size_t n) {
    size_t sent = 0;
    CHECK_ST(sag_socket_send(s, buf, 0, n, 0, &sent, NULL), SAG_OK);
    CHECK_EQ(sent, n);
}
#define PEER_SEND_LIT(s, lit) peer_send((s), (lit), sizeof(lit) - 1)

/* The peer receives exactly the bytes exp[0, n). */
static void peer_expect(sag_socket *s, const void *exp, size_t n, int line) {
    uint8_t *buf = malloc(n + 1);
    size_t got = recv_n(s, buf, n, NULL); /* the peer */
    check_bytes(__FILE__, line, "bytes at the peer", buf, got, exp, n);
    free(buf);
}
#define PEER_EXPECT_LIT(s, lit) peer_expect((s), (lit), sizeof(lit) - 1, __LINE__)

/* The peer's next recv is 0 (end of file). */
static void peer_expect_eof(sag_socket *s, int line) {
    uint8_t b[16];
    size_t r = 99;
    int st = sag_socket_recv(s, b, 0, sizeof b, 0, &r, NULL);
    if (st == SAG_OK && r == 0) {
        atomic_fetch_add(&g_pass, 1);
    } else {
        char d[200];
        snprintf(d, sizeof d, "status %s, received %zu", sag_status_name(st),
                 st == SAG_OK ? r : 0);
        check_fail(__FILE__, line, "peer sees end of file", d);
    }
}
#define PEER_EXPECT_EOF(s) peer_expect_eof((s), __LINE__)

/* --- a scripted sender thread -------------------------------------------- */
enum { END_NONE, END_SHUT_WR, END_CLOSE };

typedef struct {
    sag_socket *s;
    const void *piece[64];
    size_t len[64];
    int n;
    int first_ms; /* sleep before the first piece */
    int delay_ms; /* sleep between pieces */
    int end;      /* after the last piece */
    pthread_t th;
} sender_t;

static void sender_init(sender_t *sd, sag_socket *s, int first_ms,
                        int delay_ms, int end) {
    memset(sd, 0, sizeof *sd);
    sd->s = s;
    sd->first_ms = first_ms;
    sd->delay_ms = delay_ms;
    sd->end = end;
}

static void sender_add(sender_t *sd, const void *p, size_t n) {
    sd->piece[sd->n] = p;
    sd->len[sd->n] = n;
    sd->n++;
}
#define SENDER_LIT(sd, lit) sender_add((sd), (lit), sizeof(lit) - 1)

static void *sender_main(void *arg) {
    sender_t *sd = arg;
    if (sd->first_ms)
        sleep_ms(sd->first_ms);
    for (int i = 0; i < sd->n; i++) {
        if (i > 0 && sd->delay_ms)
            sleep_ms(sd->delay_ms);
        peer_send(sd->s, sd->piece[i], sd->len[i]);
    }
    if (sd->end == END_SHUT_WR)
        CHECK_ST(sag_socket_shutdown(sd->s, SAG_SHUT_WR, NULL), SAG_OK);
    else if (sd->end == END_CLOSE)
        CHECK_ST(sag_socket_close(sd->s, NULL), SAG_OK);
    return NULL;
}

static void sender_start(sender_t *sd) {
    if (pthread_create(&sd->th, NULL, sender_main, sd) != 0) {
        printf("FATAL: pthread_create\n");
        exit(1);
    }
}
#define SENDER_JOIN(sd) join_or_end((sd)->th, 30, "sender thread", __LINE__)

/* Sends the pieces in this thread right away (no delays), then `end`. */
static void send_now(sag_socket *s, const void *p, size_t n, int end) {
    peer_send(s, p, n);
    if (end == END_SHUT_WR)
        CHECK_ST(sag_socket_shutdown(s, SAG_SHUT_WR, NULL), SAG_OK);
    else if (end == END_CLOSE)
        CHECK_ST(sag_socket_close(s, NULL), SAG_OK);
}
#define SEND_NOW_LIT(s, lit, end) send_now((s), (lit), sizeof(lit) - 1, (end))

/* --- a binary read run in a thread, so that a read that blocks when it
 * must not is reported instead of hanging the test ------------------------ */
typedef struct {
    sag_port *p;
    uint8_t *buf;
    size_t start, len;
    int some; /* 1: get-bytevector-some, 0: get-bytevector-n, or a READ_* */
    int st;
    size_t count;
    const void *data; /* READ_ALL, READ_STRING_N, READ_STRING_ALL */
    atomic_int done;
    pthread_t th;
} read_job;

enum { READ_ALL = 2, READ_STRING_N = 3, READ_STRING_ALL = 4 };
static const char *const read_names[] = {
    "sag_port_get_bytevector_n", "sag_port_get_bytevector_some",
    "sag_port_get_bytevector_all", "sag_port_get_string_n",
    "sag_port_get_string_all"};

static void *read_job_main(void *arg) {
    read_job *j = arg;
    if (j->some == READ_ALL)
        j->st = sag_port_get_bytevector_all(
            j->p, (const uint8_t **)&j->data, &j->count, NULL);
    else if (j->some == READ_STRING_N)
        j->st = sag_port_get_string_n(j->p, j->len, (const char **)&j->data,
                                      &j->count, NULL);
    else if (j->some == READ_STRING_ALL)
        j->st = sag_port_get_string_all(j->p, (const char **)&j->data,
                                        &j->count, NULL);
    else if (j->some)
        j->st = sag_port_get_bytevector_some(j->p, j->buf, j->start, j->len,
                                             &j->count, NULL);
    else
        j->st = sag_port_get_bytevector_n(j->p, j->buf, j->start, j->len,
                                          &j->count, NULL);
    atomic_store(&j->done, 1);
    return NULL;
}

/* Runs the read; when it has not returned within wait_ms, reports that it
 * blocked, then sends `unblock` from the peer so that it returns. */
static void read_must_not_block(read_job *j, sag_socket *peer, int wait_ms,
                                int line) {
    atomic_store(&j->done, 0);
    j->st = -999;
    j->count = 0;
    pthread_create(&j->th, NULL, read_job_main, j);
    for (int waited = 0; waited < wait_ms && !atomic_load(&j->done);
         waited += 5)
        sleep_ms(5);
    if (atomic_load(&j->done)) {
        atomic_fetch_add(&g_pass, 1);
    } else {
        char what[120];
        snprintf(what, sizeof what, "%s returns without blocking",
                 read_names[j->some]);
        check_fail(__FILE__, line, what,
                   "it blocked; unblocking it with one more byte from the "
                   "peer");
        peer_send(peer, "!", 1);
    }
    join_or_end(j->th, 30, "read thread", line);
}

/* Polls sag_port_ready until it answers 1 (bounded: 3 s). */
static int wait_ready(sag_port *p) {
    for (int i = 0; i < 300; i++) {
        int r = -1;
        if (sag_port_ready(p, &r, NULL) != SAG_OK)
            return -1;
        if (r == 1)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

/* A socket port over cli (close_socket 1) wrapped in a textual port. */
static void make_text(sag_socket *cli, int codec, int eol, int mode,
                      sag_port **bin, sag_port **txt) {
    *bin = *txt = NULL;
    CHECK_ST(sag_socket_port(cli, 1, bin, E), SAG_OK);
    CHECK_ST(sag_transcoded_port(*bin, codec, eol, mode, txt, E), SAG_OK);
}

static void free_ports(sag_port *a, sag_port *b) {
    CHECK_ST(sag_port_free(a), SAG_OK);
    CHECK_ST(sag_port_free(b), SAG_OK);
}

/* Reads one text line and checks it (exp NULL: end of file). */
static void expect_line(sag_port *t, const char *exp, size_t elen, int line) {
    const char *s = (const char *)"unset";
    size_t len = 12345;
    int st = sag_port_get_line(t, &s, &len, E);
    if (st != SAG_OK) {
        char d[400];
        snprintf(d, sizeof d, "status %s (%s)", sag_status_name(st),
                 sag_error_message(E));
        check_fail(__FILE__, line, "sag_port_get_line == SAG_OK", d);
        return;
    }
    check_bytes(__FILE__, line, "sag_port_get_line", s, s ? len : 0, exp,
                elen);
}
#define EXPECT_LINE(t, lit) expect_line((t), (lit), sizeof(lit) - 1, __LINE__)
#define EXPECT_LINE_EOF(t) expect_line((t), NULL, 0, __LINE__)

/* Reads one binary line and checks it (exp NULL: end of file). */
static void expect_bline(sag_port *p, const char *exp, size_t elen, int line) {
    const uint8_t *d = (const uint8_t *)"unset";
    size_t len = 12345;
    int st = sag_port_get_bytes_line(p, &d, &len, E);
    if (st != SAG_OK) {
        char m[400];
        snprintf(m, sizeof m, "status %s (%s)", sag_status_name(st),
                 sag_error_message(E));
        check_fail(__FILE__, line, "sag_port_get_bytes_line == SAG_OK", m);
        return;
    }
    check_bytes(__FILE__, line, "sag_port_get_bytes_line", d, d ? len : 0,
                exp, elen);
}
#define EXPECT_BLINE(p, lit) expect_bline((p), (lit), sizeof(lit) - 1, __LINE__)
#define EXPECT_BLINE_EOF(p) expect_bline((p), NULL, 0, __LINE__)

static void expect_char(sag_port *t, int32_t exp, int line) {
    int32_t c = -7;
    int st = sag_port_get_char(t, &c, E);
    if (st != SAG_OK) {
        char d[400];
        snprintf(d, sizeof d, "status %s (%s), expected char 0x%X",
                 sag_status_name(st), sag_error_message(E), (unsigned)exp);
        check_fail(__FILE__, line, "sag_port_get_char == SAG_OK", d);
        return;
    }
    if (c == exp) {
        atomic_fetch_add(&g_pass, 1);
    } else {
        char d[120];
        snprintf(d, sizeof d, "got %d (0x%X), expected %d (0x%X)", c,
                 (unsigned)c, exp, (unsigned)exp);
        check_fail(__FILE__, line, "sag_port_get_char", d);
    }
}
#define EXPECT_CHAR(t, c) expect_char((t), (c), __LINE__)

static int is_socket_fd(int fd, const char *target) {
    (void)fd;
    return strncmp(target, "socket:", 7) == 0;
}

/* The number of socket descriptors this process has open. */
static int count_socket_fds(void) { return count_fds(is_socket_fd, 0); }

/* ===== Tests ============================================================= */

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
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
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
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* get-bytevector-n (read mode full) when the peer closes early: what
     * came, then EOF. */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
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
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* get-bytevector-all (read mode full): everything up to EOF (buffered
     * part included), then NULL. */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
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
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);
}

static void test_binary_writes(void) {
    sag_socket *a, *b;
    sag_port *p = NULL;
    static const uint8_t src[] = "xxHELLOyy";

    section("binary writes: put-u8, put-bytevector, flush");
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
    CHECK_ST(sag_port_put_u8(p, 'A', E), SAG_OK);
    CHECK_ST(sag_port_put_u8(p, 0, E), SAG_OK);
    CHECK_ST(sag_port_put_u8(p, 255, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, src, 2, 5, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, src, 9, 0, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, NULL, 0, 0, E), SAG_OK);
    CHECK_ST(sag_port_flush(p, E), SAG_OK);
    CHECK_ST(sag_port_flush(p, E), SAG_OK);
    PEER_EXPECT_LIT(b, "A\x00\xFFHELLO");
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);
}

static void test_utf8_byte_by_byte(void) {
    sag_socket *a, *b;
    sag_port *bin, *t;
    sender_t sd;
    static const uint8_t smile[4] = {0xF0, 0x9F, 0x98, 0x80};

    section("text: a 4-byte UTF-8 character arriving one byte per send");
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);
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
        make_pair(&a, &b);
        make_text(a, SAG_CODEC_UTF8, style, SAG_ERROR_MODE_RAISE, &bin, &t);
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
        free_ports(t, bin);
        free_pair(a, b);

        /* nel, cr nel and ls read as one linefeed too (R6RS). */
        make_pair(&a, &b);
        make_text(a, SAG_CODEC_UTF8, style, SAG_ERROR_MODE_RAISE, &bin, &t);
        SEND_NOW_LIT(b, "e\xC2\x85" "f\r\xC2\x85" "g\xE2\x80\xA8" "h\r",
                     END_SHUT_WR);
        EXPECT_LINE(t, "e");
        EXPECT_LINE(t, "f");
        EXPECT_LINE(t, "g");
        EXPECT_LINE(t, "h");
        EXPECT_LINE_EOF(t);
        free_ports(t, bin);
        free_pair(a, b);

        /* A CR at the end of one send and the LF in a later one: one line
         * end. A CR followed later by something else: a line end too. */
        {
            sender_t sd;
            make_pair(&a, &b);
            make_text(a, SAG_CODEC_UTF8, style, SAG_ERROR_MODE_RAISE, &bin,
                      &t);
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
            free_ports(t, bin);
            free_pair(a, b);
        }
    }

    /* SAG_EOL_NONE translates nothing. */
    {
        sag_socket *a, *b;
        sag_port *bin, *t;
        printf("   style none\n");
        make_pair(&a, &b);
        make_text(a, SAG_CODEC_UTF8, SAG_EOL_NONE, SAG_ERROR_MODE_RAISE, &bin,
                  &t);
        SEND_NOW_LIT(b, "a\r\nb\nc\rd\xC2\x85" "e\xE2\x80\xA8" "f\n\r",
                     END_SHUT_WR);
        EXPECT_LINE(t, "a\r");
        EXPECT_LINE(t, "b");
        EXPECT_LINE(t, "c\rd\xC2\x85" "e\xE2\x80\xA8" "f");
        EXPECT_LINE(t, "\r");
        EXPECT_LINE_EOF(t);
        free_ports(t, bin);
        free_pair(a, b);
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

        make_pair(&a, &b);
        make_text(a, SAG_CODEC_UTF8, k_styles[i], SAG_ERROR_MODE_RAISE, &bin,
                  &t);
        CHECK_ST(sag_port_put_string(t, "--x\ny--", 2, 3, E), SAG_OK);
        CHECK_ST(sag_port_put_char(t, '\n', E), SAG_OK);
        CHECK_ST(sag_port_flush(t, E), SAG_OK);
        peer_expect(b, exp, n, __LINE__);
        free_ports(t, bin);
        free_pair(a, b);
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
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);

    /* get-string-all (read mode full) over several sends (a character
     * split between two), with crlf translated. */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_CRLF, SAG_ERROR_MODE_RAISE, &bin,
              &t);
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
    free_ports(t, bin);
    free_pair(a, b);

    /* lookahead-char reports a linefeed for a whole crlf; get-char then
     * consumes both bytes. */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);
}

static void test_malformed(void) {
    sag_socket *a, *b;
    sag_port *bin, *t;
    int32_t c;
    int st;

    section("text: malformed UTF-8 in replace and raise modes");
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_REPLACE, &bin,
              &t);
    SEND_NOW_LIT(b, "a\xFF" "b\n", END_SHUT_WR);
    EXPECT_LINE(t, "a\xEF\xBF\xBD" "b");
    EXPECT_LINE_EOF(t);
    free_ports(t, bin);
    free_pair(a, b);

    /* raise, through get-char: the bad byte fails once, reading goes on. */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);

    /* raise, through get-line: a decoding error, then later lines read. */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "a\xFF" "b\nnext\n", END_SHUT_WR);
    {
        const char *s = NULL;
        size_t len = 0;
        int found = 0;
        CHECK_ST(sag_error_clear(E), SAG_OK);
        CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_IO_DECODING);
        CHECK_EPORT(E, t);
        for (int i = 0; i < 3 && !found; i++) {
            st = sag_port_get_line(t, &s, &len, E);
            if (st != SAG_OK || s == NULL)
                break;
            found = len == 4 && memcmp(s, "next", 4) == 0;
        }
        CHECK(found); /* "next" is read within 3 get-line calls */
    }
    free_ports(t, bin);
    free_pair(a, b);

    /* raise: the characters decoded before malformed bytes are not lost,
     * however the bytes arrive (found by Tests/fuzz/decode.swift: the
     * whole input at once lost "ab", one byte at a time kept it).
     * get-line raises and keeps the line's characters for the next
     * get-line; get-string-all returns them and the next read raises. */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
    SEND_NOW_LIT(b, "ab\xFF" "cd\nnext\n", END_SHUT_WR);
    {
        const char *s = NULL;
        size_t len = 0;
        CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_IO_DECODING);
    }
    EXPECT_LINE(t, "abcd");
    EXPECT_LINE(t, "next");
    EXPECT_LINE_EOF(t);
    free_ports(t, bin);
    free_pair(a, b);

    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);
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
        make_pair(&a, &b);
        make_text(a, SAG_CODEC_UTF8, SAG_EOL_CRLF, SAG_ERROR_MODE_RAISE, &bin,
                  &t);
        CHECK_ST(sag_port_set_read_mode(t, SAG_READ_FULL, E), SAG_OK);
        SEND_NOW_LIT(b, "ab\xFF" "cd\r\nnext\r\n", END_SHUT_WR);
        s = NULL;
        CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_IO_DECODING);
        n = read_rest(t, kind, got, 200000, __LINE__);
        if (n >= 0)
            check_bytes(__FILE__, __LINE__, next_names[kind], got, (size_t)n,
                        "abcd\nnext\n", 10);
        free_ports(t, bin);
        free_pair(a, b);
    }

    /* the kept characters are handed out in pieces: get-string-n of 1,
     * then get-char, lookahead-char, then get-line for the rest */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);

    /* port-ready? counts the kept characters: nothing is left in the
     * buffer and the peer has not finished, yet "ab" is there to read. */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);

    /* lookahead-char raises without consuming the bad bytes: lookahead-char
     * again raises too, and so does the get-char after it, which consumes
     * them (a decoding error at the same place raises each time). */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);

    /* a retryable failure too: get-line of a line longer than the buffer
     * times out having consumed most of it; get-string-n then gets all of
     * it (70,000 'x', sent by a thread so the peer never blocks us). */
    section("text: a timed-out get-line's characters reach get-string-n");
    {
        enum { LONG = 70000 };
        char *big = malloc(LONG);
        plain_sender ps;
        memset(big, 'x', LONG);
        make_pair(&a, &b);
        make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin,
                  &t);
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
        free_ports(t, bin);
        free_pair(a, b);

        /* get-string-n that times out with lines in what it kept: get-line
         * splits them (7,000 lines of nine 'y'). */
        for (size_t i = 0; i < LONG; i++)
            big[i] = i % 10 == 9 ? '\n' : 'y';
        make_pair(&a, &b);
        make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin,
                  &t);
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
        free_ports(t, bin);
        free_pair(a, b);
        free(big);
    }
    free(got);
}

static void test_latin1(void) {
    sag_socket *a, *b;
    sag_port *bin, *t;

    section("text: Latin-1 codec");
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_LATIN1, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin,
              &t);
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
    free_ports(t, bin);
    free_pair(a, b);

    /* replace mode: '?' */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_LATIN1, SAG_EOL_LF, SAG_ERROR_MODE_REPLACE, &bin,
              &t);
    CHECK_ST(sag_port_put_char(t, 0x20AC, E), SAG_OK);
    CHECK_ST(sag_port_put_string(t, "x\xE2\x82\xACy\xF0\x9F\x98\x80", 0, 9, E),
             SAG_OK);
    CHECK_ST(sag_port_flush(t, E), SAG_OK);
    PEER_EXPECT_LIT(b, "?x?y?");
    free_ports(t, bin);
    free_pair(a, b);

    /* Latin-1 with eol style nel: a linefeed goes out as the byte 0x85. */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_LATIN1, SAG_EOL_NEL, SAG_ERROR_MODE_RAISE, &bin,
              &t);
    CHECK_ST(sag_port_put_string(t, "x\ny", 0, 3, E), SAG_OK);
    CHECK_ST(sag_port_flush(t, E), SAG_OK);
    PEER_EXPECT_LIT(b, "x\x85y");
    free_ports(t, bin);
    free_pair(a, b);
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

    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
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
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_CRLF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);
    free(bs.buf);
}

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
        CHECK_ST(sag_port_free(p), SAG_OK);
        free_pair(a, b);
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
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
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
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* A textual port: put-string of a long string in mode none arrives
     * whole at once; line mode flushes at a linefeed character even when the
     * eol style writes no LF byte (cr). */
    memset(big, 'q', sizeof big - 1);
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_CR, SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_buffer_mode(t, &mode, E), SAG_OK);
    CHECK_EQ(mode, SAG_BUFFER_NONE);
    CHECK_ST(sag_port_put_string(t, big, 0, sizeof big - 1, E), SAG_OK);
    n = recv_n(b, buf, sizeof big - 1, NULL);
    CHECK_EQ(n, sizeof big - 1);
    CHECK_ST(sag_port_set_buffer_mode(t, SAG_BUFFER_LINE, E), SAG_OK);
    CHECK_ST(sag_port_buffer_mode(bin, &mode, E), SAG_E_CLOSED); /* taken over */
    CHECK_ST(sag_port_put_string(t, "ab", 0, 2, E), SAG_OK);
    CHECK_EQ(peer_drain_now(b, buf, sizeof buf), 0);
    CHECK_ST(sag_port_put_char(t, '\n', E), SAG_OK);
    PEER_EXPECT_LIT(b, "ab\r");
    free_ports(t, bin);
    free_pair(a, b);

    /* An input port has no buffer mode to set. */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_input_port(a, &p, E), SAG_OK);
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, E), SAG_E_INVALID);
    CHECK_ST(sag_port_set_read_mode(p, SAG_READ_FULL, E), SAG_OK);
    CHECK_ST(sag_port_free(p), SAG_OK);
    CHECK_ST(sag_socket_output_port(a, &p, E), SAG_OK);
    CHECK_ST(sag_port_set_read_mode(p, SAG_READ_FULL, E), SAG_E_INVALID);
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);
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
            CHECK_ST(sag_port_free(p), SAG_OK);
            free_pair(a, b);
        }
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
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
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
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* get-string-n and get-string-all: whole characters only; a character
     * split between two sends comes with the next read. */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);
}

static void test_close(void) {
    sag_socket *a, *b;
    sag_port *p, *q, *bin, *t;
    int closed, byte;
    uint8_t buf[16];
    size_t cnt, len;
    const uint8_t *d;
    const char *s;

    section("closing ports");
    /* close_socket = 1: closing the port closes the socket. */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"last", 0, 4, E),
             SAG_OK);
    CHECK_ST(sag_port_close(p, E), SAG_OK);
    closed = -1;
    CHECK_ST(sag_socket_is_closed(a, &closed, E), SAG_OK);
    CHECK_EQ(closed, 1);
    PEER_EXPECT_LIT(b, "last"); /* close flushed */
    PEER_EXPECT_EOF(b);
    CHECK_ST(sag_port_close(p, E), SAG_OK); /* idempotent */
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_CLOSED);
    CHECK_EPORT(E, p);
    CHECK_ST(sag_port_lookahead_u8(p, &byte, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_get_bytevector_n(p, buf, 0, 4, &cnt, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_get_bytevector_some(p, buf, 0, 4, &cnt, E),
             SAG_E_CLOSED);
    CHECK_ST(sag_port_get_bytevector_all(p, &d, &len, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_get_bytes_line(p, &d, &len, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_put_u8(p, 1, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_put_bytevector(p, buf, 0, 1, E), SAG_E_CLOSED);
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
    closed = -1;
    CHECK_ST(sag_socket_is_closed(a, &closed, E), SAG_OK);
    CHECK_EQ(closed, 0);
    PEER_EXPECT_LIT(b, "unflushed");
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_CLOSED);
    peer_send(a, "still", 5);
    PEER_EXPECT_LIT(b, "still");
    CHECK_ST(sag_port_free(p), SAG_OK);
    closed = -1;
    CHECK_ST(sag_socket_is_closed(a, &closed, E), SAG_OK);
    CHECK_EQ(closed, 0);
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
    closed = -1;
    CHECK_ST(sag_socket_is_closed(a, &closed, E), SAG_OK);
    CHECK_EQ(closed, 0);
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_put_u8(q, 1, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_free(p), SAG_OK);
    CHECK_ST(sag_port_free(q), SAG_OK);
    closed = -1;
    CHECK_ST(sag_socket_is_closed(a, &closed, E), SAG_OK);
    CHECK_EQ(closed, 0);
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
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_put_string(t, "ok\n", 0, 3, E), SAG_OK);
    CHECK_ST(sag_port_close(t, E), SAG_OK);
    CHECK_ST(sag_port_close(t, E), SAG_OK);
    closed = -1;
    CHECK_ST(sag_socket_is_closed(a, &closed, E), SAG_OK);
    CHECK_EQ(closed, 1);
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
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
    CHECK_ST(sag_port_free(p), SAG_OK);
    closed = -1;
    CHECK_ST(sag_socket_is_closed(a, &closed, E), SAG_OK);
    CHECK_EQ(closed, 1);
    free_pair(a, b);

    /* A port whose socket was freed: SAG_E_CLOSED, no crash. */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 0, &p, E), SAG_OK);
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, E), SAG_OK);
    CHECK_ST(sag_socket_free(a), SAG_OK);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_CLOSED);
    CHECK_EPORT(E, p);
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
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_socket_close(a, E), SAG_OK);
    {
        int32_t c;
        CHECK_ST(sag_error_clear(E), SAG_OK);
        CHECK_ST(sag_port_get_char(t, &c, E), SAG_E_CLOSED);
        CHECK_EPORT(E, t);
        CHECK_ST(sag_error_clear(E), SAG_OK);
        CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_CLOSED);
        CHECK_EPORT(E, t);
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
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
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
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"tail", 0, 4, E),
             SAG_OK);
    CHECK_ST(sag_port_shutdown(p, SAG_SHUT_WR, E), SAG_OK);
    PEER_EXPECT_LIT(b, "tail");
    PEER_EXPECT_EOF(b);
    PEER_SEND_LIT(b, "after");
    cnt = 0;
    CHECK_ST(sag_port_get_bytevector_n(p, buf, 0, 5, &cnt, E), SAG_OK);
    CHECK_LIT(buf, cnt, "after");
    {
        int closed = -1;
        CHECK_ST(sag_socket_is_closed(a, &closed, E), SAG_OK);
        CHECK_EQ(closed, 0);
    }
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* textual port: ready, and shutdown through it */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_CRLF, SAG_ERROR_MODE_RAISE, &bin, &t);
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
    free_ports(t, bin);
    free_pair(a, b);
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

/* The peer resets the connection (SO_LINGER 0, close). */
static void peer_reset(sag_socket *b) {
    struct {
        int onoff, linger;
    } lg = {1, 0};
    CHECK_ST(sag_socket_setsockopt_bytes(b, SAG_SOL_SOCKET, SAG_SO_LINGER,
                                         (const uint8_t *)&lg, 0, sizeof lg,
                                         E),
             SAG_OK);
    CHECK_ST(sag_socket_close(b, E), SAG_OK);
    sleep_ms(50);
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
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_get_u8(t, &byte, E), SAG_E_INVALID);
    CHECK_ST(sag_port_lookahead_u8(t, &byte, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_bytevector_n(t, buf, 0, 4, &cnt, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_bytevector_some(t, buf, 0, 4, &cnt, E),
             SAG_E_INVALID);
    CHECK_ST(sag_port_get_bytevector_all(t, &d, &len, E), SAG_E_INVALID);
    CHECK_ST(sag_port_get_bytes_line(t, &d, &len, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_u8(t, 1, E), SAG_E_INVALID);
    CHECK_ST(sag_port_put_bytevector(t, buf, 0, 1, E), SAG_E_INVALID);
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
    free_ports(t, bin);
    free_pair(a, b);

    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
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
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

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
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
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
        CHECK_ST(sag_error_clear(E), SAG_OK);
        CHECK_ST(sag_port_get_char(t, &c, E), SAG_E_READ_TIMEOUT);
        CHECK_EPORT(E, t);
        CHECK_ST(sag_error_clear(E), SAG_OK);
        CHECK_ST(sag_port_lookahead_char(t, &c, E), SAG_E_READ_TIMEOUT);
        CHECK_EPORT(E, t);
        CHECK_ST(sag_error_clear(E), SAG_OK);
        CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_READ_TIMEOUT);
        CHECK_EPORT(E, t);
        CHECK_ST(sag_error_clear(E), SAG_OK);
        CHECK_ST(sag_port_get_string_n(t, 3, &s, &len, E), SAG_E_READ_TIMEOUT);
        CHECK_EPORT(E, t);
        CHECK_EQ(sag_error_timeout(E), 200000);
        /* the port goes on working after a timeout */
        PEER_SEND_LIT(b, "k");
        byte = -2;
        CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_OK);
        CHECK_EQ(byte, 'k');
    }
    free_ports(t, bin);
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* non-blocking socket with nothing to read */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
    CHECK_ST(sag_socket_set_nonblocking(a, 1, E), SAG_OK);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_WOULD_BLOCK);
    CHECK_EPORT(E, p);
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
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* interrupt of a read blocked in a port */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
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
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* &i/o-read: the peer resets the connection */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
    peer_reset(b);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_IO_READ);
    CHECK_EQ(sag_error_errno(E), ECONNRESET);
    CHECK_EPORT(E, p);
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* &i/o-write: a put (buffer mode none) to a reset connection */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
    peer_reset(b);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"data", 0, 4, E),
             SAG_E_IO_WRITE);
    CHECK(sag_error_errno(E) == ECONNRESET || sag_error_errno(E) == EPIPE);
    CHECK_EQ(sag_error_sent(E), 0);
    CHECK_EPORT(E, p);
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* &i/o-write: a flush (buffer mode block) to a reset connection */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, E), SAG_OK);
    peer_reset(b);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"data", 0, 4, E),
             SAG_OK);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_flush(p, E), SAG_E_IO_WRITE);
    CHECK(sag_error_errno(E) == ECONNRESET || sag_error_errno(E) == EPIPE);
    CHECK_EPORT(E, p);
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* the same two through a textual port */
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
    peer_reset(b);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_get_line(t, &s, &len, E), SAG_E_IO_READ);
    CHECK_EQ(sag_error_errno(E), ECONNRESET);
    CHECK_EPORT(E, t);
    free_ports(t, bin);
    free_pair(a, b);
    make_pair(&a, &b);
    make_text(a, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_RAISE, &bin, &t);
    CHECK_ST(sag_port_set_buffer_mode(t, SAG_BUFFER_BLOCK, E), SAG_OK);
    peer_reset(b);
    CHECK_ST(sag_port_put_string(t, "data\n", 0, 5, E), SAG_OK);
    CHECK_ST(sag_error_clear(E), SAG_OK);
    CHECK_ST(sag_port_flush(t, E), SAG_E_IO_WRITE);
    CHECK(sag_error_errno(E) == ECONNRESET || sag_error_errno(E) == EPIPE);
    CHECK_EPORT(E, t);
    free_ports(t, bin);
    free_pair(a, b);

    /* close whose flush fails: SAG_E_IO_WRITE, the port closed anyway */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, E), SAG_OK);
    peer_reset(b);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"data", 0, 4, E),
             SAG_OK);
    CHECK_ST(sag_port_close(p, E), SAG_E_IO_WRITE);
    CHECK_ST(sag_port_get_u8(p, &byte, E), SAG_E_CLOSED);
    CHECK_ST(sag_port_close(p, E), SAG_OK);
    {
        int closed = -1;
        CHECK_ST(sag_socket_is_closed(a, &closed, E), SAG_OK);
        CHECK_EQ(closed, 1);
    }
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);

    /* free with a failing flush: SAG_OK */
    make_pair(&a, &b);
    CHECK_ST(sag_socket_port(a, 1, &p, E), SAG_OK);
    CHECK_ST(sag_port_set_buffer_mode(p, SAG_BUFFER_BLOCK, E), SAG_OK);
    peer_reset(b);
    CHECK_ST(sag_port_put_bytevector(p, (const uint8_t *)"data", 0, 4, E),
             SAG_OK);
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(a, b);
}

/* ===== Main ============================================================== */

int main(void) {
    int fds_before;
    alarm(120);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (sag_error_new(&E) != SAG_OK) {
        printf("FATAL: sag_error_new\n");
        return 1;
    }
    fds_before = count_socket_fds();
    setup_listener();

    test_status_tree();
    test_binary_reads();
    test_binary_writes();
    test_utf8_byte_by_byte();
    test_eol_input();
    test_eol_output();
    test_text_ops();
    test_malformed();
    test_kept_chars();
    test_latin1();
    test_long_line();
    test_duplex();
    test_autoflush();
    test_buffer_modes();
    test_no_stall();
    test_read_once();
    test_close();
    test_shutdown_ready();
    test_errors();

    section("cleanup");
    CHECK_ST(sag_socket_free(g_listener), SAG_OK);
    CHECK_EQ(count_socket_fds(), fds_before); /* no socket left open */
    CHECK_ST(sag_error_free(E), SAG_OK);
    summary_and_exit();
    return 0;
}
