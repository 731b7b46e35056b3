/* abi/echo.c: part of test_abi.c, which includes it (an echo round trip over
 * 127.0.0.1, "localhost" and ::1: connect, accept, send, recv, shutdown, and
 * what sag_socket_info says of each end; sag_make_server_sockets).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Echo round trip =================================================== */

typedef struct {
    sag_socket *srv;
    int accept_status;
    size_t echoed;
    int nodelay;
} echo_t;

static void *echo_thread(void *arg) {
    echo_t *e = arg;
    sag_error *te = NULL;
    sag_socket *acc = NULL;
    uint8_t buf[4096];
    CHECK_ST(sag_error_new(&te), SAG_OK);
    e->accept_status = sag_socket_accept(e->srv, &acc, te);
    if (e->accept_status != SAG_OK) {
        sag_error_free(te);
        return NULL;
    }
    e->nodelay = -1;
    sag_socket_getsockopt_int(acc, SAG_IPPROTO_TCP, SAG_TCP_NODELAY,
                              &e->nodelay, te);
    for (;;) {
        size_t n = 0, sent = 0;
        if (sag_socket_recv(acc, buf, 0, sizeof buf, 0, &n, te) != SAG_OK ||
            n == 0)
            break;
        if (sag_socket_send(acc, buf, 0, n, 0, &sent, te) != SAG_OK)
            break;
        e->echoed += sent;
    }
    CHECK_ST(sag_socket_close(acc, te), SAG_OK);
    CHECK_ST(sag_socket_free(acc), SAG_OK);
    CHECK_ST(sag_error_free(te), SAG_OK);
    return NULL;
}

/* One echo conversation over a connected client socket c. */
static void echo_conversation(sag_socket *c, echo_t *e, pthread_t th) {
    static const char hello[] = "hello, sagsocket";
    uint8_t buf[64 * 1024];
    static uint8_t big[32 * 1024], back[32 * 1024];
    size_t n = 0;

    CHECK_ST(send_all(c, hello, sizeof hello - 1), SAG_OK);
    memset(buf, 0, sizeof buf);
    /* Receive at an offset: bytes land at buf[3...]. */
    size_t got = 0;
    while (got < sizeof hello - 1) {
        n = 0;
        int st = sag_socket_recv(c, buf, 3 + got, sizeof hello - 1 - got, 0, &n, E);
        CHECK_ST(st, SAG_OK);
        if (st != SAG_OK || n == 0)
            break;
        got += n;
    }
    CHECK_EQ(got, sizeof hello - 1);
    CHECK(memcmp(buf + 3, hello, sizeof hello - 1) == 0);
    CHECK(buf[0] == 0 && buf[1] == 0 && buf[2] == 0);

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + 3);
    size_t sent = 0;
    /* send/range: start 1000, count sizeof big - 1000 */
    CHECK_ST(sag_socket_send(c, big, 1000, sizeof big - 1000, 0, &sent, E), SAG_OK);
    CHECK_EQ(sent, sizeof big - 1000);
    got = recv_n(c, back, sizeof big - 1000, E);
    CHECK_EQ(got, sizeof big - 1000);
    CHECK(memcmp(back, big + 1000, sizeof big - 1000) == 0);

    /* The peer closes after our shutdown: recv gives 0. */
    CHECK_ST(sag_socket_shutdown(c, SAG_SHUT_WR, E), SAG_OK);
    n = 99;
    CHECK_ST(sag_socket_recv(c, buf, 0, sizeof buf, 0, &n, E), SAG_OK);
    CHECK_EQ(n, 0);
    pthread_join(th, NULL);
    CHECK_ST(e->accept_status, SAG_OK);
    CHECK_EQ(e->echoed, sizeof hello - 1 + sizeof big - 1000);
    CHECK_EQ(e->nodelay, 1);
}

/* The host name C's own getnameinfo(3) gives for a numeric loopback
 * address (the name, or the address itself when none is found). */
