/* abi/misuse.c: part of test_abi.c, which includes it (closed, freed and
 * wrong-kind handles, and bad inputs: each gets its status, nothing
 * crashes).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Closed, freed and bad handles ===================================== */

static void test_closed_and_misuse(void) {
    section("closed socket");
    pair_t p;
    if (!PAIR_OK(&p, SAG_AF_INET))
        return;
    char svc[16];
    snprintf(svc, sizeof svc, "%d", p.port);
    sag_addrinfo *hint = NULL, *ai = NULL;
    CHECK_ST(sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM,
                                    SAG_AI_NUMERICHOST, 0, &hint, E), SAG_OK);
    CHECK_ST(sag_get_addrinfo("127.0.0.1", svc, hint, &ai, E), SAG_OK);

    sag_socket *c = p.cli;
    uint8_t buf[16] = {0};
    size_t n = 0;
    int v = 0;
    int64_t t = 0;
    sag_socket *out = NULL;
    sag_socket_info *info = NULL;

    CHECK_ST(sag_socket_close(c, E), SAG_OK);
    int closed = 0;
    CHECK_ST(sag_socket_is_closed(c, &closed, E), SAG_OK);
    CHECK_EQ(closed, 1);
    CHECK_EQ(sag_handle_kind(c), SAG_KIND_SOCKET);

