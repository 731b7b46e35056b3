/* bench_lines.h: the line reading that bench_ports.c times and cost.c counts
 * (one measurement, two reports). A peer thread accepts one connection on
 * bench_util.h's raw listener and sends n_lines lines of LINE_LEN bytes (39
 * printable characters and LF) in sends of LINE_CHUNK_LINES lines; the
 * reader connects and reads every line with getline(3) on fdopen(3) (raw),
 * sag_port_get_bytes_line (a binary port) or sag_port_get_line (a UTF-8 /
 * eol lf transcoded port). Include after bench_util.h and bench_sag.h, with
 * pthread.h. */
#ifndef SAG_BENCH_LINES_H
#define SAG_BENCH_LINES_H

#define LINE_LEN 40           /* bytes per line, LF included */
#define LINE_CHUNK_LINES 1638 /* lines per send: 65,520 bytes */

enum line_reader { LINES_RAW, LINES_BINARY, LINES_TEXT };

static long n_lines; /* lines per measurement */

static void *line_sender(void *arg)
{
    static uint8_t chunk[LINE_CHUNK_LINES * LINE_LEN];
    size_t total = (size_t)n_lines * LINE_LEN, off;
    int fd = raw_accept();
    (void)arg;
    for (int l = 0; l < LINE_CHUNK_LINES; l++) {
        uint8_t *p = chunk + (size_t)l * LINE_LEN;
        for (int c = 0; c < LINE_LEN - 1; c++)
            p[c] = (uint8_t)('!' + (l * 7 + c) % 90);
        p[LINE_LEN - 1] = '\n';
    }
    for (off = 0; off < total; off += sizeof chunk) {
        size_t n = total - off < sizeof chunk ? total - off : sizeof chunk;
        raw_send_all(fd, chunk, n);
    }
    close(fd);
    return NULL;
}

static long lines_of_file(FILE *f, uint64_t *bytes)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lines = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            n--;
        *bytes += (uint64_t)n;
        lines++;
    }
    if (ferror(f))
        die_errno("getline");
    free(line);
    return lines;
}

static long lines_of_port(sag_port *p, int text, uint64_t *bytes)
{
    long lines = 0;
    for (;;) {
        const char *line;
        const uint8_t *bytes_line;
        size_t len;
        if (text) {
            SAG(sag_port_get_line(p, &line, &len, err));
            if (line == NULL)
                return lines;
        } else {
            SAG(sag_port_get_bytes_line(p, &bytes_line, &len, err));
            if (bytes_line == NULL)
                return lines;
        }
        *bytes += len;
        lines++;
    }
}

/* Dies unless who read every line and byte that was sent. */
static void check_lines(const char *who, long lines, uint64_t bytes)
{
    if (lines != n_lines || bytes != (uint64_t)n_lines * (LINE_LEN - 1)) {
        fprintf(stderr, BENCH_NAME ": %s read %ld lines / %llu bytes, "
                "expected %ld / %llu\n", who, lines,
                (unsigned long long)bytes, n_lines,
                (unsigned long long)n_lines * (LINE_LEN - 1));
        exit(2);
    }
}

/* One run: the sender started, every line read by reader; the count of
 * lines, their bytes without LF in *bytes, and in *secs (when not NULL) the
 * seconds from connecting to the last line. */
static long read_lines(enum line_reader reader, uint64_t *bytes, double *secs)
{
    pthread_t th;
    double t0, t1;
    long lines;
    *bytes = 0;
    if (pthread_create(&th, NULL, line_sender, NULL))
        die("pthread_create");
    t0 = now();
    if (reader == LINES_RAW) {
        FILE *f = fdopen(raw_connect(), "r");
        if (f == NULL)
            die_errno("fdopen");
        lines = lines_of_file(f, bytes);
        t1 = now();
        fclose(f);
    } else {
        sag_socket *s = lib_connect();
        sag_port *p = NULL, *t = NULL;
        SAG(sag_socket_port(s, 1, &p, err));
        if (reader == LINES_TEXT)
            SAG(sag_transcoded_port(p, SAG_CODEC_UTF8, SAG_EOL_LF,
                                    SAG_ERROR_MODE_REPLACE, &t, err));
        lines = lines_of_port(t ? t : p, t != NULL, bytes);
        t1 = now();
        sag_port_free(t);
        sag_port_free(p);
        sag_socket_free(s);
    }
    pthread_join(th, NULL);
    if (secs)
        *secs = t1 - t0;
    return lines;
}

#endif
