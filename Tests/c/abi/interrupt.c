/* abi/interrupt.c: part of test_abi.c, which includes it
 * (sag_socket_interrupt and sag_socket_close from another thread wake a
 * blocked call; signals (a host's Ctrl-C) interrupt it).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Interruption ====================================================== */

enum { OP_ACCEPT, OP_READ_SELECT, OP_RECV, OP_SELECT };

typedef struct {
    int op;
    sag_socket *s;
    int status;
    atomic_int started, done, tid;
    sag_socket *out;
} blk_t;

static void *blk_thread(void *arg) {
    blk_t *b = arg;
    sag_error *te = NULL;
    sag_error_new(&te);
    atomic_store(&b->tid, thread_id());
    atomic_store(&b->started, 1);
    switch (b->op) {
    case OP_ACCEPT:
        b->status = sag_socket_accept(b->s, &b->out, te);
        break;
    case OP_READ_SELECT: {
        sag_socket *ready[1] = {NULL};
        size_t n = 0;
        b->status = sag_socket_read_select(-1, &b->s, 1, ready, &n, te);
        break;
    }
    case OP_RECV: {
        uint8_t buf[16];
        size_t n = 0;
        b->status = sag_socket_recv(b->s, buf, 0, sizeof buf, 0, &n, te);
        break;
    }
    case OP_SELECT: {
        sag_fdset *fds = NULL;
        int count = -1;
        sag_fdset_from_sockets(&b->s, 1, &fds, te);
        b->status = sag_socket_select_inplace(fds, NULL, NULL, -1, &count, te);
        sag_fdset_free(fds);
        break;
    }
    }
    /* The thread's error object records the same status. */
    if (b->status != SAG_OK)
        CHECK_EQ(sag_error_status(te), b->status);
    sag_error_free(te);
    atomic_store(&b->done, 1);
    return NULL;
}

/* Runs op on s in a thread, wakes it once it is blocked (seen in its poll)
 * by interrupt (by_close 0) or close (1), and returns the status the
 * blocked call returned. */
static int block_and_wake(int op, sag_socket *s, int by_close) {
    blk_t b;
    pthread_t th;
    memset(&b, 0, sizeof b);
    b.op = op;
    b.s = s;
    b.status = 12345;
    pthread_create(&th, NULL, blk_thread, &b);
    while (!atomic_load(&b.started))
        sleep_ms(1);
    CHECK(wait_until_polling(&b.tid)); /* really blocked */
    CHECK(!atomic_load(&b.done));
    for (int tries = 0; tries < 5 && !atomic_load(&b.done); tries++) {
        if (tries > 0)
            printf("note: waking again (try %d)\n", tries + 1);
        if (by_close)
            CHECK_ST(sag_socket_close(s, E), SAG_OK);
        else
            CHECK_ST(sag_socket_interrupt(s, E), SAG_OK);
        for (int i = 0; i < 200 && !atomic_load(&b.done); i++)
            sleep_ms(10);
    }
    pthread_join(th, NULL);
    if (b.out)
        sag_socket_free(b.out);
    return b.status;
}

static void test_interrupt(void) {
    section("interrupt");
    pair_t p;
    if (!PAIR_OK(&p, SAG_AF_INET))
        return;
    CHECK_ST(block_and_wake(OP_ACCEPT, p.srv, 0), SAG_E_INTERRUPTED);
    /* A later call is not affected: nothing pending → would block. */
    CHECK_ST(sag_socket_set_nonblocking(p.srv, 1, E), SAG_OK);
    sag_socket *o = NULL;
    CHECK_ST(sag_socket_accept(p.srv, &o, E), SAG_E_WOULD_BLOCK);
    CHECK_ST(sag_socket_set_nonblocking(p.srv, 0, E), SAG_OK);
    /* Interrupt with nobody waiting is fine. */
    CHECK_ST(sag_socket_interrupt(p.srv, E), SAG_OK);
    CHECK_ST(block_and_wake(OP_READ_SELECT, p.acc, 0), SAG_E_INTERRUPTED);
    CHECK_ST(block_and_wake(OP_RECV, p.acc, 0), SAG_E_INTERRUPTED);
    CHECK_ST(block_and_wake(OP_SELECT, p.acc, 0), SAG_E_INTERRUPTED);
    /* The socket still works after being interrupted. */
    uint8_t buf[8];
    size_t n = 0;
    CHECK_ST(send_all(p.cli, "ab", 2), SAG_OK);
    CHECK_EQ(recv_n(p.acc, buf, 2, E), 2);

    section("woken by close");
    CHECK_ST(block_and_wake(OP_ACCEPT, p.srv, 1), SAG_E_INTERRUPTED);
    CHECK_ST(block_and_wake(OP_READ_SELECT, p.acc, 1), SAG_E_INTERRUPTED);
    int closed = 0;
    CHECK_ST(sag_socket_is_closed(p.acc, &closed, E), SAG_OK);
    CHECK_EQ(closed, 1);
    free_pair(&p);

    /* recv woken by close (the peer still open); select woken by close. */
    if (PAIR_OK(&p, SAG_AF_INET)) {
        CHECK_ST(block_and_wake(OP_RECV, p.acc, 1), SAG_E_CLOSED);
        CHECK_ST(sag_socket_recv(p.acc, buf, 0, sizeof buf, 0, &n, E), SAG_E_CLOSED);
        free_pair(&p);
    }
    if (PAIR_OK(&p, SAG_AF_INET)) {
        CHECK_ST(block_and_wake(OP_SELECT, p.acc, 1), SAG_E_INTERRUPTED);
        free_pair(&p);
    }
}

