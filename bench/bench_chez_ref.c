/* bench_chez_ref.c: the C side of the Chez binding's benchmark
 * (bench/run_chez.sh). Each mode does what bench/bench_chez.sps does in
 * Chez Scheme, through libsagsocket's C ABI, and prints the elapsed seconds.
 *   bench_chez_ref bulk BYTES       64 KiB sends to a receiving thread
 *   bench_chez_ref pingpong N       N 1-byte round trips with an echo thread
 *   bench_chez_ref getline FILE     getline(3) over FILE (prints lines too)
 * Built also as a shared object (run_chez.sh), whose bench_chez_ref_echo
 * and bench_chez_ref_pingpong bench_chez.sps calls in its `interleaved'
 * mode: the C side's ping-pong run in blocks inside the Chez process.
 */
#define _POSIX_C_SOURCE 200809L
#include <sagsocket.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK 65536

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void check(int st, const char *what)
{
    if (st != SAG_OK) {
        fprintf(stderr, "bench_chez_ref: %s: %s\n", what, sag_error_message(sag_last_error()));
        exit(2);
    }
}

static void pair(sag_socket **c, sag_socket **s)
{
    sag_socket *server;
    sag_socket_info *info;
    int port;
    char service[16];
    check(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &server, NULL), "server");
    check(sag_socket_get_info(server, &info, NULL), "info");
    check(sag_socket_info_port(info, &port, NULL), "port");
    snprintf(service, sizeof service, "%d", port);
    check(sag_make_client_socket("127.0.0.1", service, SAG_AF_INET, SAG_SOCK_STREAM,
                                 SAG_AI_V4MAPPED, 0, c, NULL), "connect");
    check(sag_socket_accept(server, s, NULL), "accept");
    sag_socket_info_free(info);
    sag_socket_free(server);
}

static void *bulk_receiver(void *p)
{
    sag_socket *s = p;
    uint8_t *buf = malloc(CHUNK);
    size_t n;
    do
        check(sag_socket_recv(s, buf, 0, CHUNK, 0, &n, NULL), "recv");
    while (n > 0);
    free(buf);
    return NULL;
}

static void *echo(void *p)
{
    sag_socket *s = p;
    uint8_t b;
    size_t n;
    for (;;) {
        check(sag_socket_recv(s, &b, 0, 1, 0, &n, NULL), "echo recv");
        if (n == 0)
            return NULL;
        check(sag_socket_send(s, &b, 0, 1, 0, &n, NULL), "echo send");
    }
}

/* Starts a detached thread echoing each byte s receives, until its end. */
int bench_chez_ref_echo(sag_socket *s)
{
    pthread_t th;
    int e = pthread_create(&th, NULL, echo, s);
    if (e == 0)
        pthread_detach(th);
    return e;
}

/* rounds 1-byte round trips over c, whose peer echoes. */
void bench_chez_ref_pingpong(sag_socket *c, long rounds)
{
    uint8_t b = 1;
    size_t n;
    long i;
    for (i = 0; i < rounds; i++) {
        check(sag_socket_send(c, &b, 0, 1, 0, &n, NULL), "send");
        check(sag_socket_recv(c, &b, 0, 1, 0, &n, NULL), "recv");
    }
}

int main(int argc, char **argv)
{
    sag_socket *c, *s;
    pthread_t th;
    double t0, t1;
    size_t n;
    if (argc != 3) {
        fprintf(stderr, "usage: bench_chez_ref bulk BYTES | pingpong N | getline FILE\n");
        return 2;
    }
    if (strcmp(argv[1], "bulk") == 0) {
        long long total = atoll(argv[2]), left;
        uint8_t *buf = calloc(1, CHUNK);
        pair(&c, &s);
        pthread_create(&th, NULL, bulk_receiver, s);
        t0 = now();
        for (left = total; left > 0; left -= CHUNK)
            check(sag_socket_send(c, buf, 0, CHUNK, 0, &n, NULL), "send");
        check(sag_socket_shutdown(c, SAG_SHUT_WR, NULL), "shutdown");
        pthread_join(th, NULL);
        t1 = now();
    } else if (strcmp(argv[1], "pingpong") == 0) {
        long rounds = atol(argv[2]);
        pair(&c, &s);
        pthread_create(&th, NULL, echo, s);
        bench_chez_ref_pingpong(c, 200); /* warm-up */
        t0 = now();
        bench_chez_ref_pingpong(c, rounds);
        t1 = now();
        check(sag_socket_shutdown(c, SAG_SHUT_WR, NULL), "shutdown");
        pthread_join(th, NULL);
    } else if (strcmp(argv[1], "getline") == 0) {
        FILE *f = fopen(argv[2], "r");
        char *line = NULL;
        size_t cap = 0;
        long lines = 0;
        if (f == NULL)
            return 2;
        t0 = now();
        while (getline(&line, &cap, f) >= 0)
            lines++;
        t1 = now();
        fclose(f);
        free(line);
        printf("%.6f %ld\n", t1 - t0, lines);
        return 0;
    } else {
        return 2;
    }
    sag_socket_free(c);
    sag_socket_free(s);
    printf("%.6f\n", t1 - t0);
    return 0;
}
