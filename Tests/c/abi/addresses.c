/* abi/addresses.c: part of test_abi.c, which includes it (names that do not
 * resolve and the flags they carry; addrinfo, sockaddr and ip-address
 * objects; UDP with sendto and recvfrom).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Host not found and flags ========================================== */

static void test_host_not_found(void) {
    section("host not found");
    sag_socket *s = (sag_socket *)0x5a5a;
    CHECK_ST(sag_error_clear(E), SAG_OK);
    int st = sag_make_client_socket("localhost", "123456789", SAG_AF_INET,
                                    SAG_SOCK_STREAM, 0, 0, &s, E);
    CHECK_ST(st, SAG_E_HOST_NOT_FOUND);
    CHECK(s == (sag_socket *)0x5a5a);
    CHECK_EQ(sag_error_status(E), SAG_E_HOST_NOT_FOUND);
    CHECK_STR(sag_error_node(E), "localhost");
    CHECK_STR(sag_error_service(E), "123456789");
    CHECK(sag_error_message(E) != NULL && sag_error_message(E)[0] != '\0');
    CHECK_STR(sag_error_operation(E), "make-client-socket");
    CHECK(sag_error_socket(E) == NULL);
    CHECK(sag_error_port(E) == NULL);
    CHECK_EQ(sag_error_timeout(E), -1);
    /* Recorded in the thread's last error too. */
    sag_error *le = sag_last_error();
    CHECK(le != NULL);
    CHECK_EQ(sag_error_status(le), SAG_E_HOST_NOT_FOUND);
    CHECK_STR(sag_error_node(le), "localhost");
    CHECK_STR(sag_error_service(le), "123456789");
    CHECK_STR(sag_error_operation(le), "make-client-socket");
    CHECK(sag_error_message(le) != NULL && sag_error_message(le)[0] != '\0');
    CHECK(sag_error_port(le) == NULL);

    /* Same through a NULL error object: only the last error. */
    CHECK_ST(sag_make_client_socket("localhost", "123456789", SAG_AF_INET,
                                    SAG_SOCK_STREAM, 0, 0, &s, NULL),
             SAG_E_HOST_NOT_FOUND);
    CHECK_STR(sag_error_node(sag_last_error()), "localhost");

    /* Numeric host that is not an address. */
    sag_addrinfo *hint = NULL, *ai = (sag_addrinfo *)0x77;
    CHECK_ST(sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM,
                                    SAG_AI_NUMERICHOST, 0, &hint, E), SAG_OK);
    CHECK_ST(sag_get_addrinfo("300.1.1.1", "80", hint, &ai, E),
             SAG_E_HOST_NOT_FOUND);
    CHECK(ai == (sag_addrinfo *)0x77);
    CHECK_STR(sag_error_node(E), "300.1.1.1");
    CHECK_STR(sag_error_service(E), "80");
    CHECK(sag_error_operation(E)[0] != '\0');
    CHECK(sag_error_message(E)[0] != '\0');
    CHECK_ST(sag_make_client_socket("300.1.1.1", "80", SAG_AF_INET,
                                    SAG_SOCK_STREAM, SAG_AI_NUMERICHOST, 0, &s, E),
             SAG_E_HOST_NOT_FOUND);
    CHECK_STR(sag_error_node(E), "300.1.1.1");
    CHECK_STR(sag_error_service(E), "80");
    CHECK_ST(sag_addrinfo_free(hint), SAG_OK);

    section("AI_PASSIVE in client flags");
    CHECK_ST(sag_make_client_socket("127.0.0.1", "80", SAG_AF_INET,
                                    SAG_SOCK_STREAM, SAG_AI_PASSIVE, 0, &s, E),
             SAG_E_INVALID);
    CHECK_EQ(sag_error_status(E), SAG_E_INVALID);
    CHECK_ST(sag_make_client_socket("127.0.0.1", "80", SAG_AF_INET,
                                    SAG_SOCK_STREAM,
                                    SAG_AI_PASSIVE | SAG_AI_NUMERICHOST, 0, &s, E),
             SAG_E_INVALID);
    CHECK_ST(sag_make_client_socket(NULL, NULL, SAG_AF_INET, SAG_SOCK_STREAM, 0,
                                    0, &s, E), SAG_E_INVALID);
    CHECK(s == (sag_socket *)0x5a5a);
}

