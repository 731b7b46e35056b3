/* abi/errors.c: part of test_abi.c, which includes it (error objects: what
 * they carry, and the calling thread's last error).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Error objects ===================================================== */

static void test_errors(void) {
    section("error objects");
    sag_error *le = sag_last_error();
    CHECK(le != NULL);
    CHECK(le == sag_last_error());
    CHECK_ST(sag_error_free(le), SAG_E_MISUSE);
    CHECK(sag_last_error() == le);
    CHECK_EQ(sag_handle_kind(le), SAG_KIND_ERROR);

    sag_error *u = NULL;
    CHECK_ST(sag_error_new(&u), SAG_OK);
    CHECK_EQ(sag_error_status(u), SAG_OK);
    CHECK_EQ(sag_error_errno(u), 0);
    CHECK_STR(sag_error_message(u), "");
    CHECK_STR(sag_error_operation(u), "");
    CHECK_STR(sag_error_node(u), NULL);
    CHECK_STR(sag_error_service(u), NULL);
    CHECK(sag_error_socket(u) == NULL);
    CHECK_EQ(sag_error_timeout(u), -1);
    CHECK(sag_error_port(u) == NULL);
    CHECK_ST(sag_error_new(NULL), SAG_E_INVALID);

    /* Fill it by a failure, then a success leaves it. */
    int v = 0;
    CHECK_ST(sag_constant("NOPE", &v), SAG_E_INVALID);
    sag_socket *s = NULL;
    CHECK_ST(sag_make_client_socket("localhost", "123456789", SAG_AF_INET,
                                    SAG_SOCK_STREAM, 0, 0, &s, u),
             SAG_E_HOST_NOT_FOUND);
    CHECK_EQ(sag_error_status(u), SAG_E_HOST_NOT_FOUND);
    CHECK(sag_status_is(sag_error_status(u), SAG_E_IO));
    CHECK_STR(sag_error_node(u), "localhost");
    CHECK_STR(sag_error_service(u), "123456789");
    CHECK_STR(sag_error_operation(u), "make-client-socket");
    CHECK(sag_error_socket(u) == NULL);
    CHECK(sag_error_port(u) == NULL);
    CHECK_EQ(sag_error_timeout(u), -1);
    sag_fdset *f = NULL;
    CHECK_ST(sag_fdset_new(&f, u), SAG_OK);
    CHECK_EQ(sag_error_status(u), SAG_E_HOST_NOT_FOUND);
    CHECK_STR(sag_error_node(u), "localhost");
    sag_fdset_free(f);
    /* Another failure replaces every field. */
    CHECK_ST(sag_socket_fd((sag_socket *)0x1234, &v, u), SAG_E_MISUSE);
    CHECK_EQ(sag_error_status(u), SAG_E_MISUSE);
    CHECK_STR(sag_error_node(u), NULL);
    CHECK_STR(sag_error_service(u), NULL);
    CHECK(sag_error_message(u)[0] != '\0');
    CHECK_EQ(sag_error_errno(u), 0);
    CHECK_EQ(sag_error_timeout(u), -1);
    CHECK(sag_error_port(u) == NULL);
    /* Clear. */
    CHECK_ST(sag_error_clear(u), SAG_OK);
    CHECK_EQ(sag_error_status(u), SAG_OK);
    CHECK_STR(sag_error_message(u), "");
    CHECK_STR(sag_error_operation(u), "");
    CHECK_EQ(sag_error_errno(u), 0);
    CHECK_ST(sag_error_clear((sag_error *)0x1234), SAG_E_MISUSE);

    /* A freed error object. */
    CHECK_ST(sag_error_free(u), SAG_OK);
    CHECK_ST(sag_error_free(u), SAG_OK);
    CHECK_EQ(sag_error_status(u), SAG_E_MISUSE);
    CHECK_STR(sag_error_message(u), "");
    CHECK_EQ(sag_error_errno(u), 0);
    CHECK_STR(sag_error_operation(u), "");
    CHECK_STR(sag_error_node(u), NULL);
    CHECK(sag_error_socket(u) == NULL);
    CHECK(sag_error_port(u) == NULL);
    CHECK_ST(sag_error_clear(u), SAG_E_MISUSE);
    CHECK_EQ(sag_error_status(NULL), SAG_E_MISUSE);
    CHECK_STR(sag_error_message(NULL), "");
    CHECK_EQ(sag_error_status((sag_error *)0x1234), SAG_E_MISUSE);
    pair_t p;
    if (PAIR_OK(&p, SAG_AF_INET)) {
        size_t n;
        CHECK_ST(sag_socket_setsockopt_int(p.cli, SAG_SOL_SOCKET, 9999, 1, E),
                 SAG_E_SOCKET);
        CHECK_EQ(sag_error_errno(E), ENOPROTOOPT);
        CHECK(sag_error_socket(E) == p.cli);
        CHECK_EQ(sag_error_errno(sag_last_error()), ENOPROTOOPT);

        section("socket_last_error");
        sag_error *into = NULL;
        CHECK_ST(sag_error_new(&into), SAG_OK);
        CHECK_ST(sag_socket_last_error(p.cli, into, E), SAG_OK);
        CHECK_EQ(sag_error_status(into), SAG_E_SOCKET);
        CHECK_EQ(sag_error_errno(into), ENOPROTOOPT);
        CHECK(sag_error_message(into)[0] != '\0');
        CHECK(sag_error_socket(into) == p.cli);
        /* A socket with no failure: into cleared. */
        CHECK_ST(sag_socket_last_error(p.acc, into, E), SAG_OK);
        CHECK_EQ(sag_error_status(into), SAG_OK);
        CHECK_EQ(sag_error_errno(into), 0);
        CHECK_STR(sag_error_message(into), "");
        /* Failure recorded from another operation; still there after close. */
        CHECK_ST(sag_socket_set_read_timeout(p.acc, 50000, E), SAG_OK);
        uint8_t buf[4];
        CHECK_ST(sag_socket_recv(p.acc, buf, 0, 4, 0, &n, NULL), SAG_E_READ_TIMEOUT);
        CHECK_ST(sag_socket_close(p.acc, E), SAG_OK);
        CHECK_ST(sag_socket_last_error(p.acc, into, E), SAG_OK);
        CHECK_EQ(sag_error_status(into), SAG_E_READ_TIMEOUT);
        CHECK_EQ(sag_error_timeout(into), 50000);
        CHECK_ST(sag_socket_last_error(p.cli, NULL, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_last_error(p.cli, (sag_error *)p.srv, E), SAG_E_MISUSE);
        CHECK_ST(sag_socket_last_error(p.cli, sag_last_error(), E), SAG_OK);
        CHECK_ST(sag_error_free(into), SAG_OK);
        free_pair(&p);
    }
}

/* Each thread has its own last error. */
static void *last_error_thread(void *arg) {
    sag_error **out = arg;
    *out = sag_last_error();
    CHECK(*out != NULL);
    CHECK_EQ(sag_error_status(*out), SAG_OK);
    int v;
    CHECK_ST(sag_constant("NOPE_THREAD", &v), SAG_E_INVALID);
    CHECK_EQ(sag_error_status(sag_last_error()), SAG_E_INVALID);
    return NULL;
}

static void test_last_error_threads(void) {
    section("last error per thread");
    sag_error *other = NULL;
    sag_socket *c = NULL;
    CHECK_ST(sag_make_client_socket("localhost", "123456789", SAG_AF_INET,
                                    SAG_SOCK_STREAM, 0, 0, &c, NULL),
             SAG_E_HOST_NOT_FOUND);
    pthread_t th;
    pthread_create(&th, NULL, last_error_thread, &other);
    pthread_join(th, NULL);
    CHECK(other != sag_last_error());
    CHECK_EQ(sag_error_status(sag_last_error()), SAG_E_HOST_NOT_FOUND);
    CHECK_STR(sag_error_node(sag_last_error()), "localhost");
}
