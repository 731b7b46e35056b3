;;; (rfc tls host): the Chez Scheme layer under (rfc tls): loading libsagtls
;;; and its foreign procedures, and the guardian that frees dropped TLS
;;; objects. The interface is that of (sagittarius socket host): handles are
;;; exact integers (#f for NULL), a call returns its C status first, then
;;; its out-parameters; after a non-zero status the thread's last error
;;; (libsagsocket's, which libsagtls fills too) describes the failure. Calls
;;; that can wait are __collect_safe; bytevectors they take are locked.
#!chezscheme
(library (rfc tls host)
  (export %tls-config-new %tls-config-set-verify %tls-config-add-ca-file
          %tls-config-add-ca-pem %tls-config-use-certificate-files
          %tls-config-use-certificate-pem %tls-config-set-alpn
          %tls-config-set-versions
          %tls-wrap %tls-handshake %tls-recv %tls-send %tls-pending
          %tls-shutdown %tls-close %tls-is-closed %tls-peer-certificate
          %tls-peer-subject %tls-selected-alpn %tls-protocol-version
          %tls-guard!)
  (import (chezscheme))

  ;; SAGTLS_LIBRARY names the file to load; otherwise the dynamic loader
  ;; finds libsagtls.so.1 (installed, or through LD_LIBRARY_PATH).
  (define library-file
    (let ([f (getenv "SAGTLS_LIBRARY")])
      (if (and f (not (string=? f ""))) f "libsagtls.so.1")))

  (define loaded
    (guard (e [#t (raise
                   (condition
                    (make-error)
                    (make-who-condition 'rfc-tls)
                    (make-message-condition
                     (string-append
                      "cannot load " library-file
                      " (install libsagtls and OpenSSL 3's libssl, or set"
                      " LD_LIBRARY_PATH or SAGTLS_LIBRARY)"))))])
      (load-shared-object library-file)
      #t))

  (define-syntax fp
    (syntax-rules (safe)
      [(_ safe name (arg ...) ret)
       (begin loaded (foreign-procedure __collect_safe name (arg ...) ret))]
      [(_ name (arg ...) ret)
       (begin loaded (foreign-procedure name (arg ...) ret))]))

  ;; A NUL-terminated UTF-8 copy of s (a string or #f).
  (define (c-string s)
    (and s
         (let* ([u (string->utf8 s)] [n (bytevector-length u)]
                [b (make-bytevector (fx+ n 1) 0)])
           (bytevector-copy! u 0 b 0 n)
           b)))

  (define (ptr->bytevector p n)
    (let ([b (make-bytevector n)])
      (do ([i 0 (fx+ i 1)]) ((fx= i n) b)
        (bytevector-u8-set! b i (foreign-ref 'unsigned-8 p i)))))

  (define (ptr->string p)
    (and (not (eqv? p 0))
         (let loop ([n 0])
           (if (fx= (foreign-ref 'unsigned-8 p n) 0)
               (utf8->string (ptr->bytevector p n))
               (loop (fx+ n 1))))))

  ;; Out-parameters: two 8-byte slots of foreign memory (it never moves) per
  ;; call.
  (define-syntax with-out
    (syntax-rules ()
      [(_ (m) body ...)
       (let ([m (foreign-alloc 16)])
         (foreign-set! 'uptr m 0 0)
         (foreign-set! 'uptr m 8 0)
         (dynamic-wind
           (lambda () #f)
           (lambda () body ...)
           (lambda () (foreign-free m))))]))
  (define (slot m i) (fx+ m (fx* i 8)))
  (define (out-ptr m i) (foreign-ref 'uptr m (fx* i 8)))

  (define-syntax with-locked
    (syntax-rules ()
      [(_ (bv ...) body ...)
       (dynamic-wind
         (lambda () (when bv (lock-object bv)) ...)
         (lambda () body ...)
         (lambda () (when bv (unlock-object bv)) ...))]))

  ;; ---- Configs --------------------------------------------------------------
  (define c-config-new (fp "sagtls_config_new" (int uptr uptr) int))
  (define (%tls-config-new role)
    (with-out (m)
      (let ([st (c-config-new role (slot m 0) 0)])
        (values st (out-ptr m 0)))))

  (define c-set-verify (fp "sagtls_config_set_verify" (uptr int uptr) int))
  (define (%tls-config-set-verify c on) (c-set-verify c (if on 1 0) 0))

  (define c-add-ca-file (fp "sagtls_config_add_ca_file" (uptr u8* uptr) int))
  (define (%tls-config-add-ca-file c path) (c-add-ca-file c (c-string path) 0))

  (define c-add-ca-pem (fp "sagtls_config_add_ca_pem" (uptr u8* size_t size_t uptr) int))
  (define (%tls-config-add-ca-pem c bv) (c-add-ca-pem c bv 0 (bytevector-length bv) 0))

  (define c-use-files (fp "sagtls_config_use_certificate_files" (uptr u8* u8* uptr) int))
  (define (%tls-config-use-certificate-files c chain key)
    (c-use-files c (c-string chain) (c-string key) 0))

  (define c-use-pem
    (fp "sagtls_config_use_certificate_pem" (uptr u8* size_t u8* size_t uptr) int))
  (define (%tls-config-use-certificate-pem c chain key)
    (c-use-pem c chain (bytevector-length chain) key (bytevector-length key) 0))

  (define c-set-alpn (fp "sagtls_config_set_alpn" (uptr u8* size_t size_t uptr) int))
  (define (%tls-config-set-alpn c wire) (c-set-alpn c wire 0 (bytevector-length wire) 0))

  (define c-set-versions (fp "sagtls_config_set_versions" (uptr int int uptr) int))
  (define (%tls-config-set-versions c lo hi) (c-set-versions c lo hi 0))

  ;; ---- TLS sockets ------------------------------------------------------------
  (define c-wrap (fp "sagtls_wrap" (uptr uptr u8* uptr uptr) int))
  (define (%tls-wrap s c name)
    (let ([n (c-string name)])
      (with-out (m)
        (let ([st (c-wrap s c n (slot m 0) 0)])
          (values st (out-ptr m 0))))))

  (define c-handshake (fp safe "sagtls_handshake" (uptr uptr) int))
  (define (%tls-handshake t) (c-handshake t 0))

  (define c-recv (fp safe "sagtls_recv" (uptr u8* size_t size_t int uptr uptr) int))
  (define (%tls-recv t bv start len flags)
    (with-out (m)
      (let ([st (with-locked (bv) (c-recv t bv start len flags (slot m 0) 0))])
        (values st (out-ptr m 0)))))

  (define c-send (fp safe "sagtls_send" (uptr u8* size_t size_t int uptr uptr) int))
  (define (%tls-send t bv start len flags)
    (with-out (m)
      (let ([st (with-locked (bv) (c-send t bv start len flags (slot m 0) 0))])
        (values st (out-ptr m 0)))))

  (define c-pending (fp "sagtls_pending" (uptr uptr uptr) int))
  (define (%tls-pending t)
    (with-out (m)
      (let ([st (c-pending t (slot m 0) 0)])
        (values st (out-ptr m 0)))))

  (define c-shutdown (fp safe "sagtls_shutdown" (uptr uptr) int))
  (define (%tls-shutdown t) (c-shutdown t 0))
  (define c-close (fp safe "sagtls_close" (uptr uptr) int))
  (define (%tls-close t) (c-close t 0))

  (define c-is-closed (fp "sagtls_is_closed" (uptr uptr uptr) int))
  (define (%tls-is-closed t)
    (with-out (m)
      (let ([st (c-is-closed t (slot m 0) 0)])
        (values st (not (eqv? 0 (foreign-ref 'int m 0)))))))

  (define c-peer-certificate (fp "sagtls_peer_certificate" (uptr uptr uptr uptr) int))
  (define (%tls-peer-certificate t)
    (with-out (m)
      (let ([st (c-peer-certificate t (slot m 0) (slot m 1) 0)])
        (values st (let ([p (out-ptr m 0)] [n (out-ptr m 1)])
                     (and (not (eqv? p 0)) (ptr->bytevector p n)))))))

  (define-syntax define-string-out
    (syntax-rules ()
      [(_ name cname)
       (define name
         (let ([f (fp cname (uptr uptr uptr) int)])
           (lambda (t)
             (with-out (m)
               (let ([st (f t (slot m 0) 0)])
                 (values st (ptr->string (out-ptr m 0))))))))]))
  (define-string-out %tls-peer-subject "sagtls_peer_subject")
  (define-string-out %tls-selected-alpn "sagtls_selected_alpn")
  (define-string-out %tls-protocol-version "sagtls_protocol_version")

  ;; ---- Guardian ---------------------------------------------------------------
  ;; (%tls-guard! obj kind h): once obj is garbage, h is freed (a TLS socket
  ;; is closed first) the next time a TLS object is registered.
  (define c-config-free (fp "sagtls_config_free" (uptr) int))
  (define c-free (fp safe "sagtls_free" (uptr) int))
  (define guardian (make-guardian))
  (define guard-lock (make-mutex))
  (define (%tls-guard! obj kind h)
    (with-mutex guard-lock
      (let loop ()
        (let ([rep (guardian)])
          (when rep
            (if (eq? (car rep) 'config) (c-config-free (cdr rep)) (c-free (cdr rep)))
            (loop)))))
    (guardian obj (cons kind h))
    obj))
