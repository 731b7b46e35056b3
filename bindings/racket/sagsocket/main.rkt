#lang racket/base
;;; (require sagsocket): Sagittarius Scheme's (sagittarius socket) for
;;; #lang racket programs.
;;;
;;; One implementation: every procedure here calls the R6RS library
;;; (sagittarius socket) (bindings/scheme/sagittarius/socket.sls over the
;;; Racket host layer, private/host.rkt), installed beside this collection.
;;; What this module adds is the Racket face of it (docs/hosts.md, Racket):
;;;
;;; - a failure the R6RS library raises as a condition is raised as an exn
;;;   struct of the hierarchy below, rooted at exn:fail:network; its bad
;;;   arguments (&assertion) as exn:fail:contract;
;;; - Sagittarius's keyword arguments are Racket keywords
;;;   (make-hint-addrinfo #:family ..., socket-info-values #:type ...);
;;; - lists are Racket lists (R6RS lists in Racket are mutable pairs: they
;;;   are converted at this boundary);
;;; - socket ports are Racket ports whose failures are the same exn structs,
;;;   and which `sync' reports ready when a read would not block.
(require (prefix-in r6: (lib "sagittarius/socket.sls"))
         (prefix-in r6: (only-in rnrs/conditions-6 who-condition? condition-who
                                 message-condition? condition-message
                                 assertion-violation? irritants-condition?
                                 condition-irritants))
         (prefix-in r6: (only-in rnrs/io/ports-6 i/o-error?)))

;; ---- The exn structs ---------------------------------------------------------
;; &host-not-found (node service)          exn:fail:network:host-not-found
;; &socket (socket)                        exn:fail:network:socket
;;   &socket-connection                    exn:fail:network:socket:connection
;;   &socket-closed                        exn:fail:network:socket:closed
;;   &socket-read-timeout (timeout)        exn:fail:network:socket:read-timeout
;;   &socket-port (port)                   exn:fail:network:socket:port
;; any other &i/o of the library           exn:fail:network
;; `sent' is the &socket-sent count of a failed send or port write (how many
;; of its bytes reached the kernel), #f for other failures.
(struct exn:fail:network:host-not-found exn:fail:network (node service) #:transparent)
(struct exn:fail:network:socket exn:fail:network (socket sent) #:transparent)
(struct exn:fail:network:socket:connection exn:fail:network:socket () #:transparent)
(struct exn:fail:network:socket:closed exn:fail:network:socket () #:transparent)
(struct exn:fail:network:socket:read-timeout exn:fail:network:socket (timeout) #:transparent)
(struct exn:fail:network:socket:port exn:fail:network:socket (port) #:transparent)

;; Sagittarius's names for the predicates and fields.
(define host-not-found-error? exn:fail:network:host-not-found?)
(define host-not-found-error-node exn:fail:network:host-not-found-node)
(define host-not-found-error-service exn:fail:network:host-not-found-service)
(define socket-error? exn:fail:network:socket?)
(define socket-error-socket exn:fail:network:socket-socket)
(define socket-connection-error? exn:fail:network:socket:connection?)
(define socket-closed-error? exn:fail:network:socket:closed?)
(define socket-read-timeout-error? exn:fail:network:socket:read-timeout?)
(define socket-read-timeout-error-timeout exn:fail:network:socket:read-timeout-timeout)
(define socket-port-error? exn:fail:network:socket:port?)
(define socket-error-port exn:fail:network:socket:port-port)
(define (socket-sent-condition? e)
  (and (exn:fail:network:socket? e) (exact-integer? (exn:fail:network:socket-sent e))))
(define socket-sent-count exn:fail:network:socket-sent)

;; The exn for v, a value the R6RS library raised; any other value as it is.
;; Only R6RS conditions are translated (Racket's own exns are conditions to
;; R6RS too, and an exn:fail:contract is one with &assertion; the library's
;; calls of assertion-violation raise Racket's exn:fail:contract:r6rs,
;; already an exn:fail:contract).
(define (translate v)
  (define (r6rs-condition? v)
    (and (exn:fail? v) (not (exn:fail:contract? v)) (not (exn:fail:network? v))
         (r6:who-condition? v)))
  (if (not (r6rs-condition? v))
      v
      (let* ([who (format "~a: " (r6:condition-who v))]
             [text (if (r6:message-condition? v) (r6:condition-message v) "failed")]
             ;; Racket's form, "who: message" (the library's may begin so)
             [msg (if (and (>= (string-length text) (string-length who))
                           (string=? (substring text 0 (string-length who)) who))
                      text
                      (string-append who text))]
             [marks (exn-continuation-marks v)]
             [sent (and (r6:socket-sent-condition? v) (r6:socket-sent-count v))])
        (define (sock) (r6:socket-error-socket v))
        (cond
         [(r6:host-not-found-error? v)
          (exn:fail:network:host-not-found msg marks (r6:host-not-found-error-node v)
                                           (r6:host-not-found-error-service v))]
         [(r6:socket-connection-error? v) (exn:fail:network:socket:connection msg marks (sock) sent)]
         [(r6:socket-closed-error? v) (exn:fail:network:socket:closed msg marks (sock) sent)]
         [(r6:socket-read-timeout-error? v)
          (exn:fail:network:socket:read-timeout msg marks (sock) sent
                                                (r6:socket-read-timeout-error-timeout v))]
         [(r6:socket-port-error? v)
          (let ([p (r6:socket-error-port v)])
            (exn:fail:network:socket:port msg marks (sock) sent (hash-ref outer-ports p p)))]
         [(r6:socket-error? v) (exn:fail:network:socket msg marks (sock) sent)]
         [(r6:assertion-violation? v)
          (exn:fail:contract (if (r6:irritants-condition? v)
                                 (format "~a~a" msg (irritants-text (r6:condition-irritants v)))
                                 msg)
                             marks)]
         [(r6:i/o-error? v) (exn:fail:network msg marks)]
         [else v]))))

(define (irritants-text l)
  (apply string-append (for/list ([x (->rkt l)]) (format "\n  ~e" x))))

;; (translating e ...): e's value; what it raises, translated. The handler's
;; value goes on to the enclosing handlers (Racket's chaining of exception
;; handlers), which costs less than with-handlers' escape and re-raise.
(define-syntax-rule (translating e ...)
  (call-with-exception-handler translate (lambda () e ...)))

;; ---- Lists across the boundary -------------------------------------------------
(define (->r6 x)                      ; Racket pairs -> R6RS (mutable) pairs
  (if (pair? x) (mcons (->r6 (car x)) (->r6 (cdr x))) x))
(define (->rkt x)                     ; R6RS pairs -> Racket pairs
  (if (mpair? x) (cons (->rkt (mcar x)) (->rkt (mcdr x))) x))

;; (door name r6-procedure): the procedure with Racket lists and exns.
(define (door name proc)
  (procedure-rename
   (procedure-reduce-arity
    (lambda args
      (call-with-values
       (lambda () (translating (apply proc (map ->r6 args))))
       (case-lambda [(v) (->rkt v)] [vs (apply values (map ->rkt vs))])))
    (procedure-arity proc))
   name))

(define-syntax-rule (define-doors [name r6name] ...)
  (begin (define name (door 'name r6name)) ...))

(define-doors
  [make-client-socket r6:make-client-socket]
  [make-client-socket/resolver r6:make-client-socket/resolver]
  [make-server-socket r6:make-server-socket]
  [make-server-socket/resolver r6:make-server-socket/resolver]
  [make-server-socket* r6:make-server-socket*]
  [make-server-socket*/resolver r6:make-server-socket*/resolver]
  [socket-closed? r6:socket-closed?]
  [nonblocking-socket? r6:nonblocking-socket?]
  [make-socket r6:make-socket]
  [create-socket r6:create-socket]
  [socket-setsockopt! r6:socket-setsockopt!]
  [socket-getsockopt r6:socket-getsockopt]
  [socket-connect! r6:socket-connect!]
  [socket-bind! r6:socket-bind!]
  [socket-listen! r6:socket-listen!]
  [socket-error-message r6:socket-error-message]
  [socket-last-error r6:socket-last-error]
  [socket-sendto r6:socket-sendto]
  [socket-send/range r6:socket-send/range]
  [socket-sendto/range r6:socket-sendto/range]
  [socket-recvfrom r6:socket-recvfrom]
  [socket-recvfrom! r6:socket-recvfrom!]
  [socket-shutdown r6:socket-shutdown]
  [socket-close r6:socket-close]
  [socket-interrupt! r6:socket-interrupt!]
  [socket-fd r6:socket-fd]
  [socket-node r6:socket-node]
  [socket-service r6:socket-service]
  [socket-select r6:socket-select]
  [socket-select! r6:socket-select!]
  [socket-read-select r6:socket-read-select]
  [socket-write-select r6:socket-write-select]
  [socket-error-select r6:socket-error-select]
  [socket-nonblocking! r6:socket-nonblocking!]
  [socket-blocking! r6:socket-blocking!]
  [socket-set-read-timeout! r6:socket-set-read-timeout!]
  [socket-get-read-timeout r6:socket-get-read-timeout]
  [make-fdset r6:make-fdset]
  [fdset-sockets r6:fdset-sockets]
  [sockets->fdset r6:sockets->fdset]
  [collect-sockets r6:collect-sockets]
  [fdset-set! r6:fdset-set!]
  [fdset-ref r6:fdset-ref]
  [fdset-clear! r6:fdset-clear!]
  [make-socket-selector r6:make-socket-selector]
  [close-socket-selector! r6:close-socket-selector!]
  [socket-selector-wait! r6:socket-selector-wait!]
  [socket-selector-interrupt! r6:socket-selector-interrupt!]
  [socket-selector-clear! r6:socket-selector-clear!]
  [socket-selector-size r6:socket-selector-size]
  [socket-selector-closed? r6:socket-selector-closed?]
  [socket-selector-waiting? r6:socket-selector-waiting?]
  [make-addrinfo r6:make-addrinfo]
  [get-addrinfo r6:get-addrinfo]
  [next-addrinfo r6:next-addrinfo]
  [addrinfo-sockaddr r6:addrinfo-sockaddr]
  [addrinfo-family r6:addrinfo-family]
  [addrinfo-socktype r6:addrinfo-socktype]
  [addrinfo-flags r6:addrinfo-flags]
  [addrinfo-protocol r6:addrinfo-protocol]
  [make-sockaddr r6:make-sockaddr]
  [sockaddr-family r6:sockaddr-family]
  [sockaddr-ip-address r6:sockaddr-ip-address]
  [sockaddr-port r6:sockaddr-port]
  [sockaddr-path r6:sockaddr-path]
  [make-unix-sockaddr r6:make-unix-sockaddr]
  [make-unix-client-socket r6:make-unix-client-socket]
  [make-unix-server-socket r6:make-unix-server-socket]
  [socket-pair r6:socket-pair]
  [socket-peer-credentials r6:socket-peer-credentials]
  [socket-sockaddr r6:socket-sockaddr]
  [socket-peer-sockaddr r6:socket-peer-sockaddr]
  [socket-peer r6:socket-peer]
  [socket-name r6:socket-name]
  [socket-info r6:socket-info]
  [socket-info-hostname r6:socket-info-hostname]
  [socket-info-ip-address r6:socket-info-ip-address]
  [socket-info-port r6:socket-info-port]
  [ip-address->string r6:ip-address->string]
  [ip-address->bytevector r6:ip-address->bytevector])

;; The calls of a data loop, without the generic door's list conversion
;; (their arguments and results hold no lists); without flags when they
;; are 0, which the R6RS library's own fast path takes.
(define (socket-send s bv [flags 0])
  (translating (if (eqv? flags 0) (r6:socket-send s bv) (r6:socket-send s bv flags))))
(define (socket-recv s size [flags 0])
  (translating (if (eqv? flags 0) (r6:socket-recv s size) (r6:socket-recv s size flags))))
(define (socket-recv! s bv start len [flags 0])
  (translating (if (eqv? flags 0)
                   (r6:socket-recv! s bv start len)
                   (r6:socket-recv! s bv start len flags))))
(define (socket-accept s) (translating (r6:socket-accept s)))

;; The entry's data is the caller's, passed as it is.
(define (socket-selector-add! sel s [timeout #f] [data #f])
  (translating (r6:socket-selector-add! sel s (->r6 timeout) data)))

(define (call-with-socket s proc)
  (translating (r6:call-with-socket s proc)))

;; Sagittarius's keywords.
(define (make-hint-addrinfo #:family [family 0] #:socktype [socktype 0]
                            #:flags [flags 0] #:protocol [protocol 0])
  (translating (r6:make-hint-addrinfo family socktype flags protocol)))
(define (socket-info-values s #:type [type 'peer])
  (translating (r6:socket-info-values s type)))

;; Predicates (they raise nothing).
(define socket? r6:socket?)
(define fdset? r6:fdset?)
(define socket-selector? r6:socket-selector?)
(define addrinfo? r6:addrinfo?)
(define sockaddr? r6:sockaddr?)
(define socket-info? r6:socket-info?)
(define ip-address? r6:ip-address?)
(define ip-v6-address? r6:ip-v6-address?)

;; ---- Ports ---------------------------------------------------------------------
;; The library's socket ports are Racket ports already; each is given to the
;; program inside a port of its own, which translates their failures and
;; is ready for `sync' when a read would not block. outer-ports: the
;; library's port -> the program's; inner-ports: the other way.
;; Ephemeron tables: a value that refers to its key (a port to the port it
;; wraps, a port-ready? to its port) does not keep the key alive.
(define outer-ports (make-ephemeron-hasheq))
(define inner-ports (make-ephemeron-hasheq))
;; the program's input port -> its port-ready? (which starts no read)
(define input-ready (make-ephemeron-hasheq))

;; A socket port and a Racket port at once (socket-port's input/output port).
(struct io-port (in out)
  #:property prop:input-port 0
  #:property prop:output-port 1)

(define (wrap-input under)
  ;; The bytes of one read of the library's port (what one recv brought) go
  ;; into a Racket pipe, which read-in hands to Racket: Racket reads from the
  ;; pipe until it is empty, at the speed of its own ports, and only then
  ;; calls read-in again. A read that has to wait is made by a thread of
  ;; its own (the reader): read-in never blocks, so `sync', byte-ready? and
  ;; sync/timeout on the port answer at once, and a read waits for the
  ;; reader's end. What the reader raised is raised by the next read.
  (define-values (pipe-in pipe-out) (make-pipe))
  (define buf (make-bytes 65536))
  (define eof? #f)                      ; the library's port answered eof
  (define failure #f)                   ; the reader's exn
  (define reader #f)                    ; the thread, while it reads
  (define (fill!)                       ; one read of the library's port
    (let ([n (read-bytes-avail! buf under)])
      (if (eof-object? n) (set! eof? #t) (write-bytes buf pipe-out 0 n))))
  (define (waiting)
    (wrap-evt (thread-dead-evt reader) (lambda (_) 0)))
  ;; port-ready?: what Racket holds (peeked bytes, the pipe) or the library
  ;; port has, without starting a read (probing: read-in answers "nothing
  ;; now" where it would start the reader).
  (define probing? #f)
  (define (ready?)
    (or eof? (and failure #t)
        (dynamic-wind (lambda () (set! probing? #t))
                      (lambda () (byte-ready? port))
                      (lambda () (set! probing? #f)))
        (and (not (and reader (thread-running? reader)))
             (translating (r6:port-ready? under)))))
  (define port
   (make-input-port
   (object-name under)
   (lambda (bs)
     (cond
      [(positive? (pipe-content-length pipe-in)) pipe-in]
      [eof? (set! eof? #f) eof]
      [failure (let ([e failure]) (set! failure #f) (raise e))]
      [(and reader (thread-running? reader)) (waiting)]
      [(translating (r6:port-ready? under))
       (translating (fill!))
       (if eof? (begin (set! eof? #f) eof) pipe-in)]
      [probing? 0]
      [else
       (set! reader (thread (lambda ()
                              (with-handlers ([(lambda (v) #t) (lambda (v) (set! failure (translate v)))])
                                (fill!)))))
       (waiting)]))
   #f
   (lambda () (translating (close-input-port under)))))
  (hash-set! input-ready port ready?)
  port)

(define (wrap-output under)
  (make-output-port
   (object-name under)
   always-evt
   (lambda (bs start end can-block? breaks?)
     (translating (write-bytes bs under start end))
     (- end start))
   (lambda () (translating (close-output-port under)))))

(define (wrap under direction)
  (let ([outer (case direction
                 [(input) (wrap-input under)]
                 [(output) (wrap-output under)]
                 [else (io-port (wrap-input under) (wrap-output under))])])
    (hash-set! outer-ports under outer)
    (hash-set! inner-ports outer under)
    outer))

(define (inner who p)
  (or (hash-ref inner-ports p #f)
      (raise-argument-error who "socket port" p)))

(define (socket-port s [close? #t])
  (wrap (translating (r6:socket-port s close?)) 'input/output))
(define (socket-input-port s)
  (wrap (translating (r6:socket-input-port s)) 'input))
(define (socket-output-port s)
  (wrap (translating (r6:socket-output-port s)) 'output))
(define (shutdown-port p how)
  (translating (r6:shutdown-port (inner 'shutdown-port p) how)))
(define (shutdown-input-port p)
  (translating (r6:shutdown-input-port (inner 'shutdown-input-port p))))
(define (shutdown-output-port p)
  (translating (r6:shutdown-output-port (inner 'shutdown-output-port p))))
(define (port-ready? p)
  (let ([ready? (and (input-port? p)
                     (hash-ref input-ready (if (io-port? p) (io-port-in p) p) #f))])
    (unless ready? (raise-argument-error 'port-ready? "socket input port" p))
    (ready?)))

;; ---- Exports -------------------------------------------------------------------
(provide
 (struct-out exn:fail:network:host-not-found)
 (struct-out exn:fail:network:socket)
 (struct-out exn:fail:network:socket:connection)
 (struct-out exn:fail:network:socket:closed)
 (struct-out exn:fail:network:socket:read-timeout)
 (struct-out exn:fail:network:socket:port)
 host-not-found-error? host-not-found-error-node host-not-found-error-service
 socket-error? socket-error-socket socket-connection-error? socket-closed-error?
 socket-read-timeout-error? socket-read-timeout-error-timeout
 socket-port-error? socket-error-port socket-sent-condition? socket-sent-count
 make-client-socket make-client-socket/resolver
 make-server-socket make-server-socket/resolver
 make-server-socket* make-server-socket*/resolver
 call-with-socket
 socket? socket-closed? nonblocking-socket?
 make-socket create-socket
 socket-port socket-input-port socket-output-port
 shutdown-port shutdown-input-port shutdown-output-port
 port-ready?
 socket-setsockopt! socket-getsockopt
 socket-connect! socket-bind! socket-listen!
 socket-error-message socket-last-error
 socket-accept
 socket-send socket-sendto socket-send/range socket-sendto/range
 socket-recv socket-recv! socket-recvfrom socket-recvfrom!
 socket-shutdown socket-close socket-interrupt!
 socket-fd socket-node socket-service
 socket-select socket-select!
 socket-read-select socket-write-select socket-error-select
 socket-nonblocking! socket-blocking!
 socket-set-read-timeout! socket-get-read-timeout
 make-fdset fdset? fdset-sockets sockets->fdset collect-sockets
 fdset-set! fdset-ref fdset-clear!
 make-socket-selector socket-selector? close-socket-selector!
 socket-selector-add! socket-selector-wait! socket-selector-interrupt!
 socket-selector-clear! socket-selector-size
 socket-selector-closed? socket-selector-waiting?
 addrinfo? make-addrinfo make-hint-addrinfo get-addrinfo
 next-addrinfo addrinfo-sockaddr
 addrinfo-family addrinfo-socktype addrinfo-flags addrinfo-protocol
 sockaddr?
 make-sockaddr sockaddr-family sockaddr-ip-address sockaddr-port
 sockaddr-path make-unix-sockaddr
 make-unix-client-socket make-unix-server-socket socket-pair
 socket-peer-credentials socket-sockaddr socket-peer-sockaddr
 socket-info? socket-peer socket-name socket-info
 socket-info-hostname socket-info-ip-address socket-info-port
 socket-info-values
 ip-address? ip-v6-address? ip-address->string ip-address->bytevector)

;; The constants, as they are.
(module constants racket/base
  (require (only-in (lib "sagittarius/socket.sls")
 AF_UNSPEC AF_INET AF_INET6 AF_UNIX SOCK_STREAM SOCK_DGRAM SOCK_RAW SOCK_RDM
 SOCK_SEQPACKET AI_PASSIVE AI_CANONNAME AI_NUMERICHOST AI_NUMERICSERV
 AI_V4MAPPED AI_ALL AI_ADDRCONFIG IPPROTO_IP IPPROTO_TCP IPPROTO_UDP
 IPPROTO_RAW IPPROTO_IPV6 IPPROTO_ICMP IPPROTO_ICMPV6 SHUT_RD SHUT_WR
 SHUT_RDWR SOMAXCONN MSG_OOB MSG_PEEK MSG_DONTROUTE MSG_CTRUNC MSG_PROBE
 MSG_TRUNC MSG_DONTWAIT MSG_EOR MSG_WAITALL MSG_FIN MSG_SYN MSG_CONFIRM
 MSG_RST MSG_ERRQUEUE MSG_NOSIGNAL MSG_MORE MSG_EOF SOL_SOCKET SOL_TCP SOL_IP
 SO_ACCEPTCONN SO_BINDTODEVICE SO_BROADCAST SO_DEBUG SO_DONTROUTE SO_ERROR
 SO_KEEPALIVE SO_LINGER SO_OOBINLINE SO_PASSCRED SO_PEERCRED SO_PRIORITY
 SO_RCVBUF SO_RCVLOWAT SO_RCVTIMEO SO_REUSEADDR SO_REUSEPORT SO_SNDBUF
 SO_SNDLOWAT SO_SNDTIMEO SO_TIMESTAMP SO_TYPE TCP_NODELAY TCP_MAXSEG TCP_CORK
 IP_OPTIONS IP_PKTINFO IP_RECVTOS IP_RECVTTL IP_RECVOPTS IP_TOS IP_TTL
 IP_HDRINCL IP_RECVERR IP_MTU_DISCOVER IP_MTU IP_ROUTER_ALERT IP_MULTICAST_TTL
 IP_MULTICAST_LOOP IP_ADD_MEMBERSHIP IP_DROP_MEMBERSHIP IP_MULTICAST_IF
 IPV6_V6ONLY EAGAIN EWOULDBLOCK EPIPE EINTR ETIMEDOUT EINPROGRESS))
  (provide (all-from-out (lib "sagittarius/socket.sls"))))
(require 'constants)
(provide (all-from-out 'constants))
