/* abi/unix.c: part of test_abi.c, which includes it (Unix-domain sockets, an
 * extension: by path, in the abstract namespace, datagrams, sockaddrs made
 * and read, socket pairs, peer credentials, bad paths).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Unix-domain sockets (an extension) ================================ */

#define UPATH(p) (const uint8_t *)(p), 0, strlen(p)

/* Sends `text` on `from`, receives it whole on `to` (read timeout 10 s). */
static void unix_exchange(sag_socket *from, sag_socket *to, const char *text) {
    uint8_t buf[64];
    size_t n = strlen(text), got = 0;
    CHECK_ST(send_all(from, text, n), SAG_OK);
    CHECK_ST(sag_socket_set_read_timeout(to, 10 * 1000000LL, E), SAG_OK);
    while (got < n) {
        size_t r = 0;
        if (sag_socket_recv(to, buf, got, sizeof buf - got, 0, &r, E) != SAG_OK || r == 0)
            break;
        got += r;
    }
    CHECK_EQ(got, n);
    CHECK(got == n && memcmp(buf, text, n) == 0);
}

static void check_own_credentials(sag_socket *s) {
    int64_t pid = -1, uid = -1, gid = -1;
    CHECK_ST(sag_socket_peer_credentials(s, &pid, &uid, &gid, E), SAG_OK);
    CHECK_EQ(pid, (int64_t)getpid());
    CHECK_EQ(uid, (int64_t)getuid());
    CHECK_EQ(gid, (int64_t)getgid());
}

/* sag_sockaddr_path into a buffer; the path's length, or -1. */
static long sockaddr_path(sag_sockaddr *sa, uint8_t *buf, size_t cap) {
    size_t size = 0;
    return sag_sockaddr_path(sa, buf, 0, cap, &size, E) == SAG_OK ? (long)size : -1;
}