/* ===== Addrinfo, sockaddr, UDP =========================================== */

static void test_addrinfo(void) {
    section("addrinfo");
    sag_addrinfo *hint = NULL, *ai = NULL;
    int v = -1;
    CHECK_ST(sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM,
                                    SAG_AI_NUMERICHOST, 0, &hint, E), SAG_OK);
    CHECK_ST(sag_addrinfo_family(hint, &v, E), SAG_OK);
    CHECK_EQ(v, SAG_AF_INET);
    CHECK_ST(sag_addrinfo_socktype(hint, &v, E), SAG_OK);
    CHECK_EQ(v, SAG_SOCK_STREAM);
    CHECK_ST(sag_addrinfo_flags(hint, &v, E), SAG_OK);
    CHECK_EQ(v, SAG_AI_NUMERICHOST);
    CHECK_ST(sag_addrinfo_protocol(hint, &v, E), SAG_OK);
    CHECK_EQ(v, 0);
    sag_sockaddr *sa = (sag_sockaddr *)0x1;
    CHECK_ST(sag_addrinfo_sockaddr(hint, &sa, E), SAG_OK);
    CHECK(sa == NULL);

    CHECK_ST(sag_get_addrinfo("127.0.0.1", "80", hint, &ai, E), SAG_OK);
    CHECK_EQ(sag_handle_kind(ai), SAG_KIND_ADDRINFO);
    CHECK_ST(sag_addrinfo_family(ai, &v, E), SAG_OK);
    CHECK_EQ(v, SAG_AF_INET);
    CHECK_ST(sag_addrinfo_socktype(ai, &v, E), SAG_OK);
    CHECK_EQ(v, SAG_SOCK_STREAM);
    CHECK_ST(sag_addrinfo_flags(ai, &v, E), SAG_OK);
    CHECK_ST(sag_addrinfo_protocol(ai, &v, E), SAG_OK);
    CHECK(v == 0 || v == SAG_IPPROTO_TCP);
    CHECK_ST(sag_addrinfo_sockaddr(ai, &sa, E), SAG_OK);
    CHECK(sa != NULL);
    if (sa) {
        sag_ip_address *ip = NULL;
        const char *str = NULL;
        CHECK_EQ(sag_handle_kind(sa), SAG_KIND_SOCKADDR);
        CHECK_ST(sag_sockaddr_family(sa, &v, E), SAG_OK);
        CHECK_EQ(v, SAG_AF_INET);
        CHECK_ST(sag_sockaddr_port(sa, &v, E), SAG_OK);
        CHECK_EQ(v, 80);
        CHECK_ST(sag_sockaddr_ip_address(sa, &ip, E), SAG_OK);
        CHECK_ST(sag_ip_address_to_string(ip, &str, E), SAG_OK);
        CHECK_STR(str, "127.0.0.1");
        CHECK_ST(sag_ip_address_free(ip), SAG_OK);
        CHECK_ST(sag_sockaddr_free(sa), SAG_OK);
    }
    /* Walk the chain to the end. */
    int entries = 1;
    sag_addrinfo *cur = ai, *next = NULL;
    for (;;) {
        next = (sag_addrinfo *)0x1;
        int st = sag_next_addrinfo(cur, &next, E);
        CHECK_ST(st, SAG_OK);
        if (st != SAG_OK || next == NULL || entries > 64)
            break;
        entries++;
        if (cur != ai)
            sag_addrinfo_free(cur);
        cur = next;
    }
    CHECK(next == NULL);
    if (cur != ai)
        sag_addrinfo_free(cur);
    CHECK(entries >= 1 && entries <= 64);
    /* Free the head first: the rest stays valid for its own handles. */
    sag_addrinfo *lh = NULL, *second = NULL;
    CHECK_ST(sag_get_addrinfo("localhost", "80", NULL, &lh, E), SAG_OK);
    if (lh) {
        CHECK_ST(sag_next_addrinfo(lh, &second, E), SAG_OK);
        CHECK_ST(sag_addrinfo_free(lh), SAG_OK);
        if (second) {
            CHECK_ST(sag_addrinfo_family(second, &v, E), SAG_OK);
            CHECK(v == SAG_AF_INET || v == SAG_AF_INET6);
            sag_sockaddr *s2 = NULL;
            CHECK_ST(sag_addrinfo_sockaddr(second, &s2, E), SAG_OK);
            CHECK_ST(sag_sockaddr_port(s2, &v, E), SAG_OK);
            CHECK_EQ(v, 80);
            sag_sockaddr_free(s2);
            CHECK_ST(sag_addrinfo_free(second), SAG_OK);
        }
    }
    /* Service only (node NULL); both NULL invalid. */
    sag_addrinfo *svc_only = NULL;
    CHECK_ST(sag_get_addrinfo(NULL, "80", hint, &svc_only, E), SAG_OK);
    sag_addrinfo_free(svc_only);
    CHECK_ST(sag_get_addrinfo(NULL, NULL, hint, &svc_only, E), SAG_E_INVALID);
    CHECK_ST(sag_get_addrinfo("127.0.0.1", "80", hint, NULL, E), SAG_E_INVALID);

    /* make_addrinfo: empty. */
    sag_addrinfo *mk = NULL;
    CHECK_ST(sag_make_addrinfo(&mk, E), SAG_OK);
    CHECK_EQ(sag_handle_kind(mk), SAG_KIND_ADDRINFO);
    v = -1;
    CHECK_ST(sag_addrinfo_family(mk, &v, E), SAG_OK);
    CHECK_EQ(v, 0);
    CHECK_ST(sag_addrinfo_socktype(mk, &v, E), SAG_OK);
    CHECK_EQ(v, 0);
    CHECK_ST(sag_addrinfo_flags(mk, &v, E), SAG_OK);
    CHECK_EQ(v, 0);
    CHECK_ST(sag_addrinfo_protocol(mk, &v, E), SAG_OK);
    CHECK_EQ(v, 0);
    sa = (sag_sockaddr *)0x1;
    CHECK_ST(sag_addrinfo_sockaddr(mk, &sa, E), SAG_OK);
    CHECK(sa == NULL);
    next = (sag_addrinfo *)0x1;
    CHECK_ST(sag_next_addrinfo(mk, &next, E), SAG_OK);
    CHECK(next == NULL);
    CHECK_ST(sag_addrinfo_free(mk), SAG_OK);

    /* create_socket from an addrinfo. */
    sag_socket *cs = NULL;
    CHECK_ST(sag_create_socket(ai, &cs, E), SAG_OK);
    CHECK_EQ(sag_handle_kind(cs), SAG_KIND_SOCKET);
    CHECK_ST(sag_socket_getsockopt_int(cs, SAG_SOL_SOCKET, SAG_SO_TYPE, &v, E), SAG_OK);
    CHECK_EQ(v, SOCK_STREAM);
    const char *nm = (const char *)0x1;
    CHECK_ST(sag_socket_node(cs, &nm, E), SAG_OK);
    CHECK_STR(nm, NULL);
    sag_socket_info *pi = (sag_socket_info *)0x1;
    CHECK_ST(sag_socket_get_peer(cs, &pi, E), SAG_OK);
    CHECK(pi == NULL);
    CHECK_ST(sag_socket_free(cs), SAG_OK);
    CHECK_ST(sag_create_socket(NULL, &cs, E), SAG_E_MISUSE);
    CHECK_ST(sag_addrinfo_free(ai), SAG_OK);

    /* sockaddr_new: empty. */
    sag_sockaddr *e = NULL;
    sag_ip_address *ip = NULL;
    CHECK_ST(sag_sockaddr_new(&e, E), SAG_OK);
    CHECK_ST(sag_sockaddr_family(e, &v, E), SAG_OK);
    CHECK_EQ(v, SAG_AF_UNSPEC);
    CHECK_ST(sag_sockaddr_port(e, &v, E), SAG_E_INVALID);
    CHECK_ST(sag_sockaddr_ip_address(e, &ip, E), SAG_E_INVALID);
    CHECK_ST(sag_sockaddr_free(e), SAG_OK);

    section("UDP");
    sag_addrinfo *uh = NULL, *any = NULL;
    sag_socket *u1 = NULL, *u2 = NULL;
    CHECK_ST(sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_DGRAM, SAG_AI_NUMERICHOST,
                                    0, &uh, E), SAG_OK);
    CHECK_ST(sag_get_addrinfo("127.0.0.1", "0", uh, &any, E), SAG_OK);
    CHECK_ST(sag_create_socket(any, &u1, E), SAG_OK);
    CHECK_ST(sag_create_socket(any, &u2, E), SAG_OK);
    CHECK_ST(sag_socket_bind(u1, any, E), SAG_OK);
    CHECK_ST(sag_socket_bind(u2, any, E), SAG_OK);
    int p1 = local_port(u1), p2 = local_port(u2);
    CHECK(p1 > 0 && p2 > 0 && p1 != p2);
    char svc[16];
    snprintf(svc, sizeof svc, "%d", p2);
    sag_addrinfo *to_ai = NULL;
    sag_sockaddr *to = NULL, *from = NULL;
    CHECK_ST(sag_get_addrinfo("127.0.0.1", svc, uh, &to_ai, E), SAG_OK);
    CHECK_ST(sag_addrinfo_sockaddr(to_ai, &to, E), SAG_OK);
    size_t sent = 0;
    static const uint8_t dgram[] = "XXdatagram";
    CHECK_ST(sag_socket_sendto(u1, dgram, 2, 8, 0, to, &sent, E), SAG_OK);
    CHECK_EQ(sent, 8);
    CHECK_ST(sag_sockaddr_new(&from, E), SAG_OK);
    uint8_t buf[64];
    size_t n = 0;
    CHECK_ST(sag_socket_set_read_timeout(u2, 2000000, E), SAG_OK);
    CHECK_ST(sag_socket_recvfrom(u2, buf, 1, sizeof buf - 1, 0, from, &n, E), SAG_OK);
    CHECK_EQ(n, 8);
    CHECK(memcmp(buf + 1, "datagram", 8) == 0);
    CHECK_ST(sag_sockaddr_family(from, &v, E), SAG_OK);
    CHECK_EQ(v, SAG_AF_INET);
    CHECK_ST(sag_sockaddr_port(from, &v, E), SAG_OK);
    CHECK_EQ(v, p1);
    CHECK_ST(sag_sockaddr_ip_address(from, &ip, E), SAG_OK);
    const char *str = NULL;
    CHECK_ST(sag_ip_address_to_string(ip, &str, E), SAG_OK);
    CHECK_STR(str, "127.0.0.1");
    sag_ip_address_free(ip);
    /* Reply to the address recvfrom filled. */
    CHECK_ST(sag_socket_sendto(u2, (const uint8_t *)"pong", 0, 4, 0, from, &sent, E),
             SAG_OK);
    CHECK_ST(sag_socket_set_read_timeout(u1, 2000000, E), SAG_OK);
    CHECK_ST(sag_socket_recv(u1, buf, 0, sizeof buf, 0, &n, E), SAG_OK);
    CHECK(n == 4 && memcmp(buf, "pong", 4) == 0);
    CHECK_ST(sag_socket_sendto(u1, dgram, 0, 2, 0, NULL, &sent, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_sendto(u1, NULL, 0, 10, 0, to, &sent, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_sendto(u1, dgram, SIZE_MAX, 1, 0, to, &sent, E),
             SAG_E_INVALID);
    CHECK_ST(sag_socket_sendto(u1, dgram, 0, 2, 0, to, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_recvfrom(u2, buf, 0, sizeof buf, 0, (sag_sockaddr *)u1, &n, E),
             SAG_E_MISUSE);
    /* Non-blocking recvfrom with nothing: would block. */
    CHECK_ST(sag_socket_set_nonblocking(u2, 1, E), SAG_OK);
    CHECK_ST(sag_socket_recvfrom(u2, buf, 0, sizeof buf, 0, from, &n, E),
             SAG_E_WOULD_BLOCK);
    CHECK_ST(sag_sockaddr_free(from), SAG_OK);
    CHECK_ST(sag_sockaddr_free(to), SAG_OK);
    CHECK_ST(sag_addrinfo_free(to_ai), SAG_OK);
    CHECK_ST(sag_addrinfo_free(any), SAG_OK);
    CHECK_ST(sag_addrinfo_free(uh), SAG_OK);
    CHECK_ST(sag_addrinfo_free(hint), SAG_OK);
    CHECK_ST(sag_socket_free(u1), SAG_OK);
    CHECK_ST(sag_socket_free(u2), SAG_OK);

    /* A UDP server socket. */
    sag_socket *us = NULL;
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_DGRAM, 0, &us, E),
             SAG_OK);
    CHECK(local_port(us) > 0);
    CHECK_ST(sag_socket_getsockopt_int(us, SAG_SOL_SOCKET, SAG_SO_TYPE, &v, E), SAG_OK);
    CHECK_EQ(v, SOCK_DGRAM);
    CHECK_ST(sag_socket_free(us), SAG_OK);
}

