;;; bench_chez.sps: the Chez Scheme side of the binding's benchmark
;;; (bench/run_chez.sh); the same work as bench_chez_ref.c, through
;;; (sagittarius socket). Prints the elapsed seconds.
;;;   bulk BYTES | pingpong N | lines FILE N (socket port) | filelines FILE
;;;   | interleaved N LIB: the ping-pong in this process both ways, in
;;;   turns: blocks through (sagittarius socket) and blocks through the C
;;;   ABI from C (LIB: bench_chez_ref.c built as a shared object), N round
;;;   trips each; prints the median block of each in seconds a round trip,
;;;   then the median of the blocks' Chez/C ratios.
(import (chezscheme) (sagittarius socket))

(define (now) (let ([t (current-time 'time-monotonic)])
                (+ (time-second t) (/ (time-nanosecond t) 1e9))))

(define (pair)
  (let* ([server (make-server-socket "0")]
         [c (make-client-socket "127.0.0.1"
                                (number->string (socket-info-port (socket-info server))))]
         [s (socket-accept server)])
    (socket-close server)
    (values c s)))

;; Runs thunk in a thread; returns a procedure that waits for it to end.
(define (spawn thunk)
  (let ([m (make-mutex)] [c (make-condition)] [done #f])
    (fork-thread (lambda () (thunk) (with-mutex m (set! done #t) (condition-broadcast c))))
    (lambda () (with-mutex m (let loop () (unless done (condition-wait c m) (loop)))))))

(define chunk 65536)

(define (bulk total)
  (let-values ([(c s) (pair)])
    (let* ([buf (make-bytevector chunk 0)]
           [join (spawn (lambda ()
                          (let ([in (make-bytevector chunk)])
                            (let loop () (unless (= 0 (socket-recv! s in 0 chunk)) (loop))))))]
           [t0 (now)])
      (let loop ([left total])
        (when (> left 0) (socket-send c buf) (loop (- left chunk))))
      (socket-shutdown c SHUT_WR)
      (join)
      (let ([t (- (now) t0)]) (socket-close c) (socket-close s) t))))

;; A thread echoing each byte s receives, until its end.
(define (spawn-echo s)
  (spawn (lambda ()
           (let ([b (make-bytevector 1)])
             (let loop ()
               (unless (= 0 (socket-recv! s b 0 1))
                 (socket-send s b)
                 (loop)))))))

;; n 1-byte round trips over c (b: a 1-byte bytevector).
(define (round-trips c b n)
  (do ([i 0 (+ i 1)]) ((= i n)) (socket-send c b) (socket-recv! c b 0 1)))

(define (pingpong rounds)
  (let-values ([(c s) (pair)])
    (let ([b (make-bytevector 1 1)]
          [join (spawn-echo s)])
      (round-trips c b 200)
      (let ([t0 (now)])
        (round-trips c b rounds)
        (let ([t (- (now) t0)])
          (socket-shutdown c SHUT_WR)
          (join)
          (socket-close c) (socket-close s)
          t)))))

;; The ping-pong both ways in one process, in 40 turns of a block each (the
;; first side alternating): two connected pairs, a Scheme thread echoing on
;; one and a C thread (started by LIB) on the other. Which CPU a process's
;; two threads run on, and what else runs there, varies from process to
;; process and moves a round trip's time by more than the binding costs;
;; blocks taken in turns in one process share it.
(define (interleaved rounds lib)
  (load-shared-object lib)
  (let ([c-echo (foreign-procedure "bench_chez_ref_echo" (uptr) int)]
        [c-pingpong
         (foreign-procedure __collect_safe "bench_chez_ref_pingpong" (uptr long) void)]
        [turns 40])
    (let-values ([(c s) (pair)] [(c2 s2) (pair)])
      (let* ([per (max 25 (quotient rounds turns))]
             [b (make-bytevector 1 1)]
             [join (spawn-echo s)]
             [chez-block (lambda (n) (round-trips c b n))]
             [c-block (lambda (n) (c-pingpong (%socket-handle c2) n))]
             [timed (lambda (block) (let ([t0 (now)]) (block per) (/ (- (now) t0) per)))]
             [median (lambda (xs) (list-ref (sort < xs) (quotient (length xs) 2)))])
        (unless (eqv? 0 (c-echo (%socket-handle s2)))
          (error 'interleaved "cannot start the C echo thread"))
        (chez-block 200) (c-block 200)
        (let loop ([k 0] [cs '()] [zs '()] [rs '()])
          (if (= k turns)
              (begin
                (socket-shutdown c SHUT_WR) (socket-shutdown c2 SHUT_WR)
                (join)
                (printf "~,9f ~,9f ~,4f\n" (median cs) (median zs) (median rs)))
              (let*-values ([(first second) (if (even? k)
                                                (values c-block chez-block)
                                                (values chez-block c-block))]
                            [(t1) (timed first)] [(t2) (timed second)]
                            [(tc tz) (if (even? k) (values t1 t2) (values t2 t1))])
                (loop (+ k 1) (cons tc cs) (cons tz zs) (cons (/ tz tc) rs)))))))))

(define (read-file file)
  (let* ([p (open-file-input-port file)] [bv (get-bytevector-all p)])
    (close-port p)
    bv))

(define (count-lines p)
  (let loop ([n 0]) (if (eof-object? (get-line p)) n (loop (+ n 1)))))

;; get-line over a transcoded socket port, the lines sent by another thread.
(define (socket-lines file expected port-maker)
  (let ([data (read-file file)])
    (let-values ([(c s) (pair)])
      (let* ([join (spawn (lambda ()
                            (let ([n (bytevector-length data)])
                              (let loop ([i 0])
                                (when (< i n)
                                  (let ([k (min chunk (- n i))])
                                    (socket-send/range s data i k)
                                    (loop (+ i k))))))
                            (socket-shutdown s SHUT_WR)))]
             [p (transcoded-port (port-maker c) (native-transcoder))]
             [t0 (now)]
             [n (count-lines p)]
             [t (- (now) t0)])
        (join)
        (unless (= n expected) (error 'lines "wrong line count" n))
        (close-port p) (socket-close s) (socket-close c)
        t))))

(define (file-lines file expected)
  (let* ([p (open-file-input-port file (file-options) (buffer-mode block) (native-transcoder))]
         [t0 (now)]
         [n (count-lines p)]
         [t (- (now) t0)])
    (close-port p)
    (unless (= n expected) (error 'lines "wrong line count" n))
    t))

(let ([args (cdr (command-line))])
  (collect)
  (let ([t (case (string->symbol (car args))
             [(bulk) (bulk (string->number (cadr args)))]
             [(pingpong) (pingpong (string->number (cadr args)))]
             [(interleaved) (interleaved (string->number (cadr args)) (caddr args)) (exit 0)]
             [(lines) (socket-lines (cadr args) (string->number (caddr args)) socket-port)]
             [(inlines) (socket-lines (cadr args) (string->number (caddr args)) socket-input-port)]
             [(filelines) (file-lines (cadr args) (string->number (caddr args)))])])
    (printf "~,6f\n" t)))