static void oracle_host(const char *ip, char *out, size_t cap) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST;
    snprintf(out, cap, "%s", ip);
    if (getaddrinfo(ip, NULL, &hints, &res) != 0 || res == NULL)
        return;
    if (getnameinfo(res->ai_addr, res->ai_addrlen, out, (socklen_t)cap, NULL,
                    0, 0) != 0)
        snprintf(out, cap, "%s", ip);
    freeaddrinfo(res);
}

/* socket-name as Sagittarius prints it: "host(ip):port". */
static void expected_label(const char *ip, int port, char *out, size_t cap) {
    char host[128];
    oracle_host(ip, host, sizeof host);
    snprintf(out, cap, "%s(%s):%d", host, ip, port);
}

static void check_info_loopback(sag_socket_info *info, int v6, int port) {
    const char *host = NULL, *str = NULL;
    sag_ip_address *ip = NULL;
    int p = -1, is6 = -1;
    uint8_t bytes[16];
    size_t size = 0;
    if (info == NULL) {
        check_fail(__FILE__, __LINE__, "info != NULL", NULL);
        return;
    }
    CHECK_EQ(sag_handle_kind(info), SAG_KIND_SOCKET_INFO);
    CHECK_ST(sag_socket_info_hostname(info, &host, E), SAG_OK);
    CHECK(host != NULL && host[0] != '\0');
    {
        /* the name getnameinfo(3) finds ("localhost" for 127.0.0.1 with the
         * usual hosts file), else the address */
        char expect[128];
        oracle_host(v6 ? "::1" : "127.0.0.1", expect, sizeof expect);
        CHECK_STR(host, expect);
        const char *again = NULL;
        CHECK_ST(sag_socket_info_hostname(info, &again, E), SAG_OK);
        CHECK(again == host); /* looked up once, kept by the info */
    }
    CHECK_ST(sag_socket_info_port(info, &p, E), SAG_OK);
    if (port >= 0)
        CHECK_EQ(p, port);
    else
        CHECK(p > 0 && p < 65536);
    CHECK_ST(sag_socket_info_ip_address(info, &ip, E), SAG_OK);
    CHECK_EQ(sag_handle_kind(ip), SAG_KIND_IP_ADDRESS);
    CHECK_ST(sag_ip_address_to_string(ip, &str, E), SAG_OK);
    CHECK_STR(str, v6 ? "::1" : "127.0.0.1");
    CHECK_ST(sag_ip_address_is_v6(ip, &is6, E), SAG_OK);
    CHECK_EQ(is6, v6);
    memset(bytes, 0xee, sizeof bytes);
    CHECK_ST(sag_ip_address_to_bytes(ip, bytes, 0, sizeof bytes, &size, E), SAG_OK);
    if (v6) {
        static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 1};
        CHECK_EQ(size, 16);
        CHECK(memcmp(bytes, lo6, 16) == 0);
    } else {
        CHECK_EQ(size, 4);
        CHECK(bytes[0] == 127 && bytes[1] == 0 && bytes[2] == 0 && bytes[3] == 1);
        CHECK(bytes[4] == 0xee);
    }
    /* At an offset. */
    memset(bytes, 0xee, sizeof bytes);
    if (!v6) {
        CHECK_ST(sag_ip_address_to_bytes(ip, bytes, 5, 4, &size, E), SAG_OK);
        CHECK(bytes[4] == 0xee && bytes[5] == 127 && bytes[8] == 1 &&
              bytes[9] == 0xee);
    }
    /* Too small: SAG_E_INVALID with *size written. */
    size = 0;
    CHECK_ST(sag_ip_address_to_bytes(ip, bytes, 0, 2, &size, E), SAG_E_INVALID);
    CHECK_EQ(size, v6 ? 16 : 4);
    CHECK_ST(sag_ip_address_to_bytes(ip, NULL, 0, 4, &size, E), SAG_E_INVALID);
    CHECK_ST(sag_ip_address_to_bytes(ip, bytes, SIZE_MAX, 4, &size, E),
             SAG_E_INVALID);
    CHECK_ST(sag_ip_address_free(ip), SAG_OK);
    CHECK_ST(sag_ip_address_free(ip), SAG_OK);
}

