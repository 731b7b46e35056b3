/* echo-server.c: the echo server of the Sagittarius Scheme socket manual
 * (example/socket/echo.scm), written in C against libsagsocket.
 *
 *   usage: echo-server [--host ADDR] [PORT [MAX_CLIENTS]]
 *
 *   PORT         the service to listen on (default "5000"; "0" picks a free
 *                port, which the server reports on stderr)
 *   MAX_CLIENTS  serve this many clients, then exit (default: forever)
 *   --host ADDR  listen on ADDR only (e.g. 127.0.0.1) instead of every
 *                IPv4 address
 *
 *   cc -std=c99 echo-server.c $(pkg-config --cflags --libs sagsocket)
 *
 * Like the Scheme original, it talks to each client through a socket port
 * wrapped in a transcoder (UTF-8, end-of-line style LF: on input CR LF, CR
 * and LF all read as one linefeed, so clients that end lines either way
 * work) and reads with get-line. As in Sagittarius, the port holds no output
 * back (buffer mode none): each put is sent before it returns, so the prompt
 * reaches the client with no explicit flush, as in the seed.
 *
 * What a newcomer should notice about the ABI:
 *   - every fallible call returns an int status (SAG_OK is 0) and fills a
 *     caller-owned sag_error on failure; we make one error object up front
 *     and pass it to every call;
 *   - results come back through out-parameters;
 *   - every handle (socket, addrinfo, socket-info, ip-address, error) is
 *     freed with its own *_free function;
 *   - buffers are passed as (pointer, start, length).
 */
#include <sagsocket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "echo-server";

/* Prints why a call failed: the error object's message (which includes the
 * OS's strerror when there was an errno) and the condition name of the
 * status, e.g. "&host-not-found". */
static int report(const char *what, int status, const sag_error *err)
{
    fprintf(stderr, "%s: %s failed: %s [%s]\n", prog, what,
            sag_error_message(err), sag_status_name(status));
    return status;
}

/* (put-string p text) for a NUL-terminated string. Strings cross the ABI as
 * UTF-8 with a length, so they may hold NUL characters too. */
static int put_text(sag_port *p, const char *text, sag_error *err)
{
    return sag_port_put_string(p, text, 0, strlen(text), err);
}

/* Prints "<label> ADDRESS:PORT" on stderr for the socket's own address
 * (getsockname: (socket-info s)) or its peer's (getpeername: (socket-peer
 * s)). A socket-info and the ip-address taken from it are new handles that
 * we free. */
static int print_address(const char *label, sag_socket *s, int peer,
                         sag_error *err)
{
    sag_socket_info *info = NULL;
    sag_ip_address *ip = NULL;
    const char *text = NULL;
    int port = 0, st;

    st = peer ? sag_socket_get_peer(s, &info, err)
              : sag_socket_get_info(s, &info, err);
    if (st != SAG_OK)
        return report(peer ? "socket-peer" : "socket-info", st, err);
    if (info == NULL) /* #f: no address (e.g. a peer already gone) */
        return SAG_OK;
    st = sag_socket_info_port(info, &port, err);
    if (st == SAG_OK)
        st = sag_socket_info_ip_address(info, &ip, err);
    if (st == SAG_OK)
        st = sag_ip_address_to_string(ip, &text, err);
    if (st == SAG_OK)
        fprintf(stderr, "%s: %s %s:%d\n", prog, label, text, port);
    else
        report("socket-info accessors", st, err);
    sag_ip_address_free(ip); /* NULL is fine: free is idempotent */
    sag_socket_info_free(info);
    return st;
}

/* Opens the listening socket.
 *
 * Without --host this is exactly the seed's (make-server-socket "5000"):
 * getaddrinfo(NULL, port, AI_PASSIVE), SO_REUSEADDR, bind, listen.
 *
 * With --host it does the same by hand with the low-level calls, because
 * make-server-socket always binds the wildcard address. */
static int open_server(const char *host, const char *port, sag_socket **out,
                       sag_error *err)
{
    sag_addrinfo *hints = NULL, *ai = NULL;
    sag_socket *s = NULL;
    int st;

    if (host == NULL)
        return sag_make_server_socket(port, SAG_AF_INET, SAG_SOCK_STREAM, 0,
                                      out, err);

    /* (make-hint-addrinfo :family AF_INET :socktype SOCK_STREAM
     *                     :flags AI_PASSIVE) */
    st = sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM, SAG_AI_PASSIVE,
                                0, &hints, err);
    if (st != SAG_OK)
        return report("make-hint-addrinfo", st, err);
    /* (get-addrinfo host port hints): the first entry of the chain */
    st = sag_get_addrinfo(host, port, hints, &ai, err);
    if (st != SAG_OK) {
        report("get-addrinfo", st, err);
        goto done;
    }
    /* (create-socket ai), then the options, bind and listen */
    st = sag_create_socket(ai, &s, err);
    if (st != SAG_OK) {
        report("create-socket", st, err);
        goto done;
    }
    st = sag_socket_setsockopt_int(s, SAG_SOL_SOCKET, SAG_SO_REUSEADDR, 1, err);
    if (st != SAG_OK) {
        report("socket-setsockopt!", st, err);
        goto done;
    }
    st = sag_socket_bind(s, ai, err);
    if (st != SAG_OK) {
        report("socket-bind!", st, err);
        goto done;
    }
    st = sag_socket_listen(s, SAG_SOMAXCONN, err);
    if (st != SAG_OK) {
        report("socket-listen!", st, err);
        goto done;
    }
    *out = s;
    s = NULL; /* the caller owns it now */
