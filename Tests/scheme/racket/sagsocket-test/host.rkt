#lang racket/base
;;; (sagsocket-test host): what the shared Scheme test suite
;;; (Tests/scheme/test-socket.sps) needs beyond R6RS, on Racket CS under
;;; plt-r6rs: the names and meanings of Chez Scheme's, as the Chez version
;;; (Tests/scheme/chez/sagsocket-test/host.sls) re-exports them. A Racket
;;; module: plt-r6rs finds it for the R6RS name (sagsocket-test host).
(require ffi/unsafe
         racket/mpair
         (only-in ffi/unsafe/vm vm-eval)
         (only-in srfi/19 make-time time-second time-nanosecond time-type time?)
         (only-in racket/list take))
(provide host-name format fork-thread make-mutex with-mutex make-condition
         condition-wait condition-broadcast make-time time-second
         time-nanosecond time-type time? void getenv
         collect-rendezvous full-collect gc-count monotonic-ms list-head iota
         process-ids)

(define host-name 'racket)
;; printf, flushed at once (a run killed by its timeout keeps its output)
(define (printf* fmt . args) (apply printf fmt args) (flush-output))
(provide (rename-out [printf* printf]))
(define (fork-thread thunk) (thread thunk))

;; A mutex is a semaphore; a condition is the list of the semaphores of
;; the threads waiting on it, changed only while its mutex is held (the
;; suite waits and broadcasts holding it).
(define (make-mutex) (make-semaphore 1))
(define-syntax-rule (with-mutex m body ...)
  (call-with-semaphore m (lambda () body ...)))
(define (make-condition) (box '()))
;; waits at most duration t; m is held on return
(define (condition-wait c m t)
  (let ([w (make-semaphore 0)])
    (set-box! c (cons w (unbox c)))
    (semaphore-post m)
    (sync/timeout (+ (time-second t) (/ (time-nanosecond t) 1e9)) w)
    (semaphore-wait m)
    (set-box! c (remq w (unbox c)))))
(define (condition-broadcast c)
  (for-each semaphore-post (unbox c))
  (set-box! c '()))

;; sleeps for duration t
(define (sleep* t) (sleep (+ (time-second t) (/ (time-nanosecond t) 1e9))))
(provide (rename-out [sleep* sleep]))

;; Lists given to and returned to R6RS code are mutable pairs under plt-r6rs.
(define (directory-list* dir) (list->mlist (map path->string (directory-list dir))))
(provide (rename-out [directory-list* directory-list]))

(define (collect-rendezvous) (collect-garbage 'minor))
(define (full-collect) (collect-garbage 'major))
;; how many collections have run so far (Chez Scheme's count, under
;; Racket CS)
(define (gc-count) (vm-eval '(collections)))
;; milliseconds of the monotonic clock
(define (monotonic-ms) (inexact->exact (floor (current-inexact-monotonic-milliseconds))))
(define (list-head l n) (list->mlist (take (mlist->list l) n)))
(define (iota n) (list->mlist (build-list n values)))
;; (values pid uid gid) of this process
(define c-getpid (get-ffi-obj "getpid" #f (_fun -> _int)))
(define c-getuid (get-ffi-obj "getuid" #f (_fun -> _uint32)))
(define c-getgid (get-ffi-obj "getgid" #f (_fun -> _uint32)))
(define (process-ids) (values (c-getpid) (c-getuid) (c-getgid)))
