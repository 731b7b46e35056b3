;;; (rfc tls): Sagittarius's TLS sockets over libsagtls (OpenSSL 3).
;;;
;;; Plain R6RS, shared by the Chez Scheme and Guile bindings; (rfc tls host)
;;; holds the foreign calls. A TLS socket is a socket of (sagittarius socket)
;;; whose bytes go through libsagtls: socket?, socket-send, socket-recv,
;;; socket-close, socket-shutdown, socket-port, call-with-socket,
;;; socket-read-select, socket-peer, socket-set-read-timeout!, ... all work
;;; on it, as in Sagittarius. Peers are verified by default (docs/tls.md).
;;;
;;; Options come after the required arguments as keyword/value pairs, the
;;; keywords written as in Sagittarius (:verify? #f) in a call of the
;;; procedure by name, or as quoted symbols (':verify? #f) when the
;;; procedure is passed as a value:
;;;   :handshake              #t (default) to handshake at once
;;;   :verify?                clients: #f turns verification off (default #t)
;;;   :peer-certificate-required?  servers: require and verify a client
;;;                           certificate (default #f)
;;;   :trust-certificates     a list of CA certificates (PEM file names or
;;;                           PEM bytevectors) trusted beside the system's
;;;   :certificates           this side's certificate chain (a PEM file
;;;                           name or bytevector, or a list of one)
;;;   :private-key            its private key (PEM file name or bytevector)
;;;   :hello-extensions       a list of (make-server-name-indication name)
;;;                           and (make-protocol-name-list name ...)
;;;   :version                the greatest version: *tls-version-1.3*
;;;                           (default) or *tls-version-1.2*
;;;   :client-socket          socket->tls-socket: #t (default) or #f
(library (rfc tls)
  (export make-client-tls-socket make-server-tls-socket socket->tls-socket
          tls-socket? tls-socket-send tls-socket-recv tls-socket-recv!
          tls-socket-shutdown tls-socket-close tls-socket-closed?
          tls-socket-accept tls-socket-peer tls-socket-name tls-socket-info
          tls-socket-info-values call-with-tls-socket
          tls-socket-port tls-socket-input-port tls-socket-output-port
          tls-socket-peer-certificate tls-socket-peer-certificate-subject
          tls-socket-selected-alpn tls-socket-version
          tls-socket-nonblocking! tls-socket-blocking!
          tls-socket-set-read-timeout!
          tls-client-handshake tls-server-handshake
          make-server-name-indication make-protocol-name-list
          *tls-version-1.2* *tls-version-1.3*
          &tls tls-error? &tls-verify tls-verify-error?
          &tls-truncated tls-truncated-error?
          ;; the plain procedures, which work on TLS sockets too
          socket-close socket-shutdown socket-send socket-recv socket-recv!
          socket-accept call-with-socket socket-peer socket-name socket-info
          socket-info-values socket-nonblocking! socket-blocking!
          socket-port socket-input-port socket-output-port)
  (import (rnrs)
          (sagittarius socket)
          (only (sagittarius socket host) %socket-recv %socket-send %socket-shutdown
                %socket-close)
          (rfc tls host))

  (define E_TLS -17)
  (define E_TLS_VERIFY -18)
  (define E_TLS_TRUNCATED -19)
  (define E_WOULD_BLOCK -11)
  (define E_INTERRUPTED -12)
  (define CLIENT 0)
  (define SERVER 1)
  (define *tls-version-1.2* #x0303)
  (define *tls-version-1.3* #x0304)

  ;; ==== Conditions (under &socket) ===========================================
  (define-condition-type &tls &socket make-tls-error tls-error?)
  (define-condition-type &tls-verify &tls make-tls-verify-error tls-verify-error?)
  (define-condition-type &tls-truncated &tls make-tls-truncated-error tls-truncated-error?)
  (define registered
    (begin
      (%register-status-condition! E_TLS make-tls-error)
      (%register-status-condition! E_TLS_VERIFY make-tls-verify-error)
      (%register-status-condition! E_TLS_TRUNCATED make-tls-truncated-error)
      #t))

  ;; ==== Hello extensions =======================================================
  (define-record-type (server-name-indication %make-server-name-indication
                                               server-name-indication?)
    (fields name))
  (define (make-server-name-indication name)
    (unless (string? name)
      (assertion-violation 'make-server-name-indication "string required" name))
    (%make-server-name-indication name))
  (define-record-type (protocol-name-list make-protocol-name-list-record protocol-name-list?)
    (fields wire))
  ;; ALPN names, most preferred first, in the wire format (length-prefixed).
  (define (make-protocol-name-list . names)
    (make-protocol-name-list-record
     (let-values ([(out get) (open-bytevector-output-port)])
       (for-each (lambda (n)
                   (let ([u (if (string? n) (string->utf8 n) n)])
                     (unless (and (bytevector? u) (< 0 (bytevector-length u) 256))
                       (assertion-violation 'make-protocol-name-list
                                            "protocol name of 1 to 255 bytes required" n))
                     (put-u8 out (bytevector-length u))
                     (put-bytevector out u)))
                 names)
       (get))))

  ;; ==== Options ================================================================
  (define (option opts key default)
    (let loop ([o opts])
      (cond [(null? o) default]
            [(null? (cdr o)) (assertion-violation 'rfc-tls "option without a value" (car o))]
            [(eq? (car o) key) (cadr o)]
            [else (loop (cddr o))])))

  (define (check-status who st s)
    (unless (eqv? st 0) (%socket-fail who st s)))

  (define (as-list x) (if (list? x) x (list x)))

  ;; A config (its handle in a box the guardian watches) of role from the
  ;; options; the server name of the hello extensions (or #f) as a second
  ;; value.
  (define-record-type config-box (fields handle))
  (define (make-config who role opts)
    (let-values ([(st c) (%tls-config-new role)])
      (check-status who st #f)
      (let ([box (%tls-guard! (make-config-box c) 'config c)]
            [ok (lambda (st) (check-status who st #f))]
            [name #f])
        (if (= role CLIENT)
            (unless (option opts ':verify? #t) (ok (%tls-config-set-verify c #f)))
            (when (option opts ':peer-certificate-required? #f)
              (ok (%tls-config-set-verify c #t))))
        (for-each (lambda (ca)
                    (ok (if (bytevector? ca)
                            (%tls-config-add-ca-pem c ca)
                            (%tls-config-add-ca-file c ca))))
                  (option opts ':trust-certificates '()))
        (let ([certs (option opts ':certificates '())]
              [key (option opts ':private-key #f)])
          (unless (null? certs)
            (unless key (assertion-violation who ":private-key required with :certificates"))
            (let ([chain (car (as-list certs))])
              (ok (if (bytevector? chain)
                      (%tls-config-use-certificate-pem
                       c chain (if (bytevector? key) key (file->bytevector who key)))
                      (if (bytevector? key)
                          (%tls-config-use-certificate-pem c (file->bytevector who chain) key)
                          (%tls-config-use-certificate-files c chain key)))))))
        (for-each (lambda (x)
                    (cond [(protocol-name-list? x)
                           (ok (%tls-config-set-alpn c (protocol-name-list-wire x)))]
                          [(server-name-indication? x)
                           (set! name (server-name-indication-name x))]
                          [else (assertion-violation who "unknown hello extension" x)]))
                  (option opts ':hello-extensions '()))
        (let ([v (option opts ':version *tls-version-1.3*)])
          (ok (%tls-config-set-versions c *tls-version-1.2* v)))
        (values box name))))

  (define (file->bytevector who path)
    (unless (string? path) (assertion-violation who "PEM file name or bytevector required" path))
    (call-with-port (open-file-input-port path) get-bytevector-all))

  ;; ==== TLS state of a socket ==================================================
  ;; handle: the libsagtls socket (#f for a listening TLS server socket);
  ;; config: what accepted sockets are made with.
  (define-record-type tls-state (fields handle config))
  ;; A TLS socket's state is its transport's data.
  (define (state-of s)
    (and (socket? s)
         (let ([t (%socket-transport s)])
           (and t (%socket-transport-data t)))))
  (define (tls-socket? x) (and (state-of x) #t))

  (define (check-tls who s)
    (unless (state-of s) (assertion-violation who "TLS socket required" s)))

  (define (handle-of who s)
    (let ([st (state-of s)])
      (unless (and st (tls-state-handle st))
        (assertion-violation who "connected TLS socket required" s))
      (tls-state-handle st)))

  ;; The transport of a TLS socket (h its libsagtls handle), or, h #f, of a
  ;; listening TLS server socket (plain calls: it only carries the state).
  (define (transport h state)
    (if h
        (%make-socket-transport
         (lambda (s bv start len flags) (%tls-recv h bv start len flags))
         (lambda (s bv start len flags) (%tls-send h bv start len flags))
         ;; close_notify for SHUT_WR and SHUT_RDWR; nothing for SHUT_RD
         (lambda (s how) (if (= how SHUT_RD) 0 (%tls-shutdown h)))
         (lambda (s) (%tls-close h))
         (lambda (s) (let-values ([(st n) (%tls-pending h)]) (if (eqv? st 0) n 0)))
         state)
        (%make-socket-transport
         (lambda (s bv start len flags) (%socket-recv (%socket-handle s) bv start len flags))
         (lambda (s bv start len flags) (%socket-send (%socket-handle s) bv start len flags))
         (lambda (s how) (%socket-shutdown (%socket-handle s) how))
         (lambda (s) (%socket-close (%socket-handle s)))
         (lambda (s) 0)
         state)))

  ;; Makes s (a connected socket) a TLS socket with config c; handshakes
  ;; when asked. Returns s.
  (define (attach! who s c name handshake?)
    (let-values ([(st h) (%tls-wrap (%socket-handle s) (config-box-handle c) name)])
      (check-status who st s)
      (let ([state (make-tls-state h c)])
        (%tls-guard! state 'socket h)
        (%socket-transport-set! s (transport h state))
        (when handshake? (handshake who s))
        s)))

  (define (handshake who s)
    (check-status who (%tls-handshake (handle-of who s)) s)
    s)

  ;; ==== Making TLS sockets =====================================================
  (define (make-client-tls-socket-proc node service . opts)
    (let ([s (make-client-socket node service)])
      (guard (e [#t (socket-close s) (raise e)])
        (upgrade 'make-client-tls-socket s (append (list ':server-name node) opts)))))

  ;; (socket->tls-socket s option ...): STARTTLS. s itself becomes the TLS
  ;; socket (it is returned); its plain bytes so far stay as they were.
  (define (socket->tls-socket-proc s . opts) (upgrade 'socket->tls-socket s opts))
  (define (upgrade who s opts)
    (begin
      (unless (socket? s) (assertion-violation who "socket required" s))
      (let ([client? (option opts ':client-socket #t)])
        (let-values ([(c sni) (make-config who (if client? CLIENT SERVER) opts)])
          (attach! who s c (or sni (option opts ':server-name #f) (socket-node s))
                   (option opts ':handshake #t))))))

  ;; (make-server-tls-socket service certificates option ...): a listening
  ;; socket whose accepted connections (tls-socket-accept) are TLS.
  (define (make-server-tls-socket-proc service certificates . opts)
    (let ([who 'make-server-tls-socket])
      (let-values ([(c sni) (make-config who SERVER (append (list ':certificates certificates) opts))])
        (let ([s (make-server-socket service)])
          ;; a listening socket: its transport only marks it and holds c
          (%socket-transport-set! s (transport #f (make-tls-state #f c)))
          s))))

  ;; The accepted TLS socket, handshaken unless :handshake #f; #f when the
  ;; accept is interrupted (as socket-accept).
  (define (tls-socket-accept-proc server . opts)
    (let ([who 'tls-socket-accept])
      (check-tls who server)
      (let ([s (socket-accept server)])
        (and s
             (guard (e [#t (socket-close s) (raise e)])
               (attach! who s (tls-state-config (state-of server)) #f
                        (option opts ':handshake #t)))))))

  (define (tls-client-handshake s) (handshake 'tls-client-handshake s))
  (define (tls-server-handshake s) (handshake 'tls-server-handshake s))

  ;; ==== Operations ===============================================================
  (define (tls-socket-send s bv . flags) (check-tls 'tls-socket-send s) (apply socket-send s bv flags))
  (define (tls-socket-recv s size . flags) (check-tls 'tls-socket-recv s) (apply socket-recv s size flags))
  (define (tls-socket-recv! s bv start len . flags)
    (check-tls 'tls-socket-recv! s)
    (apply socket-recv! s bv start len flags))
  (define tls-socket-shutdown
    (case-lambda
     [(s) (tls-socket-shutdown s SHUT_RDWR)]
     [(s how) (check-tls 'tls-socket-shutdown s) (socket-shutdown s how)]))
  (define (tls-socket-close s) (check-tls 'tls-socket-close s) (socket-close s))
  (define (tls-socket-closed? s) (check-tls 'tls-socket-closed? s) (socket-closed? s))
  (define (tls-socket-peer s) (check-tls 'tls-socket-peer s) (socket-peer s))
  (define (tls-socket-name s) (check-tls 'tls-socket-name s) (socket-name s))
  (define (tls-socket-info s) (check-tls 'tls-socket-info s) (socket-info s))
  (define (tls-socket-info-values s . type)
    (check-tls 'tls-socket-info-values s)
    (apply socket-info-values s type))
  (define (call-with-tls-socket s proc)
    (check-tls 'call-with-tls-socket s)
    (call-with-socket s proc))
  (define (tls-socket-port s . close?)
    (check-tls 'tls-socket-port s)
    (apply socket-port s close?))
  (define (tls-socket-input-port s) (check-tls 'tls-socket-input-port s) (socket-input-port s))
  (define (tls-socket-output-port s) (check-tls 'tls-socket-output-port s) (socket-output-port s))
  (define (tls-socket-nonblocking! s) (check-tls 'tls-socket-nonblocking! s) (socket-nonblocking! s))
  (define (tls-socket-blocking! s) (check-tls 'tls-socket-blocking! s) (socket-blocking! s))
  (define (tls-socket-set-read-timeout! s timeout)
    (check-tls 'tls-socket-set-read-timeout! s)
    (socket-set-read-timeout! s timeout))

  (define-syntax define-accessor
    (syntax-rules ()
      [(_ name proc)
       (define (name s)
         (let-values ([(st v) (proc (handle-of 'name s))])
           (check-status 'name st s)
           v))]))
  ;; The peer's certificate as DER bytes, #f when it sent none.
  (define-accessor tls-socket-peer-certificate %tls-peer-certificate)
  ;; Its subject as an RFC 2253 string ("CN=localhost,O=..."), or #f.
  (define-accessor tls-socket-peer-certificate-subject %tls-peer-subject)
  (define-accessor tls-socket-selected-alpn %tls-selected-alpn)
  ;; "TLSv1.3" or "TLSv1.2" (#f before the handshake).
  (define-accessor tls-socket-version %tls-protocol-version)

  ;; ==== Keyword calls ============================================================
  ;; (name arg ... :key value ...) with Sagittarius's keywords written as
  ;; identifiers: each identifier that starts with a colon becomes a quoted
  ;; symbol.
  (define-syntax define-keyword-caller
    (syntax-rules ()
      [(_ name proc)
       (define-syntax name
         (lambda (x)
           (define (keyword? a)
             (and (identifier? a)
                  (let ([str (symbol->string (syntax->datum a))])
                    (and (> (string-length str) 1) (char=? (string-ref str 0) #\:)))))
           (syntax-case x ()
             [(_ arg (... ...))
              (with-syntax ([(a (... ...))
                             (map (lambda (a) (if (keyword? a) (list #'quote a) a))
                                  #'(arg (... ...)))])
                #'(proc a (... ...)))]
             [id (identifier? #'id) #'proc])))]))
  (define-keyword-caller make-client-tls-socket make-client-tls-socket-proc)
  (define-keyword-caller make-server-tls-socket make-server-tls-socket-proc)
  (define-keyword-caller socket->tls-socket socket->tls-socket-proc)
  (define-keyword-caller tls-socket-accept tls-socket-accept-proc))
