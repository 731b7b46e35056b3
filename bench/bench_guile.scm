;;; bench_guile.scm: the Guile side of the binding's benchmark
;;; (bench/run_guile.sh). Each measurement runs either through
;;; (sagittarius socket) ("sag") or through Guile's own sockets ("guile":
;;; socket, connect, accept, send, recv!, read-line on the socket's port,
;;; what a Guile program uses today), the same work both ways, on loopback.
;;; For lines, "sag" reads with (rnrs)'s get-line and "sag-read-line" with
;;; read-line of (ice-9 rdelim) (get-line is read-line inside Guile's R6RS
;;; condition handlers, about a microsecond a line); "guile-block" is
;;; Guile's own with the socket's port given a 64 KiB buffer first
;;; ((setvbuf s 'block 65536); Guile's socket ports are unbuffered as made,
;;; so read-line reads a byte per system call).
;;; Prints the elapsed seconds (BENCH_CLOCK=cpu: the CPU seconds).
;;;   guile -L GUILELIBDIR bench_guile.scm IMPL bulk BYTES | pingpong N | connect N | lines FILE N
(use-modules ((sagittarius socket) #:prefix sag:)
             (rnrs bytevectors)
             ((rnrs io ports) #:select (get-line transcoded-port native-transcoder
                                        get-bytevector-all open-file-input-port))
             (ice-9 rdelim)
             (ice-9 threads)
             (srfi srfi-11))

;; BENCH_CLOCK=cpu: the process's CPU time (every thread, user + system:
;; Guile's get-internal-run-time is CLOCK_PROCESS_CPUTIME_ID) instead of
;; the elapsed time, as for bench/bench.c: what a measurement costs, not how
;; long it waited for a core on a loaded machine.
(define clock
  (if (equal? (getenv "BENCH_CLOCK") "cpu") get-internal-run-time get-internal-real-time))
(define (now) (/ (clock) (exact->inexact internal-time-units-per-second)))
(define chunk 65536)

;; ---- connected pairs -----------------------------------------------------------
;; (values client server-side), both with TCP_NODELAY (the library sets it
;; on every connected socket; Guile's side gets it too).
(define (sag-pair)
  (let* ([server (sag:make-server-socket "0")]
         [c (sag:make-client-socket "127.0.0.1"
                                    (number->string (sag:socket-info-port (sag:socket-info server))))]
         [s (sag:socket-accept server)])
    (sag:socket-close server)
    (values c s)))

(define (guile-listener)
  (let ([l (socket PF_INET SOCK_STREAM 0)])
    (setsockopt l SOL_SOCKET SO_REUSEADDR 1)
    (bind l AF_INET INADDR_LOOPBACK 0)
    (listen l 128)
    l))
(define (listener-port l) (sockaddr:port (getsockname l)))
(define (guile-pair)
  (let* ([l (guile-listener)]
         [c (socket PF_INET SOCK_STREAM 0)])
    (connect c AF_INET INADDR_LOOPBACK (listener-port l))
    (let ([s (car (accept l))])
      (close l)
      (for-each (lambda (x) (setsockopt x IPPROTO_TCP TCP_NODELAY 1)) (list c s))
      (values c s))))

(define (guile-send-all sock bv start count)
  (let loop ([off start] [left count])
    (when (> left 0)
      (let ([n (send sock (if (and (= off 0) (= left (bytevector-length bv)))
                              bv
                              (let ([b (make-bytevector left)])
                                (bytevector-copy! bv off b 0 left)
                                b)))])
        (loop (+ off n) (- left n))))))

;; ---- bulk: BYTES in 64 KiB sends, a thread receiving -----------------------------
(define (bulk impl total)
  (if (eq? impl 'sag)
      (let-values ([(c s) (sag-pair)])
        (let* ([buf (make-bytevector chunk 0)]
               [rx (call-with-new-thread
                    (lambda ()
                      (let ([in (make-bytevector chunk)])
                        (let loop () (unless (= 0 (sag:socket-recv! s in 0 chunk)) (loop))))))]
               [t0 (now)])
          (let loop ([left total])
            (when (> left 0) (sag:socket-send c buf) (loop (- left chunk))))
          (sag:socket-shutdown c sag:SHUT_WR)
          (join-thread rx)
          (let ([t (- (now) t0)]) (sag:socket-close c) (sag:socket-close s) t)))
      (let-values ([(c s) (guile-pair)])
        (let* ([buf (make-bytevector chunk 0)]
               [rx (call-with-new-thread
                    (lambda ()
                      (let ([in (make-bytevector chunk)])
                        (let loop () (unless (= 0 (recv! s in)) (loop))))))]
               [t0 (now)])
          (let loop ([left total])
            (when (> left 0) (guile-send-all c buf 0 chunk) (loop (- left chunk))))
          (shutdown c 1)
          (join-thread rx)
          (let ([t (- (now) t0)]) (close c) (close s) t)))))

;; ---- ping-pong: N round trips of one byte -----------------------------------------
(define (pingpong impl rounds)
  (if (eq? impl 'sag)
      (let-values ([(c s) (sag-pair)])
        (let ([b (make-bytevector 1 1)]
              [echo (call-with-new-thread
                     (lambda ()
                       (let ([b (make-bytevector 1)])
                         (let loop ()
                           (unless (= 0 (sag:socket-recv! s b 0 1))
                             (sag:socket-send s b)
                             (loop))))))])
          (do ([i 0 (+ i 1)]) ((= i 200)) (sag:socket-send c b) (sag:socket-recv! c b 0 1))
          (let ([t0 (now)])
            (do ([i 0 (+ i 1)]) ((= i rounds)) (sag:socket-send c b) (sag:socket-recv! c b 0 1))
            (let ([t (- (now) t0)])
              (sag:socket-shutdown c sag:SHUT_WR)
              (join-thread echo)
              (sag:socket-close c) (sag:socket-close s)
              t))))
      (let-values ([(c s) (guile-pair)])
        (let ([b (make-bytevector 1 1)]
              [echo (call-with-new-thread
                     (lambda ()
                       (let ([b (make-bytevector 1)])
                         (let loop ()
                           (unless (= 0 (recv! s b))
                             (send s b)
                             (loop))))))])
          (do ([i 0 (+ i 1)]) ((= i 200)) (send c b) (recv! c b))
          (let ([t0 (now)])
            (do ([i 0 (+ i 1)]) ((= i rounds)) (send c b) (recv! c b))
            (let ([t (- (now) t0)])
              (shutdown c 1)
              (join-thread echo)
              (close c) (close s)
              t))))))

;; ---- connect/accept/close: N times, serially ---------------------------------------
;; One iteration: a new socket connects, the listener accepts, the server
;; side closes first (so TIME_WAIT lands on the listening port's side), the
;; client reads its end of file and closes. The address is resolved once,
;; up front, both ways: (create-socket ai) + (socket-connect! s ai) is the
;; library's socket() + connect().
(define (connects impl n)
  (if (eq? impl 'sag)
      (let* ([server (sag:make-server-socket "0")]
             [port (number->string (sag:socket-info-port (sag:socket-info server)))]
             [ai (sag:get-addrinfo "127.0.0.1" port
                                   (sag:make-hint-addrinfo sag:AF_INET sag:SOCK_STREAM
                                                           sag:AI_NUMERICHOST))]
             [b (make-bytevector 1)]
             [t0 (now)])
        (do ([i 0 (+ i 1)]) ((= i n))
          (let* ([c (sag:socket-connect! (sag:create-socket ai) ai)]
                 [s (sag:socket-accept server)])
            (sag:socket-close s)
            (unless (= 0 (sag:socket-recv! c b 0 1)) (error "data instead of EOF"))
            (sag:socket-close c)))
        (let ([t (- (now) t0)]) (sag:socket-close server) t))
      (let* ([l (guile-listener)]
             [port (listener-port l)]
             [b (make-bytevector 1)]
             [t0 (now)])
        (do ([i 0 (+ i 1)]) ((= i n))
          (let ([c (socket PF_INET SOCK_STREAM 0)])
            (connect c AF_INET INADDR_LOOPBACK port)
            (let ([s (car (accept l))])
              (close s)
              (unless (= 0 (recv! c b)) (error "data instead of EOF"))
              (close c))))
        (let ([t (- (now) t0)]) (close l) t))))

;; ---- lines: N lines of FILE through get-line / read-line on a socket's port ---------
;; A thread sends the file's bytes in 64 KiB sends; the reader counts lines.
(define (read-file file)
  (let* ([p (open-file-input-port file)] [bv (get-bytevector-all p)])
    (close-port p)
    bv))

(define (lines impl file n)
  (let ([data (read-file file)])
    (if (memq impl '(sag sag-read-line))
        (let-values ([(c s) (sag-pair)])
          (let* ([tx (call-with-new-thread
                      (lambda ()
                        (sag:socket-send c data)
                        (sag:socket-shutdown c sag:SHUT_WR)))]
                 [p (transcoded-port (sag:socket-port s) (native-transcoder))]
                 [t0 (now)]
                 [reader (if (eq? impl 'sag) get-line read-line)]
                 [count (let loop ([k 0])
                          (if (eof-object? (reader p)) k (loop (+ k 1))))]
                 [t (- (now) t0)])
            (join-thread tx)
            (unless (= count n) (error "lines: wrong count" count n))
            (close-port p) (sag:socket-close c)
            t))
        (let-values ([(c s) (guile-pair)])
          (let* ([tx (call-with-new-thread
                      (lambda ()
                        (guile-send-all c data 0 (bytevector-length data))
                        (shutdown c 1)))]
                 [p (begin (set-port-encoding! s "UTF-8")
                           (when (eq? impl 'guile-block) (setvbuf s 'block 65536))
                           s)]
                 [t0 (now)]
                 [count (let loop ([k 0])
                          (if (eof-object? (read-line p)) k (loop (+ k 1))))]
                 [t (- (now) t0)])
            (join-thread tx)
            (unless (= count n) (error "lines: wrong count" count n))
            (close s) (close c)
            t)))))

(let* ([args (cdr (command-line))]
       [impl (string->symbol (car args))]
       [what (cadr args)]
       [rest (cddr args)])
  (display
   (case (string->symbol what)
     [(bulk) (bulk impl (string->number (car rest)))]
     [(pingpong) (pingpong impl (string->number (car rest)))]
     [(connect) (connects impl (string->number (car rest)))]
     [(lines) (lines impl (car rest) (string->number (cadr rest)))]
     [else (error "unknown measurement" what)]))
  (newline))
