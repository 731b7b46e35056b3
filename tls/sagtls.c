/* sagtls.c: libsagtls, TLS from OpenSSL 3 over libsagsocket's sockets.
 *
 * OpenSSL works on a memory of its own kind of BIO whose reads and writes
 * are libsagsocket's sag_socket_recv / sag_socket_send with MSG_DONTWAIT:
 * OpenSSL never waits. When it wants bytes, the call waits outside the
 * connection's lock in libsagsocket (a MSG_PEEK receive of one byte, which
 * keeps the socket's read timeout, interruption and close semantics; a
 * write select for room), then tries again. Failures are recorded through
 * sag_error_set so callers read them like the core's. */
#define _GNU_SOURCE
#include <stdarg.h>
#include "sagtls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* ===== Handles ==========================================================
 * Every object starts with a header; live objects are in an open-addressing
 * set of pointers, so a lookup never reads through a value that is not a
 * live object. A lookup takes a reference; the object is destroyed when it
 * has been freed and the last reference is dropped. */

enum kind { KIND_CONFIG = 1, KIND_SOCKET = 2 };

typedef struct header {
    int kind;
    atomic_int refs; /* the table's (until freed) and each lookup's */
    void (*destroy)(struct header *);
} header;

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static header **table;        /* NULL: empty slot; TOMBSTONE: deleted */
static size_t table_cap, table_used;
#define TOMBSTONE ((header *)1)

static size_t slot_of(const void *p, size_t cap) {
    uintptr_t h = (uintptr_t)p;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 7) & (cap - 1);
}

static int table_grow(void) {
    size_t cap = table_cap ? table_cap * 2 : 64;
    header **t = calloc(cap, sizeof *t);
    if (!t) return 0;
    size_t used = 0;
    for (size_t i = 0; i < table_cap; i++) {
        header *h = table[i];
        if (!h || h == TOMBSTONE) continue;
        size_t j = slot_of(h, cap);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = h;
        used++;
    }
    free(table);
    table = t;
    table_cap = cap;
    table_used = used;
    return 1;
}

static int table_insert(header *h) {
    pthread_mutex_lock(&table_lock);
    if ((table_used + 1) * 2 > table_cap && !table_grow()) {
        pthread_mutex_unlock(&table_lock);
        return 0;
    }
    size_t j = slot_of(h, table_cap);
    while (table[j] && table[j] != TOMBSTONE) j = (j + 1) & (table_cap - 1);
    if (!table[j]) table_used++;
    table[j] = h;
    pthread_mutex_unlock(&table_lock);
    return 1;
}

/* The slot of p, or -1; under table_lock. */
static long table_find(const void *p) {
    if (!p || !table_cap) return -1;
    size_t j = slot_of(p, table_cap);
    for (size_t n = 0; n < table_cap && table[j]; n++, j = (j + 1) & (table_cap - 1))
        if (table[j] == p) return (long)j;
    return -1;
}

/* A reference to the live object p of `kind`, or NULL. */
static header *acquire(const void *p, int kind) {
    header *h = NULL;
    pthread_mutex_lock(&table_lock);
    long j = table_find(p);
    if (j >= 0 && table[j]->kind == kind) {
        h = table[j];
        atomic_fetch_add(&h->refs, 1);
    }
    pthread_mutex_unlock(&table_lock);
    return h;
}

static void release(header *h) {
    if (h && atomic_fetch_sub(&h->refs, 1) == 1) h->destroy(h);
}

/* Takes p out of the table: 1 (with the table's reference handed to the
 * caller), 0 when it is not there (freed already or never made). */
static int table_remove(const void *p, int kind, int *wrong_kind) {
    int removed = 0;
    *wrong_kind = 0;
    pthread_mutex_lock(&table_lock);
    long j = table_find(p);
    if (j >= 0) {
        if (table[j]->kind == kind) {
            table[j] = TOMBSTONE;
            removed = 1;
        } else {
            *wrong_kind = 1;
        }
    }
    pthread_mutex_unlock(&table_lock);
    return removed;
}

/* ===== Failures ========================================================= */

/* Records a failure; returns its status. */
static int fail(sag_error *err, int status, const char *op, sag_socket *s, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(sag_error *err, int status, const char *op, sag_socket *s, const char *fmt, ...) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s: ", op);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (sag_error_set(err, status, 0, op, msg, s) != SAG_OK) sag_error_set(NULL, status, 0, op, msg, s);
    return status;
}

static int misuse(sag_error *err, const char *op, const char *what) {
    return fail(err, SAG_E_MISUSE, op, NULL, "%s is not a live handle of the expected kind", what);
}

static int invalid(sag_error *err, const char *op, const char *what) {
    return fail(err, SAG_E_INVALID, op, NULL, "%s", what);
}

