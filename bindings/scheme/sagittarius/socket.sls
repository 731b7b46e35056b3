;;; (sagittarius socket): the socket library of Sagittarius Scheme, over
;;; libsagsocket.
;;;
;;; This file is plain R6RS and host-independent: argument checking and
;;; defaults, the condition types and the one mapping from the library's
;;; statuses to conditions, the objects (socket, addrinfo, fdset, ...), the
;;; Scheme-level procedures (call-with-socket, socket-info-values, the
;;; /resolver variants, the select helpers) and the socket ports' read and
;;; write procedures. The host layer, (sagittarius socket host), holds the
;;; foreign calls, finalization, durations and how a custom port is made.
(library (sagittarius socket)
  (export make-client-socket make-client-socket/resolver
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
          ;; select
          socket-select socket-select!
          socket-read-select socket-write-select socket-error-select
          socket-nonblocking! socket-blocking!
          socket-set-read-timeout! socket-get-read-timeout
          ;; fdset
          make-fdset fdset? fdset-sockets sockets->fdset collect-sockets
          fdset-set! fdset-ref fdset-clear!
          ;; socket selector
          make-socket-selector socket-selector? close-socket-selector!
          socket-selector-add! socket-selector-wait! socket-selector-interrupt!
          socket-selector-clear! socket-selector-size
          socket-selector-closed? socket-selector-waiting?
          ;; addrinfo and sockaddr
          addrinfo? make-addrinfo make-hint-addrinfo get-addrinfo
          next-addrinfo addrinfo-sockaddr
          addrinfo-family addrinfo-socktype addrinfo-flags addrinfo-protocol
          sockaddr?
          ;; extensions (not in Sagittarius; docs/reference.md §12):
          ;; sockaddrs made and read, Unix-domain sockets
          make-sockaddr sockaddr-family sockaddr-ip-address sockaddr-port
          sockaddr-path make-unix-sockaddr
          make-unix-client-socket make-unix-server-socket socket-pair
          socket-peer-credentials socket-sockaddr socket-peer-sockaddr
          ;; socket-info and ip-address
          socket-info? socket-peer socket-name socket-info
          socket-info-hostname socket-info-ip-address socket-info-port
          socket-info-values
          ip-address? ip-v6-address? ip-address->string ip-address->bytevector
          ;; conditions
          &host-not-found host-not-found-error? make-host-not-found-error
          host-not-found-error-node host-not-found-error-service
          &socket socket-error? make-socket-error socket-error-socket
          &socket-connection socket-connection-error?
          make-socket-connection-error
          &socket-closed socket-closed-error? make-socket-closed-error
          &socket-read-timeout socket-read-timeout-error?
          make-socket-read-timeout-error socket-read-timeout-error-timeout
          &socket-port socket-port-error? make-socket-port-error
          socket-error-port
          &socket-sent socket-sent-condition? make-socket-sent-condition
          socket-sent-count
          ;; constants
          AF_UNSPEC AF_INET AF_INET6 AF_UNIX
          SOCK_STREAM SOCK_DGRAM SOCK_RAW SOCK_RDM SOCK_SEQPACKET
          AI_PASSIVE AI_CANONNAME AI_NUMERICHOST AI_NUMERICSERV
          AI_V4MAPPED AI_ALL AI_ADDRCONFIG
          IPPROTO_IP IPPROTO_TCP IPPROTO_UDP IPPROTO_RAW IPPROTO_IPV6
          IPPROTO_ICMP IPPROTO_ICMPV6
          SHUT_RD SHUT_WR SHUT_RDWR SOMAXCONN
          MSG_OOB MSG_PEEK MSG_DONTROUTE MSG_CTRUNC MSG_PROBE MSG_TRUNC
          MSG_DONTWAIT MSG_EOR MSG_WAITALL MSG_FIN MSG_SYN MSG_CONFIRM
          MSG_RST MSG_ERRQUEUE MSG_NOSIGNAL MSG_MORE MSG_EOF
          SOL_SOCKET SOL_TCP SOL_IP
          SO_ACCEPTCONN SO_BINDTODEVICE SO_BROADCAST SO_DEBUG SO_DONTROUTE
          SO_ERROR SO_KEEPALIVE SO_LINGER SO_OOBINLINE SO_PASSCRED
          SO_PEERCRED SO_PRIORITY SO_RCVBUF SO_RCVLOWAT SO_RCVTIMEO
          SO_REUSEADDR SO_REUSEPORT SO_SNDBUF SO_SNDLOWAT SO_SNDTIMEO
          SO_TIMESTAMP SO_TYPE
          TCP_NODELAY TCP_MAXSEG TCP_CORK
          IP_OPTIONS IP_PKTINFO IP_RECVTOS IP_RECVTTL IP_RECVOPTS IP_TOS
          IP_TTL IP_HDRINCL IP_RECVERR IP_MTU_DISCOVER IP_MTU
          IP_ROUTER_ALERT IP_MULTICAST_TTL IP_MULTICAST_LOOP
          IP_ADD_MEMBERSHIP IP_DROP_MEMBERSHIP IP_MULTICAST_IF IPV6_V6ONLY
          EAGAIN EWOULDBLOCK EPIPE EINTR ETIMEDOUT EINPROGRESS
          ;; for (rfc tls): sockets whose bytes go through a transport
          %make-socket-transport %socket-transport %socket-transport-set!
          %socket-transport-data
          %socket-handle %socket-fail %register-status-condition!)
  (import (rnrs) (sagittarius socket host))

  ;; ==== Statuses (the values of the C header's sag_status enum) ===========
  (define OK 0)
  (define E_IO -1)
  (define E_HOST_NOT_FOUND -2)
  (define E_SOCKET -3)
  (define E_CONNECTION -4)
  (define E_CLOSED -5)
  (define E_READ_TIMEOUT -6)
  (define E_PORT -7)
  (define E_INVALID -8)
  (define E_MISUSE -9)
  (define E_NOMEM -10)
  (define E_WOULD_BLOCK -11)
  (define E_INTERRUPTED -12)
  (define E_IO_READ -13)
  (define E_IO_WRITE -14)
  (define E_IO_DECODING -15)
  (define E_IO_ENCODING -16)

  ;; ==== Conditions =========================================================
  (define-condition-type &host-not-found &i/o
    make-host-not-found-error host-not-found-error?
    (node host-not-found-error-node)
    (service host-not-found-error-service))
  (define-condition-type &socket &i/o
    make-socket-error socket-error?
    (socket socket-error-socket))
  (define-condition-type &socket-connection &socket
    make-socket-connection-error socket-connection-error?)
  (define-condition-type &socket-closed &socket
    make-socket-closed-error socket-closed-error?)
  (define-condition-type &socket-read-timeout &socket
    make-socket-read-timeout-error socket-read-timeout-error?
    (timeout socket-read-timeout-error-timeout))
  (define-condition-type &socket-port &socket
    make-socket-port-error socket-port-error?
    (port socket-error-port))
  ;; Not Sagittarius's: a send or a port write that fails carries how many of
  ;; its bytes reached the kernel (sag_error_sent), so that the caller can
  ;; resume after them.
  (define-condition-type &socket-sent &condition
    make-socket-sent-condition socket-sent-condition?
    (count socket-sent-count))
  ;; The procedures whose failures carry a &socket-sent (and socket ports'
  ;; writes, below).
  (define send-procedures
    '(socket-send socket-send/range socket-sendto socket-sendto/range))

  ;; The fields of a failure, read from the library right after it:
  ;; #(status errno message operation node service timeout-us).
  (define (failure-message f) (vector-ref f 2))
  (define (failure-sent f) (vector-ref f 7))
  (define (failure-timeout f)
    (let ([us (vector-ref f 6)]) (and (>= us 0) (%us->duration us))))

  ;; THE mapping from a status to the condition type Sagittarius raises for
  ;; it. `socket' and `port' are the objects the failing call concerned.
  (define (status-condition st f socket port)
    (cond
     [(= st E_HOST_NOT_FOUND)
      (make-host-not-found-error (vector-ref f 4) (vector-ref f 5))]
     [(= st E_SOCKET) (make-socket-error socket)]
     [(= st E_CONNECTION) (make-socket-connection-error socket)]
     [(= st E_CLOSED) (make-socket-closed-error socket)]
     [(= st E_READ_TIMEOUT) (make-socket-read-timeout-error socket (failure-timeout f))]
     [(= st E_PORT) (make-socket-port-error socket port)]
     [(= st E_IO_READ) (condition (make-i/o-read-error) (make-i/o-port-error port))]
     [(= st E_IO_WRITE) (condition (make-i/o-write-error) (make-i/o-port-error port))]
     [(= st E_IO_DECODING) (make-i/o-decoding-error port)]
     [(= st E_IO_ENCODING) (make-i/o-encoding-error port #\xFFFD)]
     [(or (= st E_INVALID) (= st E_MISUSE)) (make-assertion-violation)]
     ;; would-block and interrupted are answers (#f, '()) where the API has
     ;; one; raised elsewhere they are socket errors.
     [(or (= st E_WOULD_BLOCK) (= st E_INTERRUPTED)) (make-socket-error socket)]
     [(= st E_NOMEM) (make-error)]
     [(hashtable-ref extra-conditions st #f) => (lambda (make) (make socket))]
     [else (make-i/o-error)]))

  ;; The condition makers of statuses that libraries built on this one add
  ;; ((rfc tls): SAG_E_TLS, ...): status -> (lambda (socket) condition).
  (define extra-conditions (make-eqv-hashtable))
  (define (%register-status-condition! st make)
    (hashtable-set! extra-conditions st make))

  (define (failure-condition who st socket port irritants)
    (let ([f (%last-error)])
      (condition (status-condition st f socket port)
                 (make-who-condition who)
                 (make-message-condition
                  (let ([m (failure-message f)])
                    (if (and m (not (string=? m ""))) m (%status-name st))))
                 (make-irritants-condition irritants)
                 ;; a failed send or port write: how much of it went
                 (if (memq who send-procedures)
                     (make-socket-sent-condition (failure-sent f))
                     (condition)))))

  ;; Raises the condition for status st of a call made by `who' on socket s
  ;; (or #f).
  (define (fail who st s . irritants)
    (raise (failure-condition who st s #f (if (null? irritants) (if s (list s) '()) irritants))))
  (define %socket-fail fail)

  ;; ==== Argument checks ====================================================
  (define (int32? x)
    (and (integer? x) (exact? x) (<= -2147483648 x 2147483647)))
  (define (nonneg? x) (and (integer? x) (exact? x) (>= x 0)))
  (define (check who pred what x)
    (unless (pred x)
      (assertion-violation who (string-append what " required") x)))
  (define (check-int who x) (check who int32? "exact integer" x))
  (define (check-nonneg who x) (check who nonneg? "non-negative exact integer" x))
  ;; A node or service goes to C as a NUL-terminated string: one holding
  ;; #\nul would be cut there, so it is refused.
  (define (check-string/false who x)
    (check who (lambda (x) (or (not x) (and (string? x) (not (string-has-nul? x)))))
           "string without #\\nul or #f" x))
  (define (string-has-nul? s)
    (let loop ([i 0])
      (and (< i (string-length s))
           (or (char=? (string-ref s i) #\nul) (loop (+ i 1))))))
  (define (check-socket who x) (check who socket? "socket" x))
  (define (check-bytevector who x) (check who bytevector? "bytevector" x))
  (define (check-range who bv start len)
    (check-nonneg who start)
    (check-nonneg who len)
    (unless (<= (+ start len) (bytevector-length bv))
      (assertion-violation who "out of range" bv start len)))

  ;; Timeouts of select, connect and the selector: #f (none), exact
  ;; microseconds, a duration, (seconds . microseconds), or the list
  ;; (seconds microseconds) that Sagittarius reads. -1 means "no timeout".
  ;; The library takes a signed 64-bit count: a longer timeout (2^63 us,
  ;; some 292,000 years, or more) is refused here, the same on every host.
  (define max-timeout-us (- (expt 2 63) 1))
  (define (timeout->us who t)
    (if (not t)
        -1                              ; no comparison with a bignum
        (timeout->us* who t)))
  (define (timeout->us* who t)
    (let ([us (cond [(nonneg? t) t]
                    [(%duration? t) (max 0 (%duration->us t))]
                    [(and (pair? t) (nonneg? (car t)) (nonneg? (cdr t)))
                     (+ (* (car t) 1000000) (cdr t))]
                    [(and (pair? t) (pair? (cdr t)) (null? (cddr t))
                          (nonneg? (car t)) (nonneg? (cadr t)))
                     (+ (* (car t) 1000000) (cadr t))]
                    [else (assertion-violation
                           who "timeout must be #f, microseconds, a duration or (sec . usec)" t)])])
      (us-in-range who us t)))
  (define (us-in-range who us t)
    (if (> us max-timeout-us)
        (assertion-violation who "timeout too large (2^63 microseconds or more)" t)
        us))

  ;; ==== Objects ============================================================
  ;; route: the handle while the socket has no transport, then a pair
  ;; holding the transport (rfc tls) gave it: its bytes then go through the
  ;; transport's procedures, which answer as the library's own calls do (a
  ;; status first). A transfer reads this one field: on Guile each record
  ;; accessor is a procedure that calls the type's predicate, ~340
  ;; instructions, and so is a record predicate (~110), where pair? is
  ;; inline (~14).
  (define-record-type (socket %wrap-socket socket?)
    (fields (immutable handle socket-handle)
            (mutable route socket-route socket-route-set!))
    (sealed #t))
  (define (new-socket h) (%guard! (%wrap-socket h h) 'socket h))
  (define %socket-handle socket-handle)
  ;; The socket's transport, or #f.
  (define (%socket-transport s)
    (let ([r (socket-route s)]) (and (pair? r) (car r))))
  (define (%socket-transport-set! s t)
    (socket-route-set! s (if t (list t) (socket-handle s))))

  ;; A transport: (recv s bv start len flags) and (send s bv start len
  ;; flags) => (values status count); (shutdown s how) and (close s) =>
  ;; status; (pending s) => the bytes a recv returns without waiting; data
  ;; is the transport owner's.
  (define-record-type (socket-transport %make-socket-transport socket-transport?)
    (fields recv send shutdown close pending (immutable data %socket-transport-data))
    (sealed #t))
  (define (raw-recv s bv start len flags)
    (let ([r (socket-route s)])
      (if (pair? r)
          ((socket-transport-recv (car r)) s bv start len flags)
          (%socket-recv r bv start len flags))))
  (define (raw-send s bv start len flags)
    (let ([r (socket-route s)])
      (if (pair? r)
          ((socket-transport-send (car r)) s bv start len flags)
          (%socket-send r bv start len flags))))
  ;; The sockets of ss holding input a recv returns without waiting.
  (define (buffered-sockets ss)
    (filter (lambda (s)
              (let ([t (%socket-transport s)])
                (and t (> ((socket-transport-pending t) s) 0))))
            ss))

  (define-record-type (addrinfo %wrap-addrinfo addrinfo?)
    (fields (immutable handle addrinfo-handle))
    (sealed #t))
  (define (new-addrinfo h) (and h (%guard! (%wrap-addrinfo h) 'addrinfo h)))

  (define-record-type (sockaddr %wrap-sockaddr sockaddr?)
    (fields (immutable handle sockaddr-handle))
    (sealed #t))
  (define (new-sockaddr h) (and h (%guard! (%wrap-sockaddr h) 'sockaddr h)))

  ;; An fdset keeps its member sockets (as Sagittarius's does): `members'
  ;; maps a socket handle to its socket object, so sockets the library hands
  ;; back are the objects that were put in.
  (define-record-type (fdset %wrap-fdset fdset?)
    (fields (immutable handle fdset-handle)
            (immutable members fdset-members)
            (immutable lock fdset-lock))
    (sealed #t))
  (define (new-fdset h members)
    (%guard! (%wrap-fdset h members (%make-lock)) 'fdset h))

  ;; socket-info and ip-address are values, copied out of the library.
  (define-record-type (ip-address %make-ip-address ip-address?)
    (fields (immutable string ip-address->string)
            (immutable bytes ip-address-bytes)
            (immutable v6? ip-v6-address?))
    (sealed #t))
  (define (ip-address->bytevector ip)
    (check 'ip-address->bytevector ip-address? "ip-address" ip)
    (bytevector-copy (ip-address-bytes ip)))

  (define-record-type (socket-info-type %make-socket-info socket-info?)
    (fields (immutable hostname socket-info-hostname)
            (immutable ip-address socket-info-ip-address)
            (immutable port socket-info-port))
    (sealed #t))

  ;; (call who proc arg ...) calls a host procedure whose first value is a
  ;; status and returns the rest; any other status raises.
  (define-syntax call
    (syntax-rules ()
      [(_ who s proc arg ...)
       (call-with-values (lambda () (proc arg ...))
         (case-lambda
          [(st) (unless (eqv? st OK) (fail who st s))]
          [(st v) (if (eqv? st OK) v (fail who st s))]
          [(st . vs) (if (eqv? st OK) (apply values vs) (fail who st s))]))]))

  ;; ==== Client and server sockets ==========================================
  (define make-client-socket
    (case-lambda
     [(node service) (make-client-socket node service AF_INET)]
     [(node service family) (make-client-socket node service family SOCK_STREAM)]
     [(node service family socktype)
      (make-client-socket node service family socktype
                          AI_V4MAPPED)]
     [(node service family socktype flags)
      (make-client-socket node service family socktype flags 0)]
     [(node service family socktype flags protocol)
      (let ([who 'make-client-socket])
        (check-string/false who node)
        (check-string/false who service)
        (for-each (lambda (x) (check-int who x)) (list family socktype flags protocol))
        (unless (zero? (bitwise-and flags AI_PASSIVE))
          (assertion-violation who "client socket must not have AI_PASSIVE" flags))
        (let-values ([(st h) (%make-client-socket node service family socktype
                                                  flags protocol)])
          (if (eqv? st OK)
              (new-socket h)
              (fail who st #f node service))))]))

  (define (server-socket-args who service family socktype protocol)
    (check-string/false who service)
    (for-each (lambda (x) (check-int who x)) (list family socktype protocol)))

  (define make-server-socket
    (case-lambda
     [(service) (make-server-socket service AF_INET)]
     [(service family) (make-server-socket service family SOCK_STREAM)]
     [(service family socktype) (make-server-socket service family socktype 0)]
     [(service family socktype protocol)
      (let ([who 'make-server-socket])
        (server-socket-args who service family socktype protocol)
        (let-values ([(st h) (%make-server-socket service family socktype protocol)])
          (if (eqv? st OK)
              (new-socket h)
              (fail who st #f service))))]))

  (define make-server-socket*
    (case-lambda
     [(service) (make-server-socket* service AF_UNSPEC)]
     [(service family) (make-server-socket* service family SOCK_STREAM)]
     [(service family socktype) (make-server-socket* service family socktype 0)]
     [(service family socktype protocol)
      (let ([who 'make-server-socket*])
        (server-socket-args who service family socktype protocol)
        (let-values ([(st hs) (%make-server-sockets service family socktype protocol)])
          (if (eqv? st OK)
              (map new-socket hs)
              (fail who st #f service))))]))

  ;; The /resolver variants: resolver returns an addrinfo chain (or #f).
  (define (host-not-found who node service message)
    (raise (condition (make-host-not-found-error node service)
                      (make-who-condition who)
                      (make-message-condition message)
                      (make-irritants-condition (list node service)))))

  (define make-client-socket/resolver
    (case-lambda
     [(node service resolver) (make-client-socket/resolver node service resolver #f)]
     [(node service resolver timeout)
      (let ([who 'make-client-socket/resolver])
        (check who procedure? "procedure" resolver)
        (let loop ([ai (resolver node service)] [msg "no address"])
          (if (not ai)
              (host-not-found who node service
                              (string-append "no next addrinfo: " msg))
              (let ([s (create-socket ai)])
                (cond
                 [(and s (socket-connect! s ai timeout)) s]
                 [else
                  (let ([msg (if s (socket-error-message s) msg)])
                    (when s (socket-close s))
                    (loop (next-addrinfo ai) msg))])))))]))

  (define (bind-server ai)
    (let ([s (create-socket ai)])
      (and s
           (or (guard (e [(socket-error? e) #f])
                 (socket-setsockopt! s SOL_SOCKET SO_REUSEADDR 1)
                 (guard (e [(socket-error? e) #t]) ; SO_REUSEPORT is optional
                   (socket-setsockopt! s SOL_SOCKET SO_REUSEPORT 1))
                 (and (socket-bind! s ai)
                      (or (not (= (addrinfo-socktype ai) SOCK_STREAM))
                          (socket-listen! s SOMAXCONN))
                      s))
               (begin (socket-close s) #f)))))

  (define (make-server-socket/resolver service resolver)
    (let ([who 'make-server-socket/resolver])
      (check who procedure? "procedure" resolver)
      (let loop ([ai (resolver service)])
        (cond [(not ai) (host-not-found who #f service "Failed to create socket")]
              [(bind-server ai)]
              [else (loop (next-addrinfo ai))]))))

  (define (make-server-socket*/resolver service resolver)
    (let ([who 'make-server-socket*/resolver])
      (check who procedure? "procedure" resolver)
      (let loop ([ai (resolver service)] [acc '()])
        (cond [ai (let ([s (bind-server ai)])
                    (loop (next-addrinfo ai) (if s (cons s acc) acc)))]
              [(null? acc) (host-not-found who #f service "Failed to create sockets")]
              [else acc]))))  ; reverse order, as Sagittarius builds it

  (define (call-with-socket s proc)
    (check-socket 'call-with-socket s)
    (call-with-values (lambda () (proc s))
      (lambda results
        (socket-close s)
        (apply values results))))

  ;; ==== Socket operations ==================================================
  (define (socket-closed? s)
    (check-socket 'socket-closed? s)
    (call 'socket-closed? s %socket-is-closed (socket-handle s)))

  (define (nonblocking-socket? s)
    (check-socket 'nonblocking-socket? s)
    (call 'nonblocking-socket? s %socket-is-nonblocking (socket-handle s)))

  ;; #f when interrupted (socket-interrupt!), when the socket is closed from
  ;; another thread while waiting, or when a non-blocking socket has no
  ;; pending connection.
  (define (socket-accept s)
    (check-socket 'socket-accept s)
    (let-values ([(st h) (%socket-accept (socket-handle s))])
      (cond [(eqv? st OK) (new-socket h)]
            [(or (eqv? st E_INTERRUPTED) (eqv? st E_WOULD_BLOCK)) #f]
            [else (fail 'socket-accept st s)])))

  (define (opt-flags who opt)
    (if (null? opt)
        0
        (let ([flags (car opt)])
          (check-int who flags)
          flags)))

  ;; The transfers' common case, tested at once: s a socket, no flags given,
  ;; and (for a range) start and len fixnums within bv. The test makes no
  ;; procedure call on Chez and few on Guile, where each check below costs
  ;; one (bench/README.md); anything else goes through the checks, which
  ;; name what is wrong, in the same order as ever. The whole bytevector
  ;; (start 0, len its length) is tested first with eqv?, inline on Guile,
  ;; where R6RS fixnum? is a procedure of two more calls (~245 instructions).
  (define (fixnum-range? bv start len)
    (and (bytevector? bv)
         (or (and (eqv? start 0) (eqv? len (bytevector-length bv)))
             (and (fixnum? start) (fixnum? len) (>= start 0) (>= len 0)
                  (<= (+ start len) (bytevector-length bv))))))

  ;; What a receive or a send returns: n on success, `would-block' (#f, -1
  ;; or 0) on a non-blocking socket with nothing to do; otherwise raises.
  (define (transferred who s st n would-block)
    (cond [(eqv? st OK) n]
          [(eqv? st E_WOULD_BLOCK) would-block]
          [else (fail who st s)]))

  (define (socket-recv s size . opt)
    (let ([who 'socket-recv])
      (unless (and (null? opt) (socket? s) (fixnum? size) (>= size 0))
        (check-socket who s)
        (check-nonneg who size))
      (let ([flags (opt-flags who opt)] [bv (make-bytevector size)])
        (let-values ([(st n) (raw-recv s bv 0 size flags)])
          (let ([n (transferred who s st n #f)])
            (cond [(not n) #f]
                  [(= n size) bv]
                  [else (let ([r (make-bytevector n)])
                          (bytevector-copy! bv 0 r 0 n)
                          r)]))))))

  (define (socket-recv! s bv start len . opt)
    (let ([who 'socket-recv!])
      (unless (and (null? opt) (socket? s) (fixnum-range? bv start len))
        (check-socket who s)
        (check-bytevector who bv)
        (check-range who bv start len))
      (let-values ([(st n) (raw-recv s bv start len (opt-flags who opt))])
        (transferred who s st n -1))))

  ;; Sends every byte; returns the count (0 when MSG_NOSIGNAL was given and
  ;; the peer has gone, or when nothing fits on a non-blocking socket).
  (define (send-range who s bv start len flags)
    (check-socket who s)
    (check-bytevector who bv)
    (let ([len (if (and (integer? len) (exact? len) (< len 0))
                   (- (bytevector-length bv) start)
                   len)])
      (check-range who bv start len)
      (check-int who flags)
      (let-values ([(st n) (raw-send s bv start len flags)])
        (transferred who s st n 0))))

  (define (socket-send s bv . opt)
    (if (and (null? opt) (socket? s) (bytevector? bv))
        (let-values ([(st n) (raw-send s bv 0 (bytevector-length bv) 0)])
          (transferred 'socket-send s st n 0))
        (begin
          (check-bytevector 'socket-send bv)
          (send-range 'socket-send s bv 0 (bytevector-length bv)
                      (opt-flags 'socket-send opt)))))

  (define socket-send/range
    (case-lambda
     [(s bv) (socket-send/range s bv 0 -1 0)]
     [(s bv start) (socket-send/range s bv start -1 0)]
     [(s bv start len) (socket-send/range s bv start len 0)]
     [(s bv start len flags)
      (if (and (socket? s) (eqv? flags 0) (fixnum-range? bv start len))
          (let-values ([(st n) (raw-send s bv start len 0)])
            (transferred 'socket-send/range s st n 0))
          (send-range 'socket-send/range s bv start len flags))]))

  (define (check-sockaddr who sa) (check who sockaddr? "sockaddr" sa))

  (define (sendto-range who s bv sa start len flags)
    (check-socket who s)
    (check-bytevector who bv)
    (check-sockaddr who sa)
    (let ([len (if (and (integer? len) (exact? len) (< len 0))
                   (- (bytevector-length bv) start)
                   len)])
      (check-range who bv start len)
      (check-int who flags)
      (let-values ([(st n) (%socket-sendto (socket-handle s) bv start len flags
                                           (sockaddr-handle sa))])
        (cond [(eqv? st OK) n]
              [(eqv? st E_WOULD_BLOCK) 0]
              [else (fail who st s)]))))

  (define (socket-sendto s bv sa . opt)
    (check-bytevector 'socket-sendto bv)
    (sendto-range 'socket-sendto s bv sa 0 (bytevector-length bv)
                  (opt-flags 'socket-sendto opt)))

  (define socket-sendto/range
    (case-lambda
     [(s bv sa) (socket-sendto/range s bv sa 0 -1 0)]
     [(s bv sa start) (socket-sendto/range s bv sa start -1 0)]
     [(s bv sa start len) (socket-sendto/range s bv sa start len 0)]
     [(s bv sa start len flags) (sendto-range 'socket-sendto/range s bv sa start len flags)]))

  (define (socket-recvfrom s size sa . opt)
    (let ([who 'socket-recvfrom])
      (check-socket who s)
      (check-nonneg who size)
      (check-sockaddr who sa)
      (let ([flags (opt-flags who opt)] [bv (make-bytevector size)])
        (let-values ([(st n) (%socket-recvfrom (socket-handle s) bv 0 size flags
                                               (sockaddr-handle sa))])
          (cond [(eqv? st OK)
                 (if (= n size)
                     bv
                     (let ([r (make-bytevector n)])
                       (bytevector-copy! bv 0 r 0 n)
                       r))]
                [(eqv? st E_WOULD_BLOCK) #f]
                [else (fail who st s)])))))

  (define (socket-recvfrom! s bv start len sa . opt)
    (let ([who 'socket-recvfrom!])
      (check-socket who s)
      (check-bytevector who bv)
      (check-range who bv start len)
      (check-sockaddr who sa)
      (let ([flags (opt-flags who opt)])
        (let-values ([(st n) (%socket-recvfrom (socket-handle s) bv start len flags
                                               (sockaddr-handle sa))])
          (cond [(eqv? st OK) n]
                [(eqv? st E_WOULD_BLOCK) -1]
                [else (fail who st s)])))))

  (define (socket-shutdown s how)
    (check-socket 'socket-shutdown s)
    (check-int 'socket-shutdown how)
    (let ([r (socket-route s)])
      (if (pair? r)
          (call 'socket-shutdown s (socket-transport-shutdown (car r)) s how)
          (call 'socket-shutdown s %socket-shutdown r how))))

  (define (socket-close s)
    (check-socket 'socket-close s)
    (let ([r (socket-route s)])
      (if (pair? r)
          (call 'socket-close s (socket-transport-close (car r)) s)
          (call 'socket-close s %socket-close r)))
    #t)

  ;; Wakes every thread blocked on s now: socket-accept answers #f, the
  ;; selects '(), other calls raise. (Sagittarius's thread-interrupt! of a
  ;; thread blocked on a socket.)
  (define (socket-interrupt! s)
    (check-socket 'socket-interrupt! s)
    (call 'socket-interrupt! s %socket-interrupt (socket-handle s)))

  ;; ==== Socket information =================================================
  (define (ip-address-from-handle who h)
    (and h
         (let-values ([(st1 str) (%ip-address-to-string h)]
                      [(st2 bytes) (%ip-address-to-bytes h)]
                      [(st3 v6) (%ip-address-is-v6 h)])
           (%ip-address-free h)
           (unless (and (eqv? st1 OK) (eqv? st2 OK) (eqv? st3 OK))
             (assertion-violation who "bad ip-address handle" h))
           (%make-ip-address str bytes v6))))

  (define (socket-info-from-handle who s h)
    (and h
         (let-values ([(st1 host) (%socket-info-hostname h)]
                      [(st2 ip) (%socket-info-ip-address h)]
                      [(st3 port) (%socket-info-port h)])
           (let ([ip (and (eqv? st2 OK) (ip-address-from-handle who ip))])
             (%socket-info-free h)
             (unless (and (eqv? st1 OK) (eqv? st2 OK) (eqv? st3 OK))
               (fail who (if (eqv? st1 OK) (if (eqv? st2 OK) st3 st2) st1) s))
             (%make-socket-info host ip port)))))

  (define (socket-info s)
    (check-socket 'socket-info s)
    (socket-info-from-handle 'socket-info s
                             (call 'socket-info s %socket-get-info (socket-handle s))))

  (define (socket-peer s)
    (check-socket 'socket-peer s)
    (socket-info-from-handle 'socket-peer s
                             (call 'socket-peer s %socket-get-peer (socket-handle s))))

  ;; (socket-info-values s [type]) with type 'peer (default) or 'info; also
  ;; Sagittarius's keyword form (socket-info-values s :type 'info).
  (define socket-info-values-proc
    (case-lambda
     [(s) (socket-info-values-proc s 'peer)]
     [(s type)
      (check-socket 'socket-info-values s)
      (let ([info (case type
                    [(peer) (socket-peer s)]
                    [(info) (socket-info s)]
                    [else (assertion-violation 'socket-info-values "unknown type" type)])])
        (if info
            (values (socket-info-hostname info) (socket-info-ip-address info)
                    (socket-info-port info))
            (values #f #f #f)))]))
  (define-syntax socket-info-values
    (lambda (x)
      (syntax-case x ()
        [(_ s k type)
         (and (identifier? #'k) (eq? (syntax->datum #'k) ':type))
         #'(socket-info-values-proc s type)]
        [(_ arg ...) #'(socket-info-values-proc arg ...)]
        [id (identifier? #'id) #'socket-info-values-proc])))

  (define (socket-name s)
    (check-socket 'socket-name s)
    (call 'socket-name s %socket-name (socket-handle s)))
  (define (socket-node s)
    (check-socket 'socket-node s)
    (call 'socket-node s %socket-node (socket-handle s)))
  (define (socket-service s)
    (check-socket 'socket-service s)
    (call 'socket-service s %socket-service (socket-handle s)))
  (define (socket-fd s)
    (check-socket 'socket-fd s)
    (call 'socket-fd s %socket-fd (socket-handle s)))

  ;; errno and message of the last failure on s (0 and "" when none).
  (define (socket-last-error s)
    (check-socket 'socket-last-error s)
    (vector-ref (call 'socket-last-error s %socket-last-error (socket-handle s)) 1))
  (define (socket-error-message s)
    (check-socket 'socket-error-message s)
    (vector-ref (call 'socket-error-message s %socket-last-error (socket-handle s)) 2))

  ;; ==== Low level ==========================================================
  ;; #f when the OS refuses to make the socket.
  (define make-socket
    (case-lambda
     [(family socktype) (make-socket family socktype 0)]
     [(family socktype protocol)
      (let ([who 'make-socket])
        (for-each (lambda (x) (check-int who x)) (list family socktype protocol))
        (let-values ([(st h) (%make-socket family socktype protocol)])
          (cond [(eqv? st OK) (new-socket h)]
                [(eqv? st E_SOCKET) #f]
                [else (fail who st #f family socktype protocol)])))]))

  (define (check-addrinfo who ai) (check who addrinfo? "addrinfo" ai))

  (define (create-socket ai)
    (check-addrinfo 'create-socket ai)
    (let-values ([(st h) (%create-socket (addrinfo-handle ai))])
      (cond [(eqv? st OK) (new-socket h)]
            [(eqv? st E_SOCKET) #f]
            [else (fail 'create-socket st #f ai)])))

  ;; The socket, or #f when it cannot connect; with a timeout, a connection
  ;; not made in time raises &socket-connection.
  (define socket-connect!
    (case-lambda
     [(s ai) (socket-connect! s ai #f)]
     [(s ai timeout)
      (let ([who 'socket-connect!] [sa? (sockaddr? ai)])
        (check-socket who s)
        (unless sa? (check-addrinfo who ai))
        (let* ([us (timeout->us who timeout)]
               ;; a sockaddr in place of the addrinfo: an extension
               [st (if sa?
                       (%socket-connect-sockaddr (socket-handle s) (sockaddr-handle ai) us)
                       (%socket-connect (socket-handle s) (addrinfo-handle ai) us))])
          (cond [(eqv? st OK) s]
                [(and (eqv? st E_CONNECTION) (not timeout)) #f]
                [else (fail who st s)])))]))

  (define (socket-bind! s ai)
    (check-socket 'socket-bind! s)
    (unless (sockaddr? ai) (check-addrinfo 'socket-bind! ai))
    (let ([st (if (sockaddr? ai)  ; a sockaddr in place of the addrinfo: an extension
                  (%socket-bind-sockaddr (socket-handle s) (sockaddr-handle ai))
                  (%socket-bind (socket-handle s) (addrinfo-handle ai)))])
      (cond [(eqv? st OK) s]
            [(eqv? st E_SOCKET) #f]
            [else (fail 'socket-bind! st s)])))

  (define (socket-listen! s backlog)
    (check-socket 'socket-listen! s)
    (check-int 'socket-listen! backlog)
    (let ([st (%socket-listen (socket-handle s) backlog)])
      (cond [(eqv? st OK) s]
            [(eqv? st E_SOCKET) #f]
            [else (fail 'socket-listen! st s)])))

  ;; value: an integer, a bytevector, or (SO_RCVTIMEO, SO_SNDTIMEO) a duration.
  (define (socket-setsockopt! s level name value)
    (let ([who 'socket-setsockopt!])
      (check-socket who s)
      (check-int who level)
      (check-int who name)
      (let ([h (socket-handle s)])
        (cond [(int32? value) (call who s %socket-setsockopt-int h level name value)]
              [(bytevector? value)
               (call who s %socket-setsockopt-bytes h level name value 0
                     (bytevector-length value))]
              [(%duration? value)
               (call who s %socket-setsockopt-duration h level name
                     (us-in-range who (max 0 (%duration->us value)) value))]
              [else (assertion-violation who "integer, bytevector or duration required"
                                         value)])
        #t)))

  ;; size > 0: a bytevector of at most size bytes; 0: an integer; -1 (on
  ;; SO_RCVTIMEO, SO_SNDTIMEO): a duration.
  (define (socket-getsockopt s level name size)
    (let ([who 'socket-getsockopt])
      (check-socket who s)
      (check-int who level)
      (check-int who name)
      (check-int who size)
      (let ([h (socket-handle s)])
        (cond [(> size 0) (call who s %socket-getsockopt-bytes h level name size)]
              [(= size 0) (call who s %socket-getsockopt-int h level name)]
              [else (%us->duration
                     (call who s %socket-getsockopt-duration h level name))]))))

  (define (socket-nonblocking! s)
    (check-socket 'socket-nonblocking! s)
    (call 'socket-nonblocking! s %socket-set-nonblocking (socket-handle s) 1)
    #t)
  (define (socket-blocking! s)
    (check-socket 'socket-blocking! s)
    (call 'socket-blocking! s %socket-set-nonblocking (socket-handle s) 0)
    #t)

  ;; timeout: exact milliseconds or a duration (0: none).
  (define (socket-set-read-timeout! s timeout)
    (let ([who 'socket-set-read-timeout!])
      (check-socket who s)
      (let ([us (us-in-range
                 who
                 (cond [(nonneg? timeout) (* timeout 1000)]
                       [(%duration? timeout) (max 0 (%duration->us timeout))]
                       [else (assertion-violation
                              who
                              "Timeout value must be an exact integer (milliseconds) or time"
                              timeout)])
                 timeout)])
        (call who s %socket-set-read-timeout (socket-handle s) us))))

  (define (socket-get-read-timeout s)
    (check-socket 'socket-get-read-timeout s)
    (%us->duration (call 'socket-get-read-timeout s %socket-get-read-timeout
                         (socket-handle s))))

  ;; ==== Fdsets and select ==================================================
  (define (check-fdset who x) (check who fdset? "fdset" x))

  (define (make-fdset)
    (new-fdset (call 'make-fdset #f %fdset-new) (make-eqv-hashtable)))

  (define (sockets->fdset sockets)
    (let ([who 'sockets->fdset])
      (check who list? "list of sockets" sockets)
      (for-each (lambda (s) (check-socket who s)) sockets)
      (let ([members (make-eqv-hashtable)])
        (for-each (lambda (s) (hashtable-set! members (socket-handle s) s)) sockets)
        (new-fdset (call who #f %fdset-from-sockets (map socket-handle sockets))
                   members))))

  (define (fdset-ref fds s)
    (check-fdset 'fdset-ref fds)
    (check-socket 'fdset-ref s)
    ;; a closed socket is never set (Sagittarius)
    (and (not (socket-closed? s))
         (call 'fdset-ref s %fdset-ref (fdset-handle fds) (socket-handle s))))

  (define (fdset-set! fds s flag)
    (check-fdset 'fdset-set! fds)
    (check-socket 'fdset-set! s)
    (%with-lock (fdset-lock fds)
      (lambda ()
        (call 'fdset-set! s %fdset-set (fdset-handle fds) (socket-handle s) (if flag 1 0))
        (if flag
            (hashtable-set! (fdset-members fds) (socket-handle s) s)
            (hashtable-delete! (fdset-members fds) (socket-handle s)))))
    #t)

  (define (fdset-clear! fds)
    (check-fdset 'fdset-clear! fds)
    (%with-lock (fdset-lock fds)
      (lambda ()
        (call 'fdset-clear! #f %fdset-clear (fdset-handle fds))
        (hashtable-clear! (fdset-members fds))))
    #t)

  ;; The member sockets, in the order they were put in.
  (define (members-of who fds)
    (%with-lock (fdset-lock fds)
      (lambda ()
        (let ([members (fdset-members fds)])
          (let loop ([hs (call who #f %fdset-sockets (fdset-handle fds))] [acc '()])
            (if (null? hs)
                (reverse acc)
                (let ([s (hashtable-ref members (car hs) #f)])
                  (loop (cdr hs) (if s (cons s acc) acc)))))))))

  (define (fdset-sockets fds)
    (check-fdset 'fdset-sockets fds)
    (members-of 'fdset-sockets fds))

  (define (collect-sockets fds)
    (if (not fds)
        '()
        (begin (check-fdset 'collect-sockets fds)
               (members-of 'collect-sockets fds))))

  ;; Makes the Scheme side of an fdset agree with the library's members.
  (define (sync-members! who fds)
    (let ([keep (members-of who fds)] [members (fdset-members fds)])
      (%with-lock (fdset-lock fds)
        (lambda ()
          (hashtable-clear! members)
          (for-each (lambda (s) (hashtable-set! members (socket-handle s) s)) keep)))))

  (define (check-fdset/false who x)
    (unless (or (not x) (fdset? x))
      (assertion-violation who "fdset or #f required" x)))

  (define (select-args who r w e timeout)
    (check-fdset/false who r)
    (check-fdset/false who w)
    (check-fdset/false who e)
    (timeout->us who timeout))

  ;; 4 values: the number of ready (socket, set) pairs and new fdsets of the
  ;; ready members of each set given (#f for those not given). Interrupted:
  ;; 0 and empty sets.
  ;; A member of a read set holding buffered input (a TLS socket's
  ;; decrypted bytes) is readable at once: the select then only looks
  ;; (timeout 0) and the read set gets those members too, in the set's
  ;; order. Returns how many members `fds' gained.
  (define (add-buffered! fds order buffered)
    (let* ([before (fdset-sockets fds)]
           [keep (filter (lambda (s) (or (memq s before) (memq s buffered))) order)])
      (fdset-clear! fds)
      (for-each (lambda (s) (fdset-set! fds s #t)) keep)
      (- (length keep) (length before))))

  (define (socket-select r w e timeout)
    (let* ([who 'socket-select]
           [us (select-args who r w e timeout)]
           [order (if r (members-of who r) '())]
           [buffered (buffered-sockets order)])
      (define (handle-of x) (and x (fdset-handle x)))
      (define (wrap in h)
        (and in
             (let ([fds (new-fdset (or h (call who #f %fdset-new)) (make-eqv-hashtable))])
               (for-each (lambda (hh)
                           (let ([s (hashtable-ref (fdset-members in) hh #f)])
                             (when s (hashtable-set! (fdset-members fds) hh s))))
                         (call who #f %fdset-sockets (fdset-handle fds)))
               fds)))
      (define (answer n ro wo eo)
        (let ([rs (wrap r ro)])
          (values (if (null? buffered) n (+ n (add-buffered! rs order buffered)))
                  rs (wrap w wo) (wrap e eo))))
      (let-values ([(st n ro wo eo) (%socket-select (handle-of r) (handle-of w)
                                                    (handle-of e)
                                                    (if (null? buffered) us 0))])
        (cond [(eqv? st OK) (answer n ro wo eo)]
              [(eqv? st E_INTERRUPTED) (answer 0 #f #f #f)]
              [else (fail who st #f)]))))

  ;; As socket-select, but leaves only the ready members in the given sets,
  ;; and returns them.
  (define (socket-select! r w e timeout)
    (let* ([who 'socket-select!]
           [us (select-args who r w e timeout)]
           [order (if r (members-of who r) '())]
           [buffered (buffered-sockets order)])
      (define (plus-buffered n)
        (if (null? buffered) n (+ n (add-buffered! r order buffered))))
      (let-values ([(st n) (%socket-select-inplace (and r (fdset-handle r))
                                                   (and w (fdset-handle w))
                                                   (and e (fdset-handle e))
                                                   (if (null? buffered) us 0))])
        (cond [(eqv? st OK)
               (for-each (lambda (x) (when x (sync-members! who x))) (list r w e))
               (values (plus-buffered n) r w e)]
              [(eqv? st E_INTERRUPTED)
               (for-each (lambda (x) (when x (fdset-clear! x))) (list r w e))
               (values (plus-buffered 0) r w e)]
              [else (fail who st #f)]))))

  (define (list-select who proc timeout sockets)
    (let ([us (timeout->us who timeout)])
      (for-each (lambda (s) (check-socket who s)) sockets)
      (let-values ([(st ready) (proc us (map socket-handle sockets))])
        (cond [(eqv? st OK)
               (let loop ([hs ready] [ss sockets] [acc '()])
                 (cond [(or (null? hs) (null? ss)) (reverse acc)]
                       [(eqv? (car hs) (socket-handle (car ss)))
                        (loop (cdr hs) (cdr ss) (cons (car ss) acc))]
                       [else (loop hs (cdr ss) acc)]))]
              [(eqv? st E_INTERRUPTED) '()]
              [else (fail who st #f)]))))

  ;; A socket holding buffered input (a TLS socket's decrypted bytes) is
  ;; readable at once.
  (define (socket-read-select timeout . sockets)
    (let ([buffered (buffered-sockets sockets)])
      (if (null? buffered)
          (list-select 'socket-read-select %socket-read-select timeout sockets)
          (let ([ready (list-select 'socket-read-select %socket-read-select 0 sockets)])
            (filter (lambda (s) (or (memq s buffered) (memq s ready))) sockets)))))
  (define (socket-write-select timeout . sockets)
    (list-select 'socket-write-select %socket-write-select timeout sockets))
  (define (socket-error-select timeout . sockets)
    (list-select 'socket-error-select %socket-error-select timeout sockets))

  ;; ==== Socket selector ====================================================
  ;; docs/reference.md §7. Every socket added gets an entry, the pair a wait
  ;; reports: (socket deadline . data) as in Sagittarius (deadline: the
  ;; time-utc at which the socket's own timeout passes, or #f), under a tag
  ;; of ours that goes to the library with the socket and comes back with
  ;; it. `entries' maps a tag to its entry, `held' a socket to its tag.
  ;;
  ;; Every call that changes what the library holds runs under the
  ;; selector's lock and updates the two tables with it, except a wait,
  ;; which takes sockets out (reports them) while it blocks without the
  ;; lock; it updates the tables when it has the lock again. A socket that
  ;; is in the tables is held, closed, or reported by a wait that has not
  ;; returned yet: adding it again does nothing (as in Sagittarius, whose
  ;; wait also takes its reports off its list only after it wakes).
  (define-record-type (socket-selector %wrap-selector socket-selector?)
    (fields (immutable handle selector-handle)
            (immutable lock selector-lock)
            (immutable entries selector-entries)
            (immutable held selector-held)
            (mutable next-tag selector-next-tag selector-next-tag-set!)
            (mutable waiting selector-waiting selector-waiting-set!)
            (mutable closed selector-closed selector-closed-set!)
            ;; tags of sockets added while holding buffered input (a TLS
            ;; socket's decrypted bytes): kept here, not in the library,
            ;; and reported by the next wait at once
            (mutable buffered selector-buffered selector-buffered-set!))
    (sealed #t))

  (define (check-selector who x) (check who socket-selector? "socket-selector" x))

  (define (make-socket-selector)
    (let ([h (call 'make-socket-selector #f %selector-new)])
      (%guard! (%wrap-selector h (%make-lock) (make-eqv-hashtable) (make-eq-hashtable)
                               0 #f #f '())
               'selector h)))

  (define (socket-closed-now? s)
    (let-values ([(st closed) (%socket-is-closed (socket-handle s))])
      (or (not (eqv? st OK)) closed)))

  ;; Takes the entry of a reported or cleared tag out of the tables (#f
  ;; when it has none); with the lock held.
  (define (take-entry! sel tag)
    (let ([entry (hashtable-ref (selector-entries sel) tag #f)])
      (when entry
        (hashtable-delete! (selector-entries sel) tag)
        (when (eqv? (hashtable-ref (selector-held sel) (car entry) #f) tag)
          (hashtable-delete! (selector-held sel) (car entry))))
      entry))

  ;; Entries of sockets closed while held: the library dropped them
  ;; unreported. Looked for only when the library holds fewer sockets than
  ;; there are entries, and never while a wait runs (its reports still need
  ;; their entries).
  (define (sweep-closed! sel)
    (let-values ([(st n) (%selector-size (selector-handle sel))])
      (when (and (eqv? st OK) (> (hashtable-size (selector-entries sel)) n))
        (let-values ([(tags entries) (hashtable-entries (selector-entries sel))])
          (vector-for-each
           (lambda (tag entry)
             (when (socket-closed-now? (car entry)) (take-entry! sel tag)))
           tags entries)))))

  (define (forget-all! sel)
    (selector-buffered-set! sel '())
    (hashtable-clear! (selector-entries sel))
    (hashtable-clear! (selector-held sel)))

  ;; (socket-selector-add! sel s [timeout #f] [data #f]) => sel. A closed
  ;; socket, or one the selector holds already, is left as it is.
  (define socket-selector-add!
    (case-lambda
     [(sel s) (socket-selector-add! sel s #f #f)]
     [(sel s timeout) (socket-selector-add! sel s timeout #f)]
     [(sel s timeout data)
      (let ([who 'socket-selector-add!])
        (check-selector who sel)
        (check-socket who s)
        (let ([us (timeout->us who timeout)])
          (%with-lock (selector-lock sel)
            (lambda ()
              (cond
               [(selector-closed sel)
                ;; the library answers CLOSED (and adds nothing)
                (fail who (%selector-add (selector-handle sel) (socket-handle s) us -1) #f sel)]
               [(hashtable-contains? (selector-held sel) s)]
               [(socket-closed-now? s)]
               [else
                (let* ([tag (selector-next-tag sel)]
                       [buffered? (pair? (buffered-sockets (list s)))]
                       [st (if buffered?
                               OK
                               (%selector-add (selector-handle sel) (socket-handle s) us tag))])
                  (selector-next-tag-set! sel (+ tag 1))
                  (unless (eqv? st OK) (fail who st s sel))
                  (when buffered?
                    (selector-buffered-set! sel (cons tag (selector-buffered sel)))
                    ;; a wait blocked in another thread reports it now
                    (when (selector-waiting? sel) (%selector-interrupt (selector-handle sel))))
                  (hashtable-set! (selector-entries sel) tag
                                  (cons* s (and (>= us 0) (%us->deadline us)) data))
                  (hashtable-set! (selector-held sel) s tag))])))
          sel))]))

  ;; The entries of a wait's reports, as two lists; with the lock held.
  (define (take-reports! sel reports)
    (let loop ([reports reports] [ready '()] [timed-out '()])
      (if (null? reports)
          (begin
            (selector-waiting-set! sel #f)
            (if (selector-closed sel) (forget-all! sel) (sweep-closed! sel))
            (values (reverse ready) (reverse timed-out)))
          (let ([entry (take-entry! sel (caar reports))])
            (cond [(not entry) (loop (cdr reports) ready timed-out)]
                  [(cdar reports) (loop (cdr reports) ready (cons entry timed-out))]
                  [else (loop (cdr reports) (cons entry ready) timed-out)])))))

  ;; The waiting thread's token (%thread-token), or #f: a thread killed
  ;; in its wait (Racket) counts no more.
  (define (selector-waiting? sel)
    (let ([w (selector-waiting sel)]) (and w (%thread-token-live? w))))

  ;; (socket-selector-wait! sel [timeout #f]) => two values: the entries
  ;; that became readable and those whose own timeout passed. Blocks
  ;; without stopping other threads or the collector.
  (define socket-selector-wait!
    (case-lambda
     [(sel) (socket-selector-wait! sel #f)]
     [(sel timeout)
      (let ([who 'socket-selector-wait!])
        (check-selector who sel)
        (let*-values ([(us0) (timeout->us who timeout)]
                      [(lock) (selector-lock sel)]
                      [(capacity open-before)
                       (%with-lock lock
                         (lambda ()
                           (when (selector-waiting? sel)
                             (assertion-violation who "another thread is waiting on the selector" sel))
                           (selector-waiting-set! sel (%thread-token))
                           (values (max 16 (hashtable-size (selector-entries sel)))
                                   (not (selector-closed sel)))))]
                      ;; sockets with buffered input are ready now: only a look
                      [(us) (if (null? (selector-buffered sel)) us0 0)])
          (let-values ([(st reports)
                        ;; a wait left by an exception raised in the waiting
                        ;; thread (a Racket break) no longer counts as one
                        (let ([returned #f])
                          (dynamic-wind
                            (lambda () #f)
                            (lambda ()
                              (let-values ([(st reports)
                                            (%selector-wait (selector-handle sel) us capacity)])
                                (set! returned #t)
                                (values st reports)))
                            (lambda ()
                              (unless returned
                                (%with-lock lock (lambda () (selector-waiting-set! sel #f)))))))])
            ;; A close during the wait ends it with two empty lists, as in
            ;; Sagittarius; a selector closed before the call raises.
            (let ([failure (and (not (eqv? st OK))
                                (not (and open-before (eqv? st E_CLOSED)))
                                (failure-condition who st #f #f (list sel)))])
              (let-values ([(ready timed-out)
                            (%with-lock lock
                              (lambda ()
                                (let ([buffered (reverse (selector-buffered sel))])
                                  (selector-buffered-set! sel '())
                                  (take-reports! sel (append (map (lambda (tag) (cons tag #f)) buffered)
                                                             reports)))))])
                (if failure
                    (raise failure)
                    (values ready timed-out)))))))]))

  (define (socket-selector-interrupt! sel)
    (check-selector 'socket-selector-interrupt! sel)
    (call 'socket-selector-interrupt! #f %selector-interrupt (selector-handle sel)))

  ;; Takes every socket out of the selector; returns their entries.
  (define (socket-selector-clear! sel)
    (let ([who 'socket-selector-clear!])
      (check-selector who sel)
      (%with-lock (selector-lock sel)
        (lambda ()
          (let-values ([(st tags) (%selector-clear (selector-handle sel)
                                                   (max 16 (hashtable-size (selector-entries sel))))])
            (let* ([failure (and (not (eqv? st OK))
                                 (failure-condition who st #f #f (list sel)))]
                   [tags (let ([b (reverse (selector-buffered sel))])
                           (selector-buffered-set! sel '())
                           (append b tags))]
                   [entries (let loop ([tags tags] [acc '()])
                              (if (null? tags)
                                  (reverse acc)
                                  (let ([entry (take-entry! sel (car tags))])
                                    (loop (cdr tags) (if entry (cons entry acc) acc)))))])
              (unless (selector-waiting? sel) (sweep-closed! sel))
              (if failure (raise failure) entries)))))))

  (define (socket-selector-size sel)
    (check-selector 'socket-selector-size sel)
    (+ (call 'socket-selector-size #f %selector-size (selector-handle sel))
       (%with-lock (selector-lock sel) (lambda () (length (selector-buffered sel))))))

  (define (socket-selector-closed? sel)
    (check-selector 'socket-selector-closed? sel)
    (call 'socket-selector-closed? #f %selector-is-closed (selector-handle sel)))

  (define (socket-selector-waiting? sel)
    (check-selector 'socket-selector-waiting? sel)
    (call 'socket-selector-waiting? #f %selector-is-waiting (selector-handle sel)))

  ;; Lets every socket go (they stay open); a wait blocked on sel raises.
  (define (close-socket-selector! sel)
    (let ([who 'close-socket-selector!])
      (check-selector who sel)
      (%with-lock (selector-lock sel)
        (lambda ()
          (call who #f %selector-close (selector-handle sel))
          (selector-closed-set! sel #t)
          (unless (selector-waiting? sel) (forget-all! sel))))))

  ;; ==== Addrinfo and sockaddr ==============================================
  (define (make-addrinfo)
    (new-addrinfo (call 'make-addrinfo #f %make-addrinfo)))

  ;; (make-hint-addrinfo [family [socktype [flags [protocol]]]]), fields not
  ;; given are 0; also Sagittarius's keyword form
  ;; (make-hint-addrinfo :family AF_INET :socktype SOCK_STREAM ...).
  (define make-hint-addrinfo-proc
    (case-lambda
     [() (make-hint-addrinfo-proc 0 0 0 0)]
     [(family) (make-hint-addrinfo-proc family 0 0 0)]
     [(family socktype) (make-hint-addrinfo-proc family socktype 0 0)]
     [(family socktype flags) (make-hint-addrinfo-proc family socktype flags 0)]
     [(family socktype flags protocol)
      (let ([who 'make-hint-addrinfo])
        (for-each (lambda (x) (check-int who x)) (list family socktype flags protocol))
        (new-addrinfo (call who #f %make-hint-addrinfo family socktype flags protocol)))]))
  (define-syntax make-hint-addrinfo
    (lambda (x)
      (define keys '(:family :socktype :flags :protocol))
      (define (keyword? k) (and (identifier? k) (memq (syntax->datum k) keys)))
      (syntax-case x ()
        [(_ k v rest ...)
         (keyword? #'k)
         (let loop ([args #'(k v rest ...)] [found '()])
           (syntax-case args ()
             [() (with-syntax ([(e ...)
                                (map (lambda (key)
                                       (cond [(assq key found) => cdr] [else #'0]))
                                     keys)])
                   #'(make-hint-addrinfo-proc e ...))]
             [(k v more ...)
              (keyword? #'k)
              (loop #'(more ...) (cons (cons (syntax->datum #'k) #'v) found))]
             [_ (syntax-violation 'make-hint-addrinfo "bad keyword arguments" x)]))]
        [(_ arg ...) #'(make-hint-addrinfo-proc arg ...)]
        [id (identifier? #'id) #'make-hint-addrinfo-proc])))

  (define get-addrinfo
    (case-lambda
     [(node service) (get-addrinfo node service #f)]
     [(node service hints)
      (let ([who 'get-addrinfo])
        (check-string/false who node)
        (check-string/false who service)
        (unless (or (not hints) (addrinfo? hints))
          (assertion-violation who "addrinfo or #f required" hints))
        (let-values ([(st h) (%get-addrinfo node service
                                            (and hints (addrinfo-handle hints)))])
          (%keep-alive hints)           ; often a temporary: its handle was in use
          (if (eqv? st OK)
              (new-addrinfo h)
              (fail who st #f node service))))]))

  (define (next-addrinfo ai)
    (check-addrinfo 'next-addrinfo ai)
    (new-addrinfo (call 'next-addrinfo #f %next-addrinfo (addrinfo-handle ai))))
  (define (addrinfo-sockaddr ai)
    (check-addrinfo 'addrinfo-sockaddr ai)
    (new-sockaddr (call 'addrinfo-sockaddr #f %addrinfo-sockaddr (addrinfo-handle ai))))
  (define (addrinfo-family ai)
    (check-addrinfo 'addrinfo-family ai)
    (call 'addrinfo-family #f %addrinfo-family (addrinfo-handle ai)))
  (define (addrinfo-socktype ai)
    (check-addrinfo 'addrinfo-socktype ai)
    (call 'addrinfo-socktype #f %addrinfo-socktype (addrinfo-handle ai)))
  (define (addrinfo-flags ai)
    (check-addrinfo 'addrinfo-flags ai)
    (call 'addrinfo-flags #f %addrinfo-flags (addrinfo-handle ai)))
  (define (addrinfo-protocol ai)
    (check-addrinfo 'addrinfo-protocol ai)
    (call 'addrinfo-protocol #f %addrinfo-protocol (addrinfo-handle ai)))

  ;; ==== Sockaddrs and Unix-domain sockets (extensions, docs/reference.md §12)
  ;; An empty sockaddr (family AF_UNSPEC), for socket-recvfrom to fill.
  (define (make-sockaddr)
    (new-sockaddr (call 'make-sockaddr #f %sockaddr-new)))
  (define (sockaddr-family sa)
    (check-sockaddr 'sockaddr-family sa)
    (call 'sockaddr-family #f %sockaddr-family (sockaddr-handle sa)))
  ;; The port and ip-address of an IPv4/IPv6 sockaddr; #f for another family.
  (define (sockaddr-port sa)
    (check-sockaddr 'sockaddr-port sa)
    (let-values ([(st port) (%sockaddr-port (sockaddr-handle sa))])
      (cond [(eqv? st OK) port]
            [(eqv? st E_INVALID) #f]
            [else (fail 'sockaddr-port st #f sa)])))
  (define (sockaddr-ip-address sa)
    (check-sockaddr 'sockaddr-ip-address sa)
    (let-values ([(st h) (%sockaddr-ip-address (sockaddr-handle sa))])
      (cond [(eqv? st OK) (ip-address-from-handle 'sockaddr-ip-address h)]
            [(eqv? st E_INVALID) #f]
            [else (fail 'sockaddr-ip-address st #f sa)])))
  ;; The path of an AF_UNIX sockaddr as a string (an abstract name begins
  ;; with #\nul); #f for another family.
  (define (sockaddr-path sa)
    (check-sockaddr 'sockaddr-path sa)
    (let-values ([(st bv) (%sockaddr-path (sockaddr-handle sa))])
      (cond [(eqv? st OK) (utf8->string bv)]
            [(eqv? st E_INVALID) #f]
            [else (fail 'sockaddr-path st #f sa)])))

  ;; A path: a string (UTF-8) or a bytevector; a first #\nul (byte 0) names
  ;; Linux's abstract namespace.
  (define (path-bytes who path)
    (cond [(string? path) (string->utf8 path)]
          [(bytevector? path) path]
          [else (assertion-violation who "path must be a string or a bytevector" path)]))

  (define (make-unix-sockaddr path)
    (let ([who 'make-unix-sockaddr])
      (new-sockaddr (call who #f %make-unix-sockaddr (path-bytes who path)))))

  (define (unix-socket who maker path socktype)
    (check-int who socktype)
    (let-values ([(st h) (maker (path-bytes who path) socktype)])
      (if (eqv? st OK)
          (new-socket h)
          (fail who st #f path))))

  ;; (make-unix-client-socket path [socktype SOCK_STREAM]): connected to the
  ;; socket at path (a datagram one is bound to a name of its own first).
  (define make-unix-client-socket
    (case-lambda
     [(path) (make-unix-client-socket path SOCK_STREAM)]
     [(path socktype)
      (unix-socket 'make-unix-client-socket %make-unix-client-socket path socktype)]))

  ;; (make-unix-server-socket path [socktype SOCK_STREAM]): bound to path,
  ;; listening for stream sockets. The file stays after close.
  (define make-unix-server-socket
    (case-lambda
     [(path) (make-unix-server-socket path SOCK_STREAM)]
     [(path socktype)
      (unix-socket 'make-unix-server-socket %make-unix-server-socket path socktype)]))

  ;; (socket-pair [family AF_UNIX] [socktype SOCK_STREAM] [protocol 0]) =>
  ;; two connected sockets (socketpair(2)).
  (define socket-pair
    (case-lambda
     [() (socket-pair AF_UNIX SOCK_STREAM 0)]
     [(family) (socket-pair family SOCK_STREAM 0)]
     [(family socktype) (socket-pair family socktype 0)]
     [(family socktype protocol)
      (let ([who 'socket-pair])
        (for-each (lambda (x) (check-int who x)) (list family socktype protocol))
        (let-values ([(st a b) (%socket-pair family socktype protocol)])
          (if (eqv? st OK)
              (values (new-socket a) (new-socket b))
              (fail who st #f family socktype protocol))))]))

  ;; The socket's own address and its peer's as sockaddrs (any family); #f
  ;; when there is none.
  (define (socket-sockaddr s)
    (check-socket 'socket-sockaddr s)
    (new-sockaddr (call 'socket-sockaddr s %socket-sockaddr (socket-handle s) 0)))
  (define (socket-peer-sockaddr s)
    (check-socket 'socket-peer-sockaddr s)
    (new-sockaddr (call 'socket-peer-sockaddr s %socket-sockaddr (socket-handle s) 1)))

  ;; (socket-peer-credentials s) => three values: the peer's pid, uid, gid.
  (define (socket-peer-credentials s)
    (check-socket 'socket-peer-credentials s)
    (call 'socket-peer-credentials s %socket-peer-credentials (socket-handle s)))

  ;; ==== Ports ==============================================================
  ;; A socket port reads what one recv brings: every recv goes into the
  ;; port's own buffer and read! hands out what is there before it receives
  ;; again. Writes go to the socket at once. The buffer keeps the last bytes
  ;; handed out, so that a port can take back input it had read ahead when
  ;; the program switches from reading to writing (Chez asks for that
  ;; through set-position!).
  (define history 8192)
  (define chunk 65536)
  (define buffer-size (+ history chunk))

  (define-record-type port-state
    (fields (immutable socket)
            (mutable port)            ; the binary port, once made
            (mutable buffer) (mutable pos) (mutable end) (mutable delivered)))

  ;; Socket ports by port (binary, and textual ports made from them).
  (define ports (%make-weak-table))
  (define ports-lock (%make-lock))

  (define (port-failure who st state port read?)
    (let ([s (port-state-socket state)])
      (condition (if read? (make-i/o-read-error) (make-i/o-write-error))
                 (make-i/o-port-error port)
                 (failure-condition who st s port (list port))
                 (if read?
                     (condition)
                     (make-socket-sent-condition (failure-sent (%last-error)))))))

  (define (make-read! state who)
    (lambda (bv start n)
      (let ([pos (port-state-pos state)] [end (port-state-end state)])
        (if (< pos end)
            (serve! state bv start n)
            (let ([buf (port-state-buffer state)])
              ;; keep `history' bytes behind the refill when room is short
              (when (< (- buffer-size end) (div chunk 2))
                (let ([keep (min history end)])
                  (bytevector-copy! buf (- end keep) buf 0 keep)
                  (port-state-pos-set! state keep)
                  (port-state-end-set! state keep)))
              (let retry ()
                (let* ([end (port-state-end state)]
                       [s (port-state-socket state)])
                  (let-values ([(st got) (raw-recv s buf end (- buffer-size end) 0)])
                    (cond
                     [(eqv? st OK)
                      (if (= got 0)
                          0
                          (begin (port-state-end-set! state (+ end got))
                                 (serve! state bv start n)))]
                     [(eqv? st E_WOULD_BLOCK)
                      ;; a port waits even on a non-blocking socket
                      (let-values ([(st2 ready) (%socket-read-select -1 (list (socket-handle s)))])
                        (if (eqv? st2 OK)
                            (retry)
                            (raise (port-failure who st2 state (port-state-port state) #t))))]
                     [else (raise (port-failure who st state (port-state-port state) #t))])))))))))

  (define (serve! state bv start n)
    (let* ([pos (port-state-pos state)]
           [k (min n (- (port-state-end state) pos))])
      (bytevector-copy! (port-state-buffer state) pos bv start k)
      (port-state-pos-set! state (+ pos k))
      (port-state-delivered-set! state (+ (port-state-delivered state) k))
      k))

  (define (make-write! state who)
    (lambda (bv start n)
      (let retry ()
        (let ([s (port-state-socket state)])
          (let-values ([(st sent) (raw-send s bv start n 0)])
            (cond
             [(and (eqv? st OK) (or (> sent 0) (= n 0))) sent]
             [(or (eqv? st OK) (eqv? st E_WOULD_BLOCK))
              (let-values ([(st2 ready) (%socket-write-select -1 (list (socket-handle s)))])
                (if (eqv? st2 OK)
                    (retry)
                    (raise (port-failure who st2 state (port-state-port state) #f))))]
             [else (raise (port-failure who st state (port-state-port state) #f))]))))))

  (define (make-get-position state)
    (lambda () (port-state-delivered state)))

  (define (make-set-position! state)
    (lambda (p)
      (let ([back (- (port-state-delivered state) p)])
        (unless (and (integer? p) (exact? p) (<= 0 back (port-state-pos state)))
          (raise (condition (make-i/o-invalid-position-error p)
                            (make-who-condition 'socket-port)
                            (make-message-condition "cannot move a socket port there")
                            (make-irritants-condition (list p)))))
        (port-state-pos-set! state (- (port-state-pos state) back))
        (port-state-delivered-set! state p))))

  (define (new-socket-port who s direction close-socket?)
    (check-socket who s)
    (when (socket-closed? s)
      (raise (condition (make-socket-closed-error s) (make-who-condition who)
                        (make-message-condition "socket is closed")
                        (make-irritants-condition (list s)))))
    (let* ([state (make-port-state s #f (make-bytevector buffer-size) 0 0 0)]
           [input? (memq direction '(input input/output))]
           [output? (memq direction '(output input/output))]
           [p (%make-binary-port
               "socket-port" direction
               (and input? (make-read! state who))
               (and output? (make-write! state who))
               (make-get-position state)
               (and input? (make-set-position! state))
               (lambda () (when close-socket? (socket-close s))))])
      (port-state-port-set! state p)
      (%with-lock ports-lock (lambda () (%weak-table-set! ports p state)))
      p))

  ;; A binary input/output port; closing it closes s unless close? is #f.
  (define socket-port
    (case-lambda
     [(s) (socket-port s #t)]
     [(s close?) (new-socket-port 'socket-port s 'input/output close?)]))

  ;; SRFI 106: separate input and output ports; closing them leaves s open.
  (define (socket-input-port s) (new-socket-port 'socket-input-port s 'input #f))
  (define (socket-output-port s) (new-socket-port 'socket-output-port s 'output #f))

  ;; The state of a socket port, or of a textual port transcoded from one.
  (define (port-state-of p)
    (%with-lock ports-lock
      (lambda ()
        (or (%weak-table-ref ports p)
            (let loop ([bps (%weak-table-keys ports)])
              (cond [(null? bps) #f]
                    [(%port-transcoded-from? (car bps) p)
                     (let ([state (%weak-table-ref ports (car bps))])
                       (%weak-table-set! ports p state)
                       state)]
                    [else (loop (cdr bps))]))))))

  (define (socket-of-port who p)
    (check who port? "port" p)
    (let ([state (port-state-of p)])
      (unless state (assertion-violation who "socket port required" p))
      (port-state-socket state)))

  (define (shutdown-port p how)
    (let ([s (socket-of-port 'shutdown-port p)])
      (check-int 'shutdown-port how)
      (when (and (output-port? p) (not (= how SHUT_RD)))
        (flush-output-port p))
      (socket-shutdown s how)))
  (define (shutdown-output-port p) (shutdown-port p SHUT_WR))
  (define (shutdown-input-port p) (shutdown-port p SHUT_RD))

  ;; #t when a read from p would not block: input is buffered, arriving, or
  ;; at end of file. A failing wait raises &socket-port.
  (define (port-ready? p)
    (let ([state (begin (check 'port-ready? input-port? "input port" p)
                        (port-state-of p))])
      (cond
       [(not state) (assertion-violation 'port-ready? "socket port required" p)]
       [(port-eof-buffered? p) #t]
       [(< (port-state-pos state) (port-state-end state)) #t]
       [(pair? (buffered-sockets (list (port-state-socket state)))) #t]
       [else
        (let ([s (port-state-socket state)])
          (let-values ([(st ready) (%socket-read-select 0 (list (socket-handle s)))])
            (cond [(eqv? st OK) (pair? ready)]
                  [(eqv? st E_INTERRUPTED) #f]
                  [else (raise (condition
                                (make-socket-port-error s p)
                                (make-who-condition 'port-ready?)
                                (make-message-condition (failure-message (%last-error)))
                                (make-irritants-condition (list p))))])))])))

  ;; Whether the host port itself holds input (lookahead, decoded text).
  (define (port-eof-buffered? p) (%port-has-buffered-input? p))

  ;; ==== Constants ==========================================================
  (define-syntax define-constants
    (lambda (x)
      (syntax-case x ()
        [(_ name ...)
         (with-syntax ([(str ...) (map (lambda (n) (symbol->string (syntax->datum n)))
                                       #'(name ...))])
           #'(begin (define name (%constant str)) ...))])))

  (define-constants
    AF_UNSPEC AF_INET AF_INET6 AF_UNIX
    SOCK_STREAM SOCK_DGRAM SOCK_RAW SOCK_RDM SOCK_SEQPACKET
    AI_PASSIVE AI_CANONNAME AI_NUMERICHOST AI_NUMERICSERV
    AI_V4MAPPED AI_ALL AI_ADDRCONFIG
    IPPROTO_IP IPPROTO_TCP IPPROTO_UDP IPPROTO_RAW IPPROTO_IPV6
    IPPROTO_ICMP IPPROTO_ICMPV6
    SHUT_RD SHUT_WR SHUT_RDWR SOMAXCONN
    MSG_OOB MSG_PEEK MSG_DONTROUTE MSG_CTRUNC MSG_PROBE MSG_TRUNC
    MSG_DONTWAIT MSG_EOR MSG_WAITALL MSG_FIN MSG_SYN MSG_CONFIRM
    MSG_RST MSG_ERRQUEUE MSG_NOSIGNAL MSG_MORE MSG_EOF
    SOL_SOCKET SOL_TCP SOL_IP
    SO_ACCEPTCONN SO_BINDTODEVICE SO_BROADCAST SO_DEBUG SO_DONTROUTE
    SO_ERROR SO_KEEPALIVE SO_LINGER SO_OOBINLINE SO_PASSCRED
    SO_PEERCRED SO_PRIORITY SO_RCVBUF SO_RCVLOWAT SO_RCVTIMEO
    SO_REUSEADDR SO_REUSEPORT SO_SNDBUF SO_SNDLOWAT SO_SNDTIMEO
    SO_TIMESTAMP SO_TYPE
    TCP_NODELAY TCP_MAXSEG TCP_CORK
    IP_OPTIONS IP_PKTINFO IP_RECVTOS IP_RECVTTL IP_RECVOPTS IP_TOS
    IP_TTL IP_HDRINCL IP_RECVERR IP_MTU_DISCOVER IP_MTU
    IP_ROUTER_ALERT IP_MULTICAST_TTL IP_MULTICAST_LOOP
    IP_ADD_MEMBERSHIP IP_DROP_MEMBERSHIP IP_MULTICAST_IF IPV6_V6ONLY
    EAGAIN EWOULDBLOCK EPIPE EINTR ETIMEDOUT EINPROGRESS)
)
