#lang racket/base
;;; The Racket CS host layer under (sagittarius socket): the procedures of
;;; bindings/scheme/host-contract.md over libsagsocket, for Racket's green
;;; threads. The R6RS library (sagittarius socket host)
;;; (bindings/scheme/sagittarius/socket/host.mzscheme.sls) re-exports them.
;;;
;;; Racket threads share one OS thread, so no call made from a Racket thread
;;; may wait inside the library (docs/hosts.md, Racket CS):
;;;
;;; - At load, this OS thread gets a library deadline that has already
;;;   passed (sag_thread_set_deadline 0): every wait the library would make
;;;   on it ends at once, as its timeout would. A call that has to wait
;;;   answers at once (SAG_E_WOULD_BLOCK with SAG_MSG_DONTWAIT, a read
;;;   timeout, nothing ready); the Racket thread then waits in Racket's
;;;   scheduler, on the socket's descriptor (a poller event, as
;;;   unsafe-fd->evt's), on an interrupt or close posted by another Racket
;;;   thread, and on the time left, and calls again (a receive whose last
;;;   wait blocked waits first: see transfer). When the socket's own
;;;   timeout passes, a last call lets the library report it (its
;;;   condition, its fields). A connect is started and finished so too
;;;   (see %socket-connect).
;;; - What cannot be made so (name resolution, a Unix-domain connect, a
;;;   selector's wait) runs in an OS thread of its own (call-in-os-thread),
;;;   in a collect-safe call (#:blocking? #t), whose result the Racket
;;;   thread syncs on.
;;; - Every call is given the calling Racket thread's own error object: the
;;;   library's per-OS-thread last error would mix Racket threads.
;;; - Lists cross the contract as R6RS lists, which under plt-r6rs are
;;;   Racket's mutable pairs (mcons): converted at the exported procedures.
(require ffi/unsafe
         racket/fixnum
         ffi/unsafe/port
         (only-in ffi/unsafe/schedule unsafe-poller unsafe-poll-fd unsafe-poll-ctx-fd-wakeup)
         ffi/unsafe/atomic
         ffi/unsafe/os-thread
         ffi/unsafe/os-async-channel
         ffi/unsafe/custodian
         racket/list
         racket/mpair
         (only-in racket/unsafe/ops unsafe-struct-ref)
         (only-in srfi/19 make-time time? time-type time-second time-nanosecond
                  time-duration current-time time-utc add-duration))

(provide %library-version %constant %status-is %status-name
         %last-error
         %guard! %keep-alive
         %duration? %duration->us %us->duration
         %make-binary-port %port-transcoded-from? %port-has-buffered-input?
         %make-lock %with-lock %thread-token %thread-token-live?
         %make-weak-table %weak-table-ref
         %weak-table-set! %weak-table-keys
         %make-client-socket %make-server-socket %make-server-sockets
         %socket-is-closed %socket-is-nonblocking %socket-accept
         %socket-recv %socket-send %socket-sendto %socket-recvfrom
         %socket-shutdown %socket-close %socket-interrupt
         %socket-get-info %socket-get-peer %socket-info-hostname
         %socket-info-ip-address %socket-info-port %socket-info-free
         %socket-name %socket-node %socket-service %socket-fd
         %socket-last-error
         %ip-address-is-v6 %ip-address-to-string %ip-address-to-bytes
         %ip-address-free
         %make-socket %create-socket %socket-connect %socket-bind
         %socket-listen %socket-setsockopt-int %socket-setsockopt-bytes
         %socket-setsockopt-duration %socket-getsockopt-int
         %socket-getsockopt-bytes %socket-getsockopt-duration
         %socket-set-nonblocking %socket-set-read-timeout
         %socket-get-read-timeout
         %fdset-new %fdset-from-sockets %fdset-ref %fdset-set %fdset-clear
         %fdset-sockets %socket-select %socket-select-inplace
         %socket-read-select %socket-write-select %socket-error-select
         %make-addrinfo %make-hint-addrinfo %get-addrinfo %next-addrinfo
         %addrinfo-family %addrinfo-socktype %addrinfo-flags
         %addrinfo-protocol %addrinfo-sockaddr %sockaddr-new
         %sockaddr-family %sockaddr-port %sockaddr-ip-address
         %us->deadline
         %selector-new %selector-add %selector-wait %selector-interrupt
         %selector-clear %selector-size %selector-is-closed
         %selector-is-waiting %selector-close
         %make-unix-client-socket %make-unix-server-socket %socket-pair
         %socket-peer-credentials %make-unix-sockaddr %sockaddr-path
         %socket-connect-sockaddr %socket-bind-sockaddr %socket-sockaddr
         ;; for Racket programs and the Racket-only tests
         socket-handle-waiters socket-os-thread-calls)

;; ---- Loading the library ---------------------------------------------------
;; SAGSOCKET_LIBRARY names the file to load; otherwise the dynamic loader
;; finds libsagsocket.so.1 (installed, or through LD_LIBRARY_PATH).
(define library-file
  (let ([f (getenv "SAGSOCKET_LIBRARY")])
    (if (and f (not (string=? f ""))) f "libsagsocket.so.1")))
(define lib
  (with-handlers ([exn:fail?
                   (lambda (e)
                     (error 'sagittarius-socket
                            "cannot load ~a (install libsagsocket, or set LD_LIBRARY_PATH or SAGSOCKET_LIBRARY): ~a"
                            library-file (exn-message e)))])
    (if (getenv "SAGSOCKET_LIBRARY")
        (ffi-lib library-file)
        (ffi-lib "libsagsocket" '("1")))))

;; (c name type): the library's function `name' as a Racket procedure;
;; those declared #:blocking? #t (named .../os) are called from OS threads
;; of ours.
(define-syntax-rule (c name type) (get-ffi-obj name lib type))

(define _h _uintptr)                   ; a handle (0: NULL)
(define (handle x) (if (eqv? x 0) #f x))

;; ---- Statuses ----------------------------------------------------------
(define E_READ_TIMEOUT -6)
(define E_WOULD_BLOCK -11)
(define E_INTERRUPTED -12)

(define %library-version ((c "sag_version_string" (_fun -> _string/utf-8))))
(define c-constant (c "sag_constant" (_fun _string/utf-8 _pointer -> _int)))
(define (%constant name)
  (let ([out (malloc 4 'atomic-interior)])
    (and (eqv? (c-constant name out) 0) (ptr-ref out _int32))))
(define c-status-is (c "sag_status_is" (_fun _int _int -> _int)))
(define (%status-is st kind) (not (eqv? (c-status-is st kind) 0)))
(define %status-name (c "sag_status_name" (_fun _int -> _string/utf-8)))

;; The deadline that keeps this OS thread out of every wait (see the top).
(void ((c "sag_thread_set_deadline" (_fun _int64 -> _int)) 0))

;; ---- Error objects, one per Racket thread ---------------------------------
(define c-error-new (c "sag_error_new" (_fun (o : (_ptr o _uintptr)) -> (st : _int) -> (values st o))))
(define c-error-free (c "sag_error_free" (_fun _uintptr -> _int)))
(define c-error-status (c "sag_error_status" (_fun _uintptr -> _int)))
(define c-error-errno (c "sag_error_errno" (_fun _uintptr -> _int)))
(define c-error-message (c "sag_error_message" (_fun _uintptr -> _string/utf-8)))
(define c-error-operation (c "sag_error_operation" (_fun _uintptr -> _string/utf-8)))
(define c-error-node (c "sag_error_node" (_fun _uintptr -> _string/utf-8)))
(define c-error-service (c "sag_error_service" (_fun _uintptr -> _string/utf-8)))
(define c-error-timeout (c "sag_error_timeout" (_fun _uintptr -> _int64)))
(define c-error-sent (c "sag_error_sent" (_fun _uintptr -> _size)))

;; A box around the error object's handle: once the thread is gone and the
;; box is garbage, the object is freed.
(define error-cell (make-thread-cell #f #f))
(define (thread-error)
  (let ([b (thread-cell-ref error-cell)])
    (if b
        (unbox b)
        (let-values ([(st e) (c-error-new)])
          (unless (eqv? st 0) (raise (exn:fail:out-of-memory "sag_error_new failed" (current-continuation-marks))))
          (let ([b (box e)])
            (register-finalizer b (lambda (b) (c-error-free (unbox b))))
            (thread-cell-set! error-cell b)
            e)))))

;; A failure the host layer itself answers (an interrupt or close it saw
;; while waiting), or the library's with a send's earlier bytes counted,
;; as %last-error's vector; #f: read the error object.
(define made-error (make-thread-cell #f #f))
(define (error-fields e)
  (vector (c-error-status e) (c-error-errno e) (c-error-message e)
          (c-error-operation e) (c-error-node e) (c-error-service e)
          (c-error-timeout e) (c-error-sent e)))
;; The calling Racket thread's last failure:
;; #(status errno message operation node service timeout-us sent).
(define (%last-error)
  (or (thread-cell-ref made-error) (error-fields (thread-error))))
;; Every failing call passes its status through `failed': what the library
;; recorded is the last failure again.
(define-syntax-rule (failed st)
  (let ([s st]) (unless (eqv? s 0) (thread-cell-set! made-error #f)) s))
(define (fail-with st message operation [sent 0])
  (thread-cell-set! made-error (vector st 0 message operation #f #f -1 sent))
  st)

;; ---- Out-parameters --------------------------------------------------------
;; Out-parameters land in this block; a call and the reading of its results
;; run in atomic mode, so no other Racket thread uses the block meanwhile.
(define scratch (malloc 64 'raw))
(define (out-ref type i) (ptr-ref scratch type 'abs (* 8 i)))
(define (out-addr i) (ptr-add scratch (* 8 i)))
;; the first slot's address, made once (ptr-add makes a new pointer a call)
(define out0 (out-addr 0))
(define (read-out type i)
  (case type
    [(int) (out-ref _int i)]
    [(bool) (not (eqv? (out-ref _int i) 0))]
    [(i64) (out-ref _int64 i)]
    [(size) (out-ref _size i)]
    [(handle) (handle (out-ref _uintptr i))]
    [(string) (let ([p (out-ref _pointer i)]) (and p (cast p _pointer _string/utf-8)))]))

;; An exception raised inside (a bad argument refused by a foreign call's
;; type) leaves atomic mode too.
(define-syntax-rule (atomically body ...)
  (dynamic-wind start-atomic (lambda () body ...) end-atomic))

;; Built at run time from the types, as the number of out-parameters varies.
(define (ctype-of t)
  (case t
    [(h) _h] [(int) _int] [(i64) _int64] [(size) _size] [(str) _string/utf-8]
    [(bytes) _bytes] [(ptr) _pointer]))
(define (make-out-proc cname atypes otypes)
  (let* ([n (length otypes)]
         [f (get-ffi-obj cname lib
                         (_cprocedure (append (map ctype-of atypes)
                                              (for/list ([i n]) _pointer)
                                              (list _uintptr))
                                      _int))]
         [outs (for/list ([i n]) (out-addr i))])
    (lambda args
      (let ([e (thread-error)])
        (atomically
         (let ([st (apply f (append args outs (list e)))])
           (if (eqv? st 0)
               (apply values st (for/list ([t otypes] [i (in-naturals)]) (read-out t i)))
               (apply values (failed st) (for/list ([t otypes]) #f)))))))))
(define (make-status-proc cname atypes)
  (let ([f (get-ffi-obj cname lib (_cprocedure (append (map ctype-of atypes) (list _uintptr)) _int))])
    (lambda args (failed (apply f (append args (list (thread-error))))))))
(define-syntax-rule (defout name cname (atype ...) (otype ...))
  (define name (make-out-proc cname '(atype ...) '(otype ...))))
(define-syntax-rule (defstatus name cname (atype ...))
  (define name (make-status-proc cname '(atype ...))))

;; ---- OS threads for what cannot be made non-blocking -----------------------
;; Handles in use by a call in an OS thread, with a count: their objects
;; may be garbage meanwhile (the caller passed only the handle), so their
;; finalization waits (see %guard!).
(define busy (make-hasheqv))
(define (busy! hs d)
  (atomically
   (for ([h hs] #:when h)
     (let ([n (+ d (hash-ref busy h 0))])
       (if (zero? n) (hash-remove! busy h) (hash-set! busy h n))))))

;; A foreign call made in an OS thread must not raise there (an exception
;; in an OS thread ends the process): its integer arguments are checked on
;; the Racket thread first. (os-args who (kind value) ...), kind i64, int,
;; size or h, raises exn:fail:contract for one that the call's type would
;; refuse.
(define (arg-fits? kind v)
  (and (exact-integer? v)
       (case kind
         [(i64) (<= (- (expt 2 63)) v (- (expt 2 63) 1))]
         [(int) (<= (- (expt 2 31)) v (- (expt 2 31) 1))]
         [(size h) (<= 0 v (- (expt 2 64) 1))])))
(define-syntax-rule (os-args who (kind v) ...)
  (begin (unless (arg-fits? 'kind v)
           (raise-argument-error who (format "~a (a ~a argument)" 'v 'kind) v))
         ...))

;; How many calls went to an OS thread (for the tests).
(define os-thread-calls 0)
(define (socket-os-thread-calls) os-thread-calls)

;; Racket threads of the host's own (seeing OS-thread calls to their end),
;; under a custodian of their own: a custodian shutdown or a kill of the
;; thread that made the call does not stop them.
(define helper-custodian (make-custodian))
(define (helper-thread thunk)
  (parameterize ([current-custodian helper-custodian]) (thread thunk)))

;; (in-os-thread handles work cleanup [interrupt]): runs (work) in an OS
;; thread of its own and returns its result; handles stay busy until it
;; has finished. work may only make collect-safe foreign calls on raw
;; memory, with arguments already checked (os-args). A helper thread waits
;; for the result: when the calling Racket thread is broken, or killed
;; (its custodian shut down), (interrupt) asks the work to end and
;; (cleanup result) releases what it made.
(define (in-os-thread handles work cleanup [interrupt void])
  (let ([ch (make-os-async-channel)]
        [done (make-semaphore 0)]
        [caller (current-thread)]
        [state 'running]                  ; then (list result), 'taken or 'abandoned
        ;; the caller's error object, which work may write, outlives it
        [error-box (thread-cell-ref error-cell)])
    (set! os-thread-calls (+ os-thread-calls 1))
    (busy! handles 1)
    (call-in-os-thread (lambda () (os-async-channel-put ch (work))))
    (helper-thread
     (lambda ()
       (let ([r (sync ch (wrap-evt (thread-dead-evt caller) (lambda _ caller)))])
         (let ([r (if (eq? r caller)
                      (begin (atomically (set! state 'abandoned)) (interrupt) (sync ch))
                      r)])
           (busy! handles -1)
           (set! error-box #f)
           (when (atomically
                  (if (eq? state 'abandoned)
                      #t
                      (begin (set! state (list r)) (semaphore-post done) #f)))
             (cleanup r))))))
    (with-handlers ([exn:break?
                     (lambda (b)
                       (let ([r (atomically (begin0 state (set! state 'abandoned)))])
                         (if (pair? r) (cleanup (car r)) (interrupt)))
                       (raise b))])
      (semaphore-wait/enable-break done)
      (atomically (begin0 (car state) (set! state 'taken))))))

;; (in-os-thread/detached handles work): (work) in an OS thread, not waited
;; for: a helper thread keeps handles busy until it has finished.
(define (in-os-thread/detached handles work)
  (let ([ch (make-os-async-channel)])
    (busy! handles 1)
    (call-in-os-thread (lambda () (os-async-channel-put ch (work))))
    (helper-thread (lambda () (sync ch) (busy! handles -1)))
    (void)))

;; Test hook (Tests/scheme/racket/test-racket.sps): every resolution first sleeps this long in its
;; OS thread, to show that Racket threads run meanwhile.
(define resolver-delay-us
  (let* ([v (getenv "SAGSOCKET_RACKET_RESOLVER_DELAY_US")] [n (and v (string->number v))])
    (if (and (exact-integer? n) (<= 0 n 4000000000)) n 0)))
(define c-usleep (get-ffi-obj "usleep" #f (_fun #:blocking? #t _uint32 -> _int)))

;; A NUL-terminated UTF-8 copy of s (or NULL for #f) in raw memory.
(define (raw-string s)
  (if s
      (let* ([b (string->bytes/utf-8 s)] [n (bytes-length b)] [p (malloc (+ n 1) 'raw)])
        (memcpy p b n)
        (ptr-set! p _byte n 0)
        p)
      #f))
(define (free* . ps) (for ([p ps]) (when p (free p))))

;; ---- Waiting in Racket -----------------------------------------------------
;; Racket threads waiting on a socket: by handle, a signal that an
;; interrupt or a close posts and replaces (a semaphore, why it was posted,
;; 'interrupted or 'closed, and the events a wait on the socket alone
;; syncs on, made at the first such wait and kept while the signal is),
;; and the threads waiting (a thread killed while it waits is left there:
;; it counts no more once it is dead, and is dropped at the next look).
(struct signal (sem [why #:mutable] [read #:mutable] [write #:mutable]))
(define signals (make-hasheqv))
(define waiters (make-hasheqv))
;; Hash tables of handles change in atomic mode; nothing there raises, so
;; without atomically's dynamic-wind.
(define-syntax-rule (in-atomic body ...)
  (begin (start-atomic) (begin0 (let () body ...) (end-atomic))))
(define (signal-of h)
  (in-atomic
   (or (hash-ref signals h #f)
       (let ([sig (signal (make-semaphore 0) #f #f #f)]) (hash-set! signals h sig) sig))))
;; The event that reports sig posted, with its reason.
(define (signal-evt sig) (wrap-evt (semaphore-peek-evt (signal-sem sig)) (lambda _ (signal-why sig))))
(define (live-waiters h)
  (in-atomic
   (let ([l (filter (lambda (t) (not (thread-dead? t))) (hash-ref waiters h '()))])
     (if (null? l) (hash-remove! waiters h) (hash-set! waiters h l))
     l)))
(define (socket-handle-waiters h) (length (live-waiters h)))
(define (add-waiter! h t)
  (in-atomic
   (let ([l (hash-ref waiters h '())])
     ;; the dead are dropped when there is anyone to drop
     (hash-set! waiters h (cons t (if (null? l) l (filter (lambda (t) (not (thread-dead? t))) l)))))))
(define (remove-waiter! h t)
  (in-atomic
   (let ([l (remq t (hash-ref waiters h '()))])
     (if (null? l) (hash-remove! waiters h) (hash-set! waiters h l)))))
(define (wake-waiters! h why)
  (let ([sig (in-atomic (begin0 (hash-ref signals h #f) (hash-remove! signals h)))])
    (when sig
      (set-signal-why! sig why)
      (semaphore-post (signal-sem sig)))))
(define (forget-handle! h)
  (in-atomic (hash-remove! signals h) (hash-remove! waiters h) (hash-remove! modes h)))

;; What a wait asks of a socket, by handle, read from the library once and
;; kept: a mutable vector of whether it is non-blocking, its read timeout
;; and its send timeout (microseconds), each #f until read. Only this
;; layer changes them (%socket-set-nonblocking, %socket-set-read-timeout,
;; the setsockopt procedures), and each of those forgets the socket's
;; entry; a freed handle's is forgotten with it. A query that fails is
;; not kept.
(define modes (make-hasheqv))
(define (forget-modes! h) (in-atomic (hash-remove! modes h)))
;; (kept-mode h slot query): slot's value, or (query h) kept; in atomic
;; mode throughout, so a change that forgets the entry comes before the
;; reading or after the keeping (query's call nests its atomic mode and
;; raises nothing for an exact h).
(define (kept-mode h slot query)
  (if (exact-nonnegative-integer? h)
      (begin
        (start-atomic)
        (let* ([v (or (hash-ref modes h #f)
                      (let ([v (make-vector 3 #f)]) (hash-set! modes h v) v))]
               [x (or (vector-ref v slot)
                      (let ([x (query h)]) (when x (vector-set! v slot x)) x))])
          (end-atomic)
          x))
      (query h)))

(define (now-ms) (current-inexact-monotonic-milliseconds))
;; The deadline (monotonic ms) of a timeout in microseconds (0 or less: none).
(define (deadline-of us) (and (> us 0) (+ (now-ms) (/ us 1000.0))))

;; The event of a wait until one of evts is ready ('ready) or one of
;; handles is interrupted or closed ('interrupted or 'closed).
(define (wait-evt handles evts)
  (apply choice-evt
         (append (map (lambda (e) (wrap-evt e (lambda _ 'ready))) evts)
                 (map (lambda (h) (signal-evt (signal-of h))) handles))))
;; The event of a wait on one socket, descriptor fd, for mode ('read or
;; 'write), under signal sig: one event that Racket's scheduler polls
;; (unsafe-poller), answering sig's reason once it is posted, else 'ready
;; once fd is ready (as unsafe-fd->evt's does), else registering fd for
;; the scheduler's sleep. (A choice of the descriptor's event and the
;; signal's semaphore made the scheduler handle two events a wait.)
(struct socket-evt (fd mode sig [waited? #:mutable] [idle? #:mutable])
  #:property prop:evt
  (unsafe-poller
   (lambda (self wakeups)
     (let ([why (signal-why (socket-evt-sig self))] [fd (socket-evt-fd self)] [mode (socket-evt-mode self)])
       (cond
         [why (values (list why) #f)]
         [(unsafe-poll-fd fd mode #t) (values '(ready) #f)]
         [else (when wakeups (unsafe-poll-ctx-fd-wakeup wakeups fd mode))
               (set-socket-evt-idle?! self #t)
               (values #f self)])))))
;; That of a wait on socket h alone for mode, kept in its signal; #f when
;; h has no descriptor (closed).
(define (socket-wait-evt h mode)
  (let* ([sig (signal-of h)] [kept (if (eq? mode 'read) (signal-read sig) (signal-write sig))])
    (or kept
        (let-values ([(st fd) (c-socket-fd h)])
          (and (eqv? st 0)
               (let ([e (socket-evt fd mode sig #f #f)])
                 (if (eq? mode 'read) (set-signal-read! sig e) (set-signal-write! sig e))
                 e))))))

;; Waits until evt (a wait-evt of handles: a list of handles, or one) is
;; ready, the deadline (or #f) passes, or one of handles is interrupted or
;; closed: 'ready, 'timeout, 'interrupted or 'closed.
(define (wait-for handles evt deadline)
  (let ([try (thread-cell-ref port-try-cell)])
    (cond
      ;; an interrupt or close a socket port saw while it waited
      [(and try (let ([b (port-try-wake try)]) (and (unbox b) (begin0 (unbox b) (set-box! b #f)))))]
      [(and try (port-try-escape try))
       => (lambda (escape)
            ;; a socket port's read or write: it does not wait here, it
            ;; hands the port the event to wait on (with the deadline's alarm)
            (cond [(sync/timeout 0 evt)]
                  [(and deadline (>= (now-ms) deadline)) 'timeout]
                  ;; alarm-evt counts real-time milliseconds; deadline is monotonic
                  [else (escape (if deadline
                                    (choice-evt evt (alarm-evt (+ (current-inexact-milliseconds)
                                                                  (- deadline (now-ms)))))
                                    evt))]))]
      [else
       (let ([me (current-thread)])
         (dynamic-wind
           (lambda () (if (list? handles) (for ([h (in-list handles)]) (add-waiter! h me)) (add-waiter! handles me)))
           (lambda ()
             (if deadline
                 (or (sync/timeout (max 0 (/ (- deadline (now-ms)) 1000.0)) evt) 'timeout)
                 (sync evt)))
           (lambda () (if (list? handles) (for ([h (in-list handles)]) (remove-waiter! h me)) (remove-waiter! handles me)))))])))
;; While a socket port reads, the calling thread's port-try: a procedure
;; that takes the event a wait would sync on and escapes with it; a box
;; that keeps the deadline of a read timeout from one try of the read to
;; the next; and a box that keeps an interrupt or close seen while the
;; port waited.
(struct port-try ([escape #:mutable] deadline wake))
(define port-try-cell (make-thread-cell #f))
(define (carried-deadline) (let ([t (thread-cell-ref port-try-cell)]) (and t (port-try-deadline t))))

(defout c-socket-fd "sag_socket_fd" (h) (int))
;; The data path's queries of one socket, made without the generic
;; out-procedure (its apply and lists): h is a handle the portable layer
;; passed (an exact integer, which the call's type takes without raising),
;; so atomic mode needs no dynamic-wind. (one-out f type h) => (values st x)
(define-syntax-rule (one-out f type h fallback)
  (if (exact-nonnegative-integer? h)
      (let ([e (thread-error)])
        (start-atomic)
        (let ([st (f h out0 e)])
          (let ([x (and (eqv? st 0) (ptr-ref out0 type))])
            (end-atomic)
            (values (failed st) x))))
      (fallback h)))
(define c-is-nonblocking/1 (c "sag_socket_is_nonblocking" (_fun _h _pointer _uintptr -> _int)))
(define c-get-read-timeout/1 (c "sag_socket_get_read_timeout" (_fun _h _pointer _uintptr -> _int)))
;; The readiness event of socket h for mode 'read or 'write, or #f when it
;; has no descriptor (closed).
(define (fd-evt h mode)
  (let-values ([(st fd) (c-socket-fd h)])
    (and (eqv? st 0) (unsafe-fd->evt fd mode))))

(defout c-is-nonblocking "sag_socket_is_nonblocking" (h) (bool))
(define (user-nonblocking? h) (not (eq? (kept-mode h 0 query-nonblocking) 'blocking)))
;; 'blocking, 'nonblocking, or #f (the query failed: the call reports why)
(define (query-nonblocking h)
  (let-values ([(st on) (one-out c-is-nonblocking/1 _int h c-is-nonblocking)])
    (and (eqv? st 0) (if (and on (not (eqv? on 0))) 'nonblocking 'blocking))))

(define msg-dontwait (%constant "MSG_DONTWAIT"))
(define msg-waitall (%constant "MSG_WAITALL"))
(define msg-peek (%constant "MSG_PEEK"))

;; ---- Durations (SRFI 19 time-duration) -------------------------------------
(define (%duration? x) (and (time? x) (eq? (time-type x) time-duration)))
(define (%duration->us t)
  (+ (* (time-second t) 1000000) (quotient (+ (time-nanosecond t) 999) 1000)))
(define (%us->duration us)
  (let-values ([(s r) (let ([q (floor (/ us 1000000))]) (values q (- us (* q 1000000))))])
    (make-time time-duration (* r 1000) s)))
(define (%us->deadline us)
  (add-duration (current-time time-utc) (%us->duration us)))

;; ---- Locks and weak tables -------------------------------------------------
;; A lock a thread may take again while it holds it. Kill-safe: a lock
;; whose holder was killed (so never let it go) is free; a waiter syncs on
;; the holder letting go (a semaphore posted then) or dying.
(struct lock ([owner #:mutable] [released #:mutable]))
(define (%make-lock) (lock #f #f))
(define (%with-lock l thunk)
  (let ([me (current-thread)])
    (if (eq? (lock-owner l) me)
        (thunk)
        (dynamic-wind
          (lambda () (parameterize-break #f (acquire! l me)))
          thunk
          (lambda () (release! l me))))))
(define (acquire! l me)
  (let loop ()
    (let ([wait (atomically
                 (let ([o (lock-owner l)])
                   (if (or (not o) (thread-dead? o))
                       (begin (set-lock-owner! l me) (set-lock-released! l (make-semaphore 0)) #f)
                       (choice-evt (semaphore-peek-evt (lock-released l)) (thread-dead-evt o)))))])
      (when wait
        (sync/enable-break wait)
        (loop)))))
(define (release! l me)
  (atomically
   (when (eq? (lock-owner l) me)
     (set-lock-owner! l #f)
     (semaphore-post (lock-released l)))))
;; A thread killed while it waits on a selector leaves its token there:
;; the token is the thread, which then counts as gone.
(define (%thread-token) (current-thread))
(define (%thread-token-live? t) (not (thread-dead? t)))
(define (%make-weak-table) (make-ephemeron-hasheq))
(define (%weak-table-ref t k) (hash-ref t k #f))
(define (%weak-table-set! t k v) (hash-set! t k v))
(define (%weak-table-keys t) (list->mlist (hash-keys t)))

;; ---- Ports -----------------------------------------------------------------
;; Socket ports are Racket ports (which Racket's R6RS library takes as
;; binary ports), not R6RS custom ports, for three reasons: Racket 8.7's
;; make-custom-binary-output-port calls write! with an end index where R6RS
;; says a count; a Racket port can say that it is unbuffered, so that the
;; textual port transcoded-port makes over it (reencode-output-port) sends
;; every put at once; and a read can be asked not to wait, which is how
;; %port-has-buffered-input? asks Racket whether a port holds input.
;; Each port is named by an uninterned symbol, which the Racket port that
;; transcoded-port makes under its textual port takes as its own name:
;; this is how %port-transcoded-from? tells which binary port a textual
;; port was made from.
(struct io-port (in out)
  #:property prop:input-port 0
  #:property prop:output-port 1
  #:property prop:object-name (lambda (self) (object-name (io-port-in self))))

;; While this is set, a socket port's read does not call read!: it answers
;; that nothing is there now.
(define no-read (make-parameter #f))
;; A buffer mode that stays 'none.
(define unbuffered (case-lambda [() 'none] [(mode) (void)]))

(define (%make-binary-port name direction read! write! getpos setpos close)
  (let* ([id (string->uninterned-symbol name)]
         [closes 0]
         [close-one (lambda ()
                      (set! closes (+ closes 1))
                      (when (and close (= closes (if (eq? direction 'input/output) 2 1)))
                        (close)))]
         [in (and read! (make-socket-input-port id read! close-one))]
         [out (and write!
                   (make-output-port
                    id always-evt
                    ;; Racket asks with can-block? #f, but a write of the
                    ;; whole range that waits is what makes a port write's
                    ;; failure count its bytes (socket-sent-count) and its
                    ;; send timeout one timeout: the wait is in Racket, and
                    ;; breakable when Racket says so (it calls this with
                    ;; breaks disabled)
                    (lambda (bs start end can-block? breaks?)
                      (let ([all (lambda ()
                                   (let loop ([i start])
                                     (if (< i end)
                                         (loop (+ i (write! bs i (- end i))))
                                         (- end start))))])
                        (if breaks? (parameterize-break #t (all)) (all))))
                    close-one
                    #f #f #f #f void 1
                    unbuffered))])
    (case direction
      [(input) in]
      [(output) out]
      [else (io-port in out)])))

;; The input side: bytes that read! gave and no read has taken yet wait in
;; `held' (a peek leaves them there). Neither procedure waits: when read!
;; would wait, it escapes (port-try-escape) with what to wait on, which the
;; procedure hands Racket as its result; Racket syncs on it, breakably,
;; and asks again. So a break ends a read that waits, and a thread killed
;; while it waits holds nothing: `held' changes only in atomic mode, and
;; one thread at a time runs read! (`fetcher', free again when that thread
;; is dead).
(define (make-socket-input-port id read! close)
  (let ([held #""]                ; bytes read! gave, not yet taken
        [eof? #f]                 ; read! said end of stream after them
        [fetcher #f]              ; the thread running read!, or #f
        [fetched #f]              ; posted when the fetcher is done (made when one waits)
        [deadline (box #f)]       ; the read timeout's, kept between tries
        [wake (box #f)])          ; 'interrupted or 'closed, seen while waiting
   (let ([try (port-try #f deadline wake)])
    ;; One read! for a read (into bs itself) or a peek (into held), by one
    ;; thread at a time: the bytes read, eof, #t (a peek has more now), or
    ;; an event to wait on first (then Racket asks again).
    (define (fetch! bs skip remove?)
      (let* ([me (current-thread)]
             [busy (atomically
                    (cond [(or (> (bytes-length held) skip) eof?) 'again]
                          [(and fetcher (not (thread-dead? fetcher)))
                           (unless fetched (set! fetched (make-semaphore 0)))
                           (choice-evt (semaphore-peek-evt fetched) (thread-dead-evt fetcher))]
                          [else (set! fetcher me) #f]))])
        (cond
          [(eq? busy 'again) #t]
          [busy (wrap-evt busy (lambda _ 0))]
          [else
           (dynamic-wind
             void
             (lambda ()
               ;; held is empty here (only the fetcher adds to it): a read
               ;; lands in bs itself
               (let* ([direct? (and remove? (= skip 0))]
                      [buf (if direct? bs (make-bytes (max 4096 (+ skip 1))))]
                      [r (let/ec k
                           (set-port-try-escape! try k)
                           (thread-cell-set! port-try-cell try)
                           (read! buf 0 (bytes-length buf)))])
                 (cond
                   [(evt? r) (wrap-evt r (lambda (v)
                                           (when (memq v '(interrupted closed)) (set-box! wake v))
                                           0))]
                   [else
                    (set-box! deadline #f)
                    (cond
                      [direct? (if (eqv? r 0) eof r)]
                      [else (atomically
                             (if (eqv? r 0)
                                 (set! eof? #t)
                                 (set! held (bytes-append held (subbytes buf 0 r)))))
                            #t])])))
             (lambda ()
               (thread-cell-set! port-try-cell #f)
               (set-port-try-escape! try #f)
               (atomically
                (when (eq? fetcher me)
                  (set! fetcher #f)
                  (when fetched (semaphore-post fetched) (set! fetched #f))))))])))
    ;; the first bytes of held from skip on, or eof, or #f (none there)
    (define (take! bs skip remove?)
      ;; nothing here can raise: atomic mode without dynamic-wind
      (start-atomic)
      (let ([r (let ([n (min (bytes-length bs) (max 0 (- (bytes-length held) skip)))])
                 (cond
                   [(> n 0)
                    (bytes-copy! bs 0 held skip (+ skip n))
                    (when remove? (set! held (subbytes held n)))
                    n]
                   [eof? (when remove? (set! eof? #f)) eof]
                   [else #f]))])
        (end-atomic)
        r))
    (define (serve bs skip remove?)
      (or (take! bs skip remove?)
          (if (no-read)
              never-evt                    ; "nothing now" to byte-ready?
              (let ([r (fetch! bs skip remove?)])
                (if (eq? r #t) (or (take! bs skip remove?) 0) r)))))
    (make-input-port
     id
     (lambda (bs) (serve bs 0 #t))
     (lambda (bs skip progress-evt) (serve bs skip #f))
     close
     #f #f #f void 1
     ;; the mode Racket reads when the port is both input and output:
     ;; unbuffered
     unbuffered))))

;; Racket 8.7's R6RS textual ports are opaque structures (textual-input-port,
;; textual-output-port, textual-input/output-port) whose first field is the
;; Racket port transcoded-port made; that port's name is the binary
;; port's. Any other port is not one of ours.
(define textual-structs '(textual-input-port textual-output-port textual-input/output-port))
(define (%port-transcoded-from? bp tp)
  (let ([name (object-name bp)])
    (and (symbol? name) (not (symbol-interned? name))
         (memq (object-name tp) textual-structs)
         (let ([under (unsafe-struct-ref tp 0)])
           (and (port? under) (eq? (object-name under) name))))))

;; #t when Racket's port (the binary port's peeked bytes, or the textual
;; port's decoded characters) holds input that a read returns at once: the
;; port is asked with its socket reads switched off.
(define (%port-has-buffered-input? p)
  (parameterize ([no-read #t])
    (and (input-port? p)
         (if (byte-ready? p)
             (not (eof-object? (peek-byte p)))
             #f))))

;; ---- Finalization and custodians ------------------------------------------
;; %guard! frees obj's handle once obj is garbage (Racket's finalization
;; thread runs the free), and closes a socket or selector when the current
;; custodian shuts down. A handle that a Racket thread still waits on, or
;; that a call in an OS thread uses, is not freed under it: its
;; finalization is put off until then.
(define c-socket-free (c "sag_socket_free" (_fun _h -> _int)))
(define c-addrinfo-free (c "sag_addrinfo_free" (_fun _h -> _int)))
(define c-sockaddr-free (c "sag_sockaddr_free" (_fun _h -> _int)))
(define c-fdset-free (c "sag_fdset_free" (_fun _h -> _int)))
(define c-selector-free (c "sag_selector_free" (_fun _h -> _int)))
;; Keeps obj reachable up to here: obj's finalizer (a thread of its own)
;; does not free the handle a call took from it earlier while the call runs.
(define (%keep-alive obj) (void/reference-sink obj))

(define (%guard! obj kind h)
  (let ([free (case kind
                [(socket) c-socket-free]
                [(addrinfo) c-addrinfo-free]
                [(sockaddr) c-sockaddr-free]
                [(fdset) c-fdset-free]
                [(selector) c-selector-free]
                [else (raise-argument-error '%guard! "handle kind" kind)])])
    (letrec ([finalize (lambda (o)
                         (cond [(or (hash-ref busy h #f) (pair? (live-waiters h)))
                                (register-finalizer o finalize)]
                               ;; close(2) waits for the linger time: not here
                               [(and (eq? kind 'socket) (lingers? h))
                                (forget-handle! h)
                                (call-in-os-thread (lambda () (c-socket-free/os h)))]
                               [else (forget-handle! h) (free h)]))])
      (register-finalizer obj finalize))
    (case kind
      [(socket) (register-custodian-shutdown obj (lambda (o) (socket-close h #f)) #:weak? #t)]
      [(selector) (register-custodian-shutdown obj (lambda (o) (%selector-close h)) #:weak? #t)]
      [else (void)])
    obj))

;; ---- Sockets ---------------------------------------------------------------
;; Made in an OS thread: these resolve names (getaddrinfo) and connect.
(define c-make-client-socket/os
  (c "sag_make_client_socket"
     (_fun #:blocking? #t _pointer _pointer _int _int _int _int _pointer _uintptr -> _int)))
(define c-make-server-socket/os
  (c "sag_make_server_socket"
     (_fun #:blocking? #t _pointer _int _int _int _pointer _uintptr -> _int)))
(define c-make-server-sockets/os
  (c "sag_make_server_sockets"
     (_fun #:blocking? #t _pointer _int _int _int _pointer _size _pointer _uintptr -> _int)))
(define c-get-addrinfo/os
  (c "sag_get_addrinfo" (_fun #:blocking? #t _pointer _pointer _h _pointer _uintptr -> _int)))

;; (resolve call free-result): runs (call out-block err) in an OS thread
;; after the test hook's delay, returns its status; free-result releases
;; what a call whose Racket thread was broken made.
;; (in-os-thread/out handles n call release): (call out err) in an OS
;; thread, out a raw block of n out-parameters; answers (values status
;; out), the caller frees out. #:raws, raw memory the call reads, is freed
;; once it has returned; a broken caller leaves (release out) to free what
;; the call made. #:here? #t makes the call on Racket's thread instead;
;; #:resolves? #t marks a resolution, for the test hook.
(define (in-os-thread/out handles n call release
                          #:raws [raws '()] #:here? [here? #f] #:resolves? [resolves? #f])
  (let ([out (malloc (* 8 (max n 1)) 'raw)] [e (thread-error)])
    (let ([st (if here?
                  (call out e)
                  (in-os-thread
                   handles
                   (lambda ()
                     (when (and resolves? (not (eqv? resolver-delay-us 0)))
                       (c-usleep resolver-delay-us))
                     (call out e))
                   (lambda (st)
                     (when (eqv? st 0) (release out))
                     (free out)
                     (apply free* raws))))])
      (apply free* raws)
      (values (failed st) out))))

;; A resolution that cannot reach the resolver is made on the Racket thread
;; (an OS thread costs far more than getaddrinfo then does): no service or a
;; port number, and no node or one that getaddrinfo itself reads as a
;; numeric address. So get-addrinfo first asks getaddrinfo here, with
;; AI_NUMERICHOST added to the hints (it then never looks a name up, and
;; reads numbers exactly as it would without the flag); only when that
;; fails is the resolution made, with the caller's hints, in an OS thread.
(define ai-numerichost (%constant "AI_NUMERICHOST"))
;; getaddrinfo's own flags for NULL hints (glibc: AI_V4MAPPED | AI_ADDRCONFIG)
(define null-hints-flags (bitwise-ior (%constant "AI_V4MAPPED") (%constant "AI_ADDRCONFIG")))
(define (numeric-service? service)
  (or (not service) (regexp-match? #px"^[0-9]+$" service)))

(define (%make-client-socket node service family socktype flags protocol)
  (os-args '%make-client-socket (int family) (int socktype) (int flags) (int protocol))
  (let ([n (raw-string node)] [s (raw-string service)])
    (let-values ([(st out) (in-os-thread/out
                            '() 1
                            (lambda (out e) (c-make-client-socket/os n s family socktype flags protocol out e))
                            (lambda (out) (c-socket-free (ptr-ref out _uintptr 0)))
                            #:raws (list n s) #:resolves? #t)])
      (begin0 (values st (and (eqv? st 0) (ptr-ref out _uintptr 0)))
              (free out)))))

(define (%make-server-socket service family socktype protocol)
  (os-args '%make-server-socket (int family) (int socktype) (int protocol))
  (let ([s (raw-string service)])
    (let-values ([(st out) (in-os-thread/out
                            '() 1
                            (lambda (out e) (c-make-server-socket/os s family socktype protocol out e))
                            (lambda (out) (c-socket-free (ptr-ref out _uintptr 0)))
                            #:raws (list s) #:resolves? #t
                            #:here? (numeric-service? service))])
      (begin0 (values st (and (eqv? st 0) (ptr-ref out _uintptr 0)))
              (free out)))))

(define max-server-sockets 16)
(define (%make-server-sockets service family socktype protocol)
  (os-args '%make-server-sockets (int family) (int socktype) (int protocol))
  (let ([s (raw-string service)])
    (let-values ([(st out) (in-os-thread/out
                            '() (+ 1 max-server-sockets)
                            (lambda (out e)
                              (c-make-server-sockets/os s family socktype protocol
                                                        (ptr-add out 8) max-server-sockets out e))
                            (lambda (out)
                              (for ([i (min max-server-sockets (ptr-ref out _size 0))])
                                (c-socket-free (ptr-ref out _uintptr (+ i 1)))))
                            #:raws (list s) #:resolves? #t
                            #:here? (numeric-service? service))])
      (begin0 (values st (if (eqv? st 0)
                             (list->mlist
                              (for/list ([i (min max-server-sockets (ptr-ref out _size 0))])
                                (ptr-ref out _uintptr (+ i 1))))
                             '()))
              (free out)))))

(define (%get-addrinfo node service hints)
  (os-args '%get-addrinfo (h (or hints 0)))
  (let-values ([(st ai) (if (numeric-service? service)
                            (numeric-addrinfo node service hints)
                            (values -1 #f))])
    (if (eqv? st 0)
        (values st ai)
        (resolve-addrinfo node service hints #f))))

;; get-addrinfo on Racket's thread with the hints' fields and AI_NUMERICHOST
;; (see above): (values status handle); a failure leaves it to the resolver.
(define (numeric-addrinfo node service hints)
  (define (field get default)
    (if hints (let-values ([(st v) (get hints)]) (and (eqv? st 0) v)) default))
  (let ([family (field %addrinfo-family 0)] [socktype (field %addrinfo-socktype 0)]
        [flags (field %addrinfo-flags null-hints-flags)] [protocol (field %addrinfo-protocol 0)])
    (let-values ([(st numeric)
                  (if (and family socktype flags protocol)
                      (%make-hint-addrinfo family socktype (bitwise-ior flags ai-numerichost) protocol)
                      (values -1 #f))])
      (if (eqv? st 0)
          (begin0 (resolve-addrinfo node service numeric #t)
                  (c-addrinfo-free numeric))
          (values st #f)))))

(define (resolve-addrinfo node service hints here?)
  (let ([n (raw-string node)] [s (raw-string service)])
    (let-values ([(st out) (in-os-thread/out
                            (list hints) 1
                            (lambda (out e) (c-get-addrinfo/os n s (or hints 0) out e))
                            (lambda (out) (c-addrinfo-free (ptr-ref out _uintptr 0)))
                            #:raws (list n s) #:resolves? #t #:here? here?)])
      (begin0 (values st (and (eqv? st 0) (handle (ptr-ref out _uintptr 0))))
              (free out)))))

(defout %socket-is-closed "sag_socket_is_closed" (h) (bool))
(define (%socket-is-nonblocking h) (c-is-nonblocking h))

;; ---- Calls that wait, made without waiting --------------------------------
(defout c-get-read-timeout "sag_socket_get_read_timeout" (h) (i64))
(defout c-getsockopt-duration "sag_socket_getsockopt_duration" (h int int) (i64))
(define (read-timeout-us h) (or (kept-mode h 1 query-read-timeout) 0))
(define (query-read-timeout h)
  (let-values ([(st us) (one-out c-get-read-timeout/1 _int64 h c-get-read-timeout)]) (and (eqv? st 0) us)))
(define SOL_SOCKET (%constant "SOL_SOCKET"))
(define SO_SNDTIMEO (%constant "SO_SNDTIMEO"))
(define (send-timeout-us h) (or (kept-mode h 2 query-send-timeout) 0))
(define (query-send-timeout h)
  (let-values ([(st us) (c-getsockopt-duration h SOL_SOCKET SO_SNDTIMEO)]) (and (eqv? st 0) us)))

;; The deadline of a wait that may come: the timeout (microseconds, from
;; (timeout-us)) is read when the first wait starts, as the library measures
;; it, and only if a wait comes.
(define (lazy-deadline timeout-us)
  (let ([d 'unread] [carried (carried-deadline)])
    (lambda ()
      (when (eq? d 'unread)
        (set! d (if (and carried (unbox carried))
                    (car (unbox carried))
                    (deadline-of (timeout-us))))
        (when carried (set-box! carried (list d))))
      d)))

;; (retry-loop (loop st x) h mode deadline call again? on-interrupt on-close
;; on-timeout): call is an expression answering (values st x); while again?
;; (an expression of st) holds, waits for h to be ready for mode ('read or
;; 'write) and calls again. Interrupted while waiting: on-interrupt; closed:
;; on-close (which may call again with (loop #f)); when deadline (an
;; expression read at each wait) passes: on-timeout. A macro: the loop of every call
;; that waits, made without a closure a call. (retry-loop/first first ...)
;; waits on the event first (an expression: h's wait event, or #f to call
;; at once).
(define-syntax-rule (retry-loop (loop st x) h mode deadline call again? on-interrupt on-close on-timeout)
  (retry-loop/first #f (loop st x) h mode deadline call again? on-interrupt on-close on-timeout))
(define-syntax-rule (retry-loop/first first (loop st x) h mode deadline call again?
                                      on-interrupt on-close on-timeout)
  (let loop ([evt first])
    (case (if evt (wait-on h evt deadline) 'ready)
      [(ready)
       (let-values ([(st x) call])
         (if again?
             ;; no event: closed meanwhile, the call says so
             (loop (socket-wait-evt h mode))
             (values st x)))]
      [(interrupted) on-interrupt]
      [(closed) on-close]
      [else on-timeout])))

(define (interrupted-status who) (fail-with E_INTERRUPTED "interrupted" who))

;; accept: on a socket that may wait, the library's wait ends at once with
;; SAG_E_READ_TIMEOUT (a non-blocking socket answers SAG_E_WOULD_BLOCK).
(defout c-accept "sag_socket_accept" (h) (handle))
(define (%socket-accept h)
  (let ([deadline (lazy-deadline (lambda () (read-timeout-us h)))])
    (retry-loop (loop st s) h 'read (deadline)
                (c-accept h)
                (eqv? st E_READ_TIMEOUT)
                (values (interrupted-status "socket-accept") #f)
                ;; closed while waiting: accept answers as interrupted
                (values (interrupted-status "socket-accept") #f)
                ;; the library reports its own timeout (the deadline ends its wait)
                (c-accept h))))

;; (counted (f pre ...) (post ...) bv start n flags): a receive or send
;; of bv[start, start+n), (f pre ... bv start n flags post ... out err):
;; (values status count). Arguments the call's types take without raising
;; (what the portable layer passes) need no dynamic-wind around atomic mode.
(define-syntax-rule (counted (f pre ...) (post ...) bv start n flags)
  (let ([e (thread-error)])
    (if (and (bytes? bv) (fixnum? start) (fixnum? n) (fixnum? flags)
             (fx>= start 0) (fx>= n 0) (fx<= 0 flags #x7FFFFFFF))
        (begin
          (start-atomic)
          (let* ([st (f pre ... bv start n flags post ... out0 e)]
                 [count (if (eqv? st 0) (ptr-ref out0 _size) 0)])
            (end-atomic)
            (values (failed st) count)))
        (atomically
         (let ([st (f pre ... bv start n flags post ... out0 e)])
           (values (failed st) (if (eqv? st 0) (ptr-ref out0 _size) 0)))))))
(define (flag? flags f) (not (eqv? 0 (bitwise-and flags f))))
;; (transfer h mode deadline call-head call-tail bv start n flags
;; interrupted): one receive or send of bv[start, start+n) on h, waiting
;; for mode in Racket: (values status count); interrupted (an expression)
;; answers an interrupt. Would-block on a socket that may wait: wait.
;; A receive whose last call on the socket had to wait (a peer that answers
;; what was sent: it is seldom there at once) waits first, on the same
;; event, and calls once: that saves the call that would answer
;; SAG_E_WOULD_BLOCK. When the event then was ready at its first look, the
;; next receive calls first again.
(define-syntax-rule (transfer h mode deadline call-head call-tail bv start n flags interrupted)
  (retry-loop/first (and (eq? mode 'read) (wait-first h))
                    (loop st count) h mode (deadline)
                    (counted call-head call-tail bv start n (bitwise-ior flags msg-dontwait))
                    (and (eqv? st E_WOULD_BLOCK) (not (user-nonblocking? h)))
                    interrupted
                    (loop #f)           ; closed while waiting: the call says so
                    (counted call-head call-tail bv start n flags)))
;; h's read event when a receive should wait on it before calling (see
;; transfer), else #f. Not within a socket port's read, whose waits Racket
;; makes.
(define (wait-first h)
  (let ([evt (in-atomic (let ([sig (hash-ref signals h #f)]) (and sig (signal-read sig))))])
    (and evt
         (socket-evt-waited? evt)
         (not (thread-cell-ref port-try-cell))
         (not (user-nonblocking? h))
         evt)))
;; A wait on evt, h's socket-evt (wait-for's answer); it notes on evt
;; whether the thread had to block (the poller found the descriptor not
;; ready), which is what makes the next receive wait first.
(define (wait-on h evt deadline)
  (set-socket-evt-idle?! evt #f)
  (let ([r (wait-for h evt deadline)])
    (set-socket-evt-waited?! evt (socket-evt-idle? evt))
    r))

;; recv and recvfrom: tried with MSG_DONTWAIT; with MSG_WAITALL, until the
;; range is full or the peer has closed. A peek leaves the bytes queued:
;; with MSG_PEEK it waits for some and peeks once (as the library does).
(define c-recv (c "sag_socket_recv" (_fun _h _bytes _size _size _int _pointer _uintptr -> _int)))
(define c-recvfrom (c "sag_socket_recvfrom" (_fun _h _bytes _size _size _int _h _pointer _uintptr -> _int)))
(define-syntax-rule (receive h call-head call-tail bv start len flags)
  (if (flag? flags msg-dontwait)
      (counted call-head call-tail bv start len flags)
      (let ([deadline (lazy-deadline (lambda () (read-timeout-us h)))]
            [waitall? (and (flag? flags msg-waitall) (not (flag? flags msg-peek)))])
        (let more ([done 0])
          (let-values ([(st n)
                        (transfer h 'read deadline call-head call-tail bv (+ start done) (- len done) flags
                                  (values (interrupted-status "socket-recv") 0))])
            (cond
              [(and (eqv? st 0) waitall? (> n 0) (< (+ done n) len)) (more (+ done n))]
              [(eqv? st 0) (values st (+ done n))]
              [(> done 0) (values 0 done)]  ; a failure after some bytes: what came
              [else (values st n)]))))))
(define (%socket-recv h bv start len flags)
  (receive h (c-recv h) () bv start len flags))
(define (%socket-recvfrom h bv start len flags from)
  (receive h (c-recvfrom h) (from) bv start len flags))

;; send and sendto: with MSG_DONTWAIT, what fits, until all of it went (on
;; a non-blocking socket, what fitted).
(define c-send (c "sag_socket_send" (_fun _h _bytes _size _size _int _pointer _uintptr -> _int)))
(define c-sendto (c "sag_socket_sendto" (_fun _h _bytes _size _size _int _h _pointer _uintptr -> _int)))
(define-syntax-rule (transmit h call-head call-tail bv start count flags who)
  (if (flag? flags msg-dontwait)
      (counted call-head call-tail bv start count flags)
      (let ([deadline (lazy-deadline (lambda () (send-timeout-us h)))])
        (let more ([done 0])
          (let-values ([(st n)
                        (transfer h 'write deadline call-head call-tail bv (+ start done) (- count done) flags
                                  (values (fail-with E_INTERRUPTED "interrupted" who done) 0))])
            (cond
              [(and (eqv? st 0) (< (+ done n) count) (> n 0)) (more (+ done n))]
              [(eqv? st 0) (values st (+ done n))]
              [(and (eqv? st E_WOULD_BLOCK) (> done 0)) (values 0 done)]
              [else
               ;; the failure counts every byte of this call that went
               (unless (or (eqv? done 0) (thread-cell-ref made-error))
                 (let ([v (error-fields (thread-error))])
                   (vector-set! v 7 (+ done (vector-ref v 7)))
                   (thread-cell-set! made-error v)))
               (values st n)]))))))
(define (%socket-send h bv start count flags)
  (transmit h (c-send h) () bv start count flags "socket-send"))
(define (%socket-sendto h bv start count flags to)
  (transmit h (c-sendto h) (to) bv start count flags "socket-sendto"))

;; connect: started and finished by the library, waited for in Racket. A
;; try runs in atomic mode with the socket non-blocking for its length
;; (no other Racket thread sees the setting): sag_socket_connect then
;; starts the connection, or answers at once how it went, and
;; SAG_E_WOULD_BLOCK while it is under way. Meanwhile the Racket thread
;; waits for the descriptor to be writable (what connect(2)'s end is),
;; for an interrupt or close, or for the timeout, and tries again: Linux's
;; connect(2) on a socket whose connection is under way answers EALREADY
;; (still), 0 once it is made, or the reason it failed (which the library
;; reports as its own wait would: &socket-connection with the errno). When
;; the timeout passes, a last call on the blocking socket, whose wait the
;; thread's deadline ends at once, reports the library's own timeout.
;; Unix-domain connects with a sockaddr stay in an OS thread: a full
;; backlog there answers EAGAIN, with nothing to wait on.
(define c-connect (c "sag_socket_connect" (_fun _h _h _int64 _uintptr -> _int)))
(define c-connect-sockaddr (c "sag_socket_connect_sockaddr" (_fun _h _h _int64 _uintptr -> _int)))
(define c-connect-sockaddr/os
  (c "sag_socket_connect_sockaddr" (_fun #:blocking? #t _h _h _int64 _uintptr -> _int)))
(define c-set-nonblocking (c "sag_socket_set_nonblocking" (_fun _h _int _uintptr -> _int)))
(define c-interrupt (c "sag_socket_interrupt" (_fun _h _uintptr -> _int)))
(define (connect-in-racket call h to us)
  (os-args '%socket-connect (h h) (h to) (i64 us))
  (let ([e (thread-error)])
    (if (user-nonblocking? h)
        (failed (call h to us e))
        (let ([deadline (and (>= us 0) (+ (now-ms) (/ us 1000.0)))])
          (let-values
              ([(st none)
                (retry-loop (loop st none) h 'write deadline
                      (begin
                        ;; nothing here raises (the arguments are checked)
                        (start-atomic)
                        (c-set-nonblocking h 1 0)
                        (let ([st (call h to -1 e)])
                          (c-set-nonblocking h 0 0)
                          (end-atomic)
                          (values (failed st) #f)))
                      (eqv? st E_WOULD_BLOCK)
                      (values (interrupted-status "socket-connect!") #f)
                      (loop #f)           ; closed while waiting: the call says so
                      (values (failed (call h to us e)) #f))])
            st)))))
(define (connect-in-os-thread call h to us)
  (os-args '%socket-connect (h h) (h to) (i64 us))
  (let ([e (thread-error)])
    (failed
     (in-os-thread (list h to) (lambda () (call h to us e)) void (lambda () (c-interrupt h 0))))))
(define (%socket-connect h ai us) (connect-in-racket c-connect h ai us))
(define AF_UNIX (%constant "AF_UNIX"))
(define (%socket-connect-sockaddr h sa us)
  (os-args '%socket-connect (h h) (h sa) (i64 us))
  (let-values ([(st family) (%sockaddr-family sa)])
    (if (and (eqv? st 0) (not (eqv? family AF_UNIX)))
        (connect-in-racket c-connect-sockaddr h sa us)
        (connect-in-os-thread c-connect-sockaddr/os h sa us))))

(defstatus %socket-shutdown "sag_socket_shutdown" (h int))
(define c-close (c "sag_socket_close" (_fun _h _uintptr -> _int)))
(define c-close/os (c "sag_socket_close" (_fun #:blocking? #t _h _uintptr -> _int)))
(define c-socket-free/os (c "sag_socket_free" (_fun #:blocking? #t _h -> _int)))
;; #t when closing h may wait: SO_LINGER on, with a time (close(2) then
;; waits for unsent data to go, even on a non-blocking socket).
(define c-getsockopt-linger (c "sag_socket_getsockopt_bytes" (_fun _h _int _int _bytes _size _size _pointer _uintptr -> _int)))
(define SO_LINGER (%constant "SO_LINGER"))
(define (lingers? h)
  (let ([b (make-bytes 8 0)] [n (malloc 8 'raw)] [e (thread-error)])
    (begin0 (and (eqv? 0 (c-getsockopt-linger h SOL_SOCKET SO_LINGER b 0 8 n e))
                 (= 8 (ptr-ref n _size))
                 (not (eqv? 0 (integer-bytes->integer b #t (system-big-endian?) 0 4)))
                 (> (integer-bytes->integer b #t (system-big-endian?) 4 8) 0))
            (free n))))
;; Closing also wakes the Racket threads waiting on the socket, and forgets
;; Racket's readiness events of its descriptor. A close that lingers runs
;; in an OS thread: the caller waits for it there (wait? #t), or not (a
;; custodian's shutdown).
(define (socket-close h wait?)
  (let-values ([(fst fd) (c-socket-fd h)])
    (let ([st (cond
                [(not (and (eqv? fst 0) (lingers? h))) (failed (c-close h (thread-error)))]
                [wait? (let ([e (thread-error)])
                         (failed (in-os-thread (list h) (lambda () (c-close/os h e)) void)))]
                [else
                 ;; forgotten before the close: the number may be reused after
                 (unsafe-fd->evt fd 'remove)
                 (in-os-thread/detached (list h) (lambda () (c-close/os h 0)))
                 'detached])])
      (when (and (eqv? fst 0) (not (eq? st 'detached))) (unsafe-fd->evt fd 'remove))
      (wake-waiters! h 'closed)
      (if (eq? st 'detached) 0 st))))
(define (%socket-close h) (socket-close h #t))
;; An interrupt wakes the calls blocked in the library (an OS thread's
;; connect) and the Racket threads waiting on the socket.
(define (%socket-interrupt h)
  (let ([st (failed (c-interrupt h (thread-error)))])
    (when (eqv? st 0) (wake-waiters! h 'interrupted))
    st))

(defout %socket-get-info "sag_socket_get_info" (h) (handle))
(defout %socket-get-peer "sag_socket_get_peer" (h) (handle))
;; getnameinfo may ask the resolver: in an OS thread.
(define c-info-hostname/os
  (c "sag_socket_info_hostname" (_fun #:blocking? #t _h _pointer _uintptr -> _int)))
(define c-socket-name/os (c "sag_socket_name" (_fun #:blocking? #t _h _pointer _uintptr -> _int)))
(define (string-in-os-thread call h)
  (os-args '%socket-name (h h))
  (let-values ([(st out) (in-os-thread/out (list h) 1 (lambda (out e) (call h out e)) void #:resolves? #t)])
    (begin0 (values st (and (eqv? st 0)
                            (let ([p (ptr-ref out _pointer 0)])
                              (and p (cast p _pointer _string/utf-8)))))
            (free out))))
(define (%socket-info-hostname h) (string-in-os-thread c-info-hostname/os h))
(defout %socket-info-ip-address "sag_socket_info_ip_address" (h) (handle))
(defout %socket-info-port "sag_socket_info_port" (h) (int))
(define %socket-info-free (c "sag_socket_info_free" (_fun _h -> _int)))
(define (%socket-name h) (string-in-os-thread c-socket-name/os h))
(defout %socket-node "sag_socket_node" (h) (string))
(defout %socket-service "sag_socket_service" (h) (string))
(define (%socket-fd h) (c-socket-fd h))

(define c-socket-last-error (c "sag_socket_last_error" (_fun _h _uintptr _uintptr -> _int)))
(define (%socket-last-error h)
  (let-values ([(st e) (c-error-new)])
    (if (eqv? st 0)
        (let* ([st (c-socket-last-error h e (thread-error))]
               [r (error-fields e)])
          (c-error-free e)
          (values (failed st) r))
        (values st #f))))

(defout %ip-address-is-v6 "sag_ip_address_is_v6" (h) (bool))
(defout %ip-address-to-string "sag_ip_address_to_string" (h) (string))
(define c-ip-to-bytes (c "sag_ip_address_to_bytes" (_fun _h _bytes _size _size _pointer _uintptr -> _int)))
(define (%ip-address-to-bytes ip)
  (let ([b (make-bytes 16 0)] [e (thread-error)])
    (atomically
     (let ([st (c-ip-to-bytes ip b 0 16 (out-addr 0) e)])
       (if (eqv? st 0)
           (values st (subbytes b 0 (out-ref _size 0)))
           (values (failed st) #f))))))
(define %ip-address-free (c "sag_ip_address_free" (_fun _h -> _int)))

(defout %make-socket "sag_make_socket" (int int int) (handle))
(defout %create-socket "sag_create_socket" (h) (handle))
(defstatus %socket-bind "sag_socket_bind" (h h))
(defstatus %socket-listen "sag_socket_listen" (h int))
;; (the procedures that change what `modes' keeps forget it, after the call)
(define-syntax-rule (forgetting-modes (h arg ...) proc)
  (lambda (h arg ...) (begin0 (proc h arg ...) (forget-modes! h))))
(defstatus c-setsockopt-int "sag_socket_setsockopt_int" (h int int int))
(defstatus c-setsockopt-bytes "sag_socket_setsockopt_bytes" (h int int bytes size size))
(defstatus c-setsockopt-duration "sag_socket_setsockopt_duration" (h int int i64))
(define %socket-setsockopt-int (forgetting-modes (h l n v) c-setsockopt-int))
(define %socket-setsockopt-bytes (forgetting-modes (h l n b s c) c-setsockopt-bytes))
(define %socket-setsockopt-duration (forgetting-modes (h l n us) c-setsockopt-duration))
(defout %socket-getsockopt-int "sag_socket_getsockopt_int" (h int int) (int))
(define c-getsockopt-bytes
  (c "sag_socket_getsockopt_bytes" (_fun _h _int _int _bytes _size _size _pointer _uintptr -> _int)))
(define (%socket-getsockopt-bytes h level name size)
  (let ([b (make-bytes size 0)] [e (thread-error)])
    (atomically
     (let ([st (c-getsockopt-bytes h level name b 0 size (out-addr 0) e)])
       (if (eqv? st 0)
           (let ([n (out-ref _size 0)]) (values st (if (= n size) b (subbytes b 0 n))))
           (values (failed st) #f))))))
(define (%socket-getsockopt-duration h level name) (c-getsockopt-duration h level name))
(defstatus c-set-nonblocking/status "sag_socket_set_nonblocking" (h int))
(defstatus c-set-read-timeout "sag_socket_set_read_timeout" (h i64))
(define %socket-set-nonblocking (forgetting-modes (h on) c-set-nonblocking/status))
(define %socket-set-read-timeout (forgetting-modes (h us) c-set-read-timeout))
(define (%socket-get-read-timeout h) (c-get-read-timeout h))

;; ---- Select and fdsets -----------------------------------------------------
(defout %fdset-new "sag_fdset_new" () (handle))

;; A list of handles as a raw array (freed by the caller).
(define (handle-array hs)
  (let ([arr (malloc (* 8 (max 1 (length hs))) 'raw)])
    (for ([h hs] [i (in-naturals)]) (ptr-set! arr _uintptr i h))
    arr))
(define (array->list arr n) (for/list ([i n]) (ptr-ref arr _uintptr i)))

(define c-fdset-from-sockets (c "sag_fdset_from_sockets" (_fun _pointer _size _pointer _uintptr -> _int)))
(define (%fdset-from-sockets mhs)
  (let* ([hs (mlist->list mhs)] [arr (handle-array hs)] [e (thread-error)])
    (begin0 (atomically
             (let ([st (c-fdset-from-sockets arr (length hs) (out-addr 0) e)])
               (values (failed st) (and (eqv? st 0) (handle (out-ref _uintptr 0))))))
            (free arr))))
(defout %fdset-ref "sag_fdset_ref" (h h) (bool))
(defstatus %fdset-set "sag_fdset_set" (h h int))
(defstatus %fdset-clear "sag_fdset_clear" (h))
(define c-fdset-sockets (c "sag_fdset_sockets" (_fun _h _pointer _size _pointer _uintptr -> _int)))
(define (%fdset-sockets fds)
  (let-values ([(st hs) (fdset-sockets fds)]) (values st (list->mlist hs))))
(define (fdset-sockets fds)
  (let ([e (thread-error)])
    (let-values ([(st n) (atomically
                          (let ([st (c-fdset-sockets fds #f 0 (out-addr 0) e)])
                            (values (failed st) (if (eqv? st 0) (out-ref _size 0) 0))))])
      (if (eqv? st 0)
          (let ([arr (malloc (* 8 (max n 1)) 'raw)])
            (begin0 (atomically
                     (let ([st (c-fdset-sockets fds arr n (out-addr 0) e)])
                       (values (failed st)
                               (if (eqv? st 0) (array->list arr (min n (out-ref _size 0))) '()))))
                    (free arr)))
          (values st '())))))

;; (select-loop call sets us): polls with (call 0) until it reports
;; something, fails or the time passes, waiting between polls for the
;; members of sets (a list of (mode . handles), mode 'read, 'write or
;; 'error) in Racket. A member interrupted or closed ends the wait with
;; SAG_E_INTERRUPTED, as the library's select does. 'error members are
;; looked at every 10 ms (Racket has no event for them).
(define (select-loop call sets us who)
  (let ([deadline (and (>= us 0) (+ (now-ms) (/ us 1000.0)))]
        [all (remove-duplicates (append-map cdr sets))])
    (let loop ()
      (call-with-values
       (lambda () (call 0))
       (lambda (st count . rest)
         (if (or (not (eqv? st 0)) (> count 0) (and deadline (>= (now-ms) deadline)))
             (apply values st count rest)
             (let* ([evts (for*/list ([set sets] #:unless (eq? (car set) 'error)
                                      [h (cdr set)]
                                      [e (in-value (fd-evt h (car set)))] #:when e)
                            e)]
                    [poll? (for/or ([set sets]) (and (eq? (car set) 'error) (pair? (cdr set))))]
                    [d (if poll?
                           (let ([t (+ (now-ms) 10.0)]) (if deadline (min deadline t) t))
                           deadline)])
               (case (wait-for all (wait-evt all evts) d)
                 [(ready timeout) (loop)]
                 [else (apply values (interrupted-status who) 0
                              (map (lambda (x) (if (list? x) '() #f)) rest))]))))))))

(define (fdset-members fds) (if fds (let-values ([(st hs) (fdset-sockets fds)]) hs) '()))

(define c-select
  (c "sag_socket_select" (_fun _h _h _h _int64 _pointer _pointer _pointer _pointer _uintptr -> _int)))
(define (%socket-select r w e us)
  (select-loop
   (lambda (us)
     (let ([err (thread-error)])
       (atomically
        (let ([st (c-select (or r 0) (or w 0) (or e 0) us
                            (out-addr 0) (out-addr 1) (out-addr 2) (out-addr 3) err)])
          (if (eqv? st 0)
              (values st (out-ref _int 0) (read-out 'handle 1) (read-out 'handle 2) (read-out 'handle 3))
              (values (failed st) 0 #f #f #f))))))
   (list (cons 'read (fdset-members r)) (cons 'write (fdset-members w))
         (cons 'error (fdset-members e)))
   us "socket-select"))
(define c-select-inplace
  (c "sag_socket_select_inplace" (_fun _h _h _h _int64 _pointer _uintptr -> _int)))
(define (%socket-select-inplace r w e us)
  ;; the sets are changed in place: the members are read first
  (let ([sets (list (cons 'read (fdset-members r)) (cons 'write (fdset-members w))
                    (cons 'error (fdset-members e)))])
    (select-loop
     (lambda (us)
       (let ([err (thread-error)])
         (atomically
          (let ([st (c-select-inplace (or r 0) (or w 0) (or e 0) us (out-addr 0) err)])
            (values (failed st) (if (eqv? st 0) (out-ref _int 0) 0))))))
     sets us "socket-select!")))

(define (list-select cname mode who)
  (let ([f (c cname (_fun _int64 _pointer _size _pointer _pointer _uintptr -> _int))])
    (lambda (us mhs)
      (let* ([hs (mlist->list mhs)] [arr (handle-array hs)] [ready (handle-array hs)])
        (dynamic-wind
          void
          (lambda ()
            (let-values ([(st n ready)
                          (select-loop
                           (lambda (us)
                             (let ([e (thread-error)])
                               (atomically
                                (let ([st (f us arr (length hs) ready (out-addr 0) e)])
                                  (if (eqv? st 0)
                                      (let ([n (out-ref _size 0)]) (values st n (array->list ready n)))
                                      (values (failed st) 0 '()))))))
                           (list (cons mode hs)) us who)])
              (values st (list->mlist ready))))
          (lambda () (free arr) (free ready)))))))
(define %socket-read-select (list-select "sag_socket_read_select" 'read "socket-read-select"))
(define %socket-write-select (list-select "sag_socket_write_select" 'write "socket-write-select"))
(define %socket-error-select (list-select "sag_socket_error_select" 'error "socket-error-select"))

;; ---- Addrinfo and sockaddr -------------------------------------------------
(defout %make-addrinfo "sag_make_addrinfo" () (handle))
(defout %make-hint-addrinfo "sag_make_hint_addrinfo" (int int int int) (handle))
(defout %next-addrinfo "sag_next_addrinfo" (h) (handle))
(defout %addrinfo-family "sag_addrinfo_family" (h) (int))
(defout %addrinfo-socktype "sag_addrinfo_socktype" (h) (int))
(defout %addrinfo-flags "sag_addrinfo_flags" (h) (int))
(defout %addrinfo-protocol "sag_addrinfo_protocol" (h) (int))
(defout %addrinfo-sockaddr "sag_addrinfo_sockaddr" (h) (handle))
(defout %sockaddr-new "sag_sockaddr_new" () (handle))
(defout %sockaddr-family "sag_sockaddr_family" (h) (int))
(defout %sockaddr-port "sag_sockaddr_port" (h) (int))
(defout %sockaddr-ip-address "sag_sockaddr_ip_address" (h) (handle))

;; ---- Unix-domain sockets ---------------------------------------------------
;; A client connects (it may wait for a full backlog): in an OS thread.
(define c-make-unix-client-socket/os
  (c "sag_make_unix_client_socket" (_fun #:blocking? #t _pointer _size _size _int _pointer _uintptr -> _int)))
(define (%make-unix-client-socket path socktype)
  (os-args '%make-unix-client-socket (int socktype))
  (let* ([n (bytes-length path)] [p (malloc (max n 1) 'raw)])
    (memcpy p path n)
    (let-values ([(st out) (in-os-thread/out
                            '() 1
                            (lambda (out e) (c-make-unix-client-socket/os p 0 n socktype out e))
                            (lambda (out) (c-socket-free (ptr-ref out _uintptr 0)))
                            #:raws (list p))])
      (begin0 (values st (and (eqv? st 0) (ptr-ref out _uintptr 0)))
              (free out)))))
(defout c-make-unix-server-socket "sag_make_unix_server_socket" (bytes size size int) (handle))
(define (%make-unix-server-socket path socktype)
  (c-make-unix-server-socket path 0 (bytes-length path) socktype))
(defout %socket-pair "sag_socket_pair" (int int int) (handle handle))
(defstatus %socket-bind-sockaddr "sag_socket_bind_sockaddr" (h h))
(defout %socket-sockaddr "sag_socket_sockaddr" (h int) (handle))
(defout %socket-peer-credentials "sag_socket_peer_credentials" (h) (i64 i64 i64))
(defout c-make-unix-sockaddr "sag_make_unix_sockaddr" (bytes size size) (handle))
(define (%make-unix-sockaddr path) (c-make-unix-sockaddr path 0 (bytes-length path)))
(define c-sockaddr-path (c "sag_sockaddr_path" (_fun _h _bytes _size _size _pointer _uintptr -> _int)))
(define (%sockaddr-path sa)
  (let ([b (make-bytes 108 0)] [e (thread-error)])
    (atomically
     (let ([st (c-sockaddr-path sa b 0 108 (out-addr 0) e)])
       (if (eqv? st 0)
           (values st (subbytes b 0 (out-ref _size 0)))
           (values (failed st) #f))))))

;; ---- Socket selector -------------------------------------------------------
;; A selector's wait has no descriptor Racket can wait on: it runs in an OS
;; thread of its own, where the library keeps every rule of the selector
;; (one waiter, what an interrupt or a close does, sockets added during the
;; wait). A break of the waiting Racket thread interrupts the wait; what it
;; had reported goes back into the selector.
(defout %selector-new "sag_selector_new" () (handle))
(defstatus %selector-add "sag_selector_add" (h h i64 i64))
(define c-selector-interrupt (c "sag_selector_interrupt" (_fun _h _uintptr -> _int)))
(define (%selector-interrupt sel) (failed (c-selector-interrupt sel (thread-error))))
(defout %selector-size "sag_selector_size" (h) (size))
(defout %selector-is-closed "sag_selector_is_closed" (h) (bool))
(defout %selector-is-waiting "sag_selector_is_waiting" (h) (bool))
(defstatus %selector-close "sag_selector_close" (h))

(define c-selector-wait/os
  (c "sag_selector_wait"
     (_fun #:blocking? #t _h _int64 _pointer _pointer _pointer _size _pointer _uintptr -> _int)))
(define (%selector-wait sel us capacity)
  (os-args '%selector-wait (h sel) (i64 us) (size capacity))
  ;; one block: count, then sockets, tags, timed-out flags
  (let* ([arr (malloc (+ 8 (* 20 capacity)) 'raw)]
         [socks (ptr-add arr 8)]
         [tags (ptr-add arr (+ 8 (* 8 capacity)))]
         [flags (ptr-add arr (+ 8 (* 16 capacity)))]
         [e (thread-error)]
         [reports (lambda ()
                    (for/list ([i (min capacity (ptr-ref arr _size 0))])
                      (list (ptr-ref socks _uintptr i) (ptr-ref tags _int64 i)
                            (not (eqv? 0 (ptr-ref flags _int i))))))])
    (let ([st (in-os-thread
               (list sel)
               (lambda () (c-selector-wait/os sel us socks tags flags capacity arr e))
               (lambda (st)
                 ;; broken or killed: the sockets reported go back, without a timeout
                 (when (eqv? st 0)
                   (for ([r (reports)]) (c-selector-add sel (car r) -1 (cadr r) 0)))
                 (free arr))
               (lambda () (c-selector-interrupt sel 0)))])
      (begin0 (values (failed st)
                      (if (eqv? st 0)
                          (list->mlist (map (lambda (r) (mcons (cadr r) (caddr r))) (reports)))
                          '()))
              (free arr)))))
(define c-selector-add (c "sag_selector_add" (_fun _h _h _int64 _int64 _uintptr -> _int)))

(define c-selector-clear (c "sag_selector_clear" (_fun _h _pointer _pointer _size _pointer _uintptr -> _int)))
(define (%selector-clear sel capacity)
  (let* ([arr (malloc (* 16 capacity) 'raw)] [tags (ptr-add arr (* 8 capacity))] [e (thread-error)])
    (dynamic-wind
      void
      (lambda ()
        (let loop ([acc '()])
          (let-values ([(st n) (atomically
                                (let ([st (c-selector-clear sel arr tags capacity (out-addr 0) e)])
                                  (values (failed st) (if (eqv? st 0) (min capacity (out-ref _size 0)) 0))))])
            (if (eqv? st 0)
                (let ([acc (append (reverse (for/list ([i n]) (ptr-ref tags _int64 i))) acc)])
                  (if (< n capacity) (values st (list->mlist (reverse acc))) (loop acc)))
                (values st (list->mlist (reverse acc)))))))
      (lambda () (free arr)))))