/* OpenSSL's reason for the failure at the head of this thread's error
 * queue (library and reason text only: no data from the connection). */
static const char *openssl_reason(char *buf, size_t size) {
    unsigned long e = ERR_peek_last_error();
    if (!e) return "no further detail";
    const char *r = ERR_reason_error_string(e);
    if (r) {
        snprintf(buf, size, "%s", r);
    } else {
        snprintf(buf, size, "OpenSSL error %lu", e);
    }
    return buf;
}

static int fail_openssl(sag_error *err, int status, const char *op, sag_socket *s, const char *what) {
    char reason[160];
    int st = fail(err, status, op, s, "%s: %s", what, openssl_reason(reason, sizeof reason));
    ERR_clear_error();
    return st;
}

/* ===== Configs ========================================================== */

struct sagtls_config {
    header h;
    int role;
    int verify;
    SSL_CTX *ctx;
    pthread_mutex_t lock; /* the ALPN list, read by the server's callback */
    uint8_t *alpn;
    size_t alpn_len;
};

static void config_destroy(header *h) {
    sagtls_config *c = (sagtls_config *)h;
    SSL_CTX_free(c->ctx);
    pthread_mutex_destroy(&c->lock);
    free(c->alpn);
    free(c);
}

/* The server's ALPN choice: the first of its list the client offered. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    sagtls_config *c = arg;
    int rc = SSL_TLSEXT_ERR_NOACK;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; c->alpn && i < c->alpn_len; i += 1 + c->alpn[i]) {
        for (unsigned int j = 0; j < inlen; j += 1u + in[j]) {
            if (in[j] == c->alpn[i] && j + 1u + in[j] <= inlen &&
                memcmp(in + j + 1, c->alpn + i + 1, in[j]) == 0) {
                *out = in + j + 1; /* in lives as long as the handshake */
                *outlen = in[j];
                rc = SSL_TLSEXT_ERR_OK;
                goto done;
            }
        }
    }
done:
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static void apply_verify(sagtls_config *c) {
    int mode = SSL_VERIFY_NONE;
    if (c->verify) mode = c->role == SAGTLS_SERVER ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                   : SSL_VERIFY_PEER;
    SSL_CTX_set_verify(c->ctx, mode, NULL);
}

int sagtls_config_new(int role, sagtls_config **out, sag_error *err) {
    static const char op[] = "sagtls-config-new";
    if (role != SAGTLS_CLIENT && role != SAGTLS_SERVER) return invalid(err, op, "role is not SAGTLS_CLIENT or SAGTLS_SERVER");
    if (!out) return invalid(err, op, "out is NULL");
    sagtls_config *c = calloc(1, sizeof *c);
    if (!c) return fail(err, SAG_E_NOMEM, op, NULL, "out of memory");
    ERR_clear_error();
    c->ctx = SSL_CTX_new(role == SAGTLS_SERVER ? TLS_server_method() : TLS_client_method());
    if (!c->ctx) {
        free(c);
        return fail_openssl(err, SAG_E_TLS, op, NULL, "cannot make an SSL_CTX");
    }
    c->h.kind = KIND_CONFIG;
    c->h.refs = 1;
    c->h.destroy = config_destroy;
    c->role = role;
    c->verify = role == SAGTLS_CLIENT;
    pthread_mutex_init(&c->lock, NULL);
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c->ctx, TLS1_3_VERSION);
    /* Writes may be taken in part (the partial-send count), and the buffer
     * of a retried write may move (bindings may pass a new pointer). */
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* A peer that closes without close_notify is reported, not ignored
     * (OpenSSL 3 already does; SSL_OP_IGNORE_UNEXPECTED_EOF stays off). */
    if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
        /* No system trust store is not fatal: a CA may be added. */
        ERR_clear_error();
    }
    /* Read ahead: one receive takes what the kernel has (up to 64 KiB)
     * rather than a record's header and then its body. sagtls_pending
     * counts what is held undecrypted too (SSL_has_pending). */
    SSL_CTX_set_read_ahead(c->ctx, 1);
    SSL_CTX_set_default_read_buffer_len(c->ctx, 65536);
    if (role == SAGTLS_SERVER) SSL_CTX_set_alpn_select_cb(c->ctx, alpn_select, c);
    apply_verify(c);
    if (!table_insert(&c->h)) {
        config_destroy(&c->h);
        return fail(err, SAG_E_NOMEM, op, NULL, "out of memory");
    }
    *out = c;
    return SAG_OK;
}

int sagtls_config_free(sagtls_config *cfg) {
    int wrong;
    if (!cfg) return SAG_OK;
    if (table_remove(cfg, KIND_CONFIG, &wrong)) {
        release(&cfg->h);
        return SAG_OK;
    }
    return wrong ? misuse(NULL, "sagtls-config-free", "config") : SAG_OK;
}

