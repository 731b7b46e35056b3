;;; (sagsocket-test host): what the shared Scheme test suite
;;; (Tests/scheme/test-socket.sps) needs beyond R6RS, on Guile 3.0: the
;;; names and meanings of Chez Scheme's, as the Chez version
;;; (Tests/scheme/chez/sagsocket-test/host.sls) re-exports them.
(library (sagsocket-test host)
  (export host-name printf format fork-thread make-mutex with-mutex make-condition
          condition-wait condition-broadcast sleep make-time time-second
          time-nanosecond time-type time? directory-list void getenv
          collect-rendezvous full-collect gc-count monotonic-ms list-head iota
          process-ids)
  (import (rnrs)
          (prefix (only (guile) format getenv gc gc-stats list-head iota getpid getuid getgid
                        get-internal-real-time internal-time-units-per-second
                        usleep opendir readdir closedir current-time gettimeofday)
                  g:)
          (only (ice-9 threads) call-with-new-thread make-recursive-mutex with-mutex
                make-condition-variable wait-condition-variable
                broadcast-condition-variable)
          (only (srfi srfi-19) make-time time-second time-nanosecond time-type time?))
  (define host-name 'guile)
  (define (printf fmt . args) (apply g:format #t fmt args))
  ;; (format fmt arg ...) returns a string, as Chez's does
  (define (format fmt . args) (apply g:format #f fmt args))
  (define (fork-thread thunk) (call-with-new-thread thunk))
  (define (make-mutex) (make-recursive-mutex))
  (define (make-condition) (make-condition-variable))
  ;; waits at most duration t
  (define (condition-wait c m t)
    (let* ([now (g:gettimeofday)]
           [us (+ (cdr now) (div (time-nanosecond t) 1000))]
           [deadline (cons (+ (car now) (time-second t) (div us 1000000)) (mod us 1000000))])
      (wait-condition-variable c m deadline)))
  (define (condition-broadcast c) (broadcast-condition-variable c))
  ;; sleeps for duration t (the collector's signals cut usleep short:
  ;; sleep again for what is left)
  (define (sleep t)
    (let* ([units g:internal-time-units-per-second]
           [end (+ (g:get-internal-real-time)
                   (* (time-second t) units)
                   (div (* (time-nanosecond t) units) 1000000000))])
      (let loop ()
        (let ([left (- end (g:get-internal-real-time))])
          (when (> left 0)
            (g:usleep (max 1 (div (* left 1000000) units)))
            (loop))))))
  (define (directory-list dir)
    (let ([d (g:opendir dir)])
      (let loop ([acc '()])
        (let ([e (g:readdir d)])
          (if (eof-object? e)
              (begin (g:closedir d)
                     (filter (lambda (n) (not (member n '("." "..")))) acc))
              (loop (cons e acc)))))))
  (define (void) (if #f #f))
  (define getenv g:getenv)
  (define (collect-rendezvous) (g:gc))
  (define (full-collect) (g:gc) (g:gc))
  (define (gc-count) (cdr (assq 'gc-times (g:gc-stats))))
  (define list-head g:list-head)
  (define iota g:iota)
  ;; milliseconds of the monotonic clock
  (define (monotonic-ms)
    (div (* 1000 (g:get-internal-real-time)) g:internal-time-units-per-second))
  ;; (values pid uid gid) of this process
  (define (process-ids) (values (g:getpid) (g:getuid) (g:getgid))))
