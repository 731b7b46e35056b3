/* soak.c: many cycles of the library's commonest lifetimes, watching that
 * nothing accumulates. A report, not a test (make soak).
 *
 *   1. connect/accept/close: make-client-socket to a listening socket on
 *      127.0.0.1, accept, one byte each way, close and free both;
 *   2. port open/close: on one connected pair, a binary port and a textual
 *      port over it, a line put and flushed, both closed and freed (the peer
 *      reads the line).
 *
 * Every CHECKPOINT cycles it prints the resident set size, the descriptors
 * open (/proc/self/fd) and the live handles (sag_handle_count), and at the
 * end how each moved from cycle 1,000 (the process warmed up: the
 * allocator's arenas and the socket's port buffers made) to the last
 * checkpoint. The client side closes with SO_LINGER 0 (a reset), so the
 * million connections leave no TIME_WAIT behind to exhaust the ephemeral
 * ports; the library's side of each close is the same either way.
 *
 *   soak [CONNECT_CYCLES [PORT_CYCLES]]   (1000000 and 100000 by default)
 */
#define _GNU_SOURCE
#include <sagsocket.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHECKPOINT 100000
#define WARM 1000 /* the cycles after which the process counts as warmed up */

static long rss_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct sample {
    long rss;
    int fds, handles;
};

static struct sample sample(void) {
    struct sample s = {rss_kib(), open_fds(), sag_handle_count()};
    return s;
}

static void die(const char *what) {
    fprintf(stderr, "soak: %s failed: %s\n", what, sag_error_message(sag_last_error()));
    exit(1);
}

/* After cycle i of a loop named what: at WARM the first sample, every
 * CHECKPOINT the latest, each printed. */
static void checkpoint(const char *what, long i, struct sample *first, struct sample *s) {
    if (i == WARM) {
        *first = sample();
        printf("%s %7ld: RSS %ld KiB, %d descriptors, %d live handles (warm)\n", what, i,
               first->rss, first->fds, first->handles);
    }
    if (i % CHECKPOINT == 0) {
        *s = sample();
        printf("%s %7ld: RSS %ld KiB, %d descriptors, %d live handles\n", what, i, s->rss,
               s->fds, s->handles);
    }
}

static void report(const char *name, struct sample *first, struct sample *last, long cycles,
                   double secs) {
    printf("%s: %ld cycles in %.1f s (%.0f/s); from cycle 1000 to the last: "
           "RSS %+ld KiB, descriptors %+d, live handles %+d\n",
           name, cycles, secs, cycles / secs, last->rss - first->rss, last->fds - first->fds,
           last->handles - first->handles);
}

int main(int argc, char **argv) {
    long connects = argc > 1 ? atol(argv[1]) : 1000000;
    long ports = argc > 2 ? atol(argv[2]) : 100000;
    setvbuf(stdout, NULL, _IOLBF, 0);
    sag_socket *srv = NULL;
    if (sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &srv, NULL) != SAG_OK)
        die("make-server-socket");
    sag_socket_info *info = NULL;
    int port = 0;
    char svc[16];
    if (sag_socket_get_info(srv, &info, NULL) != SAG_OK ||
        sag_socket_info_port(info, &port, NULL) != SAG_OK)
        die("socket-info");
    sag_socket_info_free(info);
    snprintf(svc, sizeof svc, "%d", port);
    sag_socket_set_read_timeout(srv, 10000000, NULL);

    struct sample start = sample(), first = start, s = start;
    printf("start: RSS %ld KiB, %d descriptors, %d live handles\n", start.rss, start.fds,
           start.handles);
    const struct linger reset = {1, 0};
    double t0 = now_s();
    for (long i = 1; i <= connects; i++) {
        sag_socket *c = NULL, *a = NULL;
        uint8_t b = (uint8_t)i;
        size_t n = 0;
        if (sag_make_client_socket("127.0.0.1", svc, SAG_AF_INET, SAG_SOCK_STREAM,
                                   SAG_AI_NUMERICHOST | SAG_AI_NUMERICSERV, 0, &c,
                                   NULL) != SAG_OK)
            die("make-client-socket");
        if (sag_socket_accept(srv, &a, NULL) != SAG_OK)
            die("accept");
        if (sag_socket_send(c, &b, 0, 1, 0, &n, NULL) != SAG_OK ||
            sag_socket_recv(a, &b, 0, 1, 0, &n, NULL) != SAG_OK || n != 1 ||
            sag_socket_send(a, &b, 0, 1, 0, &n, NULL) != SAG_OK ||
            sag_socket_recv(c, &b, 0, 1, 0, &n, NULL) != SAG_OK || n != 1)
            die("one byte each way");
        sag_socket_setsockopt_bytes(c, SAG_SOL_SOCKET, SAG_SO_LINGER, (const uint8_t *)&reset, 0,
                                    sizeof reset, NULL);
        sag_socket_close(c, NULL);
        sag_socket_free(c);
        sag_socket_close(a, NULL);
        sag_socket_free(a);
        checkpoint("connect", i, &first, &s);
    }
    if (connects >= CHECKPOINT)
        report("connect/accept/close", &first, &s, connects, now_s() - t0);

    /* Ports over one connected pair. */
    sag_socket *c = NULL, *a = NULL;
    if (sag_make_client_socket("127.0.0.1", svc, SAG_AF_INET, SAG_SOCK_STREAM,
                               SAG_AI_NUMERICHOST | SAG_AI_NUMERICSERV, 0, &c, NULL) != SAG_OK ||
        sag_socket_accept(srv, &a, NULL) != SAG_OK)
        die("the pair for ports");
    sag_socket_set_read_timeout(a, 10000000, NULL);
    first = s = sample();
    t0 = now_s();
    for (long i = 1; i <= ports; i++) {
        sag_port *bin = NULL, *text = NULL;
        uint8_t line[3];
        if (sag_socket_port(c, 0, &bin, NULL) != SAG_OK ||
            sag_transcoded_port(bin, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_REPLACE, &text,
                                NULL) != SAG_OK)
            die("socket-port, transcoded-port");
        if (sag_port_put_string(text, "p\n", 0, 2, NULL) != SAG_OK ||
            sag_port_flush(text, NULL) != SAG_OK || sag_port_close(text, NULL) != SAG_OK)
            die("put-string, flush, close");
        sag_port_free(text);
        sag_port_free(bin);
        size_t got = 0;
        while (got < 2) {
            size_t n = 0;
            if (sag_socket_recv(a, line, got, 2 - got, 0, &n, NULL) != SAG_OK || n == 0)
                die("the peer's read");
            got += n;
        }
        checkpoint("ports  ", i, &first, &s);
    }
    if (ports >= CHECKPOINT)
        report("port open/close", &first, &s, ports, now_s() - t0);
    sag_socket_free(c);
    sag_socket_free(a);
    sag_socket_free(srv);
    struct sample end = sample();
    printf("end: RSS %ld KiB, %d descriptors, %d live handles (start: %d, %d)\n", end.rss,
           end.fds, end.handles, start.fds, start.handles);
    return 0;
}