#define WITH_CONFIG(op)                                                     \
    sagtls_config *c = (sagtls_config *)acquire(cfg, KIND_CONFIG);          \
    if (!c) return misuse(err, op, "config");

int sagtls_config_set_verify(sagtls_config *cfg, int on, sag_error *err) {
    WITH_CONFIG("sagtls-config-set-verify");
    c->verify = on != 0;
    apply_verify(c);
    release(&c->h);
    return SAG_OK;
}

/* Reads every certificate of a PEM BIO into the config's trust store;
 * the number added, -1 on a parse failure. */
static int add_ca_bio(sagtls_config *c, BIO *bio) {
    X509_STORE *store = SSL_CTX_get_cert_store(c->ctx);
    int added = 0;
    for (;;) {
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!x) break;
        if (X509_STORE_add_cert(store, x) == 1) added++;
        X509_free(x);
    }
    /* The loop ends on end of input (PEM_R_NO_START_LINE) or bad input. */
    unsigned long e = ERR_peek_last_error();
    if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) return -1;
    ERR_clear_error();
    return added;
}

static int add_ca(sagtls_config *cfg, BIO *bio, const char *op, const char *what, sag_error *err) {
    WITH_CONFIG(op);
    int st = SAG_OK;
    if (!bio) {
        st = fail_openssl(err, SAG_E_TLS, op, NULL, what);
    } else {
        int n = add_ca_bio(c, bio);
        if (n < 0) st = fail_openssl(err, SAG_E_TLS, op, NULL, what);
        else if (n == 0) st = fail(err, SAG_E_TLS, op, NULL, "%s: no certificate in it", what);
        BIO_free(bio);
    }
    release(&c->h);
    return st;
}

int sagtls_config_add_ca_file(sagtls_config *cfg, const char *path, sag_error *err) {
    static const char op[] = "sagtls-config-add-ca-file";
    if (!path) return invalid(err, op, "path is NULL");
    ERR_clear_error();
    char what[300];
    snprintf(what, sizeof what, "CA file %.256s", path);
    return add_ca(cfg, BIO_new_file(path, "r"), op, what, err);
}

int sagtls_config_add_ca_pem(sagtls_config *cfg, const uint8_t *pem, size_t start, size_t len,
                             sag_error *err) {
    static const char op[] = "sagtls-config-add-ca-pem";
    if ((!pem && len) || start + len < start || len > INT32_MAX) return invalid(err, op, "bad buffer");
    ERR_clear_error();
    return add_ca(cfg, BIO_new_mem_buf(pem ? pem + start : (const uint8_t *)"", (int)len), op,
                  "CA certificates", err);
}

