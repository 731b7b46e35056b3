;;; (sagsocket-test host): what the shared Scheme test suite
;;; (Tests/scheme/test-socket.sps) needs beyond R6RS, on Chez Scheme. The
;;; Guile version (Tests/scheme/guile/sagsocket-test/host.scm) exports the
;;; same names with the same meaning.
(library (sagsocket-test host)
  (export host-name printf format fork-thread make-mutex with-mutex make-condition
          condition-wait condition-broadcast sleep make-time time-second
          time-nanosecond time-type time? directory-list void getenv
          collect-rendezvous full-collect gc-count monotonic-ms list-head iota
          process-ids)
  (import (chezscheme))
  (define host-name 'chez)
  ;; a full collection, with every thread at a safe point
  (define (full-collect)
    (parameterize ([collect-request-handler (lambda () (collect (collect-maximum-generation)))])
      (collect-rendezvous)))
  ;; how many collections have run so far
  (define (gc-count) (collections))
  ;; milliseconds of the monotonic clock
  (define (monotonic-ms)
    (let ([t (current-time 'time-monotonic)])
      (+ (* 1000 (time-second t)) (div (time-nanosecond t) 1000000))))
  ;; (values pid uid gid) of this process
  (define process-ids
    (begin
      (load-shared-object "libc.so.6")
      (let ([pid (foreign-procedure "getpid" () int)]
            [uid (foreign-procedure "getuid" () unsigned-32)]
            [gid (foreign-procedure "getgid" () unsigned-32)])
        (lambda () (values (pid) (uid) (gid)))))))