#define CLOSED_OP(call)                                                      \
    do {                                                                     \
        sag_error_clear(E);                                                  \
        CHECK_ST(call, SAG_E_CLOSED);                                        \
        CHECK(sag_error_socket(E) == c);                                     \
        CHECK_EQ(sag_error_status(E), SAG_E_CLOSED);                         \
        CHECK(sag_error_operation(E)[0] != '\0');                            \
        CHECK(sag_error_socket(sag_last_error()) == c);                      \
    } while (0)

    CLOSED_OP(sag_socket_recv(c, buf, 0, sizeof buf, 0, &n, E));
    CLOSED_OP(sag_socket_send(c, buf, 0, 1, 0, &n, E));
    CLOSED_OP(sag_socket_accept(c, &out, E));
    CLOSED_OP(sag_socket_fd(c, &v, E));
    CLOSED_OP(sag_socket_setsockopt_int(c, SAG_SOL_SOCKET, SAG_SO_KEEPALIVE, 1, E));
    CLOSED_OP(sag_socket_getsockopt_int(c, SAG_SOL_SOCKET, SAG_SO_KEEPALIVE, &v, E));
    CLOSED_OP(sag_socket_connect(c, ai, 100000, E));
    CLOSED_OP(sag_socket_get_info(c, &info, E));
    CLOSED_OP(sag_socket_get_peer(c, &info, E));
    CLOSED_OP(sag_socket_interrupt(c, E));
    CLOSED_OP(sag_socket_set_nonblocking(c, 1, E));
    CLOSED_OP(sag_socket_set_read_timeout(c, 1000, E));
    CLOSED_OP(sag_socket_is_nonblocking(c, &v, E));
    CLOSED_OP(sag_socket_get_read_timeout(c, &t, E));
    CLOSED_OP(sag_socket_bind(c, ai, E));
    CLOSED_OP(sag_socket_listen(c, 1, E));
    CLOSED_OP(sag_socket_setsockopt_duration(c, SAG_SOL_SOCKET, SAG_SO_RCVTIMEO, 1000, E));
    CLOSED_OP(sag_socket_getsockopt_duration(c, SAG_SOL_SOCKET, SAG_SO_RCVTIMEO, &t, E));
    CLOSED_OP(sag_socket_read_select(0, &c, 1, &out, &n, E));
    CHECK(info == NULL && out == NULL);
    /* It still answers its name; shutdown and close are no-ops. */
    const char *nm = NULL;
    CHECK_ST(sag_socket_name(c, &nm, E), SAG_OK);
    {
        char label[200];
        expected_label("127.0.0.1", p.port, label, sizeof label);
        CHECK_STR(nm, label);
    }
    CHECK_ST(sag_socket_shutdown(c, SAG_SHUT_RDWR, E), SAG_OK);
    CHECK_ST(sag_socket_close(c, E), SAG_OK);
    CHECK_ST(sag_socket_is_closed(c, &closed, E), SAG_OK);
    CHECK_EQ(closed, 1);
    /* The peer sees EOF. */
    n = 99;
    CHECK_ST(sag_socket_recv(p.acc, buf, 0, sizeof buf, 0, &n, E), SAG_OK);
    CHECK_EQ(n, 0);

    section("freed socket");
    CHECK_ST(sag_socket_free(c), SAG_OK);
    CHECK_ST(sag_socket_free(c), SAG_OK);
    CHECK_EQ(sag_handle_kind(c), SAG_KIND_NONE);
    p.cli = NULL;
    CHECK_ST(sag_socket_recv(c, buf, 0, sizeof buf, 0, &n, E), SAG_E_MISUSE);
    CHECK_EQ(sag_error_status(E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_send(c, buf, 0, 1, 0, &n, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_close(c, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_is_closed(c, &closed, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_fd(c, &v, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_shutdown(c, SAG_SHUT_RDWR, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_interrupt(c, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_get_info(c, &info, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_name(c, &nm, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_accept(c, &out, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_connect(c, ai, 1000, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_set_read_timeout(c, 1000, E), SAG_E_MISUSE);

    section("bad handles");
    sag_fdset *fds = NULL;
    CHECK_ST(sag_fdset_new(&fds, E), SAG_OK);
    sag_socket *bad[] = {NULL, (sag_socket *)fds, (sag_socket *)0x1234,
                         (sag_socket *)(uintptr_t)-1, (sag_socket *)ai,
                         (sag_socket *)E};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sag_socket *b = bad[i];
        CHECK_ST(sag_socket_recv(b, buf, 0, sizeof buf, 0, &n, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_send(b, buf, 0, 1, 0, &n, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_close(b, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_is_closed(b, &closed, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_accept(b, &out, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_fd(b, &v, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_interrupt(b, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_shutdown(b, SAG_SHUT_RD, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_get_info(b, &info, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_setsockopt_int(b, SAG_SOL_SOCKET, SAG_SO_KEEPALIVE, 1, E),
                 SAG_E_MISUSE);
        CHECK_ST(sag_socket_last_error(b, E, NULL), SAG_E_MISUSE);
        CHECK_ST(sag_socket_read_select(0, &b, 1, &out, &n, E), SAG_E_MISUSE);
        if (b != NULL)
            CHECK_ST(sag_socket_free(b), SAG_E_MISUSE);
        else
            CHECK_ST(sag_socket_free(b), SAG_OK);
    }
    /* Handles of one kind given to another kind's functions. */
    CHECK_ST(sag_fdset_free((sag_fdset *)p.acc), SAG_E_MISUSE);
    CHECK_ST(sag_addrinfo_free((sag_addrinfo *)p.acc), SAG_E_MISUSE);
    CHECK_ST(sag_sockaddr_free((sag_sockaddr *)p.acc), SAG_E_MISUSE);
    CHECK_ST(sag_socket_info_free((sag_socket_info *)p.acc), SAG_E_MISUSE);
    CHECK_ST(sag_ip_address_free((sag_ip_address *)p.acc), SAG_E_MISUSE);
    CHECK_ST(sag_error_free((sag_error *)p.acc), SAG_E_MISUSE);
    CHECK_EQ(sag_handle_kind(p.acc), SAG_KIND_SOCKET); /* still alive */
    int fam = 0;
    CHECK_ST(sag_addrinfo_family((sag_addrinfo *)fds, &fam, E), SAG_E_MISUSE);
    CHECK_ST(sag_sockaddr_family((sag_sockaddr *)ai, &fam, E), SAG_E_MISUSE);
    CHECK_ST(sag_fdset_clear((sag_fdset *)ai, E), SAG_E_MISUSE);
    CHECK_ST(sag_socket_info_port((sag_socket_info *)fds, &v, E), SAG_E_MISUSE);
    CHECK_ST(sag_ip_address_is_v6((sag_ip_address *)fds, &v, E), SAG_E_MISUSE);
    CHECK_ST(sag_addrinfo_free(NULL), SAG_OK);
    CHECK_ST(sag_sockaddr_free(NULL), SAG_OK);
    CHECK_ST(sag_fdset_free(NULL), SAG_OK);
    CHECK_ST(sag_socket_info_free(NULL), SAG_OK);
    CHECK_ST(sag_ip_address_free(NULL), SAG_OK);
    CHECK_ST(sag_error_free(NULL), SAG_OK);

    section("handle kinds");
    sag_sockaddr *sa = NULL;
    sag_socket_info *si = NULL;
    sag_ip_address *ip = NULL;
    sag_error *ue = NULL;
    CHECK_ST(sag_addrinfo_sockaddr(ai, &sa, E), SAG_OK);
    CHECK_ST(sag_socket_get_info(p.acc, &si, E), SAG_OK);
    CHECK_ST(sag_socket_info_ip_address(si, &ip, E), SAG_OK);
    CHECK_ST(sag_error_new(&ue), SAG_OK);
    CHECK_EQ(sag_handle_kind(p.acc), SAG_KIND_SOCKET);
    CHECK_EQ(sag_handle_kind(p.srv), SAG_KIND_SOCKET);
    CHECK_EQ(sag_handle_kind(ai), SAG_KIND_ADDRINFO);
    CHECK_EQ(sag_handle_kind(hint), SAG_KIND_ADDRINFO);
    CHECK_EQ(sag_handle_kind(sa), SAG_KIND_SOCKADDR);
    CHECK_EQ(sag_handle_kind(si), SAG_KIND_SOCKET_INFO);
    CHECK_EQ(sag_handle_kind(ip), SAG_KIND_IP_ADDRESS);
    CHECK_EQ(sag_handle_kind(fds), SAG_KIND_FDSET);
    CHECK_EQ(sag_handle_kind(ue), SAG_KIND_ERROR);
    CHECK_EQ(sag_handle_kind(E), SAG_KIND_ERROR);
    CHECK_EQ(sag_handle_kind(sag_last_error()), SAG_KIND_ERROR);
    CHECK_EQ(sag_handle_kind(NULL), SAG_KIND_NONE);
    CHECK_EQ(sag_handle_kind((void *)0x1234), SAG_KIND_NONE);
    CHECK_EQ(sag_handle_kind((void *)(uintptr_t)-1), SAG_KIND_NONE);
    CHECK_EQ(sag_handle_kind(buf), SAG_KIND_NONE);
    CHECK_EQ(sag_handle_kind("not a handle"), SAG_KIND_NONE);
    CHECK_ST(sag_sockaddr_free(sa), SAG_OK);
    CHECK_ST(sag_socket_info_free(si), SAG_OK);
    CHECK_ST(sag_ip_address_free(ip), SAG_OK);
    CHECK_ST(sag_error_free(ue), SAG_OK);
    CHECK_ST(sag_fdset_free(fds), SAG_OK);
    CHECK_ST(sag_addrinfo_free(ai), SAG_OK);
    CHECK_ST(sag_addrinfo_free(hint), SAG_OK);
    CHECK_EQ(sag_handle_kind(sa), SAG_KIND_NONE);
    CHECK_EQ(sag_handle_kind(si), SAG_KIND_NONE);
    CHECK_EQ(sag_handle_kind(ip), SAG_KIND_NONE);
    CHECK_EQ(sag_handle_kind(ue), SAG_KIND_NONE);
    CHECK_EQ(sag_handle_kind(fds), SAG_KIND_NONE);
    CHECK_EQ(sag_handle_kind(ai), SAG_KIND_NONE);
    CHECK_ST(sag_sockaddr_free(sa), SAG_OK);
    CHECK_ST(sag_socket_info_free(si), SAG_OK);
    CHECK_ST(sag_ip_address_free(ip), SAG_OK);
    CHECK_ST(sag_fdset_free(fds), SAG_OK);
    CHECK_ST(sag_addrinfo_free(ai), SAG_OK);
    free_pair(&p);
#undef CLOSED_OP
}

/* ===== Bad inputs ======================================================== */

static void test_bad_inputs(void) {
    section("bad inputs");
    pair_t p;
    if (!PAIR_OK(&p, SAG_AF_INET))
        return;
    sag_socket *s = NULL;
    uint8_t buf[16];
    size_t n = 0;
    int v;
    int64_t t;
    /* NULL out-params. */
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, NULL, E),
             SAG_E_INVALID);
    CHECK_ST(sag_make_client_socket("127.0.0.1", "1", SAG_AF_INET, SAG_SOCK_STREAM,
                                    0, 0, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_fd(p.cli, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_is_closed(p.cli, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_get_info(p.cli, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_name(p.cli, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_getsockopt_int(p.cli, SAG_SOL_SOCKET, SAG_SO_TYPE, NULL, E),
             SAG_E_INVALID);
    CHECK_ST(sag_socket_get_read_timeout(p.cli, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_recv(p.cli, buf, 0, sizeof buf, 0, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_send(p.cli, buf, 0, 1, 0, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_accept(p.srv, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_fdset_new(NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_make_addrinfo(NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_sockaddr_new(NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_select(NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, E),
             SAG_E_INVALID);
    /* Buffers. */
    CHECK_ST(sag_socket_recv(p.cli, NULL, 0, 10, 0, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_send(p.cli, NULL, 0, 10, 0, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_recv(p.cli, buf, SIZE_MAX, 1, 0, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_send(p.cli, buf, SIZE_MAX, 1, 0, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_setsockopt_bytes(p.cli, SAG_SOL_SOCKET, SAG_SO_LINGER, buf,
                                         SIZE_MAX, 1, E), SAG_E_INVALID);
    sag_sockaddr *sa = NULL;
    CHECK_ST(sag_sockaddr_new(&sa, E), SAG_OK);
    CHECK_ST(sag_socket_recvfrom(p.cli, NULL, 0, 10, 0, sa, &n, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_recvfrom(p.cli, buf, SIZE_MAX, 1, 0, sa, &n, E),
             SAG_E_INVALID);
    CHECK_ST(sag_socket_recvfrom(p.cli, buf, 0, sizeof buf, 0, sa, NULL, E),
             SAG_E_INVALID);
    CHECK_ST(sag_sockaddr_free(sa), SAG_OK);
    /* A zero-length send is fine. */
    n = 99;
    CHECK_ST(sag_socket_send(p.cli, NULL, 0, 0, 0, &n, E), SAG_OK);
    CHECK_EQ(n, 0);
    /* shutdown how. */
    CHECK_ST(sag_socket_shutdown(p.cli, 42, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_shutdown(p.cli, -1, E), SAG_E_INVALID);
    /* Timeouts. */
    CHECK_ST(sag_socket_set_read_timeout(p.cli, -1, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_set_read_timeout(p.cli, INT64_MIN, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_get_read_timeout(p.cli, &t, E), SAG_OK);
    CHECK_EQ(t, 0);
    /* Strings. */
    CHECK_ST(sag_make_client_socket("\xff\xfe", "80", SAG_AF_INET, SAG_SOCK_STREAM,
                                    0, 0, &s, E), SAG_E_INVALID);
    CHECK_ST(sag_make_client_socket("127.0.0.1", "\xc3\x28", SAG_AF_INET,
                                    SAG_SOCK_STREAM, 0, 0, &s, E), SAG_E_INVALID);
    sag_addrinfo *ai = NULL;
    CHECK_ST(sag_get_addrinfo("\xff\xfe", "80", NULL, &ai, E), SAG_E_INVALID);
    CHECK_ST(sag_make_server_socket("\xff", SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, E),
             SAG_E_INVALID);
    CHECK_ST(sag_constant("\xff\xfe", &v), SAG_E_INVALID);
    size_t big = 64 * 1024;
    char *longnode = malloc(big + 1);
    if (longnode) {
        memset(longnode, 'a', big);
        longnode[big] = '\0';
        int st = sag_make_client_socket(longnode, "80", SAG_AF_INET,
                                        SAG_SOCK_STREAM, 0, 0, &s, E);
        CHECK(st < 0);
        st = sag_get_addrinfo(longnode, "80", NULL, &ai, E);
        CHECK(st < 0);
        free(longnode);
    }
    /* Bad family/socktype for make_socket: the OS refuses. */
    CHECK_ST(sag_make_socket(12345, SAG_SOCK_STREAM, 0, &s, E), SAG_E_SOCKET);
    CHECK_EQ(sag_error_errno(E), EAFNOSUPPORT);
    free_pair(&p);
}
