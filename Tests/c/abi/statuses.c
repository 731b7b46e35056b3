/* abi/statuses.c: part of test_abi.c, which includes it (the status tree the
 * header draws, every constant of its enums against the system's value, the
 * version macros).
 * One program, one translation unit: check.h's counters and the helpers of
 * test_abi.c are shared by every part. */

/* ===== Status tree ======================================================= */

static const struct {
    int status, parent;
    const char *name;
} TREE[] = {
    {SAG_OK, SAG_OK, ""},
/* Every status of enum sag_status, with the parent the header's tree comment
 * draws for it (generated from the header by Tests/c/lib.sh, which stops when
 * the comment and the enum disagree). */
#include "status_tree.inc"
};
#define NTREE (sizeof TREE / sizeof TREE[0])

static int tree_parent(int s) {
    for (size_t i = 0; i < NTREE; i++)
        if (TREE[i].status == s)
            return TREE[i].parent;
    return SAG_OK;
}

/* Expected sag_status_is: s is k or a proper descendant of k. */
static int tree_is(int s, int k) {
    if (s == k)
        return 1;
    for (int p = tree_parent(s); p != SAG_OK; p = tree_parent(p))
        if (p == k)
            return 1;
    return 0;
}

static void test_status_tree(void) {
    section("status tree");
    CHECK(NTREE > 1); /* completeness is checked when status_tree.inc is made */
    for (size_t i = 0; i < NTREE; i++) {
        int s = TREE[i].status;
        CHECK_EQ(sag_status_parent(s), TREE[i].parent);
        CHECK_STR(sag_status_name(s), TREE[i].name);
        CHECK(sag_status_message(s) != NULL);
        if (s != SAG_OK)
            CHECK(sag_status_message(s) && sag_status_message(s)[0] != '\0');
        for (size_t j = 0; j < NTREE; j++) {
            int k = TREE[j].status;
            if (k == SAG_OK)
                continue; /* SAG_OK is not a kind of the tree */
            if (sag_status_is(s, k) != tree_is(s, k)) {
                char d[128];
                snprintf(d, sizeof d, "sag_status_is(%d, %d) = %d, expected %d",
                         s, k, sag_status_is(s, k), tree_is(s, k));
                check_fail(__FILE__, __LINE__, "sag_status_is(s, k)", d);
            } else {
                atomic_fetch_add(&g_pass, 1);
            }
        }
    }
    CHECK(sag_status_is(SAG_OK, SAG_OK) == 1);
    /* The examples the header gives. */
    CHECK(sag_status_is(SAG_E_CLOSED, SAG_E_SOCKET) == 1);
    CHECK(sag_status_is(SAG_E_CLOSED, SAG_E_IO) == 1);
    CHECK(sag_status_is(SAG_E_HOST_NOT_FOUND, SAG_E_SOCKET) == 0);
    CHECK(sag_status_is(SAG_E_HOST_NOT_FOUND, SAG_E_IO) == 1);
    CHECK(sag_status_is(SAG_E_MISUSE, SAG_E_INVALID) == 1);
    CHECK(sag_status_is(SAG_E_INVALID, SAG_E_MISUSE) == 0);
    CHECK(sag_status_is(SAG_E_SOCKET, SAG_E_CLOSED) == 0);
    CHECK(sag_status_is(SAG_E_INTERRUPTED, SAG_E_IO) == 0);
    CHECK_EQ(sag_status_parent(SAG_E_MISUSE), SAG_E_INVALID);
    CHECK_EQ(sag_status_parent(SAG_E_CLOSED), SAG_E_SOCKET);
    CHECK_STR(sag_status_name(SAG_E_CLOSED), "&socket-closed");
    /* Unknown values. */
    /* (-13..-16 are left out: the next header version gives them to the
     * &i/o-read/-write/-decoding/-encoding port statuses.) */
    static const int unknown[] = {1, 42, -99, -1000, 1000000, -2147483647 - 1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        int u = unknown[i];
        CHECK_STR(sag_status_name(u), "&sag-unknown");
        CHECK_EQ(sag_status_parent(u), SAG_OK);
        CHECK(sag_status_message(u) != NULL);
        CHECK(sag_status_is(u, SAG_E_IO) == 0);
        CHECK(sag_status_is(u, SAG_E_INVALID) == 0);
        CHECK(sag_status_is(SAG_E_IO, u) == 0);
    }
}

/* ===== Constants ========================================================= */

/* Every constant the header's enums declare (generated from the header by
 * Tests/c/lib.sh), against the system macro of the same name. Linux has no
 * MSG_EOF (the header says 0) and calls MSG_PROBE MSG_PROXY. */
#define MSG_EOF 0
#define MSG_PROBE MSG_PROXY
#define K(n, sys) {#n, SAG_##n, (int)(sys)}
static const struct {
    const char *name;
    int sag, sys;
} CONSTS[] = {
#include "constants.inc"
};
#define NCONSTS (sizeof CONSTS / sizeof CONSTS[0])

