/* abi/options.c: part of test_abi.c, which includes it (socket options set
 * and read back, bad options, non-blocking mode).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Options =========================================================== */

static void test_options(void) {
    section("options");
    pair_t p;
    if (!PAIR_OK(&p, SAG_AF_INET))
        return;
    int v = -1;
    CHECK_ST(sag_socket_getsockopt_int(p.acc, SAG_IPPROTO_TCP, SAG_TCP_NODELAY, &v, E),
             SAG_OK);
    CHECK_EQ(v, 1);
    v = -1;
    CHECK_ST(sag_socket_getsockopt_int(p.cli, SAG_SOL_TCP, SAG_TCP_NODELAY, &v, E),
             SAG_OK);
    CHECK_EQ(v, 1);
    CHECK_ST(sag_socket_setsockopt_int(p.cli, SAG_SOL_SOCKET, SAG_SO_KEEPALIVE, 1, E),
             SAG_OK);
    CHECK_ST(sag_socket_getsockopt_int(p.cli, SAG_SOL_SOCKET, SAG_SO_KEEPALIVE, &v, E),
             SAG_OK);
    CHECK(v != 0);
    CHECK_ST(sag_socket_setsockopt_int(p.cli, SAG_SOL_SOCKET, SAG_SO_KEEPALIVE, 0, E),
             SAG_OK);
    CHECK_ST(sag_socket_getsockopt_int(p.cli, SAG_SOL_SOCKET, SAG_SO_KEEPALIVE, &v, E),
             SAG_OK);
    CHECK_EQ(v, 0);
    CHECK_ST(sag_socket_getsockopt_int(p.cli, SAG_SOL_SOCKET, SAG_SO_TYPE, &v, E),
             SAG_OK);
    CHECK_EQ(v, SOCK_STREAM);
    /* Server socket: SO_REUSEADDR on, listening. */
    CHECK_ST(sag_socket_getsockopt_int(p.srv, SAG_SOL_SOCKET, SAG_SO_REUSEADDR, &v, E),
             SAG_OK);
    CHECK(v != 0);
    CHECK_ST(sag_socket_getsockopt_int(p.srv, SAG_SOL_SOCKET, SAG_SO_ACCEPTCONN, &v, E),
             SAG_OK);
    CHECK(v != 0);

    /* Bytes: SO_LINGER. */
    struct linger lg = {1, 5}, back;
    uint8_t buf[32];
    size_t size = 0;
    CHECK_ST(sag_socket_setsockopt_bytes(p.cli, SAG_SOL_SOCKET, SAG_SO_LINGER,
                                         (const uint8_t *)&lg, 0, sizeof lg, E),
             SAG_OK);
    memset(buf, 0xaa, sizeof buf);
    CHECK_ST(sag_socket_getsockopt_bytes(p.cli, SAG_SOL_SOCKET, SAG_SO_LINGER, buf,
                                         4, sizeof lg, &size, E), SAG_OK);
    CHECK_EQ(size, sizeof lg);
    memcpy(&back, buf + 4, sizeof back);
    CHECK(back.l_onoff != 0);
    CHECK_EQ(back.l_linger, 5);
    CHECK(buf[0] == 0xaa && buf[3] == 0xaa && buf[4 + sizeof lg] == 0xaa);
    /* Larger buffer: zeroed, size is what the OS wrote. */
    memset(buf, 0xaa, sizeof buf);
    CHECK_ST(sag_socket_getsockopt_bytes(p.cli, SAG_SOL_SOCKET, SAG_SO_LINGER, buf,
                                         0, sizeof buf, &size, E), SAG_OK);
    CHECK_EQ(size, sizeof lg);
    CHECK(buf[sizeof buf - 1] == 0);
    /* Bytes on an offset. */
    uint8_t wrap[4 + sizeof lg];
    lg.l_onoff = 0;
    lg.l_linger = 0;
    memcpy(wrap + 4, &lg, sizeof lg);
    CHECK_ST(sag_socket_setsockopt_bytes(p.cli, SAG_SOL_SOCKET, SAG_SO_LINGER, wrap,
                                         4, sizeof lg, E), SAG_OK);
    CHECK_ST(sag_socket_getsockopt_bytes(p.cli, SAG_SOL_SOCKET, SAG_SO_LINGER, buf,
                                         0, sizeof lg, &size, E), SAG_OK);
    memcpy(&back, buf, sizeof back);
    CHECK_EQ(back.l_onoff, 0);
    CHECK_ST(sag_socket_setsockopt_bytes(p.cli, SAG_SOL_SOCKET, SAG_SO_LINGER, NULL,
                                         0, sizeof lg, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_getsockopt_bytes(p.cli, SAG_SOL_SOCKET, SAG_SO_LINGER, buf,
                                         SIZE_MAX, 2, &size, E), SAG_E_INVALID);

    /* Duration: SO_RCVTIMEO. */
    int64_t d = -5, rt = -5;
    CHECK_ST(sag_socket_setsockopt_duration(p.acc, SAG_SOL_SOCKET, SAG_SO_RCVTIMEO,
                                            1500000, E), SAG_OK);
    CHECK_ST(sag_socket_getsockopt_duration(p.acc, SAG_SOL_SOCKET, SAG_SO_RCVTIMEO,
                                            &d, E), SAG_OK);
    CHECK_EQ(d, 1500000);
    CHECK_ST(sag_socket_get_read_timeout(p.acc, &rt, E), SAG_OK);
    CHECK_EQ(rt, 1500000);
    CHECK_ST(sag_socket_setsockopt_duration(p.acc, SAG_SOL_SOCKET, SAG_SO_RCVTIMEO,
                                            0, E), SAG_OK);
    CHECK_ST(sag_socket_getsockopt_duration(p.acc, SAG_SOL_SOCKET, SAG_SO_RCVTIMEO,
                                            &d, E), SAG_OK);
    CHECK_EQ(d, 0);
    CHECK_ST(sag_socket_setsockopt_duration(p.acc, SAG_SOL_SOCKET, SAG_SO_SNDTIMEO,
                                            200000, E), SAG_OK);
    CHECK_ST(sag_socket_getsockopt_duration(p.acc, SAG_SOL_SOCKET, SAG_SO_SNDTIMEO,
                                            &d, E), SAG_OK);
    CHECK_EQ(d, 200000);
    CHECK_ST(sag_socket_setsockopt_duration(p.acc, SAG_SOL_SOCKET, SAG_SO_KEEPALIVE,
                                            1000, E), SAG_E_INVALID);
    CHECK_EQ(sag_error_status(E), SAG_E_INVALID);
    CHECK_ST(sag_socket_setsockopt_duration(p.acc, SAG_SOL_SOCKET, SAG_SO_RCVTIMEO,
                                            -1, E), SAG_E_INVALID);

    section("non-blocking");
    int nb = -1;
    CHECK_ST(sag_socket_set_nonblocking(p.acc, 1, E), SAG_OK);
    CHECK_ST(sag_socket_is_nonblocking(p.acc, &nb, E), SAG_OK);
    CHECK_EQ(nb, 1);
    size_t n = 99;
    CHECK_ST(sag_socket_recv(p.acc, buf, 0, sizeof buf, 0, &n, E), SAG_E_WOULD_BLOCK);
    CHECK_EQ(n, 99);
    CHECK_EQ(sag_error_status(E), SAG_E_WOULD_BLOCK);
    CHECK(sag_error_socket(E) == p.acc);
    CHECK_ST(sag_socket_set_nonblocking(p.srv, 1, E), SAG_OK);
    sag_socket *o = NULL;
    CHECK_ST(sag_socket_accept(p.srv, &o, E), SAG_E_WOULD_BLOCK);
    CHECK(o == NULL);
    /* MSG_DONTWAIT on a blocking socket. */
    CHECK_ST(sag_socket_recv(p.cli, buf, 0, sizeof buf, SAG_MSG_DONTWAIT, &n, E),
             SAG_E_WOULD_BLOCK);
    /* Data arrives: read it; then blocking again. */
    CHECK_ST(send_all(p.cli, "q", 1), SAG_OK);
    sag_socket *ready[1];
    size_t nr = 0;
    CHECK_ST(sag_socket_read_select(2000000, &p.acc, 1, ready, &nr, E), SAG_OK);
    CHECK_ST(sag_socket_recv(p.acc, buf, 0, sizeof buf, 0, &n, E), SAG_OK);
    CHECK_EQ(n, 1);
    CHECK_ST(sag_socket_set_nonblocking(p.acc, 0, E), SAG_OK);
    CHECK_ST(sag_socket_is_nonblocking(p.acc, &nb, E), SAG_OK);
    CHECK_EQ(nb, 0);
    /* MSG_PEEK leaves the data. */
    CHECK_ST(send_all(p.cli, "pk", 2), SAG_OK);
    CHECK_ST(sag_socket_read_select(2000000, &p.acc, 1, ready, &nr, E), SAG_OK);
    sleep_ms(10);
    CHECK_ST(sag_socket_recv(p.acc, buf, 0, 2, SAG_MSG_PEEK, &n, E), SAG_OK);
    CHECK(n >= 1 && buf[0] == 'p');
    CHECK_EQ(recv_n(p.acc, buf, 2, E), 2);
    CHECK(memcmp(buf, "pk", 2) == 0);
    free_pair(&p);
}
