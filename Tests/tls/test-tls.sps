;;; (rfc tls) on loopback, for every Scheme host (Chez Scheme, Guile), with
;;; the certificates Tests/tls/certs.sh made in CERTS. Run by Tests/tls/run.sh:
;;;   scheme --libdirs LIBDIR:Tests/scheme/chez --program Tests/tls/test-tls.sps CERTS PYPORT
;;;   guile -L GUILELIBDIR -L Tests/scheme/guile Tests/tls/test-tls.sps CERTS PYPORT
;;; PYPORT: a Python ssl server (Tests/tls/peer.py truncate) that handshakes,
;;; sends "hello" and closes without close_notify.
;;; Prints one line per failure and "N passed, N failed"; exits 1 on failure.
(import (rnrs) (rfc tls) (sagittarius socket) (sagsocket-test host))

;; ---- harness (the style of Tests/scheme/test-socket.sps) ---------------------
(define passed 0)
(define failed 0)
(define current-group "")
(define (group name) (set! current-group name))
(define (pass!) (set! passed (+ passed 1)))
(define (fail! name fmt . args)
  (set! failed (+ failed 1))
  (printf "FAIL [~a] ~a: ~a\n" current-group name (apply format fmt args)))
(define (describe e)
  (if (condition? e)
      (format "~a~a" (if (who-condition? e) (format "~a: " (condition-who e)) "")
              (if (message-condition? e) (condition-message e) ""))
      (format "~s" e)))