/* ===== Signal interrupts (a host's Ctrl-C) =============================== */

static atomic_int g_sigs;
static void on_usr1(int sig) {
    (void)sig;
    atomic_fetch_add(&g_sigs, 1);
}

typedef struct {
    int op;      /* OP_RECV or 4: a selector wait */
    int on;      /* the thread's signal-interrupt setting */
    sag_socket *s;
    sag_selector *sel;
    int status, err_no, previous;
    size_t got;
    atomic_int started, done, tid;
} sig_t_;

static void *sig_thread(void *arg) {
    sig_t_ *b = arg;
    sag_error *te = NULL;
    sag_error_new(&te);
    b->previous = sag_thread_set_signal_interrupts(b->on);
    atomic_store(&b->tid, thread_id());
    atomic_store(&b->started, 1);
    if (b->op == OP_RECV) {
        uint8_t buf[16];
        b->status = sag_socket_recv(b->s, buf, 0, sizeof buf, 0, &b->got, te);
    } else {
        sag_socket *socks[4];
        int64_t tags[4];
        int to[4];
        b->status = sag_selector_wait(b->sel, -1, socks, tags, to, 4, &b->got, te);
    }
    b->err_no = sag_error_errno(te);
    sag_error_free(te);
    atomic_store(&b->done, 1);
    return NULL;
}

/* Starts op in a thread with signal interrupts `on`, then sends SIGUSR1 to
 * that thread every 10 ms, `max` times or until the call returns. */
static void signal_blocked(sig_t_ *b, pthread_t *th, int max) {
    pthread_create(th, NULL, sig_thread, b);
    while (!atomic_load(&b->started))
        sleep_ms(1);
    for (int i = 0; i < max && !atomic_load(&b->done); i++) {
        sleep_ms(10);
        pthread_kill(*th, SIGUSR1);
    }
}

static void test_signal_interrupts(void) {
    section("signal interrupts");
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked call sees EINTR */
    sigaction(SIGUSR1, &sa, &old);
    /* The setting is per thread, off by default, and returns the previous. */
    CHECK_EQ(sag_thread_set_signal_interrupts(1), 0);
    CHECK_EQ(sag_thread_set_signal_interrupts(0), 1);
    CHECK_EQ(sag_thread_set_signal_interrupts(0), 0);
    pair_t p;
    if (!PAIR_OK(&p, SAG_AF_INET)) {
        sigaction(SIGUSR1, &old, NULL);
        return;
    }
    pthread_t th;
    sig_t_ b;

    /* On: the first signal that lands in the wait ends recv, errno EINTR. */
    memset(&b, 0, sizeof b);
    b.op = OP_RECV; b.on = 1; b.s = p.acc; b.status = 12345;
    signal_blocked(&b, &th, 300);
    pthread_join(th, NULL);
    CHECK_EQ(b.previous, 0);
    CHECK_ST(b.status, SAG_E_INTERRUPTED);
    CHECK_EQ(b.err_no, EINTR);
    /* An interrupt by sag_socket_interrupt has no errno: told apart. */
    CHECK_ST(block_and_wake(OP_RECV, p.acc, 0), SAG_E_INTERRUPTED);
    CHECK_EQ(sag_error_errno(sag_last_error()), 0);

    /* Off (the default): 10 signals do not end recv; the data does. Each
     * signal is sent once the thread waits in its poll (again), and handled
     * before the next is sent: a fixed pace is no guarantee on a loaded
     * machine, and signals pending at once merge into one. */
    memset(&b, 0, sizeof b);
    b.op = OP_RECV; b.on = 0; b.s = p.acc; b.status = 12345;
    int before = atomic_load(&g_sigs), handled = 0;
    pthread_create(&th, NULL, sig_thread, &b);
    for (int i = 0; i < 10 && wait_until_polling(&b.tid); i++) {
        pthread_kill(th, SIGUSR1);
        for (int k = 0; k < 10000 && atomic_load(&g_sigs) - before <= i; k++)
            sleep_ms(1);
        handled = atomic_load(&g_sigs) - before;
    }
    CHECK_EQ(handled, 10);
    CHECK(!atomic_load(&b.done));
    CHECK_ST(send_all(p.cli, "xyz", 3), SAG_OK);
    pthread_join(th, NULL);
    CHECK_ST(b.status, SAG_OK);
    CHECK_EQ(b.got, 3);

    /* A selector's wait: ends with EINTR, keeps its socket. */
    sag_selector *sel = NULL;
    CHECK_ST(sag_selector_new(&sel, E), SAG_OK);
    CHECK_ST(sag_selector_add(sel, p.acc, -1, 9, E), SAG_OK);
    memset(&b, 0, sizeof b);
    b.op = 4; b.on = 1; b.sel = sel; b.status = 12345;
    signal_blocked(&b, &th, 300);
    pthread_join(th, NULL);
    CHECK_ST(b.status, SAG_E_INTERRUPTED);
    CHECK_EQ(b.err_no, EINTR);
    size_t size = 0;
    CHECK_ST(sag_selector_size(sel, &size, E), SAG_OK);
    CHECK_EQ(size, 1);
    CHECK_ST(sag_selector_free(sel), SAG_OK);
    free_pair(&p);
    sigaction(SIGUSR1, &old, NULL);
}
