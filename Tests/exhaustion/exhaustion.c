/* exhaustion.c: libsagsocket when the process runs out of file descriptors,
 * through the C ABI, on loopback (127.0.0.1).
 *
 * The program lowers its own RLIMIT_NOFILE (it runs as a child of the test
 * script, so nothing else is affected), fills the descriptor table with
 * sockets of its own, and checks that every call that needs a descriptor
 * fails with a status carrying EMFILE, that nothing it made on the way is
 * left behind (descriptors counted in /proc/self/fd, handles with
 * sag_handle_count), and that a server keeps serving once a descriptor is
 * released.
 *
 * Every wait is bounded (read timeouts, alarm(60)). Prints one line per
 * failed check, then "N passed, M failed".
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <sagsocket.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>

#include "../c/check.h"

#define LIMIT 64

/* The descriptors open in this process (fcntl on each number below a bound
 * well above the limit: listing /proc/self/fd would need a descriptor
 * itself, and there is none to spare at the limit). */
static int fds(void) {
    int n = 0;
    for (int fd = 0; fd < 4 * LIMIT; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

/* Sockets that fill the descriptor table. */
static sag_socket *filler[LIMIT + 8];
static int nfiller;

/* Makes sockets until make-socket fails; returns the failing status (its
 * error in err). */
static int exhaust(sag_error *err) {
    for (;;) {
        sag_socket *s = NULL;
        if (nfiller == LIMIT + 8)
            return SAG_OK; /* the limit did not hold */
        int st = sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, err);
        if (st != SAG_OK)
            return st;
        filler[nfiller++] = s;
    }
}

static void release(int n) {
    while (n-- > 0 && nfiller > 0)
        sag_socket_free(filler[--nfiller]);
}

static void release_all(void) { release(nfiller); }

#define CHECK_EMFILE(err)                                                     \
    do {                                                                      \
        CHECK_EQ(sag_error_errno(err), EMFILE);                               \
    } while (0)

/* A connected client of 127.0.0.1:port. */
static sag_socket *client(int port) {
    char svc[16];
    sag_socket *c = NULL;
    snprintf(svc, sizeof svc, "%d", port);
    if (sag_make_client_socket("127.0.0.1", svc, SAG_AF_INET, SAG_SOCK_STREAM,
                               SAG_AI_NUMERICHOST | SAG_AI_NUMERICSERV, 0, &c,
                               NULL) != SAG_OK)
        return NULL;
    return c;
}

/* ===== make-socket and the other makers ================================== */

static void test_makers(void) {
    section("make-socket, make-client-socket, make-server-socket, selector at EMFILE");
    sag_error *err = NULL;
    sag_error_new(&err);
    int fd0 = fds(), h0 = sag_handle_count();

    int st = exhaust(err);
    printf("  %d sockets made, then %s: %s\n", nfiller, sag_status_name(st),
           sag_error_message(err));
    CHECK_EQ(st, SAG_E_SOCKET);
    CHECK_EMFILE(err);
    CHECK_EQ(fds(), LIMIT);
    CHECK_EQ(sag_handle_count(), h0 + nfiller);

    /* Every maker that needs a descriptor fails with EMFILE and leaves no
     * handle behind. */
    int h1 = sag_handle_count();
    sag_socket *s = NULL;
    CHECK_ST(sag_make_client_socket("127.0.0.1", "9", SAG_AF_INET, SAG_SOCK_STREAM,
                                    SAG_AI_NUMERICHOST | SAG_AI_NUMERICSERV, 0, &s, err),
             SAG_E_HOST_NOT_FOUND);
    CHECK_EMFILE(err);
    CHECK(s == NULL);
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, err),
             SAG_E_HOST_NOT_FOUND);
    CHECK_EMFILE(err);
    CHECK(s == NULL);
    sag_selector *sel = NULL;
    CHECK_ST(sag_selector_new(&sel, err), SAG_E_SOCKET);
    CHECK_EMFILE(err);
    CHECK(sel == NULL);
    CHECK_EQ(sag_handle_count(), h1);
    CHECK_EQ(fds(), LIMIT);

    /* One descriptor free: a selector needs two (epoll and an eventfd), so
     * it still fails, and must give back the one it got. */
    release(1);
    CHECK_EQ(fds(), LIMIT - 1);
    CHECK_ST(sag_selector_new(&sel, err), SAG_E_SOCKET);
    CHECK_EMFILE(err);
    CHECK_EQ(fds(), LIMIT - 1);
    /* make-server-socket at one descriptor: it gets its socket, fine. */
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, err), SAG_OK);
    sag_socket_free(s);
    release(1);
    CHECK_ST(sag_selector_new(&sel, err), SAG_OK);
    CHECK_ST(sag_selector_free(sel), SAG_OK);

    release_all();
    CHECK_EQ(fds(), fd0);
    CHECK_EQ(sag_handle_count(), h0);
    sag_error_free(err);
}

/* ===== accept at EMFILE, and serving after ============================== */

