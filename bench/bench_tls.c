/* bench_tls.c: libsagtls on loopback, a report (never a test).
 *
 *   bench_tls CERTS bulk BYTES      one TLS 1.3 connection, our client to our
 *                                   server (a thread): BYTES sent in 256 KiB
 *                                   sends, counted by the server; prints MB/s
 *   bench_tls CERTS handshakes N    N connections one after another, each a
 *                                   full verified TLS 1.3 handshake, a byte
 *                                   each way and close; prints handshakes/s
 * CERTS is a folder made by Tests/tls/certs.sh.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sagtls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char certs[512];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *path(const char *name) {
    static char buf[4][600];
    static int i;
    char *p = buf[i++ & 3];
    snprintf(p, 600, "%s/%s", certs, name);
    return p;
}

static void die(const char *what, int st) {
    fprintf(stderr, "bench_tls: %s: %s (%s)\n", what, sag_status_name(st), sag_error_message(sag_last_error()));
    exit(1);
}
#define OK(call, what) do { int st_ = (call); if (st_ != SAG_OK) die(what, st_); } while (0)

typedef struct {
    sag_socket *listener;
    sagtls_config *cfg;
    int mode; /* 0 bulk, 1 handshakes */
    long long count;
    long long got;
} server;

static void *server_main(void *arg) {
    server *sv = arg;
    static uint8_t buf[1 << 18];
    for (long long i = 0; i < (sv->mode ? sv->count : 1); i++) {
        sag_socket *c = NULL;
        sagtls_socket *t = NULL;
        OK(sag_socket_accept(sv->listener, &c, NULL), "accept");
        OK(sagtls_wrap(c, sv->cfg, NULL, &t, NULL), "server wrap");
        OK(sagtls_handshake(t, NULL), "server handshake");
        for (;;) {
            size_t k = 0;
            OK(sagtls_recv(t, buf, 0, sizeof buf, 0, &k, NULL), "server recv");
            if (k == 0) break;
            sv->got += (long long)k;
            if (sv->mode) OK(sagtls_send(t, buf, 0, 1, 0, &k, NULL), "server send");
        }
        sagtls_free(t);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: bench_tls CERTS bulk BYTES | CERTS handshakes N\n");
        return 2;
    }
    snprintf(certs, sizeof certs, "%s", argv[1]);
    int handshakes = strcmp(argv[2], "handshakes") == 0;
    long long n = atoll(argv[3]);
    server sv = {0};
    sv.mode = handshakes;
    sv.count = n;
    OK(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &sv.listener, NULL), "listen");
    sag_socket_info *info = NULL;
    int port = 0;
    OK(sag_socket_get_info(sv.listener, &info, NULL), "info");
    sag_socket_info_port(info, &port, NULL);
    sag_socket_info_free(info);
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    OK(sagtls_config_new(SAGTLS_SERVER, &sv.cfg, NULL), "server config");
    OK(sagtls_config_use_certificate_files(sv.cfg, path("server.pem"), path("server.key"), NULL), "server cert");
    sagtls_config *cc = NULL;
    OK(sagtls_config_new(SAGTLS_CLIENT, &cc, NULL), "client config");
    OK(sagtls_config_add_ca_file(cc, path("ca.pem"), NULL), "ca");
    pthread_t th;
    pthread_create(&th, NULL, server_main, &sv);
    static uint8_t chunk[1 << 18];
    memset(chunk, 'x', sizeof chunk);
    double t0 = now();
    for (long long i = 0; i < (handshakes ? n : 1); i++) {
        sag_socket *s = NULL;
        sagtls_socket *t = NULL;
        size_t k;
        OK(sag_make_client_socket("127.0.0.1", service, SAG_AF_INET, SAG_SOCK_STREAM, SAG_AI_NUMERICHOST, 0, &s, NULL),
           "connect");
        OK(sagtls_wrap(s, cc, "localhost", &t, NULL), "client wrap");
        OK(sagtls_handshake(t, NULL), "client handshake");
        if (handshakes) {
            OK(sagtls_send(t, chunk, 0, 1, 0, &k, NULL), "client send");
            OK(sagtls_recv(t, chunk, 0, 1, 0, &k, NULL), "client recv");
        } else {
            for (long long sent = 0; sent < n; sent += (long long)sizeof chunk) {
                size_t len = n - sent < (long long)sizeof chunk ? (size_t)(n - sent) : sizeof chunk;
                OK(sagtls_send(t, chunk, 0, len, 0, &k, NULL), "client send");
            }
        }
        OK(sagtls_shutdown(t, NULL), "shutdown");
        if (!handshakes) {
            /* the server's close_notify comes when it has read everything */
            while (sagtls_recv(t, chunk, 0, 1, 0, &k, NULL) == SAG_OK && k > 0) {
            }
        }
        sagtls_free(t);
    }
    pthread_join(th, NULL);
    double dt = now() - t0;
    if (handshakes) {
        printf("%.1f\n", (double)n / dt);
    } else {
        if (sv.got != n) {
            fprintf(stderr, "bench_tls: the server got %lld of %lld bytes\n", sv.got, n);
            return 1;
        }
        printf("%.1f\n", (double)n / dt / 1e6);
    }
    sagtls_config_free(cc);
    sagtls_config_free(sv.cfg);
    sag_socket_free(sv.listener);
    return 0;
}