done:
    sag_socket_free(s);
    sag_addrinfo_free(ai);
    sag_addrinfo_free(hints);
    return st;
}

/* Serves one client until it closes its side: the body of the seed's
 * call-with-socket. Returns SAG_OK or the status of the failing call, which
 * it has already reported. */
static int serve_client(sag_socket *client, sag_error *err)
{
    sag_port *binary = NULL, *p = NULL;
    const char *what = "socket-port";
    const char *line;
    size_t len;
    int st;

    /* (transcoded-port (socket-port sock) (native-transcoder)): the binary
     * port closes the socket when it is closed (close? #t); the textual
     * port takes the binary one over. */
    st = sag_socket_port(client, 1, &binary, err);
    if (st == SAG_OK) {
        what = "transcoded-port";
        st = sag_transcoded_port(binary, SAG_CODEC_UTF8, SAG_EOL_LF,
                                 SAG_ERROR_MODE_REPLACE, &p, err);
    }
    if (st == SAG_OK) {
        what = "put-string";
        st = put_text(p, "please type something\n\r", err);
    }
    if (st == SAG_OK)
        st = put_text(p, "> ", err);
    while (st == SAG_OK) {
        /* (get-line p): the prompt went out when it was put. The line is
         * owned by the port and valid until its next read; NULL is the end
         * of file. */
        what = "get-line";
        st = sag_port_get_line(p, &line, &len, err);
        if (st != SAG_OK || line == NULL)
            break;
        /* (print "received: " r) */
        fputs("received: ", stdout);
        fwrite(line, 1, len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        /* (put-string p r) (put-string p "\r\n> ") */
        what = "put-string";
        st = sag_port_put_string(p, line, 0, len, err);
        if (st == SAG_OK)
            st = put_text(p, "\r\n> ", err);
    }
    if (st != SAG_OK)
        report(what, st, err);
    /* (call-with-port p ...) closes the port, and with it the socket. */
    if (p != NULL)
        sag_port_close(p, err);
    sag_port_free(p);
    sag_port_free(binary);
    return st;
}

int main(int argc, char **argv)
{
    const char *host = NULL, *port = "5000";
    long max_clients = -1, served = 0;
    sag_error *err = NULL;
    sag_socket *server = NULL;
    int st, argi = 1, exit_code = 0;

    if (argi + 1 < argc && strcmp(argv[argi], "--host") == 0) {
        host = argv[argi + 1];
        argi += 2;
    }
    if (argi < argc)
        port = argv[argi++];
    if (argi < argc) {
        char *end;
        max_clients = strtol(argv[argi++], &end, 10);
        if (*end != '\0' || max_clients < 1) {
            fprintf(stderr, "%s: MAX_CLIENTS must be a positive integer\n",
                    prog);
            return 2;
        }
    }
    if (argi < argc) {
        fprintf(stderr, "usage: %s [--host ADDR] [PORT [MAX_CLIENTS]]\n", prog);
        return 2;
    }

    /* The header and the library must agree on the version. */
    if (sag_version_number() / 10000 != SAG_VERSION_MAJOR) {
        fprintf(stderr, "%s: header %s but library %s\n", prog,
                SAG_VERSION_STRING, sag_version_string());
        return 1;
    }

    /* One error object for this thread, passed to every call. */
    st = sag_error_new(&err);
    if (st != SAG_OK) {
        fprintf(stderr, "%s: sag_error_new: %s\n", prog, sag_status_name(st));
        return 1;
    }

    /* (define echo-server-socket (make-server-socket "5000")) */
    st = open_server(host, port, &server, err);
    if (st != SAG_OK) {
        if (host == NULL)
            report("make-server-socket", st, err);
        sag_error_free(err);
        return 1;
    }
    /* Say where we listen (useful with port "0"). */
    print_address("listening on", server, 0, err);

    while (max_clients < 0 || served < max_clients) {
        sag_socket *client = NULL;

        /* (socket-accept echo-server-socket): a new socket we own */
        st = sag_socket_accept(server, &client, err);
        if (st != SAG_OK) {
            report("socket-accept", st, err);
            exit_code = 1;
            break;
        }
        served++;
        print_address("connection from", client, 1, err);

        /* A failing client (e.g. a reset connection) is reported inside
         * and does not stop the server. */
        serve_client(client, err);

        /* call-with-socket closes the socket; then we free the handle.
         * (sag_socket_free alone would also close it.) */
        st = sag_socket_close(client, err);
        if (st != SAG_OK)
            report("socket-close", st, err);
        sag_socket_free(client);
        fprintf(stderr, "%s: connection closed\n", prog);
    }

    sag_socket_free(server);
    sag_error_free(err);
    return exit_code;
}