static void echo_with(const char *node, int family, int v6) {
    sag_socket *srv = NULL, *c = NULL;
    char svc[16];
    const char *s = NULL;
    int fd = -1;
    if (sag_make_server_socket("0", family, SAG_SOCK_STREAM, 0, &srv, E) != SAG_OK) {
        check_fail(__FILE__, __LINE__, "sag_make_server_socket", node);
        return;
    }
    int port = local_port(srv);
    CHECK(port > 0 && port < 65536);
    snprintf(svc, sizeof svc, "%d", port);

    /* The server socket's accessors. */
    CHECK_ST(sag_socket_node(srv, &s, E), SAG_OK);
    CHECK_STR(s, NULL);
    CHECK_ST(sag_socket_service(srv, &s, E), SAG_OK);
    CHECK_STR(s, "0");

    echo_t e;
    memset(&e, 0, sizeof e);
    e.srv = srv;
    pthread_t th;
    pthread_create(&th, NULL, echo_thread, &e);

    int st = sag_make_client_socket(node, svc, family, SAG_SOCK_STREAM,
                                    SAG_AI_V4MAPPED, 0, &c, E);
    CHECK_ST(st, SAG_OK);
    if (st != SAG_OK) {
        sag_socket_close(srv, E); /* wakes the thread's accept */
        pthread_join(th, NULL);
        sag_socket_free(srv);
        return;
    }
    CHECK_EQ(sag_handle_kind(c), SAG_KIND_SOCKET);

    /* Client accessors. */
    CHECK_ST(sag_socket_node(c, &s, E), SAG_OK);
    CHECK_STR(s, node);
    CHECK_ST(sag_socket_service(c, &s, E), SAG_OK);
    CHECK_STR(s, svc);
    CHECK_ST(sag_socket_name(c, &s, E), SAG_OK);
    {
        char label[200];
        expected_label(v6 ? "::1" : "127.0.0.1", port, label, sizeof label);
        CHECK_STR(s, label);
    }
    CHECK_ST(sag_socket_fd(c, &fd, E), SAG_OK);
    CHECK(fd > 2 && fcntl(fd, F_GETFD) >= 0);
    CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    int closed = -1, nb = -1, nodelay = -1;
    CHECK_ST(sag_socket_is_closed(c, &closed, E), SAG_OK);
    CHECK_EQ(closed, 0);
    CHECK_ST(sag_socket_is_nonblocking(c, &nb, E), SAG_OK);
    CHECK_EQ(nb, 0);
    CHECK_ST(sag_socket_getsockopt_int(c, SAG_IPPROTO_TCP, SAG_TCP_NODELAY,
                                       &nodelay, E), SAG_OK);
    CHECK_EQ(nodelay, 1);

    /* socket-info (local) and peer. */
    sag_socket_info *info = NULL, *peer = NULL;
    CHECK_ST(sag_socket_get_info(c, &info, E), SAG_OK);
    check_info_loopback(info, v6, -1);
    CHECK_ST(sag_socket_get_peer(c, &peer, E), SAG_OK);
    check_info_loopback(peer, v6, port);
    CHECK_ST(sag_socket_info_free(info), SAG_OK);
    CHECK_ST(sag_socket_info_free(peer), SAG_OK);
    CHECK_ST(sag_socket_info_free(peer), SAG_OK);
    CHECK_EQ(sag_handle_kind(peer), SAG_KIND_NONE);
    /* A listening socket has no peer: *out = NULL. */
    peer = (sag_socket_info *)0x1;
    CHECK_ST(sag_socket_get_peer(srv, &peer, E), SAG_OK);
    CHECK(peer == NULL);

    echo_conversation(c, &e, th);

    CHECK_ST(sag_socket_close(c, E), SAG_OK);
    CHECK_ST(sag_socket_free(c), SAG_OK);
    CHECK_ST(sag_socket_free(srv), SAG_OK);
}