static void test_constants(void) {
    section("constants");
    for (size_t i = 0; i < NCONSTS; i++) {
        char prefixed[64];
        int v = -12345;
        if (CONSTS[i].sag != CONSTS[i].sys) {
            char d[160];
            snprintf(d, sizeof d, "SAG_%s = %d, system %d", CONSTS[i].name,
                     CONSTS[i].sag, CONSTS[i].sys);
            check_fail(__FILE__, __LINE__, "SAG_ constant == system macro", d);
        } else {
            atomic_fetch_add(&g_pass, 1);
        }
        CHECK_ST(sag_constant(CONSTS[i].name, &v), SAG_OK);
        if (v != CONSTS[i].sag) {
            char d[160];
            snprintf(d, sizeof d, "sag_constant(\"%s\") = %d, expected %d",
                     CONSTS[i].name, v, CONSTS[i].sag);
            check_fail(__FILE__, __LINE__, "sag_constant(name) value", d);
        } else {
            atomic_fetch_add(&g_pass, 1);
        }
        snprintf(prefixed, sizeof prefixed, "SAG_%s", CONSTS[i].name);
        v = -12345;
        CHECK_ST(sag_constant(prefixed, &v), SAG_OK);
        if (v != CONSTS[i].sag) {
            char d[160];
            snprintf(d, sizeof d, "sag_constant(\"%s\") = %d, expected %d",
                     prefixed, v, CONSTS[i].sag);
            check_fail(__FILE__, __LINE__, "sag_constant(SAG_name) value", d);
        } else {
            atomic_fetch_add(&g_pass, 1);
        }
    }

    /* Enumeration: exactly the table, each once, with the same values. */
    int n = sag_constant_count();
    CHECK_EQ(n, NCONSTS);
    int seen[NCONSTS];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < n; i++) {
        const char *name = NULL;
        int v = -12345;
        CHECK_ST(sag_constant_at(i, &name, &v), SAG_OK);
        if (name == NULL) {
            check_fail(__FILE__, __LINE__, "sag_constant_at name != NULL", NULL);
            continue;
        }
        size_t j;
        for (j = 0; j < NCONSTS; j++)
            if (strcmp(CONSTS[j].name, name) == 0)
                break;
        if (j == NCONSTS) {
            char d[160];
            snprintf(d, sizeof d, "sag_constant_at(%d) = \"%s\" not in the header",
                     i, name);
            check_fail(__FILE__, __LINE__, "enumerated name known", d);
            continue;
        }
        seen[j]++;
        if (v != CONSTS[j].sag) {
            char d[160];
            snprintf(d, sizeof d, "sag_constant_at(%d) \"%s\" = %d, expected %d",
                     i, name, v, CONSTS[j].sag);
            check_fail(__FILE__, __LINE__, "enumerated value", d);
        } else {
            atomic_fetch_add(&g_pass, 1);
        }
        int v2 = -12345;
        CHECK_ST(sag_constant(name, &v2), SAG_OK);
        CHECK_EQ(v2, v);
    }
    for (size_t j = 0; j < NCONSTS; j++) {
        if (seen[j] != 1) {
            char d[160];
            snprintf(d, sizeof d, "\"%s\" enumerated %d times", CONSTS[j].name,
                     seen[j]);
            check_fail(__FILE__, __LINE__, "each constant enumerated once", d);
        } else {
            atomic_fetch_add(&g_pass, 1);
        }
    }

    /* Failures. */
    int v = 777;
    const char *nm = (const char *)0x1;
    CHECK_ST(sag_constant("AF_BOGUS", &v), SAG_E_INVALID);
    CHECK_ST(sag_constant("SAG_AF_BOGUS", &v), SAG_E_INVALID);
    CHECK_ST(sag_constant("", &v), SAG_E_INVALID);
    CHECK_ST(sag_constant("SAG_", &v), SAG_E_INVALID);
    CHECK_ST(sag_constant("af_inet", &v), SAG_E_INVALID);
    CHECK_ST(sag_constant(NULL, &v), SAG_E_INVALID);
    CHECK_EQ(v, 777); /* out-params are written only on success */
    CHECK_ST(sag_constant("AF_INET", NULL), SAG_E_INVALID);
    CHECK_ST(sag_constant_at(-1, &nm, &v), SAG_E_INVALID);
    CHECK_ST(sag_constant_at(n, &nm, &v), SAG_E_INVALID);
    CHECK(nm == (const char *)0x1);
    CHECK_ST(sag_constant_at(0, NULL, &v), SAG_E_INVALID);
    CHECK_ST(sag_constant_at(0, &nm, NULL), SAG_E_INVALID);
}

static void test_version(void) {
    section("version");
    CHECK_EQ(sag_version_number(), SAG_VERSION_NUMBER);
    CHECK_STR(sag_version_string(), SAG_VERSION_STRING);
    CHECK_EQ(SAG_VERSION_NUMBER, SAG_VERSION_MAJOR * 10000 +
                                     SAG_VERSION_MINOR * 100 + SAG_VERSION_PATCH);
}
