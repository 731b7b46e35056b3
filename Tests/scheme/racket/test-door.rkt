#lang racket/base
;;; Tests of (require sagsocket), the #lang racket door
;;; (bindings/racket/sagsocket/main.rkt), on loopback only. Run by
;;; Tests/scheme/run.sh --racket:
;;;   PLTCOLLECTS="RACKETDIR:" raco test test-door.rkt
;;; Nothing here measures time: a test that another thread ran while one
;;; waited counts what the other did meanwhile.
(require rackunit
         racket/list
         sagsocket)

;; A test case whose value is not printed.
(define-syntax-rule (test name body ...) (void (test-case name body ...)))

(define (port-of server) (number->string (socket-info-port (socket-info server))))
(define (connected-pair)
  (let* ([server (make-server-socket "0")]
         [c (make-client-socket "127.0.0.1" (port-of server))]
         [s (socket-accept server)])
    (socket-close server)
    (values c s)))
;; A loopback port nobody listens on: one a server had, now closed.
(define (free-port)
  (let* ([server (make-server-socket "0")] [p (port-of server)])
    (socket-close server)
    p))
(define (ip4-hint) (make-hint-addrinfo #:family AF_INET #:socktype SOCK_STREAM))

(test "the door provides every procedure of (sagittarius socket)"
  ;; all but the condition types (&...), their constructors (make-...-error,
  ;; make-socket-sent-condition) and the %-names (rfc tls)
  (define-values (r6 _s) (module->exports '(lib "sagittarius/socket.sls")))
  (define-values (door _d) (module->exports 'sagsocket))
  (define (names l) (for*/list ([phase l] #:when (eqv? (car phase) 0) [x (cdr phase)]) (car x)))
  (define wanted
    (for/list ([n (names r6)]
               #:unless (regexp-match? #rx"^[%&]|^make-.*-(error|condition)$" (symbol->string n)))
      n))
  (check-true (> (length wanted) 200))
  (check-equal? (remove* (names door) wanted) '())
  (check-equal? AF_INET 2)
  (check-true (socket? (make-socket AF_INET SOCK_STREAM)))
  (check-false (socket? 'no)))

(test "an echo round trip, with a server thread"
  (let* ([server (make-server-socket "0" AF_INET)]
         [t (thread (lambda ()
                      (call-with-socket (socket-accept server)
                        (lambda (s) (let loop ()
                                      (let ([b (socket-recv s 100)])
                                        (unless (equal? b #"")
                                          (socket-send s b)
                                          (loop))))))))]
         [c (make-client-socket "127.0.0.1" (port-of server))])
    (check-equal? (socket-send c #"ping") 4)
    (check-equal? (socket-recv c 100) #"ping")
    (let ([bs (make-bytes 10 0)])
      (socket-send c #"abc")
      (check-equal? (socket-recv! c bs 2 8) 3)
      (check-equal? (subbytes bs 0 5) #"\0\0abc"))
    (socket-shutdown c SHUT_WR)
    (check-equal? (socket-recv c 10) #"")
    (thread-wait t)
    (socket-close c)
    (socket-close server)))

(test "Racket lists in and out"
  (let ([servers (make-server-socket* "0" AF_INET)])
    (check-true (list? servers))
    (check-true (andmap socket? servers))
    (for-each socket-close servers))
  (let-values ([(c s) (connected-pair)])
    (socket-send c #"x")
    ;; a timeout as a Racket pair (seconds . microseconds)
    (check-equal? (socket-read-select '(5 . 0) s c) (list s))
    (let ([fds (sockets->fdset (list c s))])
      (check-true (fdset? fds))
      (check-equal? (length (fdset-sockets fds)) 2))
    (socket-close c) (socket-close s)))

(test "keywords: make-hint-addrinfo, socket-info-values"
  (let ([h (make-hint-addrinfo #:family AF_INET6 #:socktype SOCK_DGRAM #:flags AI_NUMERICHOST)])
    (check-equal? (addrinfo-family h) AF_INET6)
    (check-equal? (addrinfo-socktype h) SOCK_DGRAM)
    (check-equal? (addrinfo-flags h) AI_NUMERICHOST)
    (check-equal? (addrinfo-protocol h) 0))
  (check-equal? (addrinfo-family (make-hint-addrinfo)) 0)
  (check-exn exn:fail:contract? (lambda () (make-hint-addrinfo #:famly AF_INET)))
  (let-values ([(c s) (connected-pair)])
    (let-values ([(host ip port) (socket-info-values c #:type 'info)])
      (check-equal? (ip-address->string ip) "127.0.0.1")
      (check-equal? port (socket-info-port (socket-info c))))
    (let-values ([(host ip port) (socket-info-values c)])   ; #:type 'peer
      (check-equal? port (socket-info-port (socket-info s))))
    (check-exn exn:fail:contract? (lambda () (socket-info-values c #:type 'nowhere)))
    (socket-close c) (socket-close s)))

(test "exn structs: host not found"
  (define (service-of e) (exn:fail:network:host-not-found-service e))
  ;; an invalid service
  (let ([e (with-handlers ([values values]) (make-client-socket "127.0.0.1" "no-such-service-name"))])
    (check-pred exn:fail:network:host-not-found? e)
    (check-pred exn:fail:network? e)
    (check-pred host-not-found-error? e)
    (check-equal? (host-not-found-error-node e) "127.0.0.1")
    (check-equal? (service-of e) "no-such-service-name")
    (check-regexp-match #rx"^make-client-socket: " (exn-message e)))
  ;; AI_NUMERICHOST and a string that is no address
  (let ([e (with-handlers ([values values])
             (get-addrinfo "300.1.2.3" "80" (make-hint-addrinfo #:flags AI_NUMERICHOST)))])
    (check-pred exn:fail:network:host-not-found? e)
    (check-equal? (exn:fail:network:host-not-found-node e) "300.1.2.3"))
  ;; a refused connection is a host not found in make-client-socket, as
  ;; in Sagittarius (no address accepted a connection)
  (check-exn exn:fail:network:host-not-found?
             (lambda () (make-client-socket "127.0.0.1" (free-port)))))

(test "exn structs: connection refused"
  (let* ([s (make-socket AF_INET SOCK_STREAM)]
         [ai (get-addrinfo "127.0.0.1" (free-port) (ip4-hint))]
         [e (with-handlers ([values values]) (socket-connect! s ai 5000000))])
    (check-pred exn:fail:network:socket:connection? e)
    (check-pred exn:fail:network:socket? e)
    (check-pred socket-connection-error? e)
    (check-eq? (socket-error-socket e) s)
    (check-false (socket-sent-condition? e))
    (check-regexp-match #rx"^socket-connect!: " (exn-message e))
    (socket-close s))
  (check-exn exn:fail:network:socket:connection?
             (lambda () (make-unix-client-socket "/nonexistent/sagsocket-door.sock"))))

(test "exn structs: read timeout"
  (let-values ([(c s) (connected-pair)])
    (socket-set-read-timeout! c 50)     ; milliseconds
    (let ([e (with-handlers ([values values]) (socket-recv c 10))])
      (check-pred exn:fail:network:socket:read-timeout? e)
      (check-pred socket-read-timeout-error? e)
      (check-eq? (socket-error-socket e) c)
      (check-equal? (socket-read-timeout-error-timeout e)
                    (socket-get-read-timeout c)))
    ;; the socket is still usable
    (socket-send s #"after")
    (check-equal? (socket-recv c 10) #"after")
    ;; through a port: read-line raises the same struct
    (let ([p (socket-input-port c)])
      (check-exn exn:fail:network:socket:read-timeout? (lambda () (read-line p))))
    (socket-close c) (socket-close s)))

(test "exn structs: closed socket"
  (let-values ([(c s) (connected-pair)])
    (socket-close c)
    (let ([e (with-handlers ([values values]) (socket-send c #"x"))])
      (check-pred exn:fail:network:socket:closed? e)
      (check-pred socket-closed-error? e)
      (check-eq? (socket-error-socket e) c)
      (check-equal? (socket-sent-count e) 0))
    (check-exn exn:fail:network:socket:closed? (lambda () (socket-recv c 1)))
    (check-exn exn:fail:network:socket:closed? (lambda () (socket-fd c)))
    (socket-close s)))

(test "exn structs: a port's socket closed under it"
  (let-values ([(c s) (connected-pair)])
    (let ([p (socket-input-port c)])
      (socket-close c)
      ;; the wait for input fails: &socket-port, naming the program's port
      (let ([e (with-handlers ([values values]) (read-bytes 1 p))])
        (check-pred exn:fail:network:socket:port? e)
        (check-pred socket-port-error? e)
        (check-eq? (socket-error-port e) p)
        (check-eq? (socket-error-socket e) c))
      (check-exn exn:fail:network:socket:port? (lambda () (port-ready? p))))
    (socket-close s)))

(test "exn structs: bad arguments are exn:fail:contract"
  (check-exn exn:fail:contract? (lambda () (make-client-socket 1 "80")))
  (check-exn exn:fail:contract? (lambda () (socket-recv 'no 10)))
  (check-exn exn:fail:contract? (lambda () (socket-read-select -5)))
  (check-exn exn:fail:contract? (lambda () (port-ready? (open-input-bytes #"")))))

(test "ports: read-line, write-string, read-bytes, sync, port-ready?"
  (let-values ([(c s) (connected-pair)])
    (let ([cp (socket-port c)] [sp (socket-port s)])
      (check-true (input-port? cp))
      (check-true (output-port? cp))
      (check-false (port-ready? sp))
      (check-false (sync/timeout 0 sp))
      (check-false (port-ready? sp))
      (write-string "first line\nsecond" cp)
      (flush-output cp)
      (check-eq? (sync/timeout 10 sp) sp)
      (check-true (port-ready? sp))
      (check-equal? (peek-bytes 5 0 sp) #"first")
      (check-true (port-ready? sp))          ; the peeked bytes count
      (check-equal? (read-line sp) "first line")
      (write-string " half\r\nthird\n" cp)
      (check-equal? (read-line sp 'return-linefeed) "second half")
      (check-equal? (read-bytes 6 sp) #"third\n")
      (write-string "ソケット\n" cp)
      (check-equal? (read-line sp) "ソケット")
      (shutdown-output-port cp)
      (check-true (eof-object? (read-line sp)))
      (check-true (port-ready? sp))
      (close-output-port sp) (close-input-port sp)
      (check-true (socket-closed? s))
      (close-output-port cp) (close-input-port cp))
    (socket-close c)))

(test "another Racket thread runs while one waits"
  (let-values ([(c s) (connected-pair)])
    ;; The answer comes only after the ticker has ticked 20 times after
    ;; the wait began: it can come only if the ticker runs during the wait.
    (define ticks 0)
    (define ticker (thread (lambda () (let loop () (set! ticks (+ ticks 1)) (sleep 0.001) (loop)))))
    (define started (make-semaphore 0))
    (define answerer
      (thread (lambda ()
                (semaphore-wait started)
                (let ([t0 ticks])
                  (let loop ([i 0]) (when (and (< (- ticks t0) 20) (< i 100000)) (sleep 0.001) (loop (+ i 1)))))
                (socket-send s #"late"))))
    (socket-set-read-timeout! c 20000)  ; a bound, not a measure
    (semaphore-post started)
    (check-equal? (socket-recv c 10) #"late")
    (check-true (>= ticks 20))
    (kill-thread ticker)
    (thread-wait answerer)
    (socket-close c) (socket-close s)))

(test "custodian shutdown closes the door's sockets"
  (let* ([server (make-server-socket "0")]
         [cust (make-custodian)]
         [c (parameterize ([current-custodian cust]) (make-client-socket "127.0.0.1" (port-of server)))]
         [s (socket-accept server)])
    (check-false (socket-closed? c))
    (custodian-shutdown-all cust)
    (check-true (socket-closed? c))
    (socket-set-read-timeout! s 10000)
    (check-equal? (socket-recv s 10) #"")
    (socket-close s) (socket-close server)))