(define-syntax test-true
  (syntax-rules ()
    [(_ name expr)
     (guard (e [#t (fail! name "raised ~a" (describe e))])
       (if expr (pass!) (fail! name "~s is false" 'expr)))]))
(define-syntax test-equal
  (syntax-rules ()
    [(_ name expected expr)
     (guard (e [#t (fail! name "raised ~a" (describe e))])
       (let ([x expr] [want expected])
         (if (equal? x want) (pass!) (fail! name "expected ~s, got ~s" want x))))]))
;; The expression must raise a condition satisfying pred; the condition's
;; message goes to `seen' for checks of its text.
(define seen "")
(define-syntax test-raise
  (syntax-rules ()
    [(_ name pred expr)
     (let ([r (guard (e [#t (set! seen (describe e)) (if (pred e) 'ok (list 'wrong (describe e)))])
                expr 'none)])
       (cond [(eq? r 'ok) (pass!)]
             [(eq? r 'none) (fail! name "did not raise")]
             [else (fail! name "raised something else: ~a" (cadr r))]))]))
(define (contains? s part)
  (let ([n (string-length s)] [k (string-length part)])
    (let loop ([i 0])
      (and (<= (+ i k) n)
           (or (string=? (substring s i (+ i k)) part) (loop (+ i 1)))))))

(define (seconds s) (make-time 'time-duration 0 s))
(define (millis ms) (make-time 'time-duration (* (mod ms 1000) 1000000) (div ms 1000)))
(define (spawn thunk)
  (let ([m (make-mutex)] [c (make-condition)] [done #f] [value #f] [err #f])
    (fork-thread
     (lambda ()
       (let ([v (guard (e [#t (set! err e) #f]) (thunk))])
         (with-mutex m (set! value v) (set! done #t) (condition-broadcast c)))))
    (case-lambda
     [() (let loop ([n 0])
           (with-mutex m (unless done (condition-wait c m (seconds 1))))
           (cond [done (if err (raise err) value)]
                 [(< n 30) (loop (+ n 1))]
                 [else 'timeout]))]
     [(probe) done])))

(define args (command-line))
(define certs (cadr args))
(define truncating-port (caddr args))
(define (cert name) (string-append certs "/" name))
(define (port-of server) (number->string (socket-info-port (socket-info server))))

;; A TLS server for one connection, in a thread: (values port join).
;; serve gets the accepted TLS socket.
(define (tls-server leaf serve . opts)
  (let* ([server (apply make-server-tls-socket "0" (cert (string-append leaf ".pem"))
                        ':private-key (cert (string-append leaf ".key")) opts)]
         [join (spawn (lambda ()
                        (guard (e [#t (socket-close server) (raise e)])
                          (let ([s (tls-socket-accept server)])
                            (socket-close server)
                            (and s (call-with-tls-socket s serve))))))])
    (values (port-of server) join)))

;; Echoes lines until end of file, through a textual port.
(define (echo-lines s)
  (let ([p (transcoded-port (socket-port s #f) (native-transcoder))])
    (let loop ([n 0])
      (let ([line (get-line p)])
        (if (eof-object? line)
            n
            (begin (put-string p (string-append line "\n"))
                   (flush-output-port p)
                   (loop (+ n 1))))))))

(define (bytevector-copy-n bv n)
  (let ([r (make-bytevector n)]) (bytevector-copy! bv 0 r 0 n) r))
(define trust (list ':trust-certificates (list (cert "ca.pem"))))

;; ---- handshake, accessors, plain procedures on a TLS socket -------------------
(group "client and server")
(let-values ([(port join) (tls-server "server" echo-lines
                                      ':hello-extensions (list (make-protocol-name-list "h2")))])
  (let ([s (make-client-tls-socket "localhost" port :trust-certificates (list (cert "ca.pem"))
                                   :hello-extensions (list (make-protocol-name-list "h2" "http/1.1")))])
    (test-true "tls-socket?" (and (tls-socket? s) (socket? s)))
    (test-equal "version" "TLSv1.3" (tls-socket-version s))
    (test-equal "ALPN" "h2" (tls-socket-selected-alpn s))
    (test-true "subject" (contains? (tls-socket-peer-certificate-subject s) "CN=localhost"))
    (test-true "DER" (let ([der (tls-socket-peer-certificate s)])
                       (and (bytevector? der) (> (bytevector-length der) 100)
                            (= (bytevector-u8-ref der 0) #x30))))
    (test-equal "socket-send" 6 (socket-send s (string->utf8 "one\ntw")))
    (test-equal "tls-socket-send" 3 (tls-socket-send s (string->utf8 "o\n\n")))
    (test-equal "socket-recv" "o" (utf8->string (socket-recv s 1)))
    ;; the rest of "one\ntwo\n\n" is decrypted and held: readable to select
    (test-equal "read-select counts buffered plaintext" (list s) (socket-read-select 0 s))
    (let-values ([(n r w e) (socket-select (sockets->fdset (list s)) #f #f 0)])
      (test-equal "socket-select counts buffered plaintext" (list 1 (list s) #f #f)
                  (list n (fdset-sockets r) w e)))
    (let ([fds (sockets->fdset (list s))] [wfds (sockets->fdset (list s))])
      (let-values ([(n r w e) (socket-select! fds wfds #f 0)])
        (test-equal "socket-select! counts buffered plaintext" (list 2 (list s) (list s))
                    (list n (fdset-sockets fds) (fdset-sockets wfds)))))
    (let ([bv (make-bytevector 16 0)])
      (let loop ([got 0])
        (when (< got 8)
          (loop (+ got (tls-socket-recv! s bv got (- 16 got))))))
      (test-equal "tls-socket-recv!" "ne\ntwo\n\n" (utf8->string (bytevector-copy-n bv 8))))
    (test-equal "peer port" (string->number port) (socket-info-port (tls-socket-peer s)))
    (let ([p (transcoded-port (tls-socket-port s #f) (native-transcoder))])
      (put-string p "through a port\n")
      (flush-output-port p)
      (test-equal "port" "through a port" (get-line p)))
    (tls-socket-shutdown s SHUT_WR)
    (test-equal "end of file after close_notify" #vu8() (socket-recv s 10))
    (test-equal "server lines" 4 (join))
    (socket-close s)
    (test-true "closed" (tls-socket-closed? s))
    (test-raise "recv on a closed TLS socket" socket-closed-error? (socket-recv s 1))))

;; ---- verification ---------------------------------------------------------------
(group "verification")
(define (client-against leaf . opts)
  (let-values ([(port join) (tls-server leaf (lambda (s) #t))])
    (let ([r (guard (e [#t (raise e)])
               (let ([s (apply make-client-tls-socket "localhost" port opts)])
                 (socket-close s)
                 'connected))])
      (guard (e [#t #f]) (join))
      r)))
(test-raise "no trust: unknown CA" tls-verify-error? (client-against "server"))
(test-true "unknown CA says why" (contains? seen "unable to get local issuer certificate"))
(test-raise "wrong host" tls-verify-error?
            (apply client-against "server"
                   ':hello-extensions (list (make-server-name-indication "wrong.example")) trust))
(test-true "wrong host says why" (contains? seen "hostname mismatch"))
(test-raise "expired" tls-verify-error? (apply client-against "expired" trust))
(test-true "expired says why" (contains? seen "certificate has expired"))
(test-raise "other CA" tls-verify-error? (apply client-against "other" trust))
(test-true "a verify error is a &tls and a &socket"
           (guard (e [#t (and (tls-error? e) (socket-error? e) (not (tls-truncated-error? e)))])
             (client-against "server")))
(test-equal "verification off, named" 'connected (client-against "expired" ':verify? #f))
(test-equal "trusted" 'connected (apply client-against "server" trust))

;; ---- a truncated stream (a Python ssl peer closes without close_notify) ----------
(group "truncation")
(let ([s (make-client-tls-socket "localhost" truncating-port :trust-certificates (list (cert "ca.pem")))])
  (let loop ([got '()])
    (let ([bv (guard (e [(tls-truncated-error? e) e]) (socket-recv s 100))])
      (cond [(bytevector? bv)
             (if (= (bytevector-length bv) 0)
                 (fail! "truncated" "an ordinary end of file")
                 (loop (append got (bytevector->u8-list bv))))]
            [else (test-equal "data before the truncation" "hello" (utf8->string (u8-list->bytevector got)))
                  (test-true "&tls-truncated" (tls-truncated-error? bv))])))
  (socket-close s))

;; ---- read timeout, interrupt, STARTTLS ---------------------------------------------
(group "waits")
(let-values ([(port join) (tls-server "server" (lambda (s) (socket-recv s 1)))])
  (let ([s (apply make-client-tls-socket "localhost" port trust)])
    (tls-socket-set-read-timeout! s 100)
    (test-raise "read timeout" socket-read-timeout-error? (socket-recv s 1))
    (socket-set-read-timeout! s 0)
    ;; an interrupt reaches only a call already waiting (and a sleep does
    ;; not make sure it waits): again every 20 ms until the read ends
    (let ([reader (spawn (lambda () (socket-recv s 1)))])
      (let loop ([i 0])
        (unless (or (reader 'done?) (= i 500))
          (socket-interrupt! s)
          (sleep (millis 20))
          (loop (+ i 1))))
      (test-raise "interrupted read" socket-error? (reader)))
    (test-equal "still usable" 1 (socket-send s #vu8(1)))
    (join)
    (socket-close s)))

(group "selector")
;; A TLS socket holding decrypted bytes is ready to the selector at once,
;; added before a wait or while another thread waits.
(let-values ([(port join) (tls-server "server" echo-lines)])
  (let ([s (apply make-client-tls-socket "localhost" port trust)]
        [sel (make-socket-selector)])
    (socket-send s (string->utf8 "ab\n"))
    (test-equal "first byte" "a" (utf8->string (socket-recv s 1)))
    (socket-selector-add! sel s #f 'data)
    (test-equal "held plaintext: size" 1 (socket-selector-size sel))
    (let-values ([(ready timed-out) (socket-selector-wait! sel)])
      (test-equal "held plaintext: reported" (list (cons* s #f 'data)) ready))
    (test-equal "the rest" "b\n" (utf8->string (socket-recv s 10)))
    (socket-send s (string->utf8 "cd\n"))
    (test-equal "next first byte" "c" (utf8->string (socket-recv s 1)))
    (let ([waiter (spawn (lambda () (let-values ([(r t) (socket-selector-wait! sel)]) (map car r))))])
      (let loop ([i 0])
        (unless (or (socket-selector-waiting? sel) (= i 500)) (sleep (millis 10)) (loop (+ i 1))))
      (socket-selector-add! sel s)
      (test-equal "added while another thread waits" (list s) (waiter)))
    (close-socket-selector! sel)
    (tls-socket-shutdown s SHUT_WR)
    (join)
    (socket-close s)))

(group "STARTTLS")
(let* ([server (make-server-socket "0")]
       [join (spawn (lambda ()
                      (let ([c (socket-accept server)])
                        (socket-close server)
                        (let ([line (socket-recv c 9)])
                          (socket-send c (string->utf8 "GO\n"))
                          (socket->tls-socket c :client-socket #f
                                              :certificates (cert "server.pem")
                                              :private-key (cert "server.key"))
                          (let ([got (socket-recv c 6)])
                            (socket-close c)
                            (list (utf8->string line) (utf8->string got)))))))]
       [s (make-client-socket "localhost" (port-of server))])
  (socket-send s (string->utf8 "STARTTLS\n"))
  (test-equal "plain answer" "GO\n" (utf8->string (socket-recv s 3)))
  (test-true "upgraded in place" (eq? s (apply socket->tls-socket s trust)))
  (socket-send s (string->utf8 "secret"))
  (test-equal "both sides" '("STARTTLS\n" "secret") (join))
  (socket-close s))

(printf "~a passed, ~a failed\n" passed failed)
(exit (if (= failed 0) 0 1))