/* The chain (leaf first) and key from two PEM BIOs into the context. */
static int use_chain_and_key(sagtls_config *c, BIO *chain, BIO *key, const char *op, sag_error *err) {
    X509 *leaf = chain ? PEM_read_bio_X509(chain, NULL, NULL, NULL) : NULL;
    if (!leaf) return fail_openssl(err, SAG_E_TLS, op, NULL, "cannot read the certificate");
    if (SSL_CTX_use_certificate(c->ctx, leaf) != 1) {
        X509_free(leaf);
        return fail_openssl(err, SAG_E_TLS, op, NULL, "cannot use the certificate");
    }
    X509_free(leaf);
    SSL_CTX_clear_chain_certs(c->ctx);
    X509 *x;
    while ((x = PEM_read_bio_X509(chain, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(c->ctx, x) != 1) {
            X509_free(x);
            return fail_openssl(err, SAG_E_TLS, op, NULL, "cannot use a chain certificate");
        }
    }
    ERR_clear_error();
    /* No passphrase callback: an encrypted key fails (no prompt on a tty). */
    EVP_PKEY *pk = key ? PEM_read_bio_PrivateKey(key, NULL, NULL, (void *)"") : NULL;
    if (!pk) return fail_openssl(err, SAG_E_TLS, op, NULL, "cannot read the private key");
    int ok = SSL_CTX_use_PrivateKey(c->ctx, pk) == 1;
    EVP_PKEY_free(pk);
    if (!ok) return fail_openssl(err, SAG_E_TLS, op, NULL, "cannot use the private key");
    if (SSL_CTX_check_private_key(c->ctx) != 1)
        return fail_openssl(err, SAG_E_TLS, op, NULL, "the private key does not match the certificate");
    return SAG_OK;
}

int sagtls_config_use_certificate_files(sagtls_config *cfg, const char *chain_path, const char *key_path,
                                        sag_error *err) {
    static const char op[] = "sagtls-config-use-certificate-files";
    if (!chain_path || !key_path) return invalid(err, op, "a path is NULL");
    WITH_CONFIG(op);
    ERR_clear_error();
    BIO *chain = BIO_new_file(chain_path, "r");
    BIO *key = BIO_new_file(key_path, "r");
    int st;
    if (!chain) st = fail_openssl(err, SAG_E_TLS, op, NULL, "cannot open the certificate file");
    else if (!key) st = fail_openssl(err, SAG_E_TLS, op, NULL, "cannot open the key file");
    else st = use_chain_and_key(c, chain, key, op, err);
    BIO_free(chain);
    BIO_free(key);
    release(&c->h);
    return st;
}

int sagtls_config_use_certificate_pem(sagtls_config *cfg, const uint8_t *chain, size_t chain_len,
                                      const uint8_t *key, size_t key_len, sag_error *err) {
    static const char op[] = "sagtls-config-use-certificate-pem";
    if (!chain || !key || chain_len > INT32_MAX || key_len > INT32_MAX)
        return invalid(err, op, "bad certificate or key buffer");
    WITH_CONFIG(op);
    ERR_clear_error();
    BIO *cb = BIO_new_mem_buf(chain, (int)chain_len);
    BIO *kb = BIO_new_mem_buf(key, (int)key_len);
    int st = (cb && kb) ? use_chain_and_key(c, cb, kb, op, err) : fail(err, SAG_E_NOMEM, op, NULL, "out of memory");
    BIO_free(cb);
    BIO_free(kb);
    release(&c->h);
    return st;
}

int sagtls_config_set_alpn(sagtls_config *cfg, const uint8_t *wire, size_t start, size_t len, sag_error *err) {
    static const char op[] = "sagtls-config-set-alpn";
    if ((!wire && len) || start + len < start || len > 65535) return invalid(err, op, "bad buffer");
    const uint8_t *p = wire ? wire + start : NULL;
    for (size_t i = 0; i < len; i += 1 + p[i])
        if (p[i] == 0 || i + 1 + p[i] > len) return invalid(err, op, "malformed ALPN protocol list");
    WITH_CONFIG(op);
    uint8_t *copy = NULL;
    if (len && !(copy = malloc(len))) {
        release(&c->h);
        return fail(err, SAG_E_NOMEM, op, NULL, "out of memory");
    }
    if (len) memcpy(copy, p, len);
    int st = SAG_OK;
    if (c->role == SAGTLS_CLIENT && SSL_CTX_set_alpn_protos(c->ctx, copy, (unsigned)len) != 0)
        st = fail(err, SAG_E_NOMEM, op, NULL, "out of memory");
    pthread_mutex_lock(&c->lock);
    free(c->alpn);
    c->alpn = copy;
    c->alpn_len = len;
    pthread_mutex_unlock(&c->lock);
    release(&c->h);
    return st;
}

int sagtls_config_set_versions(sagtls_config *cfg, int min, int max, sag_error *err) {
    static const char op[] = "sagtls-config-set-versions";
    int ok = (min == SAGTLS_TLS1_2 || min == SAGTLS_TLS1_3) && (max == SAGTLS_TLS1_2 || max == SAGTLS_TLS1_3);
    if (!ok) return invalid(err, op, "a version is not SAGTLS_TLS1_2 or SAGTLS_TLS1_3");
    if (min > max) return invalid(err, op, "min is greater than max");
    WITH_CONFIG(op);
    SSL_CTX_set_min_proto_version(c->ctx, min);
    SSL_CTX_set_max_proto_version(c->ctx, max);
    release(&c->h);
    return SAG_OK;
}

/* ===== TLS sockets ====================================================== */

struct sagtls_socket {
    header h;
    sag_socket *s;
    SSL *ssl;
    pthread_mutex_t lock;     /* the SSL state; never held while waiting */
    atomic_int closed;
    int shutdown_sent;
    int io_status;            /* the last BIO failure's status (0: none) */
    sag_error *io_err;        /* where the BIO's calls record failures */
    uint8_t *der;             /* caches of the accessors */
    size_t der_len;
    char *subject;
    char *alpn;
};

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *b, const char *data, size_t len, size_t *written) {
    sagtls_socket *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t n = 0;
    int st = sag_socket_send(t->s, (const uint8_t *)data, 0, len, MSG_DONTWAIT, &n, t->io_err);
    if (st == SAG_OK && n > 0) {
        *written = n;
        return 1;
    }
    if (st == SAG_OK || st == SAG_E_WOULD_BLOCK) {
        BIO_set_retry_write(b);
        return 0;
    }
    t->io_status = st;
    return 0;
}

