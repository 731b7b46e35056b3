/* bench_luajit_ref.c: the C side of bench/run_luajit.sh. The same steps as
 * bench/bench_luajit.lua's "lines" workload, through the C ABI, so that the
 * two compare the host and not the work:
 *   a server socket on 127.0.0.1 port 0 (sag_make_server_socket), a forked
 *   child that connects and sends N lines of 40 bytes in 65,520-byte
 *   sag_socket_send calls and exits; the parent accepts, reads every line
 *   with sag_port_get_line on a UTF-8 / eol lf transcoded port and prints
 *   the seconds from accept to end of file, wall clock and the process's CPU
 *   time (clock(3)).
 *   cc -O2 bench_luajit_ref.c $(pkg-config --cflags --libs sagsocket)
 *   ./bench_luajit_ref lines N
 * A report's helper, not a test: it exits non-zero only when something
 * fails or the lines that arrive are wrong. */
#define _GNU_SOURCE
#include <sagsocket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_LEN 40
#define CHUNK_LINES 1638

static sag_error *err;

static void check(int st, const char *what)
{
    if (st != SAG_OK) {
        fprintf(stderr, "bench_luajit_ref: %s: %s\n", what, sag_error_message(err));
        exit(2);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "lines") != 0) {
        fprintf(stderr, "usage: bench_luajit_ref lines N\n");
        return 2;
    }
    long n = atol(argv[2]);
    sag_error_new(&err);
    sag_socket *srv, *conn;
    sag_socket_info *info;
    int port;
    check(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &srv, err), "server");
    check(sag_socket_get_info(srv, &info, err), "info");
    check(sag_socket_info_port(info, &port, err), "port");
    pid_t pid = fork();
    if (pid == 0) {
        static uint8_t chunk[CHUNK_LINES * LINE_LEN];
        char service[16];
        sag_socket *c;
        for (int i = 0; i < CHUNK_LINES; i++) {
            memset(chunk + i * LINE_LEN, 'a' + i % 26, LINE_LEN - 1);
            chunk[i * LINE_LEN + LINE_LEN - 1] = '\n';
        }
        snprintf(service, sizeof service, "%d", port);
        check(sag_make_client_socket("127.0.0.1", service, SAG_AF_INET, SAG_SOCK_STREAM,
                                     0, 0, &c, err), "connect");
        for (long left = n; left > 0; left -= CHUNK_LINES) {
            size_t k = (size_t)(left < CHUNK_LINES ? left : CHUNK_LINES), sent;
            check(sag_socket_send(c, chunk, 0, k * LINE_LEN, 0, &sent, err), "send");
        }
        sag_socket_free(c);
        _exit(0);
    }
    check(sag_socket_accept(srv, &conn, err), "accept");
    double t0 = now();
    clock_t c0 = clock();
    sag_port *p, *t;
    check(sag_socket_port(conn, 1, &p, err), "port");
    check(sag_transcoded_port(p, SAG_CODEC_UTF8, SAG_EOL_LF, SAG_ERROR_MODE_REPLACE, &t, err),
          "transcoded");
    long lines = 0;
    unsigned long long bytes = 0;
    for (;;) {
        const char *d;
        size_t len;
        check(sag_port_get_line(t, &d, &len, err), "get-line");
        if (d == NULL)
            break;
        bytes += len;
        lines++;
    }
    double t1 = now();
    clock_t c1 = clock();
    waitpid(pid, NULL, 0);
    if (lines != n || bytes != (unsigned long long)n * (LINE_LEN - 1)) {
        fprintf(stderr, "bench_luajit_ref: %ld lines, %llu bytes\n", lines, bytes);
        return 2;
    }
    printf("%.6f %.6f\n", t1 - t0, (double)(c1 - c0) / CLOCKS_PER_SEC);
    sag_port_free(t);
    sag_port_free(p);
    sag_socket_free(conn);
    sag_socket_free(srv);
    sag_socket_info_free(info);
    sag_error_free(err);
    return 0;
}