static void test_unix(void) {
    section("unix: stream server and client by path, peer credentials");
    char dir[] = "/tmp/sagsocket-unix.XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    char path[128], path2[128];
    snprintf(path, sizeof path, "%s/stream", dir);
    snprintf(path2, sizeof path2, "%s/dgram", dir);
    sag_socket *srv = NULL, *cli = NULL, *acc = NULL, *other = NULL;
    CHECK_ST(sag_make_unix_server_socket(UPATH(path), SAG_SOCK_STREAM, &srv, E), SAG_OK);
    struct stat st_;
    CHECK(stat(path, &st_) == 0 && S_ISSOCK(st_.st_mode));
    CHECK_ST(sag_make_unix_client_socket(UPATH(path), SAG_SOCK_STREAM, &cli, E), SAG_OK);
    CHECK_ST(sag_socket_accept(srv, &acc, E), SAG_OK);
    if (cli && acc) {
        unix_exchange(cli, acc, "hello over AF_UNIX");
        unix_exchange(acc, cli, "and back");
        check_own_credentials(acc);
        check_own_credentials(cli);
        /* no IP address: socket-info and socket-peer answer NULL (#f) */
        sag_socket_info *info = (sag_socket_info *)0x1;
        CHECK_ST(sag_socket_get_info(cli, &info, E), SAG_OK);
        CHECK(info == NULL);
        info = (sag_socket_info *)0x1;
        CHECK_ST(sag_socket_get_peer(acc, &info, E), SAG_OK);
        CHECK(info == NULL);
    }
    /* the path is taken */
    CHECK_ST(sag_make_unix_server_socket(UPATH(path), SAG_SOCK_STREAM, &other, E), SAG_E_SOCKET);
    CHECK_EQ(sag_error_errno(E), EADDRINUSE);
    CHECK(other == NULL);
    CHECK_ST(sag_socket_free(acc), SAG_OK);
    CHECK_ST(sag_socket_free(cli), SAG_OK);
    CHECK_ST(sag_socket_free(srv), SAG_OK);
    /* the file stays after close; with no listener behind it: refused */
    CHECK(stat(path, &st_) == 0);
    CHECK_ST(sag_make_unix_client_socket(UPATH(path), SAG_SOCK_STREAM, &other, E), SAG_E_CONNECTION);
    CHECK_EQ(sag_error_errno(E), ECONNREFUSED);
    CHECK(unlink(path) == 0);
    CHECK_ST(sag_make_unix_client_socket(UPATH(path), SAG_SOCK_STREAM, &other, E), SAG_E_CONNECTION);
    CHECK_EQ(sag_error_errno(E), ENOENT);

    section("unix: the abstract namespace (stream and seqpacket)");
    uint8_t abs_[64];
    abs_[0] = 0;
    size_t alen = 1 + (size_t)snprintf((char *)abs_ + 1, sizeof abs_ - 1, "sagsocket-test-%d", (int)getpid());
    int types[2] = {SAG_SOCK_STREAM, SAG_SOCK_SEQPACKET};
    for (int t = 0; t < 2; t++) {
        srv = cli = acc = NULL;
        CHECK_ST(sag_make_unix_server_socket(abs_, 0, alen, types[t], &srv, E), SAG_OK);
        CHECK_ST(sag_make_unix_client_socket(abs_, 0, alen, types[t], &cli, E), SAG_OK);
        CHECK_ST(sag_socket_accept(srv, &acc, E), SAG_OK);
        if (acc && cli) {
            unix_exchange(cli, acc, "abstract");
            check_own_credentials(acc);
        }
        sag_socket_free(acc);
        sag_socket_free(cli);
        sag_socket_free(srv);
    }
    /* an abstract name goes with its socket */
    CHECK_ST(sag_make_unix_client_socket(abs_, 0, alen, SAG_SOCK_STREAM, &other, E), SAG_E_CONNECTION);
    CHECK_EQ(sag_error_errno(E), ECONNREFUSED);

    section("unix: datagrams, sockaddrs made and read");
    sag_socket *dsrv = NULL, *dcli = NULL, *lone = NULL;
    sag_sockaddr *from = NULL, *to = NULL;
    uint8_t buf[128];
    size_t n = 0, size = 0;
    int fam = -1, port = -1;
    CHECK_ST(sag_make_unix_server_socket(UPATH(path2), SAG_SOCK_DGRAM, &dsrv, E), SAG_OK);
    CHECK_ST(sag_make_unix_client_socket(UPATH(path2), SAG_SOCK_DGRAM, &dcli, E), SAG_OK);
    CHECK_ST(sag_sockaddr_new(&from, E), SAG_OK);
    CHECK_ST(sag_sockaddr_family(from, &fam, E), SAG_OK);
    CHECK_EQ(fam, SAG_AF_UNSPEC);
    if (dsrv && dcli && from) {
        CHECK_ST(sag_socket_set_read_timeout(dsrv, 10 * 1000000LL, E), SAG_OK);
        CHECK_ST(sag_socket_set_read_timeout(dcli, 10 * 1000000LL, E), SAG_OK);
        CHECK_ST(send_all(dcli, "ping", 4), SAG_OK);
        CHECK_ST(sag_socket_recvfrom(dsrv, buf, 0, sizeof buf, 0, from, &n, E), SAG_OK);
        CHECK(n == 4 && memcmp(buf, "ping", 4) == 0);
        CHECK_ST(sag_sockaddr_family(from, &fam, E), SAG_OK);
        CHECK_EQ(fam, SAG_AF_UNIX);
        CHECK_ST(sag_sockaddr_port(from, &port, E), SAG_E_INVALID);
        /* the client was bound to an abstract name of its own (autobind) */
        long plen = sockaddr_path(from, buf, sizeof buf);
        CHECK(plen > 1);
        CHECK_EQ(buf[0], 0);
        /* so the server answers it at that address */
        size_t sent = 0;
        CHECK_ST(sag_socket_sendto(dsrv, (const uint8_t *)"pong", 0, 4, 0, from, &sent, E), SAG_OK);
        CHECK_EQ(sent, 4);
        CHECK_ST(sag_socket_recv(dcli, buf, 0, sizeof buf, 0, &n, E), SAG_OK);
        CHECK(n == 4 && memcmp(buf, "pong", 4) == 0);
        /* a sockaddr made from a path, for a socket that did not bind */
        CHECK_ST(sag_make_unix_sockaddr(UPATH(path2), &to, E), SAG_OK);
        CHECK_ST(sag_sockaddr_family(to, &fam, E), SAG_OK);
        CHECK_EQ(fam, SAG_AF_UNIX);
        CHECK_EQ(sockaddr_path(to, buf, sizeof buf), (long)strlen(path2));
        CHECK(memcmp(buf, path2, strlen(path2)) == 0);
        CHECK_ST(sag_make_socket(SAG_AF_UNIX, SAG_SOCK_DGRAM, 0, &lone, E), SAG_OK);
        CHECK_ST(sag_socket_sendto(lone, (const uint8_t *)"anon", 0, 4, 0, to, &sent, E), SAG_OK);
        CHECK_ST(sag_socket_recvfrom(dsrv, buf, 0, sizeof buf, 0, from, &n, E), SAG_OK);
        CHECK(n == 4 && memcmp(buf, "anon", 4) == 0);
        /* from an unnamed sender, recvfrom gets no address: the sockaddr
         * reads as empty (AF_UNSPEC, no path) */
        CHECK_ST(sag_sockaddr_family(from, &fam, E), SAG_OK);
        CHECK_EQ(fam, SAG_AF_UNSPEC);
        CHECK_ST(sag_sockaddr_path(from, buf, 0, sizeof buf, &size, E), SAG_E_INVALID);
    }
    /* a buffer too small: INVALID, the size still written */
    CHECK_ST(sag_sockaddr_path(to, buf, 0, 3, &size, E), SAG_E_INVALID);
    CHECK_EQ(size, strlen(path2));
    sag_sockaddr_free(to);
    to = NULL;
    sag_socket_free(lone);
    sag_socket_free(dcli);
    sag_socket_free(dsrv);
    unlink(path2);
    /* an IPv4 sockaddr has no path */
    sag_addrinfo *ai = NULL;
    sag_sockaddr *inet = NULL;
    if (sag_get_addrinfo("127.0.0.1", "80", NULL, &ai, E) == SAG_OK &&
        sag_addrinfo_sockaddr(ai, &inet, E) == SAG_OK && inet) {
        CHECK_ST(sag_sockaddr_path(inet, buf, 0, sizeof buf, &size, E), SAG_E_INVALID);
        CHECK_ST(sag_sockaddr_port(inet, &port, E), SAG_OK);
        CHECK_EQ(port, 80);
    }
    sag_sockaddr_free(inet);
    sag_addrinfo_free(ai);
    sag_sockaddr_free(from);

    section("unix: make_socket, then bind and connect with a sockaddr; a socket's sockaddrs");
    {
        sag_socket *ls = NULL, *cs = NULL, *as = NULL;
        sag_sockaddr *where = NULL, *got = NULL;
        CHECK_ST(sag_make_unix_sockaddr(UPATH(path), &where, E), SAG_OK);
        CHECK_ST(sag_make_socket(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &ls, E), SAG_OK);
        CHECK_ST(sag_make_socket(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &cs, E), SAG_OK);
        got = (sag_sockaddr *)0x1;
        CHECK_ST(sag_socket_sockaddr(cs, 1, &got, E), SAG_OK);
        CHECK(got == NULL); /* not connected: no peer */
        CHECK_ST(sag_socket_bind_sockaddr(ls, where, E), SAG_OK);
        CHECK_ST(sag_socket_listen(ls, 8, E), SAG_OK);
        CHECK_ST(sag_socket_connect_sockaddr(cs, where, 10 * 1000000LL, E), SAG_OK);
        CHECK_ST(sag_socket_accept(ls, &as, E), SAG_OK);
        if (as) {
            unix_exchange(cs, as, "made by hand");
            CHECK_ST(sag_socket_sockaddr(ls, 0, &got, E), SAG_OK);
            CHECK_EQ(sockaddr_path(got, buf, sizeof buf), (long)strlen(path));
            CHECK(memcmp(buf, path, strlen(path)) == 0);
            sag_sockaddr_free(got);
            CHECK_ST(sag_socket_sockaddr(cs, 1, &got, E), SAG_OK);
            CHECK_EQ(sockaddr_path(got, buf, sizeof buf), (long)strlen(path));
            sag_sockaddr_free(got);
            /* the client did not bind: its address is unnamed (no path) */
            CHECK_ST(sag_socket_sockaddr(as, 1, &got, E), SAG_OK);
            CHECK_ST(sag_sockaddr_family(got, &fam, E), SAG_OK);
            CHECK_EQ(fam, SAG_AF_UNIX);
            CHECK_EQ(sockaddr_path(got, buf, sizeof buf), 0);
            sag_sockaddr_free(got);
        }
        /* the empty path: the unnamed address; bound to, Linux gives the
         * socket an abstract name of its own (autobind: a NUL and 5 hex
         * digits), a different one for each socket */
        {
            sag_sockaddr *unnamed = NULL, *name1 = NULL, *name2 = NULL;
            sag_socket *b1 = NULL, *b2 = NULL;
            uint8_t p1[128], p2[128];
            CHECK_ST(sag_make_unix_sockaddr((const uint8_t *)"", 0, 0, &unnamed, E), SAG_OK);
            CHECK_ST(sag_make_socket(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &b1, E), SAG_OK);
            CHECK_ST(sag_make_socket(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &b2, E), SAG_OK);
            CHECK_ST(sag_socket_bind_sockaddr(b1, unnamed, E), SAG_OK);
            CHECK_ST(sag_socket_bind_sockaddr(b2, unnamed, E), SAG_OK);
            CHECK_ST(sag_socket_sockaddr(b1, 0, &name1, E), SAG_OK);
            CHECK_ST(sag_socket_sockaddr(b2, 0, &name2, E), SAG_OK);
            long n1 = sockaddr_path(name1, p1, sizeof p1), n2 = sockaddr_path(name2, p2, sizeof p2);
            CHECK_EQ(n1, 6);
            CHECK_EQ(n2, 6);
            CHECK(n1 == 6 && p1[0] == 0 && n2 == 6 && memcmp(p1, p2, 6) != 0);
            sag_sockaddr_free(name1);
            sag_sockaddr_free(name2);
            sag_sockaddr_free(unnamed);
            sag_socket_free(b1);
            sag_socket_free(b2);
        }
        /* a bad sockaddr handle */
        CHECK_ST(sag_socket_bind_sockaddr(cs, NULL, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_connect_sockaddr(cs, (sag_sockaddr *)ls, -1, E), SAG_E_MISUSE);
        sag_socket_free(as);
        CHECK_ST(sag_socket_close(cs, E), SAG_OK);
        CHECK_ST(sag_socket_sockaddr(cs, 0, &got, E), SAG_E_CLOSED);
        sag_socket_free(cs);
        sag_socket_free(ls);
        sag_sockaddr_free(where);
        unlink(path);
        /* an IPv4 socket's sockaddrs */
        pair_t tp;
        if (make_pair(&tp, SAG_AF_INET) == 0) {
            CHECK_ST(sag_socket_sockaddr(tp.cli, 1, &got, E), SAG_OK);
            CHECK_ST(sag_sockaddr_family(got, &fam, E), SAG_OK);
            CHECK_EQ(fam, SAG_AF_INET);
            CHECK_ST(sag_sockaddr_port(got, &port, E), SAG_OK);
            CHECK_EQ(port, tp.port);
            sag_sockaddr_free(got);
        }
        free_pair(&tp);
    }

    section("unix: socket pairs");
    sag_socket *a = NULL, *b = NULL;
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, &a, &b, E), SAG_OK);
    if (a && b) {
        unix_exchange(a, b, "one way");
        unix_exchange(b, a, "the other");
        check_own_credentials(a);
        /* a closed end: end of stream at the other */
        CHECK_ST(sag_socket_close(a, E), SAG_OK);
        CHECK_ST(sag_socket_recv(b, buf, 0, sizeof buf, 0, &n, E), SAG_OK);
        CHECK_EQ(n, 0);
    }
    sag_socket_free(a);
    sag_socket_free(b);
    a = b = NULL;
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_DGRAM, 0, &a, &b, E), SAG_OK);
    if (a && b)
        unix_exchange(a, b, "a datagram");
    sag_socket_free(a);
    sag_socket_free(b);
    a = b = (sag_socket *)0x1;
    CHECK_ST(sag_socket_pair(SAG_AF_INET, SAG_SOCK_STREAM, 0, &a, &b, E), SAG_E_SOCKET);
    CHECK(sag_error_errno(E) != 0);
    CHECK(a == (sag_socket *)0x1 && b == (sag_socket *)0x1);
    CHECK_ST(sag_socket_pair(SAG_AF_UNIX, SAG_SOCK_STREAM, 0, NULL, &b, E), SAG_E_INVALID);

    section("unix: bad paths");
    char longp[200];
    memset(longp, 'a', sizeof longp);
    CHECK_ST(sag_make_unix_server_socket((const uint8_t *)"", 0, 0, SAG_SOCK_STREAM, &other, E), SAG_E_INVALID);
    CHECK_ST(sag_make_unix_server_socket((const uint8_t *)longp, 0, 108, SAG_SOCK_STREAM, &other, E),
             SAG_E_INVALID); /* 108 bytes: no room for the NUL */
    CHECK_ST(sag_make_unix_client_socket((const uint8_t *)"a\0b", 0, 3, SAG_SOCK_STREAM, &other, E),
             SAG_E_INVALID);
    CHECK_ST(sag_make_unix_sockaddr(NULL, 0, 4, &to, E), SAG_E_INVALID);
    longp[0] = 0; /* abstract: the NUL and 107 bytes fit, 108 do not */
    CHECK_ST(sag_make_unix_sockaddr((const uint8_t *)longp, 0, 108, &to, E), SAG_OK);
    CHECK_EQ(sockaddr_path(to, buf, sizeof buf), 108);
    sag_sockaddr_free(to);
    CHECK_ST(sag_make_unix_sockaddr((const uint8_t *)longp, 0, 109, &to, E), SAG_E_INVALID);
    CHECK(other == NULL);
    rmdir(dir);
}