static int bio_read(BIO *b, char *data, size_t len, size_t *readbytes) {
    sagtls_socket *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t n = 0;
    int st = sag_socket_recv(t->s, (uint8_t *)data, 0, len, MSG_DONTWAIT, &n, t->io_err);
    if (st == SAG_OK) {
        *readbytes = n;
        if (n == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);
        return n > 0;
    }
    if (st == SAG_E_WOULD_BLOCK) {
        BIO_set_retry_read(b);
        return 0;
    }
    t->io_status = st;
    return 0;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_EOF: return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    default: return 0;
    }
}

static void make_bio_method(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sag_socket");
    if (m && BIO_meth_set_write_ex(m, bio_write) && BIO_meth_set_read_ex(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl))
        bio_method = m;
}

static void socket_destroy(header *h) {
    sagtls_socket *t = (sagtls_socket *)h;
    SSL_free(t->ssl);
    sag_socket_free(t->s);
    pthread_mutex_destroy(&t->lock);
    free(t->der);
    free(t->subject);
    free(t->alpn);
    free(t);
}

static int is_ip_literal(const char *name) {
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

int sagtls_wrap(sag_socket *s, sagtls_config *cfg, const char *server_name, sagtls_socket **out,
                sag_error *err) {
    static const char op[] = "sagtls-wrap";
    if (!out) return invalid(err, op, "out is NULL");
    int closed = 0;
    if (sag_socket_is_closed(s, &closed, err) != SAG_OK) return SAG_E_MISUSE;
    if (closed) return fail(err, SAG_E_CLOSED, op, s, "socket is closed");
    WITH_CONFIG(op);
    int st = SAG_OK;
    if (c->role == SAGTLS_CLIENT && c->verify && !server_name) {
        st = invalid(err, op, "server_name is NULL and verification is on");
    } else if (server_name && !*server_name) {
        st = invalid(err, op, "server_name is empty");
    }
    pthread_once(&bio_once, make_bio_method);
    if (st == SAG_OK && !bio_method) st = fail(err, SAG_E_NOMEM, op, NULL, "out of memory");
    sagtls_socket *t = st == SAG_OK ? calloc(1, sizeof *t) : NULL;
    if (st == SAG_OK && !t) st = fail(err, SAG_E_NOMEM, op, NULL, "out of memory");
    if (st != SAG_OK) {
        release(&c->h);
        return st;
    }
    ERR_clear_error();
    t->h.kind = KIND_SOCKET;
    t->h.refs = 1;
    t->h.destroy = socket_destroy;
    t->s = s;
    pthread_mutex_init(&t->lock, NULL);
    t->ssl = SSL_new(c->ctx);
    BIO *bio = bio_method ? BIO_new(bio_method) : NULL;
    if (!t->ssl || !bio) {
        st = fail_openssl(err, SAG_E_TLS, op, s, "cannot make the TLS state");
        BIO_free(bio);
    } else {
        BIO_set_data(bio, t);
        BIO_set_init(bio, 1);
        SSL_set_bio(t->ssl, bio, bio);
        if (c->role == SAGTLS_CLIENT) {
            SSL_set_connect_state(t->ssl);
            if (server_name && is_ip_literal(server_name)) {
                X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
                if (c->verify && X509_VERIFY_PARAM_set1_ip_asc(vp, server_name) != 1)
                    st = fail_openssl(err, SAG_E_TLS, op, s, "cannot set the IP address to verify");
            } else if (server_name) {
                if (SSL_set_tlsext_host_name(t->ssl, server_name) != 1 ||
                    (c->verify && SSL_set1_host(t->ssl, server_name) != 1))
                    st = fail(err, SAG_E_INVALID, op, s, "server name is not a valid host name");
            }
        } else {
            SSL_set_accept_state(t->ssl);
        }
    }
    release(&c->h);
    if (st == SAG_OK && !table_insert(&t->h)) st = fail(err, SAG_E_NOMEM, op, NULL, "out of memory");
    if (st != SAG_OK) {
        t->s = NULL; /* still the caller's */
        SSL_free(t->ssl);
        pthread_mutex_destroy(&t->lock);
        free(t);
        ERR_clear_error();
        return st;
    }
    *out = t;
    return SAG_OK;
}

#define WITH_SOCKET(op)                                                     \
    sagtls_socket *t = (sagtls_socket *)acquire(tls, KIND_SOCKET);          \
    if (!t) return misuse(err, op, "TLS socket");

/* Waits (outside the lock) for what OpenSSL wants: readable bytes (or end
 * of file, or an error) or room to send. SAG_OK to try again. */
static int wait_for(sagtls_socket *t, int ssl_error, int dontwait, const char *op, sag_error *err) {
    if (atomic_load(&t->closed)) return fail(err, SAG_E_CLOSED, op, t->s, "socket is closed");
    if (ssl_error == SSL_ERROR_WANT_READ) {
        uint8_t one;
        size_t n;
        /* Waits as a receive does: read timeout, interrupt, close. */
        return sag_socket_recv(t->s, &one, 0, 1, MSG_PEEK | (dontwait ? MSG_DONTWAIT : 0), &n, err);
    }
    if (dontwait) return fail(err, SAG_E_WOULD_BLOCK, op, t->s, "the non-blocking operation would block");
    sag_socket *ready;
    size_t nready = 0;
    int st = sag_socket_write_select(-1, &t->s, 1, &ready, &nready, err);
    if (st == SAG_E_INTERRUPTED && atomic_load(&t->closed))
        return fail(err, SAG_E_CLOSED, op, t->s, "socket is closed");
    return st;
}

/* After an OpenSSL call failed with `e`, the status to report (recorded),
 * or SAG_OK for "wait (wait_for) and try again". */
static int classify(sagtls_socket *t, int e, const char *op, sag_error *err) {
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        if (t->io_status) break;
        ERR_clear_error();
        return SAG_OK;
    case SSL_ERROR_ZERO_RETURN:
        return fail(err, SAG_E_TLS_TRUNCATED, op, t->s, "the peer closed the TLS stream");
    default:
        break;
    }
    if (t->io_status) {
        /* The socket's own failure, already recorded by libsagsocket. */
        int st = t->io_status;
        t->io_status = 0;
        ERR_clear_error();
        if (st == SAG_E_CLOSED || atomic_load(&t->closed)) return fail(err, SAG_E_CLOSED, op, t->s, "socket is closed");
        return st;
    }
    long vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK) {
        ERR_clear_error();
        return fail(err, SAG_E_TLS_VERIFY, op, t->s, "certificate verification failed: %s",
                    X509_verify_cert_error_string(vr));
    }
    unsigned long last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_SSL && ERR_GET_REASON(last) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return fail(err, SAG_E_TLS_TRUNCATED, op, t->s, "the peer ended the stream without close_notify");
    }
    if (e == SSL_ERROR_SYSCALL && !last) {
        return fail(err, SAG_E_TLS_TRUNCATED, op, t->s, "the peer ended the stream without close_notify");
    }
    return fail_openssl(err, SAG_E_TLS, op, t->s, SSL_is_init_finished(t->ssl) ? "TLS failed" : "handshake failed");
}

