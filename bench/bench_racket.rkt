#lang racket/base
;;; bench_racket.rkt: the Racket side of the binding's benchmark
;;; (bench/run_racket.sh). Each measurement runs either through
;;; (require sagsocket) ("sag") or through Racket's own racket/tcp ("racket":
;;; tcp-listen, tcp-connect, tcp-accept and their ports, what a Racket
;;; program uses today), the same work both ways, on loopback, the other
;;; side in a Racket thread of the same process.
;;; Prints the elapsed seconds.
;;;   racket -S RACKETDIR bench_racket.rkt IMPL bulk BYTES | pingpong N | connect N | lines FILE N
;;; and, for bench/run_scheme_cost.sh (counted per operation): chunks N (N
;;; 64 KiB sends), gen-lines N (N 40-byte lines made in memory).
(require racket/tcp sagsocket)

(define (now) (/ (current-inexact-monotonic-milliseconds) 1000.0))
(define chunk 65536)

;; ---- connected pairs -----------------------------------------------------------
(define (sag-pair)
  (let* ([server (make-server-socket "0")]
         [c (make-client-socket "127.0.0.1" (number->string (socket-info-port (socket-info server))))]
         [s (socket-accept server)])
    (socket-close server)
    (values c s)))

;; (values client-in client-out server-in server-out)
(define (tcp-pair)
  (let ([l (tcp-listen 0 4 #t "127.0.0.1")])
    (let-values ([(a port b c) (tcp-addresses l #t)])
      (let-values ([(ci co) (tcp-connect "127.0.0.1" port)]
                   [(si so) (tcp-accept l)])
        (tcp-close l)
        (values ci co si so)))))

;; ---- bulk: BYTES in 64 KiB sends, a thread receiving -----------------------------
(define (bulk impl total)
  (define buf (make-bytes chunk 0))
  (if (eq? impl 'sag)
      (let-values ([(c s) (sag-pair)])
        (let* ([rx (thread (lambda ()
                             (let ([in (make-bytes chunk)])
                               (let loop () (unless (= 0 (socket-recv! s in 0 chunk)) (loop))))))]
               [t0 (now)])
          (let loop ([left total])
            (when (> left 0) (socket-send c buf) (loop (- left chunk))))
          (socket-shutdown c SHUT_WR)
          (thread-wait rx)
          (let ([t (- (now) t0)]) (socket-close c) (socket-close s) t)))
      (let-values ([(ci co si so) (tcp-pair)])
        (let* ([rx (thread (lambda ()
                             (let ([in (make-bytes chunk)])
                               (let loop () (unless (eof-object? (read-bytes-avail! in si)) (loop))))))]
               [t0 (now)])
          (let loop ([left total])
            (when (> left 0) (write-bytes buf co) (flush-output co) (loop (- left chunk))))
          (close-output-port co)
          (thread-wait rx)
          (let ([t (- (now) t0)]) (close-input-port ci) (close-input-port si) (close-output-port so) t)))))

;; ---- ping-pong: N round trips of one byte -----------------------------------------
(define (pingpong impl rounds)
  (if (eq? impl 'sag)
      (let-values ([(c s) (sag-pair)])
        (let ([b (make-bytes 1 1)]
              [echo (thread (lambda ()
                              (let ([b (make-bytes 1)])
                                (let loop ()
                                  (unless (= 0 (socket-recv! s b 0 1))
                                    (socket-send s b)
                                    (loop))))))])
          (for ([i 200]) (socket-send c b) (socket-recv! c b 0 1))
          (let ([t0 (now)])
            (for ([i rounds]) (socket-send c b) (socket-recv! c b 0 1))
            (let ([t (- (now) t0)])
              (socket-shutdown c SHUT_WR)
              (thread-wait echo)
              (socket-close c) (socket-close s)
              t))))
      (let-values ([(ci co si so) (tcp-pair)])
        (let ([echo (thread (lambda ()
                              (let loop ()
                                (let ([x (read-byte si)])
                                  (unless (eof-object? x)
                                    (write-byte x so) (flush-output so)
                                    (loop))))))])
          (define (rt) (write-byte 1 co) (flush-output co) (read-byte ci))
          (for ([i 200]) (rt))
          (let ([t0 (now)])
            (for ([i rounds]) (rt))
            (let ([t (- (now) t0)])
              (close-output-port co)
              (thread-wait echo)
              (close-input-port ci) (close-input-port si) (close-output-port so)
              t))))))

;; ---- connect/accept/close: N times, serially ---------------------------------------
;; As the other hosts' benches: a new socket connects, the listener accepts,
;; the server side closes first, the client reads its end of file and
;; closes. The sagsocket side resolves the address once (create-socket +
;; socket-connect!); tcp-connect takes the numeric address each time.
(define (connects impl n)
  (if (eq? impl 'sag)
      (let* ([server (make-server-socket "0")]
             [port (number->string (socket-info-port (socket-info server)))]
             [ai (get-addrinfo "127.0.0.1" port
                               (make-hint-addrinfo #:family AF_INET #:socktype SOCK_STREAM
                                                   #:flags AI_NUMERICHOST))]
             [b (make-bytes 1)]
             [t0 (now)])
        (for ([i n])
          (let* ([c (socket-connect! (create-socket ai) ai)]
                 [s (socket-accept server)])
            (socket-close s)
            (unless (= 0 (socket-recv! c b 0 1)) (error "data instead of EOF"))
            (socket-close c)))
        (let ([t (- (now) t0)]) (socket-close server) t))
      (let* ([l (tcp-listen 0 128 #t "127.0.0.1")]
             [port (let-values ([(a p b c) (tcp-addresses l #t)]) p)]
             [t0 (now)])
        (for ([i n])
          (let*-values ([(ci co) (tcp-connect "127.0.0.1" port)]
                        [(si so) (tcp-accept l)])
            (close-input-port si) (close-output-port so)
            (unless (eof-object? (read-byte ci)) (error "data instead of EOF"))
            (close-input-port ci) (close-output-port co)))
        (let ([t (- (now) t0)]) (tcp-close l) t))))

;; ---- lines: N lines of FILE through read-line on a socket's port -------------------
;; A thread sends the file's bytes in one send; the reader counts lines.
(define (lines impl file n)
  (lines-of impl (call-with-input-file file (lambda (p) (read-bytes (file-size file) p))) n))
(define (gen-lines impl n)
  (let ([data (make-bytes (* 40 n) 48)])
    (for ([i n]) (bytes-set! data (+ (* 40 i) 39) 10))
    (lines-of impl data n)))
(define (lines-of impl data n)
  (define (count-lines p) (let loop ([k 0]) (if (eof-object? (read-line p)) k (loop (+ k 1)))))
  (if (eq? impl 'sag)
      (let-values ([(c s) (sag-pair)])
        (let* ([tx (thread (lambda () (socket-send c data) (socket-shutdown c SHUT_WR)))]
               [p (socket-input-port s)]
               [t0 (now)]
               [count (count-lines p)]
               [t (- (now) t0)])
          (thread-wait tx)
          (unless (= count n) (error "lines: wrong count" count n))
          (close-input-port p) (socket-close s) (socket-close c)
          t))
      (let-values ([(ci co si so) (tcp-pair)])
        (let* ([tx (thread (lambda () (write-bytes data co) (close-output-port co)))]
               [t0 (now)]
               [count (count-lines si)]
               [t (- (now) t0)])
          (thread-wait tx)
          (unless (= count n) (error "lines: wrong count" count n))
          (close-input-port si) (close-output-port so) (close-input-port ci)
          t))))

(module+ main
  (define args (current-command-line-arguments))
  (define impl (string->symbol (vector-ref args 0)))
  (define (arg i) (vector-ref args i))
  (displayln
   (case (string->symbol (arg 1))
     [(bulk) (bulk impl (string->number (arg 2)))]
     [(pingpong) (pingpong impl (string->number (arg 2)))]
     [(connect) (connects impl (string->number (arg 2)))]
     [(lines) (lines impl (arg 2) (string->number (arg 3)))]
     [(chunks) (bulk impl (* chunk (string->number (arg 2))))]
     [(gen-lines) (gen-lines impl (string->number (arg 2)))]
     [else (error "unknown measurement" (arg 1))])))
