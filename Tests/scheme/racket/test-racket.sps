;;; Racket-only tests of (sagittarius socket) under plt-r6rs: Racket's green
;;; threads go on while other threads wait on sockets, breaks reach waiting
;;; threads, custodians close sockets. Run by Tests/scheme/run.sh --racket:
;;;   plt-r6rs ++path RACKETDIR ++path Tests/scheme/racket test-racket.sps [resolver]
;;; With the argument `resolver' (and SAGSOCKET_RACKET_RESOLVER_DELAY_US
;;; set, which makes every resolution sleep that long in its OS thread first)
;;; it runs only the resolver test.
;;; Nothing here measures time: a test shows that a thread made progress
;;; while another waited, by counting what happened meanwhile.
(import (rnrs) (sagittarius socket)
        (only (racket base) thread thread-wait break-thread sleep with-handlers
              exn:break? make-semaphore semaphore-post semaphore-wait sync/timeout
              make-custodian current-custodian custodian-shutdown-all parameterize
              printf flush-output)
        (only (racket base) exn:fail:contract? kill-thread collect-garbage directory-list
              thread-dead?)
        (prefix (only (racket base) length) racket:)
        (only (sagsocket private host) socket-handle-waiters %socket-connect %selector-wait
                                          %selector-new %selector-close %get-addrinfo
                                          socket-os-thread-calls))

(define passed 0)
(define failed 0)
(define (check name ok)
  (if ok
      (set! passed (+ passed 1))
      (begin (set! failed (+ failed 1)) (printf "FAIL ~a\n" name) (flush-output))))
(define (port-of server) (number->string (socket-info-port (socket-info server))))

;; A thread that ticks every millisecond until (stop) is called; (ticks)
;; is how many times it has ticked.
(define (ticker)
  (let ([n 0] [stop? #f])
    (let ([t (thread (lambda () (let loop () (unless stop? (set! n (+ n 1)) (sleep 0.001) (loop)))))])
      (values (lambda () n) (lambda () (set! stop? #t) (thread-wait t))))))

;; Waits (at most 1,000 times 10 ms) until (pred) holds.
(define (until pred) (let loop ([i 0]) (unless (or (pred) (= i 1000)) (sleep 0.01) (loop (+ i 1)))))

(define (serve-50)
  ;; A server thread accepts 50 clients, each served by a thread of its own
  ;; that reads a line and answers only once the ticker has ticked 20 more
  ;; times: the answers can come only if the ticker runs while 50 client
  ;; threads wait in socket-recv and the server in socket-accept.
  (let-values ([(ticks stop) (ticker)])
    (let* ([server (make-server-socket "0")]
           [port (port-of server)]
           [accepted 0]
           [server-thread
            (thread
             (lambda ()
               (let loop ([i 0])
                 (when (< i 50)
                   (let ([s (socket-accept server)])
                     (set! accepted (+ accepted 1))
                     (thread
                      (lambda ()
                        (let* ([req (socket-recv s 100)] [t0 (ticks)])
                          (let wait () (when (< (ticks) (+ t0 20)) (sleep 0.001) (wait)))
                          (socket-send s (bytevector-append (string->utf8 "re:") req))
                          (socket-close s))))
                     (loop (+ i 1)))))))]
           [t-accept (begin (until (lambda () (= 1 (socket-handle-waiters (%socket-handle server)))))
                            (ticks))]
           [_ (until (lambda () (> (ticks) (+ t-accept 10))))]
           [results (make-vector 50 #f)]
           [clients
            (map (lambda (i)
                   (thread
                    (lambda ()
                      (let ([c (make-client-socket "127.0.0.1" port)])
                        (socket-send c (string->utf8 (number->string i)))
                        (let loop ([acc #vu8()])
                          (let ([b (socket-recv c 100)])
                            (if (= 0 (bytevector-length b))
                                (vector-set! results i (utf8->string acc))
                                (loop (bytevector-append acc b)))))
                        (socket-close c)))))
                 (iota 50))])
      (check "the ticker ticked while the server waited in socket-accept"
             (> (ticks) (+ t-accept 10)))
      (for-each thread-wait clients)
      (thread-wait server-thread)
      (stop)
      (check "50 clients at once: every answer" 
             (equal? (vector->list results)
                     (map (lambda (i) (string-append "re:" (number->string i))) (iota 50))))
      (check "50 clients accepted" (= accepted 50))
      (socket-close server))))

(define (iota n) (let loop ([i (- n 1)] [acc '()]) (if (< i 0) acc (loop (- i 1) (cons i acc)))))
(define (bytevector-append a b)
  (let ([r (make-bytevector (+ (bytevector-length a) (bytevector-length b)))])
    (bytevector-copy! a 0 r 0 (bytevector-length a))
    (bytevector-copy! b 0 r (bytevector-length a) (bytevector-length b))
    r))

;; Runs thunk in a thread; returns a procedure that breaks the thread and
;; answers 'broken when the break ended it, or what it returned.
(define (breakable thunk)
  (let* ([result 'running]
         [t (thread (lambda ()
                      (set! result (with-handlers ([exn:break? (lambda (e) 'broken)]) (thunk)))))])
    (lambda () (break-thread t) (sync/timeout 10 t) result)))

(define (breaks)
  ;; a thread blocked in socket-accept
  (let* ([server (make-server-socket "0")]
         [b (breakable (lambda () (socket-accept server)))])
    (until (lambda () (= 1 (socket-handle-waiters (%socket-handle server)))))
    (check "a thread waits in socket-accept" (= 1 (socket-handle-waiters (%socket-handle server))))
    (check "break-thread ends a wait in socket-accept" (eq? 'broken (b)))
    (check "the wait is gone" (= 0 (socket-handle-waiters (%socket-handle server))))
    (let* ([c (make-client-socket "127.0.0.1" (port-of server))] [s (socket-accept server)])
      (check "the server socket accepts after the break" (socket? s))
      (socket-close c) (socket-close s))
    (socket-close server))
  ;; a thread blocked in socket-recv
  (let-values ([(c s) (socket-pair AF_UNIX SOCK_STREAM 0)])
    (let ([b (breakable (lambda () (socket-recv c 10)))])
      (until (lambda () (= 1 (socket-handle-waiters (%socket-handle c)))))
      (check "a thread waits in socket-recv" (= 1 (socket-handle-waiters (%socket-handle c))))
      (check "break-thread ends a wait in socket-recv" (eq? 'broken (b)))
      (socket-send s #vu8(7))
      (check "the socket receives after the break" (equal? #vu8(7) (socket-recv c 10)))
      (socket-close c) (socket-close s)))
  ;; a thread blocked in a socket selector's wait
  (let-values ([(c s) (socket-pair AF_UNIX SOCK_STREAM 0)])
    (let* ([sel (make-socket-selector)]
           [_ (socket-selector-add! sel c)]
           [b (breakable (lambda () (socket-selector-wait! sel)))])
      (until (lambda () (socket-selector-waiting? sel)))
      (check "a thread waits in socket-selector-wait!" (socket-selector-waiting? sel))
      (check "break-thread ends a selector's wait" (eq? 'broken (b)))
      (until (lambda () (not (socket-selector-waiting? sel))))
      (check "the selector no longer waits" (not (socket-selector-waiting? sel)))
      (check "the socket stays in the selector" (= 1 (socket-selector-size sel)))
      (socket-send s #vu8(1))
      (let-values ([(ready timed-out) (socket-selector-wait! sel 5000000)])
        (check "the selector reports the socket after the break" (= 1 (length ready))))
      (close-socket-selector! sel)
      (socket-close c) (socket-close s))))

;; Racket 8.7's own R6RS custom output ports hand write! an end index where
;; R6RS says a count: a put of a range that does not start at 0 shows it.
(define (port-ranges)
  (let-values ([(c s) (socket-pair AF_UNIX SOCK_STREAM 0)])
    (let ([p (socket-port c #f)])
      (put-bytevector p #vu8(0 1 2 3 4 5 6 7 8 9) 3 5)
      (check "put-bytevector of bytes 3 to 7 sends those five" (equal? #vu8(3 4 5 6 7) (socket-recv s 10)))
      (put-bytevector p #vu8(0 1 2 3 4 5 6 7 8 9) 6 4)
      (check "put-bytevector of the last four" (equal? #vu8(6 7 8 9) (socket-recv s 10))))
    (socket-close c) (socket-close s)))

(define (custodians)
  (let* ([server (make-server-socket "0")]
         [cust (make-custodian)]
         [c (parameterize ([current-custodian cust]) (make-client-socket "127.0.0.1" (port-of server)))]
         [s (socket-accept server)])
    (check "a socket made under a custodian is open" (not (socket-closed? c)))
    (custodian-shutdown-all cust)
    (check "custodian-shutdown-all closes it" (socket-closed? c))
    (socket-set-read-timeout! s 5000000)
    (check "the peer sees the end of the stream" (equal? #vu8() (socket-recv s 10)))
    (socket-close s) (socket-close server)))

;; The host's procedures that call the library in an OS thread check their
;; arguments on the Racket thread first: an exception in the OS thread
;; would end the process.
(define (os-thread-arguments)
  (let*-values ([(server) (make-server-socket "0")]
                [(ai) (get-addrinfo "127.0.0.1" (port-of server) (make-hint-addrinfo AF_INET SOCK_STREAM AI_NUMERICHOST))]
                [(s) (create-socket ai)]
                [(st-ai ai-handle) (%get-addrinfo "127.0.0.1" (port-of server) #f)]
                [(st-sel sel) (%selector-new)]
                [(raises?) (lambda (thunk) (with-handlers ([exn:fail:contract? (lambda (e) #t)]) (thunk) #f))])
    (check "the host's connect refuses a timeout of 2^63 us on Racket's thread"
           (raises? (lambda () (%socket-connect (%socket-handle s) ai-handle (expt 2 63)))))
    (check "the host's selector wait refuses a timeout of 2^63 us on Racket's thread"
           (raises? (lambda () (%selector-wait sel (expt 2 63) 4))))
    (check "the socket connects afterwards" (eq? s (socket-connect! s ai 5000000)))
    (%selector-close sel)
    (socket-close s) (socket-close server)))

;; get-addrinfo of an address getaddrinfo reads as numeric runs on Racket's
;; thread; of anything else (which glibc may hand to DNS) in an OS thread. AI_NUMERICHOST keeps
;; getaddrinfo from asking DNS at all here: the OS-thread counter shows
;; where each call went.
(define (numeric-addresses)
  (define (where node)
    (let ([n0 (socket-os-thread-calls)])
      (guard (e [(host-not-found-error? e) #t])
        (get-addrinfo node "80" (make-hint-addrinfo 0 SOCK_STREAM AI_NUMERICHOST)))
      (if (= n0 (socket-os-thread-calls)) 'here 'os-thread)))
  (for-each (lambda (node)
              (check (string-append node ": on Racket's thread") (eq? 'here (where node))))
            '("127.0.0.1" "255.255.255.255" "::1" "::ffff:127.0.0.1" "1:2:3:4:5:6:7:8"))
  (for-each (lambda (node)
              (check (string-append node ": in an OS thread") (eq? 'os-thread (where node))))
            '("300.1.1.1" "1.2.3.4.5" "fe:fe" "1::2::3" "12345::1" "1:2:3:4:5:6:7:8:9" "localhost")))

;; A close with SO_LINGER {1, 1 s} and unsent data waits in close(2) for
;; the linger time: in an OS thread, while the ticker goes on.
(define (lingering-close)
  (let-values ([(ticks stop) (ticker)])
    (let* ([server (make-server-socket "0")]
           [c (make-client-socket "127.0.0.1" (port-of server))]
           [peer (socket-accept server)]            ; never reads
           [linger (make-bytevector 8 0)]
           [chunk (make-bytevector 65536 1)])
      (bytevector-s32-native-set! linger 0 1)
      (bytevector-s32-native-set! linger 4 1)
      (socket-setsockopt! c SOL_SOCKET SO_LINGER linger)
      (let loop ([i 0])
        (when (and (< i 1000) (> (socket-send c chunk MSG_DONTWAIT) 0)) (loop (+ i 1))))
      (let ([t0 (ticks)])
        (socket-close c)
        (check "the ticker ticked while a lingering close waited" (> (ticks) (+ t0 10)))
        (check "the socket is closed" (socket-closed? c)))
      (stop)
      (socket-close peer) (socket-close server))))

;; kill-thread of a waiting thread leaves nothing behind: no waiter, no
;; busy handle (the sockets are freed once dropped), no selector waiting.
(define (open-fds) (racket:length (directory-list "/proc/self/fd")))
(define (kills)
  (let ([before (begin (collect-garbage) (open-fds))])
    (let loop ([i 0])
      (when (< i 20)
        (let-values ([(a b) (socket-pair)])
          (let ([t (thread (lambda () (socket-recv a 10)))])
            (until (lambda () (= 1 (socket-handle-waiters (%socket-handle a)))))
            (kill-thread t)
            (when (= i 0)
              (check "a killed recv leaves no waiter" (= 0 (socket-handle-waiters (%socket-handle a)))))))
        (loop (+ i 1))))
    ;; finalizers run in a thread of their own: wait (bounded) for them
    (until (lambda () (collect-garbage) (<= (open-fds) before)))
    (check "20 socket pairs whose reader was killed are freed once dropped" (<= (open-fds) before)))
  (let-values ([(c s) (socket-pair AF_UNIX SOCK_STREAM 0)])
    (let* ([sel (make-socket-selector)]
           [_ (socket-selector-add! sel c)]
           [t (thread (lambda () (socket-selector-wait! sel)))])
      (until (lambda () (socket-selector-waiting? sel)))
      (check "a thread waits in socket-selector-wait! (to be killed)" (socket-selector-waiting? sel))
      (kill-thread t)
      (until (lambda () (not (socket-selector-waiting? sel))))
      (check "killing it ends the selector's wait" (not (socket-selector-waiting? sel)))
      (socket-send s #vu8(1))
      (let-values ([(ready timed-out) (socket-selector-wait! sel 5000000)])
        (check "the selector reports the socket after the kill" (= 1 (length ready))))
      (close-socket-selector! sel)
      (socket-close c) (socket-close s)))
  ;; a thread under a custodian waits on a socket made outside it
  (let-values ([(x y) (socket-pair)])
    (let ([cust (make-custodian)])
      (parameterize ([current-custodian cust]) (thread (lambda () (socket-recv x 10))))
      (until (lambda () (= 1 (socket-handle-waiters (%socket-handle x)))))
      (custodian-shutdown-all cust)
      (check "a custodian's shutdown leaves no waiter on a socket made outside it"
             (= 0 (socket-handle-waiters (%socket-handle x))))
      (check "which stays open" (not (socket-closed? x)))
      (socket-send y #vu8(9))
      (check "and receives" (equal? #vu8(9) (socket-recv x 10)))
      (socket-close x) (socket-close y))))

;; Socket ports: Racket calls a port's procedures with breaks disabled;
;; they do not wait (they hand Racket what to wait on), so a break ends a
;; read or a write that waits, and a kill leaves the port working.
(define (port-breaks)
  (let-values ([(a b) (socket-pair)])
    (let* ([p (socket-input-port a)]
           [brk (breakable (lambda () (get-u8 p)))])
      (sleep 0.1)                       ; the thread waits (no count to watch)
      (check "break-thread ends a get-u8 that waits" (eq? 'broken (brk)))
      (socket-send b #vu8(5))
      (check "the port reads after the break" (eqv? 5 (get-u8 p))))
    (let* ([tp (transcoded-port (socket-input-port a) (native-transcoder))]
           [brk (breakable (lambda () (get-line tp)))])
      (sleep 0.1)                       ; the thread waits (no count to watch)
      (check "break-thread ends a get-line that waits" (eq? 'broken (brk)))
      (socket-send b (string->utf8 "line\n"))
      (check "the textual port reads after the break" (equal? "line" (get-line tp))))
    (let* ([p (socket-input-port a)]
           [t (thread (lambda () (get-u8 p)))])
      (sleep 0.1)                       ; the thread waits (no count to watch)
      (kill-thread t)
      (socket-send b #vu8(6))
      (let* ([got #f] [t2 (thread (lambda () (set! got (get-u8 p))))])
        (sync/timeout 10 t2)
        (check "after a kill in get-u8, another thread's get-u8 reads" (eqv? got 6))))
    (let* ([out (socket-output-port a)]
           [brk (breakable (lambda () (put-bytevector out (make-bytevector 8000000 1))))])
      (sleep 0.1)                       ; the thread waits (no count to watch)
      (check "break-thread ends a put-bytevector to a peer that does not read" (eq? 'broken (brk))))
    (socket-close a) (socket-close b))
  ;; threads killed while they ask a socket port's state (which takes the
  ;; ports' lock): other threads still make and use socket ports
  (let-values ([(a b) (socket-pair)])
    (let loop ([i 0] [ok #t])
      (if (= i 20)
          (check "20 threads killed in port-ready?: socket-port still works" ok)
          (let ([t (thread (lambda ()
                             (let forever ()
                               (port-ready? (transcoded-port (socket-input-port a) (native-transcoder)))
                               (forever))))])
            (sleep (/ i 1000.))
            (kill-thread t)
            (let ([t2 (thread (lambda () (socket-port a #f)))])
              (loop (+ i 1) (and ok (sync/timeout 10 t2) #t))))))
    (socket-close a) (socket-close b)))

;; socket-connect! waits in Racket's scheduler, not in an OS thread: a
;; connect to a loopback listener whose backlog is full (Linux drops the
;; SYNs a full accept queue would take) stays under way while the ticker
;; ticks; a break, an interrupt, a close and its timeout end it.
(define (full-listener)
  ;; a listener with backlog 0 that nobody accepts from, filled with
  ;; connections until one does not complete within 200 ms: (values
  ;; listener addrinfo sockets), or #f for the listener when none waited
  ;; within 20 tries
  (let* ([ai (get-addrinfo "127.0.0.1" "0" (make-hint-addrinfo AF_INET SOCK_STREAM AI_NUMERICHOST))]
         [l (create-socket ai)])
    (socket-bind! l ai)
    (socket-listen! l 0)
    (let ([target (get-addrinfo "127.0.0.1" (port-of l) (make-hint-addrinfo AF_INET SOCK_STREAM AI_NUMERICHOST))])
      (let loop ([i 0] [kept '()])
        (if (= i 20)
            (values #f target kept)
            (let* ([c (create-socket target)]
                   [ok (guard (e [(socket-connection-error? e) #f]) (socket-connect! c target 200000))])
              (if ok
                  (loop (+ i 1) (cons c kept))
                  (values l target (cons c kept)))))))))

;; A receive whose last wait blocked waits on the socket's event before it
;; calls the library: every way a wait ends still ends that one (an
;; interrupt, a break, data, the read timeout, a close), and a socket made
;; non-blocking meanwhile answers at once (the host keeps the socket's
;; mode and forgets it when the mode changes).
(define (waits-first)
  (let-values ([(c s) (socket-pair AF_UNIX SOCK_STREAM 0)])
    (define (waiting) (until (lambda () (= 1 (socket-handle-waiters (%socket-handle c))))))
    (define (outcome thunk)
      (let* ([result 'running]
             [t (thread (lambda ()
                          (set! result (guard (e [(socket-read-timeout-error? e) 'timeout]
                                                 [(socket-error? e) 'raised])
                                         (thunk)))))])
        (values t (lambda () (sync/timeout 10 t) result))))
    ;; a receive that blocked: the next one waits first
    (let-values ([(t result) (outcome (lambda () (socket-recv c 10)))])
      (waiting)
      (socket-send s #vu8(1))
      (check "a receive that waited gets the data" (equal? #vu8(1) (result))))
    (let-values ([(t result) (outcome (lambda () (socket-recv c 10)))])
      (waiting)
      (socket-interrupt! c)
      (check "socket-interrupt! ends a receive that waits first" (eq? 'raised (result))))
    (let ([b (breakable (lambda () (socket-recv c 10)))])
      (waiting)
      (check "break-thread ends a receive that waits first" (eq? 'broken (b)))
      (check "and leaves no waiter" (= 0 (socket-handle-waiters (%socket-handle c)))))
    (let-values ([(t result) (outcome (lambda () (socket-recv c 10)))])
      (waiting)
      (socket-send s #vu8(2 3))
      (check "a receive that waits first gets the data" (equal? #vu8(2 3) (result))))
    (let-values ([(t result) (outcome (lambda () (socket-recv c 10)))])
      (waiting)
      (kill-thread t)
      (check "a killed receive that waited first leaves no waiter"
             (= 0 (socket-handle-waiters (%socket-handle c)))))
    (socket-set-read-timeout! c 50)             ; milliseconds
    (let-values ([(t result) (outcome (lambda () (socket-recv c 10)))])
      (check "the read timeout set after the socket's mode was kept ends the wait"
             (eq? 'timeout (result))))
    (socket-set-read-timeout! c 0)
    (socket-nonblocking! c)
    (check "a socket made non-blocking after a wait answers at once" (not (socket-recv c 10)))
    (socket-blocking! c)
    (socket-send s #vu8(4))
    (check "and receives once blocking again" (equal? #vu8(4) (socket-recv c 10)))
    (let-values ([(t result) (outcome (lambda () (socket-recv c 10)))])
      (waiting)
      (socket-close c)
      (check "socket-close ends a receive that waits first" (eq? 'raised (result))))
    (socket-close s)))

(define (connects)
  (let-values ([(l target kept) (full-listener)])
    (check "a connect to a full backlog waits (times out within 200 ms)" l)
    (when l
      (let ([waiting (lambda (c) (until (lambda () (= 1 (socket-handle-waiters (%socket-handle c))))))])
        ;; a break, while the ticker ticks
        (let-values ([(ticks stop) (ticker)])
          (let* ([c (create-socket target)]
                 [os0 (socket-os-thread-calls)]
                 [b (breakable (lambda () (socket-connect! c target)))])
            (waiting c)
            (check "a thread waits in socket-connect!" (= 1 (socket-handle-waiters (%socket-handle c))))
            (let ([t0 (ticks)])
              (until (lambda () (> (ticks) (+ t0 10))))
              (check "the ticker ticked while a thread waited in socket-connect!" (> (ticks) (+ t0 10))))
            (check "the connect is not made in an OS thread" (= os0 (socket-os-thread-calls)))
            (check "break-thread ends a wait in socket-connect!" (eq? 'broken (b)))
            (check "the connect's wait is gone" (= 0 (socket-handle-waiters (%socket-handle c))))
            (stop)
            (socket-close c)))
        ;; socket-interrupt! from another thread
        (let* ([c (create-socket target)]
               [result 'running]
               [t (thread (lambda ()
                            (set! result (guard (e [(socket-error? e) 'raised]) (socket-connect! c target)))))])
          (waiting c)
          (socket-interrupt! c)
          (sync/timeout 10 t)
          (check "socket-interrupt! ends a wait in socket-connect! (it raises)" (eq? result 'raised))
          (socket-close c))
        ;; socket-close from another thread
        (let* ([c (create-socket target)]
               [result 'running]
               [t (thread (lambda ()
                            (set! result (guard (e [(socket-closed-error? e) 'closed]) (socket-connect! c target)))))])
          (waiting c)
          (socket-close c)
          (sync/timeout 10 t)
          (check "closing the socket ends a wait in socket-connect! (&socket-closed)" (eq? result 'closed)))
        ;; the timeout: &socket-connection, from the library
        (let* ([c (create-socket target)]
               [e (guard (e [#t e]) (socket-connect! c target 100000))])
          (check "a connect timeout raises &socket-connection" (socket-connection-error? e))
          (check "its socket" (and (socket-error? e) (eq? c (socket-error-socket e))))
          (socket-close c))
        ;; kill-thread of a waiting connect leaves no waiter
        (let* ([c (create-socket target)]
               [t (thread (lambda () (socket-connect! c target)))])
          (waiting c)
          (kill-thread t)
          (check "a killed connect leaves no waiter" (= 0 (socket-handle-waiters (%socket-handle c))))
          (socket-close c))
        (socket-close l)))
    (for-each socket-close kept))
  ;; refused, and made: the same answers as before
  (let* ([server (make-server-socket "0")]
         [ai (get-addrinfo "127.0.0.1" (port-of server) (make-hint-addrinfo AF_INET SOCK_STREAM AI_NUMERICHOST))]
         [os0 (socket-os-thread-calls)]
         [c (create-socket ai)])
    (check "socket-connect! connects" (eq? c (socket-connect! c ai)))
    (check "with no OS thread" (= os0 (socket-os-thread-calls)))
    (let ([s (socket-accept server)])
      (check "the peer's name is the address connected to"
             (equal? (socket-info-port (socket-peer c)) (socket-info-port (socket-info server))))
      (socket-send s #vu8(3))
      (check "the connection carries data" (equal? #vu8(3) (socket-recv c 10)))
      (socket-close s))
    (socket-close c)
    ;; an IP sockaddr in place of the addrinfo: in the scheduler too
    (let ([c (create-socket ai)] [os0 (socket-os-thread-calls)])
      (check "socket-connect! with an IP sockaddr connects" (eq? c (socket-connect! c (addrinfo-sockaddr ai))))
      (check "with no OS thread either" (= os0 (socket-os-thread-calls)))
      (socket-close (socket-accept server))
      (socket-close c))
    (socket-close server)
    ;; nobody listens there now
    (check "a refused connect answers #f" (not (socket-connect! (create-socket ai) ai)))
    (check "a refused connect with a timeout raises &socket-connection"
           (guard (e [(socket-connection-error? e) #t]) (socket-connect! (create-socket ai) ai 1000000) #f))))

(define (resolver)
  ;; Every resolution sleeps (SAGSOCKET_RACKET_RESOLVER_DELAY_US) in an OS
  ;; thread: the ticker counts its ticks between the resolver thread's start
  ;; and end.
  (let-values ([(ticks stop) (ticker)])
    (let* ([state 'before] [during 0]
           ;; counts the 2 ms naps during which the resolution went on
           ;; from start to end and the ticker ticked
           [counter (thread (lambda ()
                              (let loop ()
                                (unless (eq? state 'after)
                                  (let ([before (ticks)] [resolving? (eq? state 'resolving)])
                                    (sleep 0.002)
                                    (when (and resolving? (eq? state 'resolving) (> (ticks) before))
                                      (set! during (+ during 1))))
                                  (loop)))))]
           [r (thread (lambda ()
                        (set! state 'resolving)
                        (get-addrinfo "localhost" "80" (make-hint-addrinfo AF_INET SOCK_STREAM))
                        (set! state 'after)))])
      (thread-wait r)
      (thread-wait counter)
      (stop)
      (printf ";;; ticks during the resolution: ~a\n" during)
      (check "other threads ran while a name was resolved" (> during 3)))))

(if (member "resolver" (cdr (command-line)))
    (resolver)
    (begin (serve-50) (breaks) (port-ranges) (custodians) (os-thread-arguments)
           (numeric-addresses) (lingering-close)
           (kills) (port-breaks) (connects) (waits-first)))
(printf "~a passed, ~a failed\n" passed failed)
(exit (if (= failed 0) 0 1))