/* One OpenSSL operation under the lock, waiting and retrying as it asks.
 * `body` returns > 0 on success, <= 0 with SSL_get_error's meaning. */
typedef int (*ssl_op)(sagtls_socket *t, void *arg);

static int run_ssl(sagtls_socket *t, ssl_op body, void *arg, int dontwait, const char *op, sag_error *err) {
    sag_error *ioerr = err ? err : sag_last_error();
    for (;;) {
        if (atomic_load(&t->closed)) return fail(err, SAG_E_CLOSED, op, t->s, "socket is closed");
        pthread_mutex_lock(&t->lock);
        ERR_clear_error();
        t->io_status = 0;
        t->io_err = ioerr;
        int r = body(t, arg);
        int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
        int st = r > 0 ? SAG_OK : classify(t, e, op, err);
        pthread_mutex_unlock(&t->lock);
        if (r > 0 || st != SAG_OK) return st;
        st = wait_for(t, e, dontwait, op, err);
        if (st != SAG_OK) return st;
    }
}

static int do_handshake(sagtls_socket *t, void *arg) {
    (void)arg;
    return SSL_do_handshake(t->ssl);
}

int sagtls_handshake(sagtls_socket *tls, sag_error *err) {
    static const char op[] = "tls-handshake";
    WITH_SOCKET(op);
    int st = SSL_is_init_finished(t->ssl) ? SAG_OK : run_ssl(t, do_handshake, NULL, 0, op, err);
    release(&t->h);
    return st;
}

struct io_arg {
    uint8_t *buf;
    size_t len;
    size_t done;
    int peek;
};

static int do_read(sagtls_socket *t, void *arg) {
    struct io_arg *a = arg;
    return a->peek ? SSL_peek_ex(t->ssl, a->buf, a->len, &a->done) : SSL_read_ex(t->ssl, a->buf, a->len, &a->done);
}

