/* sagtls.h: TLS over libsagsocket's sockets, from OpenSSL 3 (libsagtls).
 *
 *   cc prog.c $(pkg-config --cflags --libs sagtls)
 *
 * The Scheme library (rfc tls) is built on these calls. libsagtls is a
 * companion of libsagsocket (docs/tls.md says why it is not part of it): it
 * works on libsagsocket's sag_socket handles and follows every convention of
 * sagsocket_decls.h (statuses, sag_error objects, handles looked up in a
 * table: NULL, freed or foreign handles give SAG_E_MISUSE; buffers as
 * (pointer, start, length); strings NUL-terminated UTF-8; timeouts;
 * threads; interruption).
 *
 * Verified by default. A client config verifies the server's certificate
 * chain against the system trust store (OpenSSL's default paths, so
 * SSL_CERT_FILE and SSL_CERT_DIR work) plus any CA added to the config, and
 * the certificate against the server name given to sagtls_wrap (a DNS name,
 * or an IP address matched against the certificate's IP entries); it sends
 * the name as SNI (not for an IP address). TLS 1.2 is the least version
 * allowed, 1.3 is preferred. sagtls_config_set_verify(cfg, 0) turns
 * verification off, explicitly.
 *
 * Statuses beyond the core's: SAG_E_TLS (a handshake failure, a fatal alert,
 * a bad certificate or key file), SAG_E_TLS_VERIFY (the peer's certificate
 * failed verification: the message says why, e.g. "certificate has
 * expired", "hostname mismatch", "unable to get local issuer certificate"),
 * SAG_E_TLS_TRUNCATED (the peer ended the TCP stream without a TLS
 * close_notify: never reported as an ordinary end of file). Failures of the
 * socket underneath (SAG_E_READ_TIMEOUT, SAG_E_INTERRUPTED, SAG_E_CLOSED,
 * SAG_E_SOCKET, SAG_E_WOULD_BLOCK) come with the core's own error record.
 * No message contains key material or plaintext.
 *
 * Waiting. Every call that waits (sagtls_handshake, _recv, _send) waits in
 * libsagsocket, on the TLS socket's underlying sag_socket: its read timeout
 * (sag_socket_set_read_timeout) bounds each wait for the peer's bytes
 * (SAG_E_READ_TIMEOUT), sag_socket_interrupt on it ends the wait
 * (SAG_E_INTERRUPTED), closing the TLS socket from another thread ends it
 * (SAG_E_CLOSED), a non-blocking socket gives SAG_E_WOULD_BLOCK instead of
 * waiting. The TLS state survives all of these: the call may be repeated.
 *
 * Threads. One thread may read a TLS socket while another writes it (the
 * OpenSSL state is locked only while it is worked on, never while waiting).
 * A config may be shared by any number of TLS sockets; set it up before
 * making them.
 */
#ifndef SAGTLS_H
#define SAGTLS_H

#include <sagsocket.h>

#define SAGTLS_VERSION_MAJOR 1
#define SAGTLS_VERSION_MINOR 0
#define SAGTLS_VERSION_PATCH 0
/* The ABI version: the SONAME is libsagtls.so.SAGTLS_ABI_VERSION. */
#define SAGTLS_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sagtls_config sagtls_config; /* what TLS sockets are made with */
typedef struct sagtls_socket sagtls_socket; /* a TLS connection over a sag_socket */

/* Protocol versions for sagtls_config_set_versions. */
typedef enum sagtls_version {
    SAGTLS_TLS1_2 = 0x0303,
    SAGTLS_TLS1_3 = 0x0304
} sagtls_version;

/* Roles of a config. */
typedef enum sagtls_role {
    SAGTLS_CLIENT = 0,
    SAGTLS_SERVER = 1
} sagtls_role;

/* ===== Configs ========================================================= */

/* A new config for clients (SAGTLS_CLIENT: verification on, trust store
 * loaded) or servers (SAGTLS_SERVER: needs sagtls_config_use_certificate_*
 * before use; client certificates not asked for). TLS 1.2 to 1.3.
 * Returns SAG_OK; SAG_E_INVALID (bad role, out NULL); SAG_E_NOMEM; SAG_E_TLS
 * (OpenSSL could not make a context). Scheme: (none; from the options of
 * make-client-tls-socket and make-server-tls-socket) */
int sagtls_config_new(int role, sagtls_config **out, sag_error *err);

/* Frees a config; TLS sockets made with it keep working. NULL or freed:
 * SAG_OK; another value: SAG_E_MISUSE. Scheme: (none; the finalizer) */
int sagtls_config_free(sagtls_config *cfg);

/* Verification of the peer on (non-zero, a client's default) or off (0:
 * any certificate, any name is accepted: for tests only). On a server
 * config, on means a client certificate is required and verified.
 * Returns SAG_OK, SAG_E_MISUSE. Scheme: :verify? (#f turns it off) and
 * :peer-certificate-required? */