static void test_accept(void) {
    section("accept at EMFILE; the server serves once a descriptor is released");
    sag_error *err = NULL;
    sag_error_new(&err);
    int fd0 = fds(), h0 = sag_handle_count();
    sag_socket *srv = NULL;
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &srv, err), SAG_OK);
    if (srv == NULL)
        return;
    int port = local_port(srv);
    CHECK_ST(sag_socket_set_read_timeout(srv, 5000000, NULL), SAG_OK);
    /* Two clients wait in the backlog. */
    sag_socket *c1 = client(port), *c2 = client(port);
    CHECK(c1 != NULL && c2 != NULL);

    CHECK_EQ(exhaust(err), SAG_E_SOCKET);
    int h1 = sag_handle_count(), f1 = fds();
    sag_socket *a = NULL;
    for (int i = 0; i < 3; i++) { /* again and again: the same answer */
        int64_t t0 = now_us();
        CHECK_ST(sag_socket_accept(srv, &a, err), SAG_E_SOCKET);
        CHECK_EMFILE(err);
        CHECK(now_us() - t0 < 4000000); /* at once, not after the read timeout */
    }
    CHECK(a == NULL);
    CHECK_EQ(sag_handle_count(), h1);
    CHECK_EQ(fds(), f1);
    /* The listening socket itself is unharmed. */
    int closed = 1;
    CHECK_ST(sag_socket_is_closed(srv, &closed, NULL), SAG_OK);
    CHECK_EQ(closed, 0);

    /* One descriptor released: the first client is served. */
    release(1);
    CHECK_ST(sag_socket_accept(srv, &a, err), SAG_OK);
    if (a) {
        size_t n = 0;
        uint8_t b[4] = {0};
        CHECK_ST(sag_socket_send(c1, (const uint8_t *)"ping", 0, 4, 0, &n, NULL), SAG_OK);
        CHECK_EQ(recv_n(a, b, 4, NULL), 4);
        CHECK(memcmp(b, "ping", 4) == 0);
        CHECK_ST(sag_socket_send(a, (const uint8_t *)"pong", 0, 4, 0, &n, NULL), SAG_OK);
        CHECK_EQ(recv_n(c1, b, 4, NULL), 4);
        CHECK(memcmp(b, "pong", 4) == 0);
        sag_socket_free(a);
        a = NULL;
    }
    /* The table is full again (the accepted socket took the free one, then
     * gave it back): the second client waits until another is released. */
    CHECK_ST(exhaust(err), SAG_E_SOCKET);
    CHECK_ST(sag_socket_accept(srv, &a, err), SAG_E_SOCKET);
    CHECK_EMFILE(err);
    release(1);
    CHECK_ST(sag_socket_accept(srv, &a, err), SAG_OK);
    if (a) {
        size_t n = 0;
        uint8_t b[2] = {0};
        CHECK_ST(sag_socket_send(a, (const uint8_t *)"ok", 0, 2, 0, &n, NULL), SAG_OK);
        CHECK_EQ(recv_n(c2, b, 2, NULL), 2);
        CHECK(memcmp(b, "ok", 2) == 0);
        sag_socket_free(a);
    }
    release_all();
    sag_socket_free(c1);
    sag_socket_free(c2);
    sag_socket_free(srv);
    CHECK_EQ(fds(), fd0);
    CHECK_EQ(sag_handle_count(), h0);
    sag_error_free(err);
}

/* ===== A new thread that waits while no descriptor is left ============== */

/* A thread's first wait makes the thread's wake eventfd; with none left the
 * wait must still end with a status (the read timeout, or EMFILE), not hang
 * or crash. */
struct waiter {
    sag_socket *s;
    int status, err_no;
};

static void *waiter_main(void *arg) {
    struct waiter *w = arg;
    uint8_t b[8];
    size_t n = 0;
    w->status = sag_socket_recv(w->s, b, 0, sizeof b, 0, &n, NULL);
    w->err_no = sag_error_errno(sag_last_error());
    return NULL;
}

static void test_wait_at_emfile(void) {
    section("a new thread's first blocking wait at EMFILE");
    sag_error *err = NULL;
    sag_error_new(&err);
    int fd0 = fds();
    sag_socket *srv = NULL, *a = NULL;
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &srv, err), SAG_OK);
    if (srv == NULL)
        return;
    sag_socket *c = client(local_port(srv));
    CHECK_ST(sag_socket_accept(srv, &a, err), SAG_OK);
    CHECK(c != NULL && a != NULL);
    CHECK_ST(sag_socket_set_read_timeout(a, 300000, NULL), SAG_OK);
    CHECK_EQ(exhaust(err), SAG_E_SOCKET);
    struct waiter w = {.s = a};
    pthread_t t;
    pthread_create(&t, NULL, waiter_main, &w);
    CHECK_EQ(join_within(t, 10000), 0);
    printf("  recv in a new thread: %s (errno %d)\n", sag_status_name(w.status), w.err_no);
    CHECK(w.status == SAG_E_READ_TIMEOUT ||
          (w.status == SAG_E_SOCKET && w.err_no == EMFILE));
    /* With a descriptor free again, the data gets through to a new thread. */
    release(2);
    size_t n = 0;
    CHECK_ST(sag_socket_send(c, (const uint8_t *)"x", 0, 1, 0, &n, NULL), SAG_OK);
    w.status = -100;
    pthread_create(&t, NULL, waiter_main, &w);
    CHECK_EQ(join_within(t, 10000), 0);
    CHECK_EQ(w.status, SAG_OK);
    release_all();
    sag_socket_free(a);
    sag_socket_free(c);
    sag_socket_free(srv);
    CHECK_EQ(fds(), fd0);
    sag_error_free(err);
}

int main(void) {
    alarm(60);
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct rlimit rl = {LIMIT, LIMIT};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("setrlimit");
        return 2;
    }
    /* This thread's last-error object and wake descriptor exist before the
     * counts start (they live as long as the thread). */
    sag_socket_close(NULL, NULL);
    sag_socket *warm = NULL, *none = NULL;
    if (sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &warm, NULL) == SAG_OK) {
        sag_socket_set_read_timeout(warm, 1000, NULL);
        sag_socket_accept(warm, &none, NULL); /* a wait: READ_TIMEOUT */
        sag_socket_free(warm);
    }
    printf("RLIMIT_NOFILE %d; %d descriptors open at start\n", LIMIT, fds());

    test_makers();
    test_accept();
    test_wait_at_emfile();
    summary_and_exit();
}
