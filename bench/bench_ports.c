/* bench_ports.c: the socket ports of libsagsocket through the C ABI against
 * the same work done with C's stdio and raw POSIX calls, in one process, in
 * the same run. A report, not a test: it exits 0 whether or not the goals
 * are met (non-zero only when something fails outright or the data that
 * arrives is wrong).
 *
 *   cc -O2 bench_ports.c $(pkg-config --cflags --libs sagsocket) -pthread
 *   BENCH_SCALE=0.1 ./bench_ports     (sizes x 0.1; default 1)
 *   BENCH_ROUNDS=9 ./bench_ports      (rounds; default and minimum 5)
 *   BENCH_VERBOSE=1 ./bench_ports     (every round's values on stderr)
 *
 * Each round runs every measurement, alternating which side goes first
 * (even rounds raw first, odd rounds lib first). The table shows the median
 * of each side and the median of the per-round ratios lib/raw.
 *
 *   lines       1,000,000 lines of 40 bytes (39 characters and LF), sent by
 *               a peer thread over loopback TCP in 65,520-byte sends and read
 *               with sag_port_get_bytes_line (binary get-line) and with
 *               sag_port_get_line (a UTF-8 / eol lf transcoded port), against
 *               fdopen(3) + getline(3) on a raw socket (bench_lines.h); lines/s
 *               (goal lib/raw >= 1.0 binary, >= 0.9 text)
 *   put         1 GiB written in 1 KiB sag_port_put_bytevector calls, then
 *               sag_port_flush, against 1 KiB send(2) calls; a receiver
 *               thread drains with 1 MiB recvs; throughput. Two rows: the
 *               port in buffer mode none, the default (each put is one
 *               send: goal lib/raw >= 0.95), and in block (goal >= 3.0)
 *   put, buffered against buffered
 *               the same 1 GiB of 1 KiB fwrite(3) calls into a FILE on the
 *               raw socket with a 64 KiB buffer of its own (setvbuf
 *               _IOFBF), then fflush: what C's own buffering makes of the
 *               same writes on the same loopback. The block row against
 *               send(2) measures how much faster loopback carries 64 KiB
 *               sends than 1 KiB ones as much as it measures the port; this
 *               row sets the port's buffering against buffering (goal
 *               lib/raw >= 0.95; a report, as the rest)
 *
 * Both sides connect the same way to the same raw listener, with
 * TCP_NODELAY on (the library turns it on for every connected socket).
 */
#define _GNU_SOURCE /* accept4, getline */

#define BENCH_NAME "bench_ports"

#include <sagsocket.h>

#include <pthread.h>

#include "bench_util.h"
#include "bench_sag.h"
#include "bench_lines.h"

#define PUT_CHUNK 1024         /* the writers' call size */
#define DRAIN_CHUNK (1024 * 1024)

/* ---- sizes -------------------------------------------------------------- */
static uint64_t n_put;   /* bytes per put measurement, a multiple of 1 KiB */
static uint8_t put_buf[PUT_CHUNK];

/* ---- lines (bench_lines.h) ---------------------------------------------- */
/* lines/s of one reader */
static double lines_rate(enum line_reader reader, const char *who)
{
    uint64_t bytes;
    double secs;
    long lines = read_lines(reader, &bytes, &secs);
    check_lines(who, lines, bytes);
    return (double)lines / secs;
}

/* fdopen + getline on a raw socket; sag_port_get_bytes_line (binary) or
 * sag_port_get_line (text) */
static double lines_raw(void) { return lines_rate(LINES_RAW, "raw getline"); }
static double lines_lib_binary(void)
{
    return lines_rate(LINES_BINARY, "lib binary get-line");
}
static double lines_lib_text(void)
{
    return lines_rate(LINES_TEXT, "lib text get-line");
}

/* ---- put ---------------------------------------------------------------- */
/* The receiver: accepts one connection, drains n_put bytes with 1 MiB
 * recvs, notes when the last byte came. */