int sagtls_recv(sagtls_socket *tls, uint8_t *buf, size_t start, size_t len, int flags, size_t *received,
                sag_error *err) {
    static const char op[] = "tls-socket-recv";
    if ((!buf && len) || start + len < start) return invalid(err, op, "bad buffer");
    if (flags & ~(MSG_PEEK | MSG_DONTWAIT)) return invalid(err, op, "flags other than MSG_PEEK and MSG_DONTWAIT");
    if (!received) return invalid(err, op, "received is NULL");
    WITH_SOCKET(op);
    struct io_arg a = {buf ? buf + start : NULL, len, 0, (flags & MSG_PEEK) != 0};
    int st = SAG_OK;
    if (len > 0) {
        st = run_ssl(t, do_read, &a, (flags & MSG_DONTWAIT) != 0, op, err);
        if (st == SAG_E_TLS_TRUNCATED && SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN) {
            st = SAG_OK; /* close_notify: end of file */
            a.done = 0;
        }
    }
    release(&t->h);
    if (st == SAG_OK) *received = a.done;
    return st;
}

static int do_write(sagtls_socket *t, void *arg) {
    struct io_arg *a = arg;
    size_t n = 0;
    int r = SSL_write_ex(t->ssl, a->buf + a->done, a->len - a->done, &n);
    if (r > 0) a->done += n;
    return r;
}

int sagtls_send(sagtls_socket *tls, const uint8_t *buf, size_t start, size_t count, int flags, size_t *sent,
                sag_error *err) {
    static const char op[] = "tls-socket-send";
    if ((!buf && count) || start + count < start) return invalid(err, op, "bad buffer");
    if (flags & ~MSG_DONTWAIT) return invalid(err, op, "flags other than MSG_DONTWAIT");
    if (!sent) return invalid(err, op, "sent is NULL");
    WITH_SOCKET(op);
    int dontwait = (flags & MSG_DONTWAIT) != 0;
    struct io_arg a = {(uint8_t *)(buf ? buf + start : NULL), count, 0, 0};
    int st = SAG_OK;
    while (a.done < count) {
        st = run_ssl(t, do_write, &a, dontwait, op, err);
        if (st != SAG_OK) break;
    }
    release(&t->h);
    if (st == SAG_E_WOULD_BLOCK && a.done > 0) st = SAG_OK;
    if (st == SAG_OK) {
        *sent = a.done;
    } else {
        sag_error_set_sent(err ? err : sag_last_error(), a.done);
    }
    return st;
}

int sagtls_pending(sagtls_socket *tls, size_t *out, sag_error *err) {
    static const char op[] = "tls-socket-pending";
    if (!out) return invalid(err, op, "out is NULL");
    WITH_SOCKET(op);
    pthread_mutex_lock(&t->lock);
    int n = 0;
    if (!atomic_load(&t->closed)) {
        n = SSL_pending(t->ssl);
        /* Records read ahead but not yet decrypted: decrypt the next one if
         * it is whole (a peek with the BIO's non-waiting reads; an
         * incomplete record stays as it is, and the descriptor becomes
         * readable when the rest arrives). */
        if (n == 0 && SSL_has_pending(t->ssl) && SSL_is_init_finished(t->ssl)) {
            uint8_t one;
            size_t k;
            t->io_status = 0;
            t->io_err = NULL;
            if (SSL_peek_ex(t->ssl, &one, 1, &k) != 1) ERR_clear_error();
            n = SSL_pending(t->ssl);
        }
    }
    pthread_mutex_unlock(&t->lock);
    release(&t->h);
    *out = n > 0 ? (size_t)n : 0;
    return SAG_OK;
}

static int do_shutdown(sagtls_socket *t, void *arg) {
    (void)arg;
    if (t->shutdown_sent) return 1;
    int r = SSL_shutdown(t->ssl);
    if (r >= 0) {
        t->shutdown_sent = 1;
        return 1; /* sent; the peer's close_notify is not waited for */
    }
    return r;
}

int sagtls_shutdown(sagtls_socket *tls, sag_error *err) {
    static const char op[] = "tls-socket-shutdown";
    WITH_SOCKET(op);
    int st = SSL_is_init_finished(t->ssl) ? run_ssl(t, do_shutdown, NULL, 0, op, err) : SAG_OK;
    release(&t->h);
    return st;
}

/* Closes t (its reference held by the caller). */
static void close_socket(sagtls_socket *t) {
    pthread_mutex_lock(&t->lock);
    if (!atomic_exchange(&t->closed, 1)) {
        if (SSL_is_init_finished(t->ssl) && !t->shutdown_sent) {
            sag_error *e = NULL;
            if (sag_error_new(&e) == SAG_OK) { /* best effort; its failure is not the caller's */
                t->io_err = e;
                SSL_shutdown(t->ssl);
                t->shutdown_sent = 1;
                sag_error_free(e);
            }
            t->io_err = NULL;
        }
        ERR_clear_error();
        sag_socket_close(t->s, NULL); /* wakes every call waiting on it */
    }
    pthread_mutex_unlock(&t->lock);
}