int sagtls_config_set_verify(sagtls_config *cfg, int on, sag_error *err);

/* Trusts the CA certificates of a PEM file (path) or of PEM bytes
 * pem[start, start+len), in addition to the system trust store.
 * Returns SAG_OK; SAG_E_TLS (unreadable file, no certificate in it; the
 * message says which); SAG_E_INVALID; SAG_E_MISUSE.
 * Scheme: :trust-certificates (PEM file names or bytevectors) */
int sagtls_config_add_ca_file(sagtls_config *cfg, const char *path, sag_error *err);
int sagtls_config_add_ca_pem(sagtls_config *cfg, const uint8_t *pem, size_t start,
                             size_t len, sag_error *err);

/* The certificate chain (leaf first) and private key this side presents
 * (a server's certificate, a client certificate): PEM files, or PEM bytes.
 * The key must match the certificate. Encrypted keys are not accepted.
 * Returns SAG_OK; SAG_E_TLS (unreadable, not PEM, key does not match);
 * SAG_E_INVALID; SAG_E_MISUSE.
 * Scheme: :certificates and :private-key */
int sagtls_config_use_certificate_files(sagtls_config *cfg, const char *chain_path,
                                        const char *key_path, sag_error *err);
int sagtls_config_use_certificate_pem(sagtls_config *cfg, const uint8_t *chain,
                                      size_t chain_len, const uint8_t *key,
                                      size_t key_len, sag_error *err);

/* The ALPN protocols, in wire format (each name as a length byte and the
 * name, 1 to 255 bytes), most preferred first: a client offers them, a
 * server picks the first of its own list the client offered (none in common:
 * no protocol is selected, the handshake goes on).
 * Returns SAG_OK; SAG_E_INVALID (malformed list); SAG_E_MISUSE.
 * Scheme: make-protocol-name-list (:alpn) */
int sagtls_config_set_alpn(sagtls_config *cfg, const uint8_t *wire, size_t start,
                           size_t len, sag_error *err);

/* The least and greatest protocol versions (SAGTLS_TLS1_2, SAGTLS_TLS1_3).
 * Returns SAG_OK; SAG_E_INVALID (unknown version, min > max); SAG_E_MISUSE.
 * Scheme: :versions */
int sagtls_config_set_versions(sagtls_config *cfg, int min, int max, sag_error *err);

/* ===== TLS sockets ===================================================== */

/* Makes a TLS socket over the connected stream socket s, in cfg's role,
 * without a handshake (sagtls_handshake does it). server_name is the name
 * a client verifies and sends as SNI: required (non-NULL) for a client
 * config with verification on, ignored by servers. The TLS socket takes s
 * over: sagtls_close closes it and sagtls_free frees it; meanwhile s stays
 * usable for what does not move bytes (sag_socket_get_peer, _fd, options,
 * sag_socket_interrupt), but reading or writing it directly breaks the TLS
 * stream. On failure s is left as it was, still the caller's.
 * Returns SAG_OK; SAG_E_INVALID (server_name NULL for a verifying client,
 * not UTF-8, out NULL); SAG_E_MISUSE (cfg or s); SAG_E_CLOSED; SAG_E_NOMEM;
 * SAG_E_TLS. Scheme: socket->tls-socket (STARTTLS), make-client-tls-socket,
 * tls-socket-accept */
int sagtls_wrap(sag_socket *s, sagtls_config *cfg, const char *server_name,
                sagtls_socket **out, sag_error *err);

/* Runs (or, after SAG_E_WOULD_BLOCK, a timeout or an interrupt, resumes)
 * the handshake. SAG_OK at once if it is done.
 * Returns SAG_OK; SAG_E_TLS_VERIFY (the message says why); SAG_E_TLS (alert,
 * no common version or cipher, not TLS); SAG_E_TLS_TRUNCATED (the peer
 * closed during the handshake); the socket's SAG_E_READ_TIMEOUT,
 * SAG_E_INTERRUPTED, SAG_E_WOULD_BLOCK, SAG_E_CLOSED, SAG_E_SOCKET;
 * SAG_E_MISUSE. Scheme: tls-client-handshake tls-server-handshake */
int sagtls_handshake(sagtls_socket *t, sag_error *err);

/* Receives up to len bytes of plaintext into buf[start, start+len)
 * (handshaking first if not done); *received = 0 means the peer sent
 * close_notify (end of file). Waits as sag_socket_recv does. flags: 0,
 * MSG_PEEK (leave the bytes to be read again), MSG_DONTWAIT (do not wait);
 * others are SAG_E_INVALID.
 * Returns SAG_OK; SAG_E_TLS_TRUNCATED (the stream ended without
 * close_notify); SAG_E_TLS; the handshake's statuses; the socket's as
 * sagtls_handshake. Scheme: tls-socket-recv tls-socket-recv! socket-recv */
