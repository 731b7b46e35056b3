/* selector-echo-server.c: an echo server on one thread. A socket selector
 * holds the listening socket (tag 0) and every connection (tag 1); each
 * socket it reports is served once and added again.
 *   selector-echo-server [PORT [CLIENTS]]   (PORT 0: any free port; serves
 *   CLIENTS connections to their end, then exits; default: forever) */
#include <sagsocket.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    long left = argc > 2 ? atol(argv[2]) : -1;
    sag_error *err = NULL;
    sag_socket *server = NULL;
    sag_socket_info *info = NULL;
    sag_selector *sel = NULL;
    int port = 0;
    sag_error_new(&err);
    if (sag_make_server_socket(argc > 1 ? argv[1] : "5000", SAG_AF_INET, SAG_SOCK_STREAM, 0,
                               &server, err) != SAG_OK ||
        sag_selector_new(&sel, err) != SAG_OK ||
        sag_selector_add(sel, server, -1, 0, err) != SAG_OK) {
        fprintf(stderr, "selector-echo-server: %s\n", sag_error_message(err));
        return 1;
    }
    if (sag_socket_get_info(server, &info, err) == SAG_OK && info != NULL)
        sag_socket_info_port(info, &port, err);
    fprintf(stderr, "selector-echo-server: listening on port %d\n", port);
    while (left != 0) {
        sag_socket *ready[64];
        int64_t tags[64];
        int timed_out[64];
        size_t n = 0;
        if (sag_selector_wait(sel, -1, ready, tags, timed_out, 64, &n, err) != SAG_OK)
            break;
        for (size_t i = 0; i < n; i++) {
            uint8_t buf[4096];
            size_t got = 0, sent = 0;
            if (tags[i] == 0) { /* the listener: a connection is waiting */
                sag_socket *client = NULL;
                if (sag_socket_accept(server, &client, err) == SAG_OK)
                    sag_selector_add(sel, client, -1, 1, err);
                sag_selector_add(sel, server, -1, 0, err);
            } else if (sag_socket_recv(ready[i], buf, 0, sizeof buf, 0, &got, err) == SAG_OK &&
                       got > 0 &&
                       sag_socket_send(ready[i], buf, 0, got, 0, &sent, err) == SAG_OK) {
                sag_selector_add(sel, ready[i], -1, 1, err); /* wait for more */
            } else { /* end of file or failure */
                sag_socket_free(ready[i]);
                if (left > 0)
                    left--;
            }
        }
    }
    sag_socket_info_free(info);
    sag_selector_free(sel);
    sag_socket_free(server);
    sag_error_free(err);
    return 0;
}