int sagtls_close(sagtls_socket *tls, sag_error *err) {
    WITH_SOCKET("tls-socket-close");
    close_socket(t);
    release(&t->h);
    return SAG_OK;
}

int sagtls_free(sagtls_socket *tls) {
    int wrong;
    if (!tls) return SAG_OK;
    if (!table_remove(tls, KIND_SOCKET, &wrong)) return wrong ? misuse(NULL, "sagtls-free", "TLS socket") : SAG_OK;
    close_socket(tls);
    release(&tls->h);
    return SAG_OK;
}

int sagtls_is_closed(sagtls_socket *tls, int *out, sag_error *err) {
    static const char op[] = "tls-socket-closed?";
    if (!out) return invalid(err, op, "out is NULL");
    WITH_SOCKET(op);
    *out = atomic_load(&t->closed);
    release(&t->h);
    return SAG_OK;
}

int sagtls_socket_raw(sagtls_socket *tls, sag_socket **out, sag_error *err) {
    static const char op[] = "tls-socket-raw";
    if (!out) return invalid(err, op, "out is NULL");
    WITH_SOCKET(op);
    *out = t->s;
    release(&t->h);
    return SAG_OK;
}

int sagtls_peer_certificate(sagtls_socket *tls, const uint8_t **der, size_t *len, sag_error *err) {
    static const char op[] = "tls-socket-peer-certificate";
    if (!der || !len) return invalid(err, op, "der or len is NULL");
    WITH_SOCKET(op);
    int st = SAG_OK;
    pthread_mutex_lock(&t->lock);
    if (!t->der) {
        X509 *x = SSL_get1_peer_certificate(t->ssl);
        if (x) {
            unsigned char *p = NULL;
            int n = i2d_X509(x, &p);
            if (n > 0) {
                t->der = malloc((size_t)n);
                if (t->der) {
                    memcpy(t->der, p, (size_t)n);
                    t->der_len = (size_t)n;
                }
            }
            OPENSSL_free(p);
            X509_free(x);
            if (!t->der) st = fail(err, SAG_E_NOMEM, op, t->s, "out of memory");
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (st == SAG_OK) {
        *der = t->der;
        *len = t->der_len;
    }
    release(&t->h);
    return st;
}

int sagtls_peer_subject(sagtls_socket *tls, const char **out, sag_error *err) {
    static const char op[] = "tls-socket-peer-certificate-subject";
    if (!out) return invalid(err, op, "out is NULL");
    WITH_SOCKET(op);
    int st = SAG_OK;
    pthread_mutex_lock(&t->lock);
    if (!t->subject) {
        X509 *x = SSL_get1_peer_certificate(t->ssl);
        if (x) {
            BIO *m = BIO_new(BIO_s_mem());
            char *data = NULL;
            long n = m && X509_NAME_print_ex(m, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0
                         ? BIO_get_mem_data(m, &data)
                         : -1;
            if (n >= 0 && (t->subject = malloc((size_t)n + 1)) != NULL) {
                memcpy(t->subject, data, (size_t)n);
                t->subject[n] = 0;
            }
            BIO_free(m);
            X509_free(x);
            if (!t->subject) st = fail(err, SAG_E_NOMEM, op, t->s, "out of memory");
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (st == SAG_OK) *out = t->subject;
    release(&t->h);
    return st;
}

int sagtls_selected_alpn(sagtls_socket *tls, const char **out, sag_error *err) {
    static const char op[] = "tls-socket-selected-alpn";
    if (!out) return invalid(err, op, "out is NULL");
    WITH_SOCKET(op);
    int st = SAG_OK;
    pthread_mutex_lock(&t->lock);
    if (!t->alpn) {
        const unsigned char *p = NULL;
        unsigned int n = 0;
        SSL_get0_alpn_selected(t->ssl, &p, &n);
        if (p && n) {
            t->alpn = strndup((const char *)p, n);
            if (!t->alpn) st = fail(err, SAG_E_NOMEM, op, t->s, "out of memory");
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (st == SAG_OK) *out = t->alpn;
    release(&t->h);
    return st;
}

int sagtls_protocol_version(sagtls_socket *tls, const char **out, sag_error *err) {
    static const char op[] = "tls-socket-version";
    if (!out) return invalid(err, op, "out is NULL");
    WITH_SOCKET(op);
    pthread_mutex_lock(&t->lock);
    const char *v = NULL;
    if (SSL_is_init_finished(t->ssl)) {
        int n = SSL_version(t->ssl);
        v = n == TLS1_3_VERSION ? "TLSv1.3" : n == TLS1_2_VERSION ? "TLSv1.2" : SSL_get_version(t->ssl);
    }
    pthread_mutex_unlock(&t->lock);
    *out = v;
    release(&t->h);
    return SAG_OK;
}
