/* echo-client.c: a client for echo-server.c (the Sagittarius socket manual's
 * echo server), written in C against libsagsocket.
 *
 *   usage: echo-client [HOST [PORT]]      (defaults: 127.0.0.1 5000)
 *
 *   cc -std=c99 echo-client.c $(pkg-config --cflags --libs sagsocket)
 *
 * It behaves like a person at a terminal: it waits for the server's "> "
 * prompt, shows what the server sent, reads one line from standard input and
 * sends it. At the end of standard input it shuts down its sending side
 * (the server then sees end of file and closes), shows whatever the server
 * still sent, and closes the socket. Standard output reads as a transcript
 * of the session; the bytes the server sends are shown as they are, CRs
 * included.
 *
 * What a newcomer should notice about the ABI:
 *   - every fallible call returns an int status (SAG_OK is 0) and fills a
 *     caller-owned sag_error on failure;
 *   - results come back through out-parameters;
 *   - buffers are passed as (pointer, start, length);
 *   - every handle is freed with its own *_free function.
 */
#define _POSIX_C_SOURCE 200809L /* getline, isatty, fileno */

#include <sagsocket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "echo-client";

/* Prints why a call failed: the error object's message and the condition
 * name of the status, e.g. "&host-not-found". */
static int report(const char *what, int status, const sag_error *err)
{
    fprintf(stderr, "%s: %s failed: %s [%s]\n", prog, what,
            sag_error_message(err), sag_status_name(status));
    return status;
}

/* A growable receive buffer: data[0, len) holds what has not been shown. */
struct inbuf {
    uint8_t *data;
    size_t len, cap;
};

/* Receives once, appending to b. *eof is set when the server closed its
 * side (a receive of 0 bytes). */
static int receive_more(sag_socket *s, struct inbuf *b, int *eof,
                        sag_error *err)
{
    size_t received;
    int st;

    if (b->cap - b->len < 4096) {
        size_t ncap = b->cap ? b->cap * 2 : 8192;
        uint8_t *ndata = realloc(b->data, ncap);
        if (ndata == NULL) {
            fprintf(stderr, "%s: out of memory\n", prog);
            return SAG_E_NOMEM;
        }
        b->data = ndata;
        b->cap = ncap;
    }
    /* Write into the free part of the buffer: start = b->len. */
    st = sag_socket_recv(s, b->data, b->len, b->cap - b->len, 0, &received,
                         err);
    if (st != SAG_OK)
        return report("socket-recv", st, err);
    b->len += received;
    *eof = (received == 0);
    return SAG_OK;
}

/* 1 when the buffer ends with the prompt: "> " at the start of a line. */
static int ends_with_prompt(const struct inbuf *b)
{
    const uint8_t *p = b->data + b->len;
    return b->len >= 3 && p[-2] == '>' && p[-1] == ' ' &&
           (p[-3] == '\n' || p[-3] == '\r');
}

/* Shows the buffered bytes on stdout and empties the buffer. */
static void show(struct inbuf *b)
{
    fwrite(b->data, 1, b->len, stdout);
    fflush(stdout);
    b->len = 0;
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    const char *port = argc > 2 ? argv[2] : "5000";
    int typing = isatty(fileno(stdin)); /* the terminal echoes typed lines */
    struct inbuf in = {NULL, 0, 0};
    sag_error *err = NULL;
    sag_socket *sock = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    int st, eof = 0, exit_code = 0;

    if (argc > 3) {
        fprintf(stderr, "usage: %s [HOST [PORT]]\n", prog);
        return 2;
    }

    /* One error object for this thread, passed to every call. */
    st = sag_error_new(&err);
    if (st != SAG_OK) {
        fprintf(stderr, "%s: sag_error_new: %s\n", prog, sag_status_name(st));
        return 1;
    }

    /* (make-client-socket host port) with the Scheme defaults: AF_INET,
     * SOCK_STREAM, AI_V4MAPPED, protocol 0. It tries every address that
     * getaddrinfo returns; on failure the error carries node and service. */
    st = sag_make_client_socket(host, port, SAG_AF_INET, SAG_SOCK_STREAM,
                                SAG_AI_V4MAPPED, 0, &sock, err);
    if (st != SAG_OK) {
        report("make-client-socket", st, err);
        fprintf(stderr, "%s: (node %s, service %s)\n", prog,
                sag_error_node(err) ? sag_error_node(err) : "#f",
                sag_error_service(err) ? sag_error_service(err) : "#f");
        sag_error_free(err);
        return 1;
    }
    fprintf(stderr, "%s: connected to %s port %s\n", prog, host, port);

    for (;;) {
        ssize_t n;
        size_t sent;

        /* Wait for the prompt, then show everything up to it. */
        while (!eof && !ends_with_prompt(&in)) {
            st = receive_more(sock, &in, &eof, err);
            if (st != SAG_OK)
                goto fail;
        }
        show(&in);
        if (eof) {
            fprintf(stderr, "%s: the server closed the connection\n", prog);
            goto finish;
        }

        /* One line from the user (its '\n' is dropped; a '\r' stays and is
         * the server's business). */
        n = getline(&line, &line_cap, stdin);
        if (n < 0)
            break; /* end of input */
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (!typing) { /* show the line as a terminal would have */
            fwrite(line, 1, (size_t)n, stdout);
            fputc('\n', stdout);
            fflush(stdout);
        }
        /* Send the line and its line end. */
        st = sag_socket_send(sock, (const uint8_t *)line, 0, (size_t)n, 0,
                             &sent, err);
        if (st == SAG_OK)
            st = sag_socket_send(sock, (const uint8_t *)"\n", 0, 1, 0, &sent,
                                 err);
        if (st != SAG_OK) {
            report("socket-send", st, err);
            goto fail;
        }
    }

    /* End of input: the prompt line stays open, so end it, then
     * (socket-shutdown sock SHUT_WR) tells the server we are done sending;
     * we still read what it sends until it closes. */
    if (!typing)
        fputc('\n', stdout);
    st = sag_socket_shutdown(sock, SAG_SHUT_WR, err);
    if (st != SAG_OK) {
        report("socket-shutdown", st, err);
        goto fail;
    }
    while (!eof) {
        st = receive_more(sock, &in, &eof, err);
        if (st != SAG_OK)
            goto fail;
        show(&in);
    }
    goto finish;

fail:
    exit_code = 1;
finish:
    /* (socket-close sock), then release the handle */
    st = sag_socket_close(sock, err);
    if (st != SAG_OK) {
        report("socket-close", st, err);
        exit_code = 1;
    }
    sag_socket_free(sock);
    sag_error_free(err);
    free(line);
    free(in.data);
    return exit_code;
}