/* ===== accept with the peer's numeric address ============================= */

/* sag_socket_accept_peer of one connection from a client of `family` (its
 * local port compared with the port given). */
static void accept_peer_from(int family, const char *host, const uint8_t *want, size_t want_n) {
    sag_socket *srv = NULL, *cli = NULL, *acc = NULL;
    char svc[16];
    uint8_t buf[24];
    size_t n = 99;
    int port = -1;
    CHECK_ST(sag_make_server_socket("0", family, SAG_SOCK_STREAM, 0, &srv, E), SAG_OK);
    if (!srv)
        return;
    snprintf(svc, sizeof svc, "%d", local_port(srv));
    CHECK_ST(sag_make_client_socket(host, svc, family, SAG_SOCK_STREAM, SAG_AI_NUMERICHOST, 0, &cli, E), SAG_OK);
    memset(buf, 0xee, sizeof buf);
    /* at an offset: bytes 4..4+n, the rest untouched */
    CHECK_ST(sag_socket_accept_peer(srv, &acc, buf, 4, 20, &n, &port, E), SAG_OK);
    CHECK_EQ(n, want_n);
    CHECK(memcmp(buf + 4, want, want_n) == 0);
    CHECK(buf[0] == 0xee && buf[3] == 0xee && buf[4 + want_n] == 0xee);
    CHECK(cli != NULL && port == local_port(cli));
    /* the accepted socket is an ordinary one */
    if (acc && cli) {
        size_t sent = 0, got = 0;
        uint8_t b = 0;
        CHECK_ST(sag_socket_send(cli, (const uint8_t *)"p", 0, 1, 0, &sent, E), SAG_OK);
        CHECK_ST(sag_socket_recv(acc, &b, 0, 1, 0, &got, E), SAG_OK);
        CHECK(got == 1 && b == 'p');
    }
    CHECK_ST(sag_socket_free(acc), SAG_OK);
    CHECK_ST(sag_socket_free(cli), SAG_OK);
    CHECK_ST(sag_socket_free(srv), SAG_OK);
}

