/* abi/handles.c: part of test_abi.c, which includes it (the live handle
 * count, and the descriptors left open at exit).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Live handle count ================================================ */

static void *handle_count_thread(void *arg) {
    int *seen = arg;
    sag_socket *s = NULL;
    /* A failure makes this thread's last-error object: one more handle. */
    sag_socket_close(NULL, NULL);
    seen[0] = sag_handle_count();
    sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, NULL);
    seen[1] = sag_handle_count();
    sag_socket_free(s);
    return NULL;
}

static void test_handle_count(void) {
    section("live handle count");
    int n0 = sag_handle_count();
    CHECK(n0 >= 2); /* this thread's last error and E at least */
    sag_socket *s = NULL;
    sag_error *e = NULL;
    sag_addrinfo *ai = NULL;
    CHECK_ST(sag_make_socket(SAG_AF_INET, SAG_SOCK_STREAM, 0, &s, NULL), SAG_OK);
    CHECK_ST(sag_error_new(&e), SAG_OK);
    CHECK_ST(sag_make_addrinfo(&ai, NULL), SAG_OK);
    CHECK_EQ(sag_handle_count(), n0 + 3);
    CHECK_ST(sag_socket_close(s, NULL), SAG_OK);
    CHECK_EQ(sag_handle_count(), n0 + 3); /* closed is not freed */
    CHECK_ST(sag_socket_free(s), SAG_OK);
    CHECK_ST(sag_socket_free(s), SAG_OK); /* freed twice counts once */
    CHECK_ST(sag_error_free(e), SAG_OK);
    CHECK_ST(sag_addrinfo_free(ai), SAG_OK);
    CHECK_EQ(sag_handle_count(), n0);
    /* A failed make writes no handle and leaves none behind. */
    CHECK_ST(sag_make_socket(-1, SAG_SOCK_STREAM, 0, &s, NULL), SAG_E_SOCKET);
    CHECK_EQ(sag_handle_count(), n0);
    /* Another thread's last-error object lives as long as the thread. */
    int seen[2] = {0, 0};
    pthread_t th;
    pthread_create(&th, NULL, handle_count_thread, seen);
    pthread_join(th, NULL);
    CHECK_EQ(seen[0], n0 + 1);
    CHECK_EQ(seen[1], n0 + 2);
    CHECK_EQ(sag_handle_count(), n0);
}

/* ===== fds at exit ======================================================= */

static int startup_fds[64];
static int n_startup_fds;

static void snapshot_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        int fd = atoi(de->d_name);
        if (de->d_name[0] == '.' || fd <= 2 || fd == dirfd(d))
            continue;
        if (fd >= 1000)
            continue; /* not looked at by the exit check */
        if (n_startup_fds < 64)
            startup_fds[n_startup_fds++] = fd;
        printf("note: fd %d was open at start (inherited; not counted)\n", fd);
    }
    closedir(d);
}

static void test_fds_at_exit(void) {
    section("file descriptors at exit");
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int leaked = 0, eventfds = 0;
    if (!d) {
        check_fail(__FILE__, __LINE__, "opendir(/proc/self/fd)", NULL);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char path[64], link[256];
        int fd, inherited = 0;
        if (de->d_name[0] == '.')
            continue;
        fd = atoi(de->d_name);
        if (fd <= 2 || fd >= 1000 || fd == dirfd(d))
            continue;
        for (int i = 0; i < n_startup_fds; i++)
            if (startup_fds[i] == fd)
                inherited = 1;
        if (inherited)
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(path, link, sizeof link - 1);
        link[len > 0 ? len : 0] = '\0';
        if (strcmp(link, "anon_inode:[eventfd]") == 0) {
            eventfds++;
            continue;
        }
        printf("fd %d left open: %s\n", fd, link);
        leaked++;
    }
    closedir(d);
    CHECK_EQ(leaked, 0);
    /* Every other thread has exited: only the main thread's eventfd. */
    CHECK(eventfds <= 1);
}