typedef struct {
    double end;
    uint64_t got;
} drain_result;

static void *drainer(void *arg)
{
    drain_result *r = arg;
    uint8_t *buf = malloc(DRAIN_CHUNK);
    int fd = raw_accept();
    if (buf == NULL)
        die_errno("malloc");
    r->got = 0;
    while (r->got < n_put) {
        ssize_t n = recv(fd, buf, DRAIN_CHUNK, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_errno("recv");
        }
        if (n == 0)
            break;
        r->got += (uint64_t)n;
    }
    r->end = now();
    close(fd);
    free(buf);
    return NULL;
}

static void check_drained(const char *who, const drain_result *r)
{
    if (r->got != n_put) {
        fprintf(stderr, "bench_ports: %s: receiver got %llu of %llu bytes\n",
                who, (unsigned long long)r->got, (unsigned long long)n_put);
        exit(2);
    }
}

/* bytes/s: 1 KiB send(2) calls */
static double put_raw(void)
{
    pthread_t th;
    drain_result r;
    double t0;
    uint64_t off;
    int fd;

    if (pthread_create(&th, NULL, drainer, &r))
        die("pthread_create");
    fd = raw_connect();
    t0 = now();
    for (off = 0; off < n_put; off += PUT_CHUNK)
        raw_send_all(fd, put_buf, PUT_CHUNK);
    pthread_join(th, NULL);
    close(fd);
    check_drained("raw send", &r);
    return (double)n_put / (r.end - t0);
}

/* bytes/s: 1 KiB fwrite(3) calls into a FILE with a 64 KiB buffer, then
 * fflush */
static double put_stdio(void)
{
    pthread_t th;
    drain_result r;
    double t0;
    uint64_t off;
    FILE *f;
    static char fbuf[65536];

    if (pthread_create(&th, NULL, drainer, &r))
        die("pthread_create");
    f = fdopen(raw_connect(), "w");
    if (f == NULL || setvbuf(f, fbuf, _IOFBF, sizeof fbuf) != 0)
        die_errno("fdopen/setvbuf");
    t0 = now();
    for (off = 0; off < n_put; off += PUT_CHUNK)
        if (fwrite(put_buf, 1, PUT_CHUNK, f) != PUT_CHUNK)
            die_errno("fwrite");
    if (fflush(f) != 0)
        die_errno("fflush");
    pthread_join(th, NULL);
    fclose(f);
    check_drained("stdio fwrite", &r);
    return (double)n_put / (r.end - t0);
}

/* bytes/s: 1 KiB sag_port_put_bytevector calls, then sag_port_flush, on a
 * port in buffer mode `mode` */
static double put_lib(int mode)
{
    pthread_t th;
    drain_result r;
    double t0;
    uint64_t off;
    sag_socket *s;
    sag_port *p = NULL;

    if (pthread_create(&th, NULL, drainer, &r))
        die("pthread_create");
    s = lib_connect();
    SAG(sag_socket_port(s, 1, &p, err));
    SAG(sag_port_set_buffer_mode(p, mode, err));
    t0 = now();
    for (off = 0; off < n_put; off += PUT_CHUNK)
        SAG(sag_port_put_bytevector(p, put_buf, 0, PUT_CHUNK, err));
    SAG(sag_port_flush(p, err));
    pthread_join(th, NULL);
    sag_port_free(p);
    sag_socket_free(s);
    check_drained("lib put-bytevector", &r);
    return (double)n_put / (r.end - t0);
}
static double put_lib_none(void) { return put_lib(SAG_BUFFER_NONE); }
static double put_lib_block(void) { return put_lib(SAG_BUFFER_BLOCK); }

/* ---- settings ----------------------------------------------------------- */
static void parse_env(void)
{
    parse_common_env();
    n_lines = (long)(1000000.0 * scale);
    if (n_lines < 1000)
        n_lines = 1000;
    n_put = (uint64_t)(GIB * scale) / PUT_CHUNK * PUT_CHUNK;
    if (n_put < 1024 * PUT_CHUNK)
        n_put = 1024 * PUT_CHUNK;
}