static void test_accept_peer(void) {
    section("accept with the peer's numeric address (sag_socket_accept_peer)");
    static const uint8_t v4[4] = {127, 0, 0, 1};
    static const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    accept_peer_from(SAG_AF_INET, "127.0.0.1", v4, 4);
    if (ipv6_available())
        accept_peer_from(SAG_AF_INET6, "::1", v6, 16);

    /* Bad arguments are refused before a connection is taken: the queued
     * one is still there for the next accept. */
    sag_socket *srv = NULL, *cli = NULL, *acc = (sag_socket *)0x5a5a;
    uint8_t buf[16];
    size_t n = 99;
    int port = -1;
    char svc[16];
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &srv, E), SAG_OK);
    if (!srv)
        return;
    /* nothing pending, non-blocking: would block, nothing written */
    CHECK_ST(sag_socket_set_nonblocking(srv, 1, E), SAG_OK);
    CHECK_ST(sag_socket_accept_peer(srv, &acc, buf, 0, 16, &n, &port, E), SAG_E_WOULD_BLOCK);
    CHECK(acc == (sag_socket *)0x5a5a && n == 99 && port == -1);
    CHECK_ST(sag_socket_set_nonblocking(srv, 0, E), SAG_OK);
    snprintf(svc, sizeof svc, "%d", local_port(srv));
    CHECK_ST(sag_make_client_socket("127.0.0.1", svc, SAG_AF_INET, SAG_SOCK_STREAM, SAG_AI_NUMERICHOST, 0, &cli, E),
             SAG_OK);
    CHECK_ST(sag_socket_accept_peer(srv, &acc, buf, 0, 15, &n, &port, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_accept_peer(srv, &acc, buf, 1, 15, &n, &port, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_accept_peer(srv, &acc, NULL, 0, 16, &n, &port, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_accept_peer(srv, &acc, buf, SIZE_MAX, 16, &n, &port, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_accept_peer(srv, NULL, buf, 0, 16, &n, &port, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_accept_peer(srv, &acc, buf, 0, 16, NULL, &port, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_accept_peer(srv, &acc, buf, 0, 16, &n, NULL, E), SAG_E_INVALID);
    CHECK(acc == (sag_socket *)0x5a5a && n == 99 && port == -1);
    CHECK_ST(sag_socket_accept_peer(NULL, &acc, buf, 0, 16, &n, &port, E), SAG_E_MISUSE);
    acc = NULL;
    CHECK_ST(sag_socket_accept_peer(srv, &acc, buf, 0, 16, &n, &port, E), SAG_OK);  /* still queued */
    CHECK(n == 4 && port == local_port(cli));
    CHECK_ST(sag_socket_free(acc), SAG_OK);
    CHECK_ST(sag_socket_free(cli), SAG_OK);
    CHECK_ST(sag_socket_close(srv, E), SAG_OK);
    CHECK_ST(sag_socket_accept_peer(srv, &acc, buf, 0, 16, &n, &port, E), SAG_E_CLOSED);
    CHECK_ST(sag_socket_free(srv), SAG_OK);

    /* a Unix-domain peer: no IP address, size 0 and port 0 */
    static const uint8_t name[] = "\0sagsocket-accept-peer-test";
    sag_socket *us = NULL, *uc = NULL, *ua = NULL;
    CHECK_ST(sag_make_unix_server_socket(name, 0, sizeof name - 1, SAG_SOCK_STREAM, &us, E), SAG_OK);
    CHECK_ST(sag_make_unix_client_socket(name, 0, sizeof name - 1, SAG_SOCK_STREAM, &uc, E), SAG_OK);
    n = 99;
    port = -1;
    if (us && uc) {
        CHECK_ST(sag_socket_accept_peer(us, &ua, buf, 0, 16, &n, &port, E), SAG_OK);
        CHECK(n == 0 && port == 0 && ua != NULL);
    }
    CHECK_ST(sag_socket_free(ua), SAG_OK);
    CHECK_ST(sag_socket_free(uc), SAG_OK);
    CHECK_ST(sag_socket_free(us), SAG_OK);
}
