/* abi/timeouts.c: part of test_abi.c, which includes it (the read timeout,
 * connect with a timeout and to a refused port, the thread's deadline).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Read timeout ====================================================== */

static void test_read_timeout(void) {
    section("read timeout");
    pair_t p;
    if (!PAIR_OK(&p, SAG_AF_INET))
        return;
    int64_t t = -5;
    CHECK_ST(sag_socket_get_read_timeout(p.acc, &t, E), SAG_OK);
    CHECK_EQ(t, 0);
    CHECK_ST(sag_socket_set_read_timeout(p.acc, 200000, E), SAG_OK);
    CHECK_ST(sag_socket_get_read_timeout(p.acc, &t, E), SAG_OK);
    CHECK_EQ(t, 200000);
    int64_t so = -5;
    CHECK_ST(sag_socket_getsockopt_duration(p.acc, SAG_SOL_SOCKET,
                                            SAG_SO_RCVTIMEO, &so, E), SAG_OK);
    CHECK_EQ(so, 200000);

    uint8_t buf[16];
    size_t n = 77;
    sag_error_clear(E);
    int64_t t0 = now_us();
    CHECK_ST(sag_socket_recv(p.acc, buf, 0, sizeof buf, 0, &n, E),
             SAG_E_READ_TIMEOUT);
    int64_t el = now_us() - t0;
    CHECK_EQ(n, 77);
    CHECK_EQ(sag_error_status(E), SAG_E_READ_TIMEOUT);
    CHECK_EQ(sag_error_timeout(E), 200000);
    CHECK(sag_error_socket(E) == p.acc);
    CHECK(sag_error_port(E) == NULL);
    CHECK(sag_error_message(E)[0] != '\0');
    CHECK(sag_error_operation(E)[0] != '\0');
    CHECK_STR(sag_error_node(E), NULL);
    CHECK_EQ(sag_error_timeout(sag_last_error()), 200000);
    CHECK(sag_status_is(sag_error_status(E), SAG_E_SOCKET));
    CHECK(el >= 200000);
    if (!getenv("SAG_TEST_NO_TIMING") || strcmp(getenv("SAG_TEST_NO_TIMING"), "1") != 0) {
        if (!(el < 5000000))
            printf("note: read timeout elapsed %lld us\n", (long long)el);
        CHECK(el < 5000000); /* it ends, generously: not a latency test */
    }

    /* recvfrom honours it too. */
    sag_sockaddr *from = NULL;
    CHECK_ST(sag_sockaddr_new(&from, E), SAG_OK);
    CHECK_ST(sag_socket_recvfrom(p.acc, buf, 0, sizeof buf, 0, from, &n, E),
             SAG_E_READ_TIMEOUT);
    CHECK_EQ(sag_error_timeout(E), 200000);
    sag_sockaddr_free(from);

    /* Data that arrives is read normally. */
    CHECK_ST(send_all(p.cli, "x", 1), SAG_OK);
    CHECK_ST(sag_socket_recv(p.acc, buf, 0, sizeof buf, 0, &n, E), SAG_OK);
    CHECK_EQ(n, 1);

    /* Negative: invalid; 0: none. */
    CHECK_ST(sag_socket_set_read_timeout(p.acc, -1, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_get_read_timeout(p.acc, &t, E), SAG_OK);
    CHECK_EQ(t, 200000);
    CHECK_ST(sag_socket_set_read_timeout(p.acc, 0, E), SAG_OK);
    CHECK_ST(sag_socket_get_read_timeout(p.acc, &t, E), SAG_OK);
    CHECK_EQ(t, 0);

    /* The read timeout applies to accept as well. */
    CHECK_ST(sag_socket_set_read_timeout(p.srv, 100000, E), SAG_OK);
    sag_socket *a2 = NULL;
    CHECK_ST(sag_socket_accept(p.srv, &a2, E), SAG_E_READ_TIMEOUT);
    CHECK_EQ(sag_error_timeout(E), 100000);
    CHECK(a2 == NULL);
    free_pair(&p);
}

/* ===== Connect: timeout and refused ====================================== */

static void test_connect(void) {
    section("connect timeout (full accept queue)");
    sag_socket *L = NULL;
    sag_addrinfo *hint = NULL, *ai = NULL, *target = NULL;
    CHECK_ST(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &L, E), SAG_OK);
    CHECK_ST(sag_make_hint_addrinfo(SAG_AF_INET, SAG_SOCK_STREAM,
                                    SAG_AI_NUMERICHOST, 0, &hint, E), SAG_OK);
    CHECK_ST(sag_get_addrinfo("127.0.0.1", "0", hint, &ai, E), SAG_OK);
    CHECK_ST(sag_socket_bind(L, ai, E), SAG_OK);
    CHECK_ST(sag_socket_listen(L, 0, E), SAG_OK);
    int port = local_port(L);
    CHECK(port > 0);
    const char *s = (const char *)0x1;
    CHECK_ST(sag_socket_node(L, &s, E), SAG_OK);
    CHECK_STR(s, NULL);
    char svc[16];
    snprintf(svc, sizeof svc, "%d", port);
    CHECK_ST(sag_get_addrinfo("127.0.0.1", svc, hint, &target, E), SAG_OK);

    sag_socket *fill[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 4; i++) {
        CHECK_ST(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &fill[i], E),
                 SAG_OK);
        CHECK_ST(sag_socket_set_nonblocking(fill[i], 1, E), SAG_OK);
        int st = sag_socket_connect(fill[i], target, -1, E);
        if (st != SAG_OK && st != SAG_E_WOULD_BLOCK) {
            char d[128];
            snprintf(d, sizeof d, "got %d %s", st, sag_status_name(st));
            check_fail(__FILE__, __LINE__,
                       "non-blocking connect is SAG_OK or SAG_E_WOULD_BLOCK", d);
        } else {
            atomic_fetch_add(&g_pass, 1);
        }
    }
    /* The queue (backlog 0) is full once a filler's handshake completed:
     * then the listener is readable. */
    CHECK(wait_readable(L));
    sag_socket *b = NULL;
    CHECK_ST(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &b, E), SAG_OK);
    sag_error_clear(E);
    int64_t t0 = now_us();
    CHECK_ST(sag_socket_connect(b, target, 300000, E), SAG_E_CONNECTION);
    int64_t el = now_us() - t0;
    CHECK_EQ(sag_error_errno(E), ETIMEDOUT);
    CHECK_EQ(sag_error_status(E), SAG_E_CONNECTION);
    CHECK(sag_error_socket(E) == b);
    CHECK(sag_error_message(E)[0] != '\0');
    CHECK(sag_error_operation(E)[0] != '\0');
    CHECK(sag_error_port(E) == NULL);
    CHECK_EQ(sag_error_timeout(E), 300000);
    CHECK(el >= 300000);
    CHECK(el < 5000000);
    CHECK_ST(sag_socket_free(b), SAG_OK);
    for (int i = 0; i < 4; i++)
        CHECK_ST(sag_socket_free(fill[i]), SAG_OK);
    CHECK_ST(sag_socket_free(L), SAG_OK);
    CHECK_ST(sag_addrinfo_free(target), SAG_OK);
    target = NULL;

    section("connection refused");
    /* A port that was bound and is now closed. */
    sag_socket *tmp = NULL;
    CHECK_ST(sag_make_server_socket("0", SAG_AF_INET, SAG_SOCK_STREAM, 0, &tmp, E),
             SAG_OK);
    port = local_port(tmp);
    CHECK_ST(sag_socket_free(tmp), SAG_OK);
    snprintf(svc, sizeof svc, "%d", port);
    CHECK_ST(sag_get_addrinfo("127.0.0.1", svc, hint, &target, E), SAG_OK);
    static const int64_t timeouts[] = {-1, 1000000};
    for (int i = 0; i < 2; i++) {
        CHECK_ST(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &b, E), SAG_OK);
        CHECK_ST(sag_socket_connect(b, target, timeouts[i], E), SAG_E_CONNECTION);
        CHECK_EQ(sag_error_errno(E), ECONNREFUSED);
        CHECK(sag_error_socket(E) == b);
        CHECK_ST(sag_socket_free(b), SAG_OK);
    }
    /* make-client-socket: no address connects → &host-not-found. */
    sag_socket *c = (sag_socket *)0x99;
    CHECK_ST(sag_make_client_socket("127.0.0.1", svc, SAG_AF_INET,
                                    SAG_SOCK_STREAM, 0, 0, &c, E),
             SAG_E_HOST_NOT_FOUND);
    CHECK(c == (sag_socket *)0x99);
    CHECK_STR(sag_error_node(E), "127.0.0.1");
    CHECK_STR(sag_error_service(E), svc);
    CHECK_EQ(sag_error_errno(E), ECONNREFUSED);
    CHECK(sag_error_message(E)[0] != '\0');
    CHECK_ST(sag_addrinfo_free(target), SAG_OK);
    CHECK_ST(sag_addrinfo_free(ai), SAG_OK);
    CHECK_ST(sag_addrinfo_free(hint), SAG_OK);
}

