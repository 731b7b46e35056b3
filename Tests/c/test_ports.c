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

/* The call returns `expected`, its error object (E, cleared first) carrying
 * `port`. */
#define CHECK_PORT_ERROR(call, expected, port)                               \
    do {                                                                     \
        CHECK_ST(sag_error_clear(E), SAG_OK);                                \
        CHECK_ST(call, expected);                                            \
        CHECK_EPORT(E, port);                                                \
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

/* A connected pair (make_pair) and a binary socket port over *cli
 * (close_socket 1); close_binary frees the three. */
static void open_binary(sag_socket **cli, sag_socket **peer, sag_port **p) {
    make_pair(cli, peer);
    CHECK_ST(sag_socket_port(*cli, 1, p, E), SAG_OK);
}

static void close_binary(sag_port *p, sag_socket *cli, sag_socket *peer) {
    CHECK_ST(sag_port_free(p), SAG_OK);
    free_pair(cli, peer);
}

/* A connected pair and a textual port over *cli (make_text); close_text
 * frees the four. */
static void open_text(sag_socket **cli, sag_socket **peer, int codec, int eol,
                      int mode, sag_port **bin, sag_port **txt) {
    make_pair(cli, peer);
    make_text(*cli, codec, eol, mode, bin, txt);
}

static void close_text(sag_port *txt, sag_port *bin, sag_socket *cli,
                       sag_socket *peer) {
    free_ports(txt, bin);
    free_pair(cli, peer);
}

/* Reads one line, textual (get-line) or binary (get-bytes-line: `bytes`),
 * and checks it (exp NULL: end of file). */
static void expect_line(sag_port *p, int bytes, const char *exp, size_t elen,
                        int line) {
    const char *s = (const char *)"unset";
    const uint8_t *d = (const uint8_t *)"unset";
    const void *got;
    size_t len = 12345;
    int st = bytes ? sag_port_get_bytes_line(p, &d, &len, E)
                   : sag_port_get_line(p, &s, &len, E);
    got = bytes ? (const void *)d : (const void *)s;
    if (st != SAG_OK) {
        char m[400];
        snprintf(m, sizeof m, "status %s (%s)", sag_status_name(st),
                 sag_error_message(E));
        check_fail(__FILE__, line,
                   bytes ? "sag_port_get_bytes_line == SAG_OK"
                         : "sag_port_get_line == SAG_OK",
                   m);
        return;
    }
    check_bytes(__FILE__, line,
                bytes ? "sag_port_get_bytes_line" : "sag_port_get_line", got,
                got ? len : 0, exp, elen);
}
#define EXPECT_LINE(t, lit)                                                  \
    expect_line((t), 0, (lit), sizeof(lit) - 1, __LINE__)
#define EXPECT_LINE_EOF(t) expect_line((t), 0, NULL, 0, __LINE__)
#define EXPECT_BLINE(p, lit)                                                 \
    expect_line((p), 1, (lit), sizeof(lit) - 1, __LINE__)
#define EXPECT_BLINE_EOF(p) expect_line((p), 1, NULL, 0, __LINE__)

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

/* ===== Tests, by topic (Tests/c/ports/) ================================ */

#include "ports/binary.c"
#include "ports/text.c"
#include "ports/buffering.c"
#include "ports/lifecycle.c"

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
    test_refill_lines();
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
