/* test_abi.c: libsagsocket through its C ABI, on real loopback sockets.
 *
 * Built against the installed header through pkg-config (Tests/c/run.sh).
 * Only 127.0.0.1 and ::1 are used; the only name ever resolved is
 * "localhost". Everything is bounded by library timeouts and by alarm(60).
 * SIGPIPE keeps its default disposition: a SIGPIPE kills the test.
 *
 * Prints one line per failed check (file:line: the expression), then
 * "N passed, M failed"; exits 1 when M > 0.
 * SAG_TEST_NO_TIMING=1 skips the one upper timing bound (for valgrind).
 *
 * This file holds the helpers every part shares and main; the tests, one
 * topic a file, are in Tests/c/abi/ and included below (one program, one
 * translation unit, so check.h's counters are shared).
 */
#define _GNU_SOURCE
#include <sagsocket.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* ===== Checks ============================================================ */

/* Two strings equal (NULL equals only NULL). */
#define CHECK_STR(got, expected)                                             \
    do {                                                                     \
        const char *g_ = (got);                                              \
        const char *x_ = (expected);                                         \
        if ((g_ == NULL && x_ == NULL) ||                                    \
            (g_ != NULL && x_ != NULL && strcmp(g_, x_) == 0)) {             \
            atomic_fetch_add(&g_pass, 1);                                    \
        } else {                                                             \
            char d_[512];                                                    \
            snprintf(d_, sizeof d_, "got %s%s%s, expected %s%s%s",           \
                     g_ ? "\"" : "", g_ ? g_ : "NULL", g_ ? "\"" : "",       \
                     x_ ? "\"" : "", x_ ? x_ : "NULL", x_ ? "\"" : "");      \
            check_fail(__FILE__, __LINE__, #got " == " #expected, d_);       \
        }                                                                    \
    } while (0)

/* ===== Helpers =========================================================== */

static sag_error *E; /* the main thread's error object */

typedef struct {
    sag_socket *srv, *cli, *acc;
    int port;
} pair_t;

/* A listening socket and a connected pair over loopback. 0 on success. */
static int make_pair(pair_t *p, int family) {
    char svc[16];
    memset(p, 0, sizeof *p);
    if (sag_make_server_socket("0", family, SAG_SOCK_STREAM, 0, &p->srv, E) !=
        SAG_OK)
        return -1;
    p->port = local_port(p->srv);
    if (p->port <= 0)
        return -1;
    snprintf(svc, sizeof svc, "%d", p->port);
    if (sag_make_client_socket(family == SAG_AF_INET6 ? "::1" : "127.0.0.1",
                               svc, family, SAG_SOCK_STREAM,
                               SAG_AI_NUMERICHOST, 0, &p->cli, E) != SAG_OK)
        return -1;
    if (sag_socket_accept(p->srv, &p->acc, E) != SAG_OK)
        return -1;
    return 0;
}

/* make_pair, or a failure reported at the caller's file and line: 1 when
 * the pair is made. */
static int pair_ok(pair_t *p, int family, const char *file, int line) {
    if (make_pair(p, family) == 0)
        return 1;
    check_fail(file, line, "make_pair", NULL);
    return 0;
}
#define PAIR_OK(p, family) pair_ok((p), (family), __FILE__, __LINE__)

static void free_pair(pair_t *p) {
    CHECK_ST(sag_socket_free(p->acc), SAG_OK);
    CHECK_ST(sag_socket_free(p->cli), SAG_OK);
    CHECK_ST(sag_socket_free(p->srv), SAG_OK);
    memset(p, 0, sizeof *p);
}

/* Sends all of buf; returns the status. */
static int send_all(sag_socket *s, const void *buf, size_t n) {
    size_t sent = 0;
    int st = sag_socket_send(s, buf, 0, n, 0, &sent, E);
    if (st == SAG_OK && sent != n)
        return SAG_E_IO;
    return st;
}

static int ipv6_available(void) {
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa;
    int ok;
    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* ===== Tests, by topic (Tests/c/abi/) ================================== */

#include "abi/statuses.c"
#include "abi/echo.c"
#include "abi/addresses.c"
#include "abi/misuse.c"
#include "abi/timeouts.c"
#include "abi/transfer.c"
#include "abi/interrupt.c"
#include "abi/select.c"
#include "abi/options.c"
#include "abi/errors.c"
#include "abi/handles.c"
#include "abi/unix.c"

/* ===== main ============================================================== */

int main(void) {
    alarm(60);
    setvbuf(stdout, NULL, _IOLBF, 0);
    snapshot_fds();

    CHECK(sag_last_error() != NULL);
    CHECK_EQ(sag_error_status(sag_last_error()), SAG_OK);
    CHECK_ST(sag_error_new(&E), SAG_OK);
    if (!E) {
        printf("cannot make an error object\n");
        return 1;
    }

    test_status_tree();
    test_constants();
    test_version();
    test_echo();
    test_host_not_found();
    test_closed_and_misuse();
    test_read_timeout();
    test_recvfrom_stream();
    test_connect();
    test_peer_reset();
    test_partial_send();
    test_interrupt();
    test_signal_interrupts();
    test_thread_deadline();
    test_select();
    test_select_high_fd();
    test_options();
    test_addrinfo();
    test_accept_peer();
    test_errors();
    test_last_error_threads();
    test_handle_count();
    test_unix();
    test_bad_inputs();

    CHECK_ST(sag_error_free(E), SAG_OK);
    E = NULL;
    test_fds_at_exit();

    summary_and_exit();
}