/* ===== the thread's deadline (sag_thread_set_deadline) ==================== */

struct late_send {
    sag_socket *s;
    int delay_ms;
};

static void *send_late(void *arg) {
    struct late_send *l = arg;
    sleep_ms(l->delay_ms);
    uint8_t b = 'd';
    size_t sent = 0;
    sag_socket_send(l->s, &b, 0, 1, 0, &sent, NULL);
    return NULL;
}

struct deadline_recv {
    sag_socket *s;
    int status;
    size_t got;
};

static void *recv_without_deadline(void *arg) {
    struct deadline_recv *r = arg;
    uint8_t b;
    r->status = sag_socket_recv(r->s, &b, 0, 1, 0, &r->got, NULL);
    return NULL;
}

static void test_thread_deadline(void) {
    section("the thread's deadline caps its waits, and only its own");
    pair_t p;
    if (!PAIR_OK(&p, SAG_AF_INET))
        return;
    uint8_t buf[64];
    size_t n = 0;
    int64_t t0, took, rt = -1;
    /* the time is taken before the deadline is set, which it counts from
     * (on a loaded machine much of it may pass before the recv starts) */
    t0 = now_us();
    CHECK_ST(sag_thread_set_deadline(100000), SAG_OK);
    /* recv on a socket without a read timeout: the deadline ends it */
    CHECK_ST(sag_socket_recv(p.cli, buf, 0, sizeof buf, 0, &n, E), SAG_E_READ_TIMEOUT);
    took = now_us() - t0;
    CHECK(took >= 90000 && took < 5000000);
    /* the socket's own read timeout is untouched */
    CHECK_ST(sag_socket_get_read_timeout(p.cli, &rt, E), SAG_OK);
    CHECK_EQ(rt, 0);
    /* passed: the next wait times out at once; a selector's wait returns
     * nothing; select finds nothing ready */
    CHECK_ST(sag_socket_recv(p.cli, buf, 0, sizeof buf, 0, &n, E), SAG_E_READ_TIMEOUT);
    sag_selector *sel = NULL;
    CHECK_ST(sag_selector_new(&sel, E), SAG_OK);
    CHECK_ST(sag_selector_add(sel, p.cli, -1, 7, E), SAG_OK);
    sag_socket *socks[2];
    int64_t tags[2];
    int to[2];
    size_t count = 99;
    CHECK_ST(sag_selector_wait(sel, -1, socks, tags, to, 2, &count, E), SAG_OK);
    CHECK_EQ(count, 0);
    /* another thread, without a deadline, waits on the same socket until
     * data comes (300 ms later) */
    struct deadline_recv other = {.s = p.cli, .status = 12345};
    struct late_send late = {.s = p.acc, .delay_ms = 300};
    pthread_t rt_th, st_th;
    pthread_create(&rt_th, NULL, recv_without_deadline, &other);
    pthread_create(&st_th, NULL, send_late, &late);
    CHECK_EQ(join_within(st_th, 10000), 0);
    CHECK_EQ(join_within(rt_th, 10000), 0);
    CHECK_ST(other.status, SAG_OK);
    CHECK_EQ(other.got, 1);
    /* a send that cannot go on before the deadline: ETIMEDOUT, with the
     * count of what went */
    CHECK_ST(sag_socket_setsockopt_int(p.cli, SAG_SOL_SOCKET, SAG_SO_SNDBUF, 4096, E), SAG_OK);
    static uint8_t big[8 << 20];
    t0 = now_us();
    CHECK_ST(sag_thread_set_deadline(200000), SAG_OK);
    CHECK_ST(sag_socket_send(p.cli, big, 0, sizeof big, 0, &n, E), SAG_E_SOCKET);
    took = now_us() - t0;
    CHECK_EQ(sag_error_errno(E), ETIMEDOUT);
    CHECK(sag_error_sent(E) > 0 && sag_error_sent(E) < sizeof big);
    CHECK(took >= 180000 && took < 5000000);
    /* removed: the selector's wait finds the byte sent above */
    CHECK_ST(sag_thread_set_deadline(-1), SAG_OK);
    late.delay_ms = 100;
    late.s = p.acc;
    pthread_create(&st_th, NULL, send_late, &late);
    CHECK_ST(sag_selector_wait(sel, 5000000, socks, tags, to, 2, &count, E), SAG_OK);
    CHECK_EQ(count, 1);
    CHECK_EQ(join_within(st_th, 10000), 0);
    CHECK_ST(sag_selector_free(sel), SAG_OK);
    free_pair(&p);
}
