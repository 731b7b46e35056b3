;;; (rfc tls host): the Guile 3.0 layer under (rfc tls), installed as
;;; rfc/tls/host.scm: loading libsagtls, its foreign procedures and the
;;; guardian that frees dropped TLS objects. The interface is the Chez
;;; layer's (host.chezscheme.sls): handles are exact integers (#f for NULL),
;;; a call returns its C status first, then its out-parameters. Buffers are
;;; passed as pointers to the bytevectors (Guile's collector does not move
;;; objects; each bytevector is referenced until its call returns).
(library (rfc tls host)
  (export %tls-config-new %tls-config-set-verify %tls-config-add-ca-file
          %tls-config-add-ca-pem %tls-config-use-certificate-files
          %tls-config-use-certificate-pem %tls-config-set-alpn
          %tls-config-set-versions
          %tls-wrap %tls-handshake %tls-recv %tls-send %tls-pending
          %tls-shutdown %tls-close %tls-is-closed %tls-peer-certificate
          %tls-peer-subject %tls-selected-alpn %tls-protocol-version
          %tls-guard!)
  (import (rnrs)
          (only (guile) getenv dynamic-link dynamic-func make-guardian
                object-address hashv-set! hashv-ref hashv-remove! make-hash-table)
          (only (ice-9 threads) make-mutex lock-mutex unlock-mutex)
          (system foreign))

  ;; SAGTLS_LIBRARY names the file to load; otherwise the dynamic loader
  ;; finds libsagtls.so.1 (installed, or through LD_LIBRARY_PATH).
  (define library-file
    (let ([f (getenv "SAGTLS_LIBRARY")])
      (if (and f (not (string=? f ""))) f "libsagtls.so.1")))

  (define lib
    (guard (e [#t (raise
                   (condition
                    (make-error)
                    (make-who-condition 'rfc-tls)
                    (make-message-condition
                     (string-append
                      "cannot load " library-file
                      " (install libsagtls and OpenSSL 3's libssl, or set"
                      " LD_LIBRARY_PATH or SAGTLS_LIBRARY)"))))])
      (dynamic-link library-file)))

  (define (fp name args) (pointer->procedure int (dynamic-func name lib) args))
  (define P uintptr_t)
  (define (c-string s) (if s (string->pointer s "UTF-8") %null-pointer))
  (define (bv-ptr bv) (bytevector->pointer bv))

  ;; Out-parameters: two 8-byte slots of a fresh bytevector per call.
  (define (new-out) (make-bytevector 16 0))
  (define (slot m i) (+ (pointer-address (bytevector->pointer m)) (* 8 i)))
  (define (out-u64 m i) (bytevector-u64-native-ref m (* 8 i)))
  (define (addr->string a)
    (and (not (eqv? a 0)) (pointer->string (make-pointer a) -1 "UTF-8")))

  ;; ---- Configs --------------------------------------------------------------
  (define c-config-new (fp "sagtls_config_new" (list int P P)))
  (define (%tls-config-new role)
    (let* ([m (new-out)] [st (c-config-new role (slot m 0) 0)])
      (values st (out-u64 m 0))))
  (define c-set-verify (fp "sagtls_config_set_verify" (list P int P)))
  (define (%tls-config-set-verify c on) (c-set-verify c (if on 1 0) 0))
  (define c-add-ca-file (fp "sagtls_config_add_ca_file" (list P '* P)))
  (define (%tls-config-add-ca-file c path) (c-add-ca-file c (c-string path) 0))
  (define c-add-ca-pem (fp "sagtls_config_add_ca_pem" (list P '* size_t size_t P)))
  (define (%tls-config-add-ca-pem c bv) (c-add-ca-pem c (bv-ptr bv) 0 (bytevector-length bv) 0))
  (define c-use-files (fp "sagtls_config_use_certificate_files" (list P '* '* P)))
  (define (%tls-config-use-certificate-files c chain key)
    (c-use-files c (c-string chain) (c-string key) 0))
  (define c-use-pem (fp "sagtls_config_use_certificate_pem" (list P '* size_t '* size_t P)))
  (define (%tls-config-use-certificate-pem c chain key)
    (c-use-pem c (bv-ptr chain) (bytevector-length chain) (bv-ptr key) (bytevector-length key) 0))
  (define c-set-alpn (fp "sagtls_config_set_alpn" (list P '* size_t size_t P)))
  (define (%tls-config-set-alpn c wire) (c-set-alpn c (bv-ptr wire) 0 (bytevector-length wire) 0))
  (define c-set-versions (fp "sagtls_config_set_versions" (list P int int P)))
  (define (%tls-config-set-versions c lo hi) (c-set-versions c lo hi 0))

  ;; ---- TLS sockets ------------------------------------------------------------
  (define c-wrap (fp "sagtls_wrap" (list P P '* P P)))
  (define (%tls-wrap s c name)
    (let* ([m (new-out)] [st (c-wrap s c (c-string name) (slot m 0) 0)])
      (values st (out-u64 m 0))))
  (define c-handshake (fp "sagtls_handshake" (list P P)))
  (define (%tls-handshake t) (c-handshake t 0))

  (define c-recv (fp "sagtls_recv" (list P '* size_t size_t int P P)))
  (define (%tls-recv t bv start len flags)
    (let* ([m (new-out)] [st (c-recv t (bv-ptr bv) start len flags (slot m 0) 0)])
      (values st (out-u64 m 0))))
  (define c-send (fp "sagtls_send" (list P '* size_t size_t int P P)))
  (define (%tls-send t bv start len flags)
    (let* ([m (new-out)] [st (c-send t (bv-ptr bv) start len flags (slot m 0) 0)])
      (values st (out-u64 m 0))))
  (define c-pending (fp "sagtls_pending" (list P P P)))
  (define (%tls-pending t)
    (let* ([m (new-out)] [st (c-pending t (slot m 0) 0)])
      (values st (out-u64 m 0))))
  (define c-shutdown (fp "sagtls_shutdown" (list P P)))
  (define (%tls-shutdown t) (c-shutdown t 0))
  (define c-close (fp "sagtls_close" (list P P)))
  (define (%tls-close t) (c-close t 0))
  (define c-is-closed (fp "sagtls_is_closed" (list P P P)))
  (define (%tls-is-closed t)
    (let* ([m (new-out)] [st (c-is-closed t (slot m 0) 0)])
      (values st (not (eqv? 0 (bytevector-s32-native-ref m 0))))))

  (define c-peer-certificate (fp "sagtls_peer_certificate" (list P P P P)))
  (define (%tls-peer-certificate t)
    (let* ([m (new-out)] [st (c-peer-certificate t (slot m 0) (slot m 1) 0)])
      (values st (let ([p (out-u64 m 0)] [n (out-u64 m 1)])
                   (and (not (eqv? p 0))
                        (bytevector-copy (pointer->bytevector (make-pointer p) n)))))))

  (define (string-out name)
    (let ([f (fp name (list P P P))])
      (lambda (t)
        (let* ([m (new-out)] [st (f t (slot m 0) 0)])
          (values st (addr->string (out-u64 m 0)))))))
  (define %tls-peer-subject (string-out "sagtls_peer_subject"))
  (define %tls-selected-alpn (string-out "sagtls_selected_alpn"))
  (define %tls-protocol-version (string-out "sagtls_protocol_version"))

  ;; ---- Guardian ---------------------------------------------------------------
  ;; (%tls-guard! obj kind h): once obj is garbage, h is freed (a TLS socket
  ;; is closed first) the next time a TLS object is registered. Guile's
  ;; guardians give back the object, so what it owns is kept by address.
  (define c-config-free (pointer->procedure int (dynamic-func "sagtls_config_free" lib) (list P)))
  (define c-free (pointer->procedure int (dynamic-func "sagtls_free" lib) (list P)))
  (define guardian (make-guardian))
  (define owned (make-hash-table))
  (define guard-lock (make-mutex))
  (define (%tls-guard! obj kind h)
    (lock-mutex guard-lock)
    (let loop ()
      (let ([o (guardian)])
        (when o
          (let ([rep (hashv-ref owned (object-address o))])
            (when rep
              (hashv-remove! owned (object-address o))
              (if (eq? (car rep) 'config) (c-config-free (cdr rep)) (c-free (cdr rep)))))
          (loop))))
    (hashv-set! owned (object-address obj) (cons kind h))
    (unlock-mutex guard-lock)
    (guardian obj)
    obj))