static void test_echo(void) {
    section("echo 127.0.0.1");
    echo_with("127.0.0.1", SAG_AF_INET, 0);
    section("echo localhost");
    echo_with("localhost", SAG_AF_INET, 0);
    if (ipv6_available()) {
        section("echo ::1");
        echo_with("::1", SAG_AF_INET6, 1);
    } else {
        printf("note: no IPv6 loopback; IPv6 echo skipped\n");
    }

    section("make_server_sockets");
    sag_socket *socks[4] = {NULL, NULL, NULL, NULL};
    size_t count = 99;
    int st = sag_make_server_sockets("0", SAG_AF_UNSPEC, SAG_SOCK_STREAM, 0,
                                     socks, 4, &count, E);
    CHECK_ST(st, SAG_OK);
    if (st == SAG_OK) {
        CHECK(count >= 1 && count <= 2);
        CHECK(socks[count < 4 ? count : 3] == NULL);
        int ports[4] = {-1, -1, -1, -1};
        for (size_t i = 0; i < count && i < 4; i++) {
            sag_socket_info *info = NULL;
            sag_ip_address *ip = NULL;
            int port = -1, v6 = -1;
            char svc[16];
            CHECK_EQ(sag_handle_kind(socks[i]), SAG_KIND_SOCKET);
            CHECK_ST(sag_socket_get_info(socks[i], &info, E), SAG_OK);
            if (!info)
                continue;
            CHECK_ST(sag_socket_info_port(info, &port, E), SAG_OK);
            CHECK_ST(sag_socket_info_ip_address(info, &ip, E), SAG_OK);
            CHECK_ST(sag_ip_address_is_v6(ip, &v6, E), SAG_OK);
            sag_ip_address_free(ip);
            sag_socket_info_free(info);
            CHECK(port > 0);
            ports[i] = port;
            /* Service "0": every socket has a port of its own (Sagittarius). */
            for (size_t j = 0; j < i; j++)
                CHECK(ports[j] != port);
            if (v6) {
                /* no IPV6_V6ONLY: the IPv6 socket takes a v4-mapped client */
                int only = -1;
                CHECK_ST(sag_socket_getsockopt_int(socks[i], SAG_IPPROTO_IPV6,
                                                   SAG_IPV6_V6ONLY, &only, E),
                         SAG_OK);
                CHECK_EQ(only, 0);
            }
            /* Connect to it over loopback (an IPv6 one by its v4-mapped
             * address, which works whether or not ::1 exists) and accept
             * on this very socket. */
            snprintf(svc, sizeof svc, "%d", port);
            sag_socket *c = NULL, *a = NULL, *ready[1];
            size_t nready = 0;
            CHECK_ST(sag_make_client_socket(v6 ? "::ffff:127.0.0.1" : "127.0.0.1", svc,
                                            v6 ? SAG_AF_INET6 : SAG_AF_INET, SAG_SOCK_STREAM,
                                            SAG_AI_NUMERICHOST, 0, &c, E),
                     SAG_OK);
            CHECK_ST(sag_socket_read_select(2000000, &socks[i], 1, ready,
                                            &nready, E), SAG_OK);
            CHECK_EQ(nready, 1);
            if (nready == 1) {
                CHECK_ST(sag_socket_accept(socks[i], &a, E), SAG_OK);
                sag_socket_free(a);
            }
            sag_socket_free(c);
        }
        for (size_t i = 0; i < count && i < 4; i++)
            CHECK_ST(sag_socket_free(socks[i]), SAG_OK);
    }
    /* capacity 1: one socket. */
    memset(socks, 0, sizeof socks);
    count = 99;
    CHECK_ST(sag_make_server_sockets("0", SAG_AF_UNSPEC, SAG_SOCK_STREAM, 0,
                                     socks, 1, &count, E), SAG_OK);
    CHECK_EQ(count, 1);
    CHECK(socks[1] == NULL);
    CHECK_ST(sag_socket_free(socks[0]), SAG_OK);
    CHECK_ST(sag_make_server_sockets("0", SAG_AF_UNSPEC, SAG_SOCK_STREAM, 0,
                                     socks, 4, NULL, E), SAG_E_INVALID);
}
