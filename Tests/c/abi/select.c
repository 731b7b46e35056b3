/* abi/select.c: part of test_abi.c, which includes it (fdsets and
 * sag_socket_select: read, write and error sets, a closed member,
 * descriptors at 1024 and above).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Select ============================================================ */

static size_t fdset_count(sag_fdset *f) {
    size_t c = 12345;
    if (sag_fdset_sockets(f, NULL, 0, &c, E) != SAG_OK)
        return 12345;
    return c;
}

static int fdset_has(sag_fdset *f, sag_socket *s) {
    int v = -1;
    if (sag_fdset_ref(f, s, &v, E) != SAG_OK)
        return -1;
    return v != 0;
}

static void test_select(void) {
    section("fdsets");
    pair_t p, q;
    if (make_pair(&p, SAG_AF_INET) != 0 || make_pair(&q, SAG_AF_INET) != 0) {
        check_fail(__FILE__, __LINE__, "make_pair", NULL);
        return;
    }
    sag_socket *a = p.acc, *a2 = q.acc, *c = p.cli, *c2 = q.cli;
    sag_fdset *f = NULL;
    CHECK_ST(sag_fdset_new(&f, E), SAG_OK);
    CHECK_EQ(sag_handle_kind(f), SAG_KIND_FDSET);
    CHECK_EQ(fdset_count(f), 0);
    CHECK_ST(sag_fdset_set(f, a, 1, E), SAG_OK);
    CHECK_ST(sag_fdset_set(f, a2, 1, E), SAG_OK);
    CHECK_ST(sag_fdset_set(f, a, 1, E), SAG_OK); /* a set: no duplicate */
    CHECK_EQ(fdset_count(f), 2);
    CHECK_EQ(fdset_has(f, a), 1);
    CHECK_EQ(fdset_has(f, a2), 1);
    CHECK_EQ(fdset_has(f, c), 0);
    sag_socket *mem[4] = {NULL, NULL, NULL, NULL};
    size_t cnt = 0;
    CHECK_ST(sag_fdset_sockets(f, mem, 4, &cnt, E), SAG_OK);
    CHECK_EQ(cnt, 2);
    CHECK(mem[0] == a && mem[1] == a2 && mem[2] == NULL);
    /* Capacity smaller than the count: one written, total reported. */
    memset(mem, 0, sizeof mem);
    CHECK_ST(sag_fdset_sockets(f, mem, 1, &cnt, E), SAG_OK);
    CHECK_EQ(cnt, 2);
    CHECK(mem[0] == a && mem[1] == NULL);
    CHECK_ST(sag_fdset_set(f, a, 0, E), SAG_OK);
    CHECK_EQ(fdset_has(f, a), 0);
    CHECK_EQ(fdset_count(f), 1);
    CHECK_ST(sag_fdset_set(f, a, 1, E), SAG_OK); /* insertion order: a2, a */
    CHECK_ST(sag_fdset_sockets(f, mem, 4, &cnt, E), SAG_OK);
    CHECK(cnt == 2 && mem[0] == a2 && mem[1] == a);
    CHECK_ST(sag_fdset_clear(f, E), SAG_OK);
    CHECK_EQ(fdset_count(f), 0);
    CHECK_ST(sag_fdset_set(f, (sag_socket *)0x1234, 1, E), SAG_E_MISUSE);
    CHECK_ST(sag_fdset_ref(f, a, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_fdset_sockets(f, NULL, 0, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_fdset_free(f), SAG_OK);

    sag_socket *both[2] = {a, a2};
    sag_fdset *rf = NULL;
    CHECK_ST(sag_fdset_from_sockets(both, 2, &rf, E), SAG_OK);
    CHECK_EQ(fdset_count(rf), 2);
    CHECK_ST(sag_fdset_from_sockets(NULL, 2, &f, E), SAG_E_INVALID);
    sag_fdset *empty = NULL;
    CHECK_ST(sag_fdset_from_sockets(NULL, 0, &empty, E), SAG_OK);
    CHECK_EQ(fdset_count(empty), 0);
    CHECK_ST(sag_fdset_free(empty), SAG_OK);

    section("select");
    int count = -1;
    sag_fdset *ro = NULL, *wo = (sag_fdset *)0x1, *eo = (sag_fdset *)0x1;
    /* Nothing readable, timeout 0 → count 0. */
    CHECK_ST(sag_socket_select(rf, NULL, NULL, 0, &count, &ro, &wo, &eo, E), SAG_OK);
    CHECK_EQ(count, 0);
    CHECK(ro != NULL && fdset_count(ro) == 0);
    CHECK(wo == NULL && eo == NULL);
    sag_fdset_free(ro);
    ro = NULL;
    /* Short timeout → count 0. */
    int64_t t0 = now_us();
    CHECK_ST(sag_socket_select(rf, NULL, NULL, 50000, &count, &ro, NULL, NULL, E),
             SAG_OK);
    CHECK(now_us() - t0 >= 50000);
    CHECK_EQ(count, 0);
    sag_fdset_free(ro);
    ro = NULL;

    CHECK_ST(send_all(c, "z", 1), SAG_OK);
    sag_socket *wl[1] = {c};
    sag_fdset *wf = NULL;
    CHECK_ST(sag_fdset_from_sockets(wl, 1, &wf, E), SAG_OK);
    count = -1;
    wo = NULL;
    CHECK_ST(sag_socket_select(rf, wf, NULL, 2000000, &count, &ro, &wo, &eo, E),
             SAG_OK);
    CHECK_EQ(count, 2);
    CHECK(ro && fdset_count(ro) == 1 && fdset_has(ro, a) == 1 &&
          fdset_has(ro, a2) == 0);
    CHECK(wo && fdset_count(wo) == 1 && fdset_has(wo, c) == 1);
    CHECK(eo == NULL);
    /* The inputs are unchanged. */
    CHECK_EQ(fdset_count(rf), 2);
    sag_fdset_free(ro);
    sag_fdset_free(wo);

    /* In place. */
    count = -1;
    CHECK_ST(sag_socket_select_inplace(rf, NULL, NULL, 2000000, &count, E), SAG_OK);
    CHECK_EQ(count, 1);
    CHECK_EQ(fdset_count(rf), 1);
    CHECK_EQ(fdset_has(rf, a), 1);
    CHECK_EQ(fdset_has(rf, a2), 0);
    sag_fdset_free(rf);
    rf = NULL;
    /* In place, timeout 0 with nothing ready: the set empties. */
    sag_socket *only2[1] = {a2};
    CHECK_ST(sag_fdset_from_sockets(only2, 1, &rf, E), SAG_OK);
    CHECK_ST(sag_socket_select_inplace(rf, NULL, NULL, 0, &count, E), SAG_OK);
    CHECK_EQ(count, 0);
    CHECK_EQ(fdset_count(rf), 0);
    sag_fdset_free(rf);
    rf = NULL;
    /* No sets at all, timeout 0. */
    CHECK_ST(sag_socket_select(NULL, NULL, NULL, 0, &count, NULL, NULL, NULL, E),
             SAG_OK);
    CHECK_EQ(count, 0);

    section("read/write/error select");
    sag_socket *ready[2] = {NULL, NULL};
    size_t nr = 99;
    CHECK_ST(sag_socket_read_select(2000000, both, 2, ready, &nr, E), SAG_OK);
    CHECK_EQ(nr, 1);
    CHECK(ready[0] == a);
    nr = 99;
    CHECK_ST(sag_socket_read_select(0, only2, 1, ready, &nr, E), SAG_OK);
    CHECK_EQ(nr, 0);
    sag_socket *cs[2] = {c2, c};
    memset(ready, 0, sizeof ready);
    CHECK_ST(sag_socket_write_select(2000000, cs, 2, ready, &nr, E), SAG_OK);
    CHECK_EQ(nr, 2);
    CHECK(ready[0] == c2 && ready[1] == c);
    nr = 99;
    CHECK_ST(sag_socket_error_select(0, cs, 2, ready, &nr, E), SAG_OK);
    CHECK_EQ(nr, 0);
    CHECK_ST(sag_socket_read_select(0, both, 2, NULL, &nr, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_read_select(0, both, 2, ready, NULL, E), SAG_E_INVALID);
    CHECK_ST(sag_socket_read_select(0, NULL, 2, ready, &nr, E), SAG_E_INVALID);
    /* Drain. */
    uint8_t buf[4];
    size_t n = 0;
    CHECK_ST(sag_socket_recv(a, buf, 0, sizeof buf, 0, &n, E), SAG_OK);

    section("select with a closed member");
    CHECK_ST(sag_socket_close(a2, E), SAG_OK);
    CHECK_ST(sag_fdset_from_sockets(both, 2, &rf, E), SAG_OK);
    sag_error_clear(E);
    CHECK_ST(sag_socket_select(rf, NULL, NULL, 0, &count, &ro, NULL, NULL, E),
             SAG_E_CLOSED);
    CHECK(sag_error_socket(E) == a2);
    CHECK_ST(sag_socket_select_inplace(rf, NULL, NULL, 0, &count, E), SAG_E_CLOSED);
    CHECK_ST(sag_socket_read_select(0, both, 2, ready, &nr, E), SAG_E_CLOSED);
    CHECK_ST(sag_socket_write_select(0, both, 2, ready, &nr, E), SAG_E_CLOSED);
    CHECK_ST(sag_socket_error_select(0, both, 2, ready, &nr, E), SAG_E_CLOSED);
    /* A freed member: stale, also SAG_E_CLOSED. */
    sag_fdset *wf2 = NULL;
    CHECK_ST(sag_fdset_from_sockets(cs, 2, &wf2, E), SAG_OK);
    CHECK_ST(sag_socket_free(c2), SAG_OK);
    q.cli = NULL;
    CHECK_ST(sag_socket_select(NULL, wf2, NULL, 0, &count, NULL, NULL, NULL, E),
             SAG_E_CLOSED);
    CHECK_ST(sag_fdset_free(wf2), SAG_OK);
    CHECK_ST(sag_fdset_free(rf), SAG_OK);
    CHECK_ST(sag_fdset_free(wf), SAG_OK);
    CHECK_ST(sag_socket_select((sag_fdset *)a, NULL, NULL, 0, &count, NULL, NULL,
                               NULL, E), SAG_E_MISUSE);
    free_pair(&p);
    free_pair(&q);
}

static void test_select_high_fd(void) {
    section("select on fd >= 1024");
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        check_fail(__FILE__, __LINE__, "getrlimit", NULL);
        return;
    }
    if (rl.rlim_cur < 1100) {
        rlim_t want = 2048;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
            want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || want < 1100) {
            printf("note: cannot raise RLIMIT_NOFILE; fd >= 1024 test skipped\n");
            return;
        }
    }
    static int nulls[1100];
    int nn = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        nulls[nn++] = fd;
        if (fd >= 1030 || nn >= 1100)
            break;
    }
    CHECK(nn > 0 && nulls[nn - 1] >= 1030);
    pair_t p;
    if (make_pair(&p, SAG_AF_INET) == 0) {
        int fa = -1, fc = -1;
        CHECK_ST(sag_socket_fd(p.acc, &fa, E), SAG_OK);
        CHECK_ST(sag_socket_fd(p.cli, &fc, E), SAG_OK);
        CHECK(fa >= 1024);
        CHECK(fc >= 1024);
        sag_socket *ready[1] = {NULL};
        size_t nr = 99;
        CHECK_ST(sag_socket_read_select(0, &p.acc, 1, ready, &nr, E), SAG_OK);
        CHECK_EQ(nr, 0);
        CHECK_ST(send_all(p.cli, "hi", 2), SAG_OK);
        CHECK_ST(sag_socket_read_select(2000000, &p.acc, 1, ready, &nr, E), SAG_OK);
        CHECK_EQ(nr, 1);
        CHECK(ready[0] == p.acc);
        sag_fdset *f = NULL;
        int count = -1;
        CHECK_ST(sag_fdset_from_sockets(&p.acc, 1, &f, E), SAG_OK);
        CHECK_ST(sag_socket_select_inplace(f, NULL, NULL, 2000000, &count, E),
                 SAG_OK);
        CHECK_EQ(count, 1);
        sag_fdset_free(f);
        uint8_t buf[4];
        CHECK_EQ(recv_n(p.acc, buf, 2, E), 2);
        CHECK(memcmp(buf, "hi", 2) == 0);
        free_pair(&p);
    } else {
        check_fail(__FILE__, __LINE__, "make_pair with high fds", NULL);
        if (p.srv) sag_socket_free(p.srv);
        if (p.cli) sag_socket_free(p.cli);
    }
    for (int i = 0; i < nn; i++)
        close(nulls[i]);
}
