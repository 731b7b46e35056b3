/* bench_sag.h: for a bench that keeps one error object of the library in
 * `err` (bench_ports.c, cost.c): dying with the library's message when a
 * call fails, and a client socket to bench_util.h's raw listener. Include
 * after sagsocket.h and bench_util.h. */
#ifndef SAG_BENCH_SAG_H
#define SAG_BENCH_SAG_H

static sag_error *err; /* the main thread's error object */

static inline void die_sag(const char *what, int st)
{
    fprintf(stderr, BENCH_NAME ": %s: %s [%s]\n", what,
            err ? sag_error_message(err) : sag_status_message(st),
            sag_status_name(st));
    exit(2);
}

#define SAG(call)                                                              \
    do {                                                                       \
        int st_ = (call);                                                      \
        if (st_ != SAG_OK)                                                     \
            die_sag(#call, st_);                                               \
    } while (0)

/* A client socket of the library to the raw listener. */
static inline sag_socket *lib_connect(void)
{
    sag_socket *s = NULL;
    SAG(sag_make_client_socket("127.0.0.1", listen_service, SAG_AF_INET,
                               SAG_SOCK_STREAM, SAG_AI_NUMERICHOST, 0, &s,
                               err));
    return s;
}

#endif