int sagtls_recv(sagtls_socket *t, uint8_t *buf, size_t start, size_t len,
                int flags, size_t *received, sag_error *err);

/* Sends all of buf[start, start+count) as plaintext (handshaking first if
 * not done); *sent gets count. A failure after part of it went leaves
 * *sent unwritten: sag_error_sent(err) tells how many plaintext bytes were
 * taken (sent in whole records), so the caller can resume with the rest.
 * flags: 0 or MSG_DONTWAIT (send what fits: SAG_OK with the count taken, or
 * SAG_E_WOULD_BLOCK when nothing was).
 * Returns SAG_OK; SAG_E_TLS; the socket's statuses as sag_socket_send
 * (SAG_E_SOCKET with EPIPE or ECONNRESET when the peer has gone);
 * SAG_E_INVALID; SAG_E_MISUSE. Scheme: tls-socket-send socket-send */
int sagtls_send(sagtls_socket *t, const uint8_t *buf, size_t start, size_t count,
                int flags, size_t *sent, sag_error *err);

/* The bytes of plaintext held, ready for sagtls_recv without waiting: a
 * socket with some is readable even when its descriptor is not. (OpenSSL
 * reads ahead: a whole record already received but not yet decrypted is
 * decrypted here, without waiting, and counted.)
 * Returns SAG_OK, SAG_E_MISUSE (closed: 0). Scheme: (used by the selects,
 * the selector and port readiness on TLS sockets) */
int sagtls_pending(sagtls_socket *t, size_t *out, sag_error *err);

/* Sends close_notify (once; later calls do nothing) without closing the
 * socket; the peer then reads end of file. Does not wait for the peer's.
 * Returns SAG_OK; the socket's statuses; SAG_E_CLOSED; SAG_E_MISUSE.
 * Scheme: tls-socket-shutdown (and socket-shutdown with SHUT_WR/SHUT_RDWR) */
int sagtls_shutdown(sagtls_socket *t, sag_error *err);

/* Sends close_notify if the handshake was done and none was sent (without
 * waiting: dropped if it does not fit) and closes the socket underneath;
 * calls blocked on the TLS socket in other threads end with SAG_E_CLOSED.
 * Afterwards every call but the accessors gives SAG_E_CLOSED; close again
 * is SAG_OK. Returns SAG_OK, SAG_E_MISUSE.
 * Scheme: tls-socket-close socket-close */
int sagtls_close(sagtls_socket *t, sag_error *err);

/* Closes (if open) and frees the TLS socket and the sag_socket it took over.
 * NULL or freed: SAG_OK; another value: SAG_E_MISUSE. Calls blocked on it
 * in other threads end with SAG_E_CLOSED first.
 * Scheme: (none; the finalizer) */
int sagtls_free(sagtls_socket *t);

/* Whether sagtls_close was called. Returns SAG_OK, SAG_E_MISUSE.
 * Scheme: tls-socket-closed? */
int sagtls_is_closed(sagtls_socket *t, int *out, sag_error *err);

/* The sag_socket underneath (borrowed: owned by t, freed with it).
 * Returns SAG_OK, SAG_E_MISUSE. Scheme: (the binding's; tls-socket-peer,
 * tls-socket-name, tls-socket-info use it) */
int sagtls_socket_raw(sagtls_socket *t, sag_socket **out, sag_error *err);

/* The peer's certificate as DER bytes (*der NULL and *len 0 when the peer
 * sent none, or before the handshake). Owned by t, valid until it is freed.
 * Returns SAG_OK, SAG_E_MISUSE, SAG_E_NOMEM.
 * Scheme: tls-socket-peer-certificate (a bytevector) */
int sagtls_peer_certificate(sagtls_socket *t, const uint8_t **der, size_t *len,
                            sag_error *err);

/* The subject of the peer's certificate as an RFC 2253 string (e.g.
 * "CN=localhost,O=Test"); NULL when none. Owned by t.
 * Returns SAG_OK, SAG_E_MISUSE, SAG_E_NOMEM.
 * Scheme: tls-socket-peer-certificate-subject */
int sagtls_peer_subject(sagtls_socket *t, const char **out, sag_error *err);

/* The ALPN protocol selected in the handshake, NULL when none. Owned by t.
 * Returns SAG_OK, SAG_E_MISUSE, SAG_E_NOMEM. Scheme: tls-socket-selected-alpn */
int sagtls_selected_alpn(sagtls_socket *t, const char **out, sag_error *err);

/* The negotiated protocol version, "TLSv1.2" or "TLSv1.3" (static; NULL
 * before the handshake). Returns SAG_OK, SAG_E_MISUSE.
 * Scheme: tls-socket-version */
int sagtls_protocol_version(sagtls_socket *t, const char **out, sag_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SAGTLS_H */
