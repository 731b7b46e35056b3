;;; (srfi :106 socket): SRFI 106 basic socket interface, over
;;; (sagittarius socket). Plain R6RS: shared by every host.
(library (srfi :106 socket)
  (export make-client-socket make-server-socket
          socket? socket-input-port socket-output-port call-with-socket
          socket-merge-flags socket-purge-flags
          socket-accept socket-send socket-recv socket-shutdown socket-close
          *af-unspec* *af-inet* *af-inet6*
          *sock-stream* *sock-dgram*
          *ai-canonname* *ai-numerichost* *ai-v4mapped* *ai-all* *ai-addrconfig*
          *ipproto-ip* *ipproto-tcp* *ipproto-udp*
          *msg-peek* *msg-oob* *msg-waitall*
          *shut-rd* *shut-wr* *shut-rdwr*
          address-family socket-domain address-info
          ip-protocol message-type shutdown-method)
  (import (rnrs)
          (rename (only (sagittarius socket)
                        make-client-socket make-server-socket
                        socket? socket-input-port socket-output-port
                        call-with-socket socket-accept socket-send socket-recv
                        socket-shutdown socket-close
                        AF_UNSPEC AF_INET AF_INET6 SOCK_STREAM SOCK_DGRAM
                        AI_CANONNAME AI_NUMERICHOST AI_V4MAPPED AI_ALL
                        AI_ADDRCONFIG IPPROTO_IP IPPROTO_TCP IPPROTO_UDP
                        MSG_PEEK MSG_OOB MSG_WAITALL SHUT_RD SHUT_WR SHUT_RDWR)
                  (AF_UNSPEC *af-unspec*) (AF_INET *af-inet*) (AF_INET6 *af-inet6*)
                  (SOCK_STREAM *sock-stream*) (SOCK_DGRAM *sock-dgram*)
                  (AI_CANONNAME *ai-canonname*) (AI_NUMERICHOST *ai-numerichost*)
                  (AI_V4MAPPED *ai-v4mapped*) (AI_ALL *ai-all*)
                  (AI_ADDRCONFIG *ai-addrconfig*)
                  (IPPROTO_IP *ipproto-ip*) (IPPROTO_TCP *ipproto-tcp*)
                  (IPPROTO_UDP *ipproto-udp*)
                  (MSG_PEEK *msg-peek*) (MSG_OOB *msg-oob*)
                  (MSG_WAITALL *msg-waitall*)
                  (SHUT_RD *shut-rd*) (SHUT_WR *shut-wr*) (SHUT_RDWR *shut-rdwr*)))

  ;; (socket-merge-flags flag ...): the flags or'ed together.
  (define (socket-merge-flags . flags) (apply bitwise-ior flags))

  ;; (socket-purge-flags base flag ...): base without the given flags.
  (define (socket-purge-flags base . flags)
    (fold-left (lambda (acc f) (bitwise-and acc (bitwise-not f))) base flags))

  ;; (name symbol): the constant a symbol names, checked when expanded.
  (define-syntax define-flag-syntax
    (syntax-rules ()
      [(_ name (sym value) ...)
       (define-syntax name
         (lambda (x)
           (syntax-case x ()
             [(_ flag)
              (case (syntax->datum #'flag)
                [(sym) #'value] ...
                [else (syntax-violation 'name "unknown flag" x #'flag)])])))]))

  ;; (name symbol ...): the constants named, or'ed together.
  (define-syntax define-flags-syntax
    (syntax-rules ()
      [(_ name (sym value) ...)
       (define-syntax name
         (lambda (x)
           (syntax-case x ()
             [(_ flag (... ...))
              (with-syntax
                  ([(v (... ...))
                    (map (lambda (f)
                           (case (syntax->datum f)
                             [(sym) #'value] ...
                             [else (syntax-violation 'name "unknown flag" x f)]))
                         #'(flag (... ...)))])
                #'(bitwise-ior v (... ...)))])))]))

  (define-flag-syntax address-family
    (inet *af-inet*) (inet6 *af-inet6*) (unspec *af-unspec*))
  (define-flag-syntax socket-domain
    (stream *sock-stream*) (datagram *sock-dgram*))
  (define-flag-syntax ip-protocol
    (ip *ipproto-ip*) (tcp *ipproto-tcp*) (udp *ipproto-udp*))
  (define-flags-syntax address-info
    (canoname *ai-canonname*) (numerichost *ai-numerichost*)
    (v4mapped *ai-v4mapped*) (all *ai-all*) (addrconfig *ai-addrconfig*))
  (define-flags-syntax message-type
    (none 0) (peek *msg-peek*) (oob *msg-oob*) (wait-all *msg-waitall*))

  ;; (shutdown-method read), (shutdown-method write), and both together.
  (define-syntax shutdown-method
    (lambda (x)
      (syntax-case x ()
        [(_ name ...)
         (let ([names (syntax->datum #'(name ...))])
           (cond [(equal? names '(read)) #'*shut-rd*]
                 [(equal? names '(write)) #'*shut-wr*]
                 [(or (equal? names '(read write)) (equal? names '(write read)))
                  #'*shut-rdwr*]
                 [else (syntax-violation 'shutdown-method "invalid shutdown method" x)]))])))
)