/* ---- main --------------------------------------------------------------- */
enum { M_LINES_RAW, M_LINES_BIN, M_LINES_TEXT, M_PUT_RAW, M_PUT_LIB,
       M_PUT_NONE, M_PUT_STDIO, N_M };

static const struct table table = {44, 15, 11, 13};

int main(void)
{
    double *v[N_M], *ratio_bin, *ratio_text, *ratio_put, *ratio_none, *ratio_stdio;
    double m_bin, m_text, m_put, m_none, m_stdio;
    char rb[32], rt[32], rp[32], rn[32], rs[32], a[32], b[32];
    int r, i;

    parse_env();
    if (sag_version_number() != SAG_VERSION_NUMBER) {
        fprintf(stderr, "bench_ports: header %s but library %s\n",
                SAG_VERSION_STRING, sag_version_string());
        return 2;
    }
    if (sag_error_new(&err) != SAG_OK)
        die("sag_error_new");
    for (i = 0; i < N_M; i++)
        if ((v[i] = calloc((size_t)rounds, sizeof(double))) == NULL)
            die_errno("calloc");
    ratio_bin = calloc((size_t)rounds, sizeof(double));
    ratio_text = calloc((size_t)rounds, sizeof(double));
    ratio_put = calloc((size_t)rounds, sizeof(double));
    ratio_none = calloc((size_t)rounds, sizeof(double));
    ratio_stdio = calloc((size_t)rounds, sizeof(double));
    if (!ratio_bin || !ratio_text || !ratio_put || !ratio_none || !ratio_stdio)
        die_errno("calloc");

    for (i = 0; i < PUT_CHUNK; i++)
        put_buf[i] = (uint8_t)i;
    listener_setup();

    printf("sagsocket port bench: libsagsocket %s socket ports through the C "
           "ABI vs C stdio / raw POSIX calls, loopback TCP, same process and "
           "run.\n", sag_version_string());
    printf("  BENCH_SCALE=%g (%ld lines of %d bytes; %.3f GiB of puts), %d "
           "interleaved rounds (even rounds raw first, odd rounds lib "
           "first);\n  medians shown, ratio = median of per-round lib/raw.\n",
           scale, n_lines, LINE_LEN, (double)n_put / GIB, rounds);
    printf("  A report, not a test. Rerun: bash bench/run_ports.sh "
           "build/stage (after make stage; quick: BENCH_SCALE=0.1 bash "
           "bench/run_ports.sh build/stage)\n");
    fflush(stdout);

    for (r = 0; r < rounds; r++) {
        if (r % 2 == 0) {
            v[M_LINES_RAW][r] = lines_raw();
            v[M_LINES_BIN][r] = lines_lib_binary();
            v[M_LINES_TEXT][r] = lines_lib_text();
            v[M_PUT_RAW][r] = put_raw();
            v[M_PUT_STDIO][r] = put_stdio();
            v[M_PUT_LIB][r] = put_lib_block();
            v[M_PUT_NONE][r] = put_lib_none();
        } else {
            v[M_LINES_TEXT][r] = lines_lib_text();
            v[M_LINES_BIN][r] = lines_lib_binary();
            v[M_LINES_RAW][r] = lines_raw();
            v[M_PUT_NONE][r] = put_lib_none();
            v[M_PUT_LIB][r] = put_lib_block();
            v[M_PUT_STDIO][r] = put_stdio();
            v[M_PUT_RAW][r] = put_raw();
        }
        ratio_bin[r] = v[M_LINES_BIN][r] / v[M_LINES_RAW][r];
        ratio_text[r] = v[M_LINES_TEXT][r] / v[M_LINES_RAW][r];
        ratio_put[r] = v[M_PUT_LIB][r] / v[M_PUT_RAW][r];
        ratio_none[r] = v[M_PUT_NONE][r] / v[M_PUT_RAW][r];
        ratio_stdio[r] = v[M_PUT_LIB][r] / v[M_PUT_STDIO][r];
        fprintf(stderr, "bench_ports: round %d/%d (%s first): lib/raw binary "
                "get-line %.3f, text get-line %.3f, put none %.3f, put block "
                "%.3f, put block vs fwrite %.3f\n", r + 1, rounds,
                r % 2 == 0 ? "raw" : "lib", ratio_bin[r], ratio_text[r],
                ratio_none[r], ratio_put[r], ratio_stdio[r]);
        if (verbose)
            fprintf(stderr, "  raw getline %.2f, lib binary %.2f, lib text "
                    "%.2f Mlines/s; raw send %.0f, lib put %.0f, fwrite %.0f MiB/s\n",
                    v[M_LINES_RAW][r] / 1e6, v[M_LINES_BIN][r] / 1e6,
                    v[M_LINES_TEXT][r] / 1e6, v[M_PUT_RAW][r] / MIB,
                    v[M_PUT_LIB][r] / MIB, v[M_PUT_STDIO][r] / MIB);
    }

    m_bin = median(ratio_bin, rounds);
    m_text = median(ratio_text, rounds);
    m_put = median(ratio_put, rounds);
    m_none = median(ratio_none, rounds);
    m_stdio = median(ratio_stdio, rounds);
    range(ratio_bin, rounds, 2, rb, sizeof rb);
    range(ratio_text, rounds, 2, rt, sizeof rt);
    range(ratio_put, rounds, 2, rp, sizeof rp);
    range(ratio_none, rounds, 2, rn, sizeof rn);
    range(ratio_stdio, rounds, 2, rs, sizeof rs);

    table_head(&table);
    snprintf(a, sizeof a, "%.2f Ml/s", median(v[M_LINES_RAW], rounds) / 1e6);
    snprintf(b, sizeof b, "%.2f Ml/s", median(v[M_LINES_BIN], rounds) / 1e6);
    table_row(&table, "lines: binary get-line vs getline(3)", a, b, m_bin, rb,
              "lib/raw>=1.0", m_bin >= 1.0);
    snprintf(b, sizeof b, "%.2f Ml/s", median(v[M_LINES_TEXT], rounds) / 1e6);
    table_row(&table, "lines: text get-line (utf-8, lf) vs getline", a, b,
              m_text, rt, "lib/raw>=0.9", m_text >= 0.9);
    snprintf(a, sizeof a, "%.0f MiB/s", median(v[M_PUT_RAW], rounds) / MIB);
    snprintf(b, sizeof b, "%.0f MiB/s", median(v[M_PUT_NONE], rounds) / MIB);
    table_row(&table, "1 KiB put-bytevector (mode none) vs send", a, b,
              m_none, rn, "lib/raw>=0.95", m_none >= 0.95);
    snprintf(b, sizeof b, "%.0f MiB/s", median(v[M_PUT_LIB], rounds) / MIB);
    table_row(&table, "1 KiB put-bytevector (block) + flush vs send", a, b,
              m_put, rp, "lib/raw>=3.0", m_put >= 3.0);
    snprintf(a, sizeof a, "%.0f MiB/s", median(v[M_PUT_STDIO], rounds) / MIB);
    table_row(&table, "1 KiB put (block) + flush vs fwrite, 64 KiB", a, b,
              m_stdio, rs, "lib/raw>=0.95", m_stdio >= 0.95);
    printf("\nAll ratios are rates: higher is better for lib. Lines: %ld of "
           "%d bytes per measurement; puts: %.3f GiB.\n", n_lines, LINE_LEN,
           (double)n_put / GIB);

    for (i = 0; i < N_M; i++)
        free(v[i]);
    free(ratio_bin);
    free(ratio_text);
    free(ratio_put);
    free(ratio_none);
    free(ratio_stdio);
    close(listen_fd);
    sag_error_free(err);
    return 0;
}
