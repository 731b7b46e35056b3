;;; (sagittarius socket host): the Chez Scheme layer under (sagittarius socket).
;;;
;;; Everything here is specific to Chez Scheme: loading libsagsocket, the
;;; foreign procedures, per-thread scratch memory for out-parameters,
;;; guardians that free dropped handles, durations, and how a custom binary
;;; port is made. Behaviour (argument defaults, what a status means, which
;;; condition is raised) lives in (sagittarius socket), which a Guile host
;;; layer shares.
;;;
;;; The interface (every procedure exported here, its arguments, results and
;;; conventions) is bindings/scheme/host-contract.md. On Chez, calls that can
;;; block are __collect_safe: other threads and the collector go on while
;;; they wait.
#!chezscheme
(library (sagittarius socket host)
  (export %library-version %constant %status-is %status-name
          %last-error
          %guard! %keep-alive
          %duration? %duration->us %us->duration
          %make-binary-port %port-transcoded-from? %port-has-buffered-input?
          %make-lock %with-lock %thread-token %thread-token-live?
          %make-weak-table %weak-table-ref
          %weak-table-set! %weak-table-keys
          ;; sockets
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
          ;; select and fdsets
          %fdset-new %fdset-from-sockets %fdset-ref %fdset-set %fdset-clear
          %fdset-sockets %socket-select %socket-select-inplace
          %socket-read-select %socket-write-select %socket-error-select
          ;; addrinfo and sockaddr
          %make-addrinfo %make-hint-addrinfo %get-addrinfo %next-addrinfo
          %addrinfo-family %addrinfo-socktype %addrinfo-flags
          %addrinfo-protocol %addrinfo-sockaddr %sockaddr-new
          %sockaddr-family %sockaddr-port %sockaddr-ip-address
          ;; socket selector
          %us->deadline
          %selector-new %selector-add %selector-wait %selector-interrupt
          %selector-clear %selector-size %selector-is-closed
          %selector-is-waiting %selector-close
          ;; Unix-domain sockets (an extension)
          %make-unix-client-socket %make-unix-server-socket %socket-pair
          %socket-peer-credentials %make-unix-sockaddr %sockaddr-path
          %socket-connect-sockaddr %socket-bind-sockaddr %socket-sockaddr)
  (import (chezscheme))

  ;; ---- Loading the library --------------------------------------------------
  ;; SAGSOCKET_LIBRARY names the file to load; otherwise the dynamic loader
  ;; finds libsagsocket.so.1 (installed, or through LD_LIBRARY_PATH).
  (define library-file
    (let ([f (getenv "SAGSOCKET_LIBRARY")])
      (if (and f (not (string=? f ""))) f "libsagsocket.so.1")))

  (define loaded
    (guard (e [#t (raise
                   (condition
                    (make-error)
                    (make-who-condition 'sagittarius-socket)
                    (make-message-condition
                     (string-append
                      "cannot load " library-file
                      " (install libsagsocket, or set LD_LIBRARY_PATH or"
                      " SAGSOCKET_LIBRARY)"))
                    (make-irritants-condition
                     (list (if (and (message-condition? e) (irritants-condition? e))
                               (apply format #f (condition-message e)
                                      (condition-irritants e))
                               e)))))])
      (load-shared-object library-file)
      #t))

  (define-syntax fp
    (syntax-rules (safe)
      [(_ safe name (arg ...) ret)
       (begin loaded (foreign-procedure __collect_safe name (arg ...) ret))]
      [(_ name (arg ...) ret)
       (begin loaded (foreign-procedure name (arg ...) ret))]))

  ;; foreign-ref and foreign-set!, compiled inline. Chez 9.5's checked forms
  ;; are out-of-line calls that check their arguments and dispatch on the
  ;; type at run time: 250-530 instructions a call, counted with callgrind,
  ;; against about 20 for these (bench/README.md, the Chez round trip). Every
  ;; address read or written here is foreign memory this layer allocated, or
  ;; a pointer the library handed out, at an offset computed here; every
  ;; value written is a handle (an exact integer the library gave).
  (define-syntax fref
    (syntax-rules () [(_ type addr offset) (#3%foreign-ref type addr offset)]))
  (define-syntax fset!
    (syntax-rules () [(_ type addr offset v) (#3%foreign-set! type addr offset v)]))

  ;; ---- Strings and scratch memory -------------------------------------------

  ;; A NUL-terminated UTF-8 copy of s (a string or #f) for a u8* argument.
  (define (c-string s)
    (and s
         (let* ([u (string->utf8 s)]
                [n (bytevector-length u)]
                [b (make-bytevector (fx+ n 1) 0)])
           (bytevector-copy! u 0 b 0 n)
           b)))

  ;; The string at address p (NUL-terminated UTF-8), or #f for NULL.
  (define (ptr->string p)
    (and (not (eqv? p 0))
         (let loop ([n 0])
           (if (fx= (fref 'unsigned-8 p n) 0)
               (let ([b (make-bytevector n)])
                 (do ([i 0 (fx+ i 1)]) ((fx= i n))
                   (bytevector-u8-set! b i (fref 'unsigned-8 p i)))
                 (utf8->string b))
               (loop (fx+ n 1))))))

  (define (handle x) (if (eqv? x 0) #f x))

  ;; Out-parameters are written to per-thread foreign memory, which never
  ;; moves (a collection may run while a collect-safe call is in C). A new
  ;; thread inherits its parent's parameter value, hence the thread id check;
  ;; a thread's block is freed when the thread is gone.
  ;; A thread's block: out-parameters, then room for small transfers.
  (define scratch-out-size 64)
  (define small-transfer 256)
  (define scratch-size (fx+ scratch-out-size small-transfer))
  (define scratch-param (make-thread-parameter #f))
  (define scratch-guardian (make-guardian))
  ;; (scratch): the calling thread's block; the test inline, the block made
  ;; out of line the first time a thread asks.
  (define-syntax scratch
    (syntax-rules ()
      [(_) (let ([s (scratch-param)])
             (if (and s (eqv? (car s) (get-thread-id))) (cdr s) (new-scratch)))]))
  (define (new-scratch)
    (let* ([m (foreign-alloc scratch-size)] [cell (cons (get-thread-id) m)])
      (scratch-param cell)
      (scratch-guardian cell m)
      m))

  ;; Copies n bytes of the scratch block's transfer room into bv at start,
  ;; eight at a time while eight remain.
  (define (copy-from-scratch! m bv start n)
    (let ([src (fx+ m scratch-out-size)])
      (let loop ([i 0])
        (cond
          [(fx<= (fx+ i 8) n)
           (bytevector-u64-set! bv (fx+ start i) (fref 'unsigned-64 src i) (native-endianness))
           (loop (fx+ i 8))]
          [(fx< i n)
           (bytevector-u8-set! bv (fx+ start i) (fref 'unsigned-8 src i))
           (loop (fx+ i 1))]))))

  (define-syntax with-locked
    (syntax-rules ()
      [(_ (bv ...) body ...)
       (dynamic-wind
         (lambda () (when bv (lock-object bv)) ...)
         (lambda () body ...)
         (lambda () (when bv (unlock-object bv)) ...))]))

  ;; Reading out-parameters from scratch memory.
  (define (out-int m i) (fref 'int m (fx* i 8)))
  (define (out-i64 m i) (fref 'integer-64 m (fx* i 8)))
  (define (out-size m i) (fref 'size_t m (fx* i 8)))
  (define (out-ptr m i) (fref 'uptr m (fx* i 8)))
  (define (out-addr m i) (fx+ m (fx* i 8)))

  ;; ---- Library, constants, statuses, errors ---------------------------------
  (define %library-version (let ([f (fp "sag_version_string" () string)]) (f)))

  (define c-constant (fp "sag_constant" (u8* u8*) int))
  ;; The value of a constant by name, or #f when the library has none.
  (define (%constant name)
    (let ([out (make-bytevector 4 0)])
      (and (eqv? (c-constant (c-string name) out) 0)
           (bytevector-s32-native-ref out 0))))

  (define %status-is (let ([f (fp "sag_status_is" (int int) int)])
                       (lambda (st kind) (not (eqv? (f st kind) 0)))))
  (define %status-name (fp "sag_status_name" (int) string))

  (define c-last-error (fp "sag_last_error" () uptr))
  (define c-error-status (fp "sag_error_status" (uptr) int))
  (define c-error-errno (fp "sag_error_errno" (uptr) int))
  (define c-error-message (fp "sag_error_message" (uptr) utf-8))
  (define c-error-operation (fp "sag_error_operation" (uptr) utf-8))
  (define c-error-node (fp "sag_error_node" (uptr) utf-8))
  (define c-error-service (fp "sag_error_service" (uptr) utf-8))
  (define c-error-timeout (fp "sag_error_timeout" (uptr) integer-64))
  (define c-error-sent (fp "sag_error_sent" (uptr) size_t))
  (define c-error-new (fp "sag_error_new" (uptr) int))
  (define c-error-free (fp "sag_error_free" (uptr) int))

  ;; The calling thread's last failure: a vector
  ;; #(status errno message operation node service timeout-us sent),
  ;; timeout-us -1 when there is none, sent how many bytes of a failed send
  ;; reached the kernel. Chez threads are OS threads, so the library's
  ;; per-thread record is this thread's.
  (define (error-fields e)
    (vector (c-error-status e) (c-error-errno e) (c-error-message e)
            (c-error-operation e) (c-error-node e) (c-error-service e)
            (c-error-timeout e) (c-error-sent e)))
  (define (%last-error)
    (let ([v (error-fields (c-last-error))] [before (sent-before)])
      (unless (eqv? before 0)
        (sent-before 0)
        (vector-set! v 7 (+ before (vector-ref v 7))))
      v))

  ;; ---- Guardians ------------------------------------------------------------
  ;; %guard! registers a Scheme object that owns a handle; once the object is
  ;; garbage, the handle is freed (sockets are closed) the next time any
  ;; handle is registered. Freeing never blocks.
  (define c-socket-free (fp safe "sag_socket_free" (uptr) int))
  (define c-addrinfo-free (fp "sag_addrinfo_free" (uptr) int))
  (define c-sockaddr-free (fp "sag_sockaddr_free" (uptr) int))
  (define c-fdset-free (fp "sag_fdset_free" (uptr) int))
  (define c-selector-free (fp safe "sag_selector_free" (uptr) int))
  (define handle-guardian (make-guardian))
  (define (free-handle kind h)
    (case kind
      [(socket) (c-socket-free h)]
      [(addrinfo) (c-addrinfo-free h)]
      [(sockaddr) (c-sockaddr-free h)]
      [(fdset) (c-fdset-free h)]
      [(selector) (c-selector-free h)]
      [else (assertion-violation '%guard! "unknown handle kind" kind)]))
  ;; One thread at a time takes from the guardians: each handle and each
  ;; scratch block is freed exactly once.
  (define drain-lock (make-mutex))
  (define (drain!)
    (with-mutex drain-lock (drain-locked!)))
  (define (drain-locked!)
    (let loop ()
      (let ([rep (handle-guardian)])
        (when rep (free-handle (car rep) (cdr rep)) (loop))))
    (let loop ()
      (let ([m (scratch-guardian)])
        (when m (foreign-free m) (loop)))))
  ;; Descriptors run out long before memory does: after every
  ;; `sockets-per-collection' new sockets (or selectors, which hold two
  ;; descriptors each), a collection finds the dropped ones so that they
  ;; are closed now rather than at the next collection the allocator
  ;; happens to ask for.
  (define sockets-per-collection 256)
  (define new-sockets 0)
  (define guard-lock (make-mutex))
  ;; Keeps obj reachable up to here (its handle, taken earlier, in use).
  (define (%keep-alive obj) (#%$keep-live obj))

  (define (%guard! obj kind h)
    (when (and (memq kind '(socket selector))
               (with-mutex guard-lock
                 (set! new-sockets (fx+ new-sockets 1))
                 (and (fx>= new-sockets sockets-per-collection)
                      (begin (set! new-sockets 0) #t))))
      ;; with every thread at a safe point (collect would refuse while
      ;; other threads run)
      (collect-rendezvous))
    (drain!)
    (handle-guardian obj (cons kind h))
    obj)

  ;; ---- Durations (Chez time objects of type time-duration) ------------------
  (define (%duration? x) (and (time? x) (eq? (time-type x) 'time-duration)))
  ;; rounded up to the next microsecond: a positive duration stays positive
  (define (%duration->us t)
    (+ (* (time-second t) 1000000) (quotient (+ (time-nanosecond t) 999) 1000)))
  (define (%us->duration us)
    (let-values ([(s r) (div-and-mod us 1000000)])
      (make-time 'time-duration (* r 1000) s)))

  ;; ---- Ports ----------------------------------------------------------------
  ;; A custom binary port whose output Chez never holds back: with a one-byte
  ;; buffer every put reaches write! at once. Ports that write are also
  ;; marked line-buffered, so that a textual port made over them with Chez's
  ;; own transcoded-port sends its text at every end of line (Chez 9.5's
  ;; transcoded ports otherwise keep up to a kilobyte until a flush or a
  ;; read). The mark is a Chez-internal port flag: it is set only when a
  ;; probe port shows that this Chez understands it.
  (define line-buffered-flag (expt 2 10))
  (define block-buffered-flag (expt 2 9))
  (define set-port-flags!
    (guard (e [#t #f]) (eval '(lambda (p n) (#%$set-port-flags! p n)))))
  (define reset-port-flags!
    (guard (e [#t #f]) (eval '(lambda (p n) (#%$reset-port-flags! p n)))))
  (define port-info
    (guard (e [#t #f]) (eval '(lambda (p) (#%$port-info p)))))
  (define (mark-line-buffered! p)
    (reset-port-flags! p block-buffered-flag)
    (set-port-flags! p line-buffered-flag))
  (define line-buffering?
    (and set-port-flags! reset-port-flags!
         (guard (e [#t #f])
           (let ([p (make-custom-binary-output-port
                     "probe" (lambda (bv s n) n) #f #f #f)])
             (mark-line-buffered! p)
             (and (eq? (output-port-buffer-mode p) 'line)
                  (let ([tp (transcoded-port p (native-transcoder))])
                    (and (eq? (output-port-buffer-mode tp) 'line)
                         (eqv? (textual-port-output-size tp) 0))))))))

  ;; (%make-binary-port name direction read! write! get-position set-position!
  ;; close), direction 'input, 'output or 'input/output; the procedures as
  ;; for R6RS custom ports.
  (define (%make-binary-port name direction read! write! getpos setpos close)
    (let ([p (parameterize ([custom-port-buffer-size 1])
               (case direction
                 [(input) (make-custom-binary-input-port name read! getpos setpos close)]
                 [(output) (make-custom-binary-output-port name write! getpos setpos close)]
                 [else (make-custom-binary-input/output-port
                        name read! write! getpos setpos close)]))])
      (when (and line-buffering? (output-port? p))
        (mark-line-buffered! p))
      p))

  ;; #t when textual port tp was made by transcoded-port from binary port bp.
  (define (%port-transcoded-from? bp tp)
    (and port-info (eq? (port-info bp) tp)))

  ;; #t when the port itself holds input that a read would return at once.
  (define (%port-has-buffered-input? p)
    (if (binary-port? p)
        (fx> (binary-port-input-count p) 0)
        (fx> (textual-port-input-count p) 0)))

  ;; ---- Locks and weak tables -----------------------------------------------
  (define (%make-lock) (make-mutex))
  (define (%with-lock m thunk) (with-mutex m (thunk)))
  ;; A thread that waits on a selector ends only by returning or raising.
  (define (%thread-token) #t)
  (define (%thread-token-live? t) #t)
  ;; A table whose entries last as long as their key (an ephemeron table: a
  ;; value that refers to its key does not keep the key alive).
  (define (%make-weak-table) (make-ephemeron-eq-hashtable))
  (define (%weak-table-ref t k) (hashtable-ref t k #f))
  (define (%weak-table-set! t k v) (hashtable-set! t k v))
  (define (%weak-table-keys t) (vector->list (hashtable-keys t)))

  ;; ---- Sockets --------------------------------------------------------------
  (define c-make-client-socket
    (fp safe "sag_make_client_socket" (u8* u8* int int int int uptr uptr) int))
  (define (%make-client-socket node service family socktype flags protocol)
    (let ([n (c-string node)] [s (c-string service)] [m (scratch)])
      (let ([st (with-locked (n s)
                  (c-make-client-socket n s family socktype flags protocol m 0))])
        (values st (out-ptr m 0)))))

  (define c-make-server-socket
    (fp safe "sag_make_server_socket" (u8* int int int uptr uptr) int))
  (define (%make-server-socket service family socktype protocol)
    (let ([s (c-string service)] [m (scratch)])
      (let ([st (with-locked (s)
                  (c-make-server-socket s family socktype protocol m 0))])
        (values st (out-ptr m 0)))))

  (define c-make-server-sockets
    (fp safe "sag_make_server_sockets" (u8* int int int uptr size_t uptr uptr) int))
  (define max-server-sockets 16)
  (define (%make-server-sockets service family socktype protocol)
    (let ([s (c-string service)] [m (scratch)]
          [arr (foreign-alloc (* 8 max-server-sockets))])
      (let ([st (with-locked (s)
                  (c-make-server-sockets s family socktype protocol arr
                                         max-server-sockets m 0))])
        (let ([r (if (eqv? st 0)
                     (let loop ([i (fx- (min (out-size m 0) max-server-sockets) 1)]
                                [acc '()])
                       (if (fx< i 0)
                           acc
                           (loop (fx- i 1) (cons (fref 'uptr arr (* 8 i)) acc))))
                     '())])
          (foreign-free arr)
          (values st r)))))

  ;; Simple calls: (define-out name cname (argtype ...) (outtype ...) [safe])
  ;; defines a procedure of the in-arguments returning (values status out ...).
  (define-syntax define-out
    (lambda (x)
      (syntax-case x ()
        [(_ name cname (atype ...) (otype ...) safe? ...)
         (with-syntax ([(a ...) (generate-temporaries #'(atype ...))]
                       [(i ...) (iota (length #'(otype ...)))]
                       [(uptrs ...) (map (lambda (o) #'uptr) #'(otype ...))])
           #`(define name
               (let ([f (fp safe? ... cname (atype ... uptrs ... uptr) int)])
                 (lambda (a ...)
                   (let ([m (scratch)])
                     (let ([st (f a ... (out-addr m i) ... 0)])
                       (values st (read-out 'otype m i) ...)))))))])))
  (define (read-out type m i)
    (case type
      [(int) (out-int m i)]
      [(bool) (not (eqv? (out-int m i) 0))]
      [(i64) (out-i64 m i)]
      [(size) (out-size m i)]
      [(handle) (handle (out-ptr m i))]
      [(string) (ptr->string (out-ptr m i))]
      [else (assertion-violation 'read-out "bad type" type)]))

  ;; (define-status name cname (argtype ...) [safe]): a procedure of the
  ;; arguments but the last (the error object, NULL) returning the status.
  (define-syntax define-status
    (lambda (x)
      (syntax-case x ()
        [(_ name cname (atype ...) safe? ...)
         (with-syntax ([(a ...) (generate-temporaries #'(atype ...))])
           #'(define name
               (let ([f (fp safe? ... cname (atype ... uptr) int)])
                 (lambda (a ...) (f a ... 0)))))])))

  (define-out %socket-is-closed "sag_socket_is_closed" (uptr) (bool))
  (define-out %socket-is-nonblocking "sag_socket_is_nonblocking" (uptr) (bool))
  (define-out %socket-accept "sag_socket_accept" (uptr) (handle) safe)

  (define c-recv (fp safe "sag_socket_recv" (uptr u8* size_t size_t int uptr uptr) int))
  (define c-recv-small (fp safe "sag_socket_recv" (uptr uptr size_t size_t int uptr uptr) int))
  ;; A receive of at most small-transfer bytes lands in the thread's scratch
  ;; memory (foreign, never moves) and is copied into the bytevector: no
  ;; lock-object and dynamic-wind around the call (they cost more than the
  ;; copy). A single byte is stored without the copy loop (whose call and
  ;; tests cost 56 instructions more a byte, callgrind). Larger receives go
  ;; into the locked bytevector itself (through an aligned buffer inside the
  ;; library, which is faster than the kernel's copy to an address that is
  ;; not 32-byte aligned).
  (define (%socket-recv s bv start len flags)
    (let ([m (scratch)])
      (if (fx<= len small-transfer)
          (let ([st (c-recv-small s (fx+ m scratch-out-size) 0 len flags m 0)])
            (let ([n (out-size m 0)])
              (when (eqv? st 0)
                (if (fx= n 1)
                    (bytevector-u8-set! bv start (fref 'unsigned-8 m scratch-out-size))
                    (copy-from-scratch! m bv start n)))
              (values st n)))
          (let ([st (with-locked (bv) (c-recv s bv start len flags m 0))])
            (values st (out-size m 0))))))

  ;; A send is first tried as a plain call with MSG_DONTWAIT: it cannot block,
  ;; so it needs neither a collect-safe call (whose thread deactivation costs
  ;; more than the send) nor a locked bytevector (no collection runs during
  ;; a plain call). What did not fit goes through the collect-safe call, which
  ;; waits; a failure then counts the bytes the first try sent (sent-before).
  (define c-send (fp safe "sag_socket_send" (uptr u8* size_t size_t int uptr uptr) int))
  (define c-send-now (fp "sag_socket_send" (uptr u8* size_t size_t int uptr uptr) int))
  (define msg-dontwait 64)
  (define status-would-block -11)       ; SAG_E_WOULD_BLOCK
  (define sent-before (make-thread-parameter 0))
  (define (%socket-send s bv start count flags)
    (unless (eqv? (sent-before) 0) (sent-before 0))
    (let* ([m (scratch)]
           [st (c-send-now s bv start count (fxlogor flags msg-dontwait) m 0)]
           [done (if (eqv? st 0) (out-size m 0) 0)])
      (cond
        [(and (eqv? st 0) (fx= done count)) (values st done)]
        [(or (not (or (eqv? st 0) (eqv? st status-would-block)))
             (fxlogtest flags msg-dontwait))
         (values st done)]                ; a failure, or the caller's own DONTWAIT
        [else
         (let ([st2 (with-locked (bv) (c-send s bv (fx+ start done) (fx- count done) flags m 0))])
           (cond
             [(eqv? st2 0) (values st2 (fx+ done (out-size m 0)))]
             [(and (eqv? st2 status-would-block) (fx> done 0)) (values 0 done)]
             [else (sent-before done) (values st2 done)]))])))

  (define c-sendto
    (fp safe "sag_socket_sendto" (uptr u8* size_t size_t int uptr uptr uptr) int))
  (define (%socket-sendto s bv start count flags to)
    (let ([m (scratch)])
      (let ([st (with-locked (bv) (c-sendto s bv start count flags to m 0))])
        (values st (out-size m 0)))))

  (define c-recvfrom
    (fp safe "sag_socket_recvfrom" (uptr u8* size_t size_t int uptr uptr uptr) int))
  (define (%socket-recvfrom s bv start len flags from)
    (let ([m (scratch)])
      (let ([st (with-locked (bv) (c-recvfrom s bv start len flags from m 0))])
        (values st (out-size m 0)))))

  (define-status %socket-shutdown "sag_socket_shutdown" (uptr int))
  (define-status %socket-close "sag_socket_close" (uptr) safe)
  (define-status %socket-interrupt "sag_socket_interrupt" (uptr))

  (define-out %socket-get-info "sag_socket_get_info" (uptr) (handle))
  (define-out %socket-get-peer "sag_socket_get_peer" (uptr) (handle))
  (define-out %socket-info-hostname "sag_socket_info_hostname" (uptr) (string))
  (define-out %socket-info-ip-address "sag_socket_info_ip_address" (uptr) (handle))
  (define-out %socket-info-port "sag_socket_info_port" (uptr) (int))
  (define %socket-info-free (fp "sag_socket_info_free" (uptr) int))
  (define-out %socket-name "sag_socket_name" (uptr) (string))
  (define-out %socket-node "sag_socket_node" (uptr) (string))
  (define-out %socket-service "sag_socket_service" (uptr) (string))
  (define-out %socket-fd "sag_socket_fd" (uptr) (int))

  ;; The last failure on socket s, as %last-error's vector (status 0: none).
  (define c-socket-last-error (fp "sag_socket_last_error" (uptr uptr uptr) int))
  (define (%socket-last-error s)
    (let ([m (scratch)])
      (let ([st (c-error-new m)])
        (if (eqv? st 0)
            (let* ([e (out-ptr m 0)]
                   [st (c-socket-last-error s e 0)]
                   [r (error-fields e)])
              (c-error-free e)
              (values st r))
            (values st #f)))))

  (define-out %ip-address-is-v6 "sag_ip_address_is_v6" (uptr) (bool))
  (define-out %ip-address-to-string "sag_ip_address_to_string" (uptr) (string))
  (define c-ip-to-bytes (fp "sag_ip_address_to_bytes" (uptr u8* size_t size_t uptr uptr) int))
  (define (%ip-address-to-bytes ip)
    (let ([m (scratch)] [b (make-bytevector 16 0)])
      (let ([st (c-ip-to-bytes ip b 0 16 m 0)])
        (if (eqv? st 0)
            (let* ([n (out-size m 0)] [r (make-bytevector n)])
              (bytevector-copy! b 0 r 0 n)
              (values st r))
            (values st #f)))))
  (define %ip-address-free (fp "sag_ip_address_free" (uptr) int))

  (define-out %make-socket "sag_make_socket" (int int int) (handle))
  (define-out %create-socket "sag_create_socket" (uptr) (handle))
  (define-status %socket-connect "sag_socket_connect" (uptr uptr integer-64) safe)
  (define-status %socket-bind "sag_socket_bind" (uptr uptr))
  (define-status %socket-listen "sag_socket_listen" (uptr int))
  (define-status %socket-setsockopt-int "sag_socket_setsockopt_int" (uptr int int int))
  (define-status %socket-setsockopt-bytes "sag_socket_setsockopt_bytes"
    (uptr int int u8* size_t size_t))
  (define-status %socket-setsockopt-duration "sag_socket_setsockopt_duration"
    (uptr int int integer-64))
  (define-out %socket-getsockopt-int "sag_socket_getsockopt_int" (uptr int int) (int))
  (define c-getsockopt-bytes
    (fp "sag_socket_getsockopt_bytes" (uptr int int u8* size_t size_t uptr uptr) int))
  (define (%socket-getsockopt-bytes s level name size)
    (let ([m (scratch)] [b (make-bytevector size 0)])
      (let ([st (c-getsockopt-bytes s level name b 0 size m 0)])
        (if (eqv? st 0)
            (let ([n (out-size m 0)])
              (values st (if (= n size)
                             b
                             (let ([r (make-bytevector n)])
                               (bytevector-copy! b 0 r 0 n)
                               r))))
            (values st #f)))))
  (define-out %socket-getsockopt-duration "sag_socket_getsockopt_duration"
    (uptr int int) (i64))
  (define-status %socket-set-nonblocking "sag_socket_set_nonblocking" (uptr int))
  (define-status %socket-set-read-timeout "sag_socket_set_read_timeout" (uptr integer-64))
  (define-out %socket-get-read-timeout "sag_socket_get_read_timeout" (uptr) (i64))

  ;; ---- Select and fdsets ----------------------------------------------------
  (define-out %fdset-new "sag_fdset_new" () (handle))

  ;; Copies a list of handles into foreign memory for the duration of proc.
  (define (with-handle-array hs proc)
    (let* ([n (length hs)] [arr (foreign-alloc (* 8 (max n 1)))])
      (let loop ([hs hs] [i 0])
        (unless (null? hs)
          (fset! 'uptr arr (* 8 i) (car hs))
          (loop (cdr hs) (fx+ i 1))))
      (dynamic-wind void
                    (lambda () (proc arr n))
                    (lambda () (foreign-free arr)))))
  (define (array->list arr n)
    (let loop ([i (fx- n 1)] [acc '()])
      (if (fx< i 0) acc (loop (fx- i 1) (cons (fref 'uptr arr (* 8 i)) acc)))))

  (define c-fdset-from-sockets (fp "sag_fdset_from_sockets" (uptr size_t uptr uptr) int))
  (define (%fdset-from-sockets hs)
    (with-handle-array hs
      (lambda (arr n)
        (let ([m (scratch)])
          (let ([st (c-fdset-from-sockets arr n m 0)])
            (values st (handle (out-ptr m 0))))))))
  (define-out %fdset-ref "sag_fdset_ref" (uptr uptr) (bool))
  (define-status %fdset-set "sag_fdset_set" (uptr uptr int))
  (define-status %fdset-clear "sag_fdset_clear" (uptr))
  (define c-fdset-sockets (fp "sag_fdset_sockets" (uptr uptr size_t uptr uptr) int))
  ;; The members of an fdset (handles, insertion order).
  (define (%fdset-sockets fds)
    (let ([m (scratch)])
      (let ([st (c-fdset-sockets fds 0 0 m 0)])
        (if (eqv? st 0)
            (let ([n (out-size m 0)])
              (with-handle-array (make-list n 0)
                (lambda (arr cap)
                  (let ([st (c-fdset-sockets fds arr n m 0)])
                    (values st (if (eqv? st 0)
                                   (array->list arr (min n (out-size m 0)))
                                   '()))))))
            (values st '())))))

  (define c-select
    (fp safe "sag_socket_select" (uptr uptr uptr integer-64 uptr uptr uptr uptr uptr) int))
  ;; (%socket-select r w e timeout-us) with fdset handles or #f:
  ;; (values status count r-out w-out e-out).
  (define (%socket-select r w e us)
    (let ([m (scratch)])
      (let ([st (c-select (or r 0) (or w 0) (or e 0) us
                          (out-addr m 0) (out-addr m 1) (out-addr m 2) (out-addr m 3) 0)])
        (values st (out-int m 0) (handle (out-ptr m 1)) (handle (out-ptr m 2))
                (handle (out-ptr m 3))))))
  (define c-select-inplace
    (fp safe "sag_socket_select_inplace" (uptr uptr uptr integer-64 uptr uptr) int))
  (define (%socket-select-inplace r w e us)
    (let ([m (scratch)])
      (let ([st (c-select-inplace (or r 0) (or w 0) (or e 0) us m 0)])
        (values st (out-int m 0)))))

  (define-syntax define-list-select
    (syntax-rules ()
      [(_ name cname)
       (define name
         (let ([f (fp safe cname (integer-64 uptr size_t uptr uptr uptr) int)])
           ;; (name timeout-us handles) => (values status ready-handles)
           (lambda (us hs)
             (with-handle-array hs
               (lambda (arr n)
                 (with-handle-array hs
                   (lambda (ready cap)
                     (let* ([m (scratch)] [st (f us arr n ready m 0)])
                       (values st (if (eqv? st 0)
                                      (array->list ready (out-size m 0))
                                      '()))))))))))]))
  (define-list-select %socket-read-select "sag_socket_read_select")
  (define-list-select %socket-write-select "sag_socket_write_select")
  (define-list-select %socket-error-select "sag_socket_error_select")

  ;; ---- Addrinfo and sockaddr ------------------------------------------------
  (define-out %make-addrinfo "sag_make_addrinfo" () (handle))
  (define-out %make-hint-addrinfo "sag_make_hint_addrinfo" (int int int int) (handle))
  (define c-get-addrinfo (fp safe "sag_get_addrinfo" (u8* u8* uptr uptr uptr) int))
  (define (%get-addrinfo node service hints)
    (let ([n (c-string node)] [s (c-string service)] [m (scratch)])
      (let ([st (with-locked (n s) (c-get-addrinfo n s (or hints 0) m 0))])
        (values st (handle (out-ptr m 0))))))
  (define-out %next-addrinfo "sag_next_addrinfo" (uptr) (handle))
  (define-out %addrinfo-family "sag_addrinfo_family" (uptr) (int))
  (define-out %addrinfo-socktype "sag_addrinfo_socktype" (uptr) (int))
  (define-out %addrinfo-flags "sag_addrinfo_flags" (uptr) (int))
  (define-out %addrinfo-protocol "sag_addrinfo_protocol" (uptr) (int))
  (define-out %addrinfo-sockaddr "sag_addrinfo_sockaddr" (uptr) (handle))
  (define-out %sockaddr-new "sag_sockaddr_new" () (handle))
  (define-out %sockaddr-family "sag_sockaddr_family" (uptr) (int))
  (define-out %sockaddr-port "sag_sockaddr_port" (uptr) (int))
  (define-out %sockaddr-ip-address "sag_sockaddr_ip_address" (uptr) (handle))

  ;; ---- Unix-domain sockets (an extension) ---------------------------------
  ;; A path is a bytevector (a first byte 0: the abstract namespace).
  (define c-make-unix-client-socket
    (fp safe "sag_make_unix_client_socket" (u8* size_t size_t int uptr uptr) int))
  (define c-make-unix-server-socket
    (fp safe "sag_make_unix_server_socket" (u8* size_t size_t int uptr uptr) int))
  (define (unix-socket-call c path socktype)
    (let ([m (scratch)])
      (let ([st (with-locked (path) (c path 0 (bytevector-length path) socktype m 0))])
        (values st (out-ptr m 0)))))
  (define (%make-unix-client-socket path socktype)
    (unix-socket-call c-make-unix-client-socket path socktype))
  (define (%make-unix-server-socket path socktype)
    (unix-socket-call c-make-unix-server-socket path socktype))
  (define-out %socket-pair "sag_socket_pair" (int int int) (handle handle))
  (define-status %socket-connect-sockaddr "sag_socket_connect_sockaddr" (uptr uptr integer-64) safe)
  (define-status %socket-bind-sockaddr "sag_socket_bind_sockaddr" (uptr uptr))
  (define-out %socket-sockaddr "sag_socket_sockaddr" (uptr int) (handle))
  (define-out %socket-peer-credentials "sag_socket_peer_credentials" (uptr) (i64 i64 i64))
  (define c-make-unix-sockaddr (fp "sag_make_unix_sockaddr" (u8* size_t size_t uptr uptr) int))
  (define (%make-unix-sockaddr path)
    (let ([m (scratch)])
      (let ([st (c-make-unix-sockaddr path 0 (bytevector-length path) m 0)])
        (values st (handle (out-ptr m 0))))))
  (define c-sockaddr-path (fp "sag_sockaddr_path" (uptr u8* size_t size_t uptr uptr) int))
  (define (%sockaddr-path sa)
    (let ([m (scratch)] [b (make-bytevector 108 0)])
      (let ([st (c-sockaddr-path sa b 0 108 m 0)])
        (if (eqv? st 0)
            (let* ([n (out-size m 0)] [r (make-bytevector n)])
              (bytevector-copy! b 0 r 0 n)
              (values st r))
            (values st #f)))))
;; ---- Socket selector ------------------------------------------------------
  ;; The time-utc at which a timeout of us microseconds from now passes.
  (define (%us->deadline us)
    (add-duration (current-time 'time-utc) (%us->duration us)))

  (define-out %selector-new "sag_selector_new" () (handle))
  ;; (%selector-add sel s timeout-us tag) => status. Collect-safe: the add
  ;; takes the selector's lock, which a wait lets go of while it blocks.
  (define-status %selector-add "sag_selector_add" (uptr uptr integer-64 integer-64) safe)
  (define-status %selector-interrupt "sag_selector_interrupt" (uptr))
  (define-out %selector-size "sag_selector_size" (uptr) (size))
  (define-out %selector-is-closed "sag_selector_is_closed" (uptr) (bool))
  (define-out %selector-is-waiting "sag_selector_is_waiting" (uptr) (bool))
  (define-status %selector-close "sag_selector_close" (uptr) safe)

  ;; (%selector-wait sel timeout-us capacity) => (values status reports):
  ;; reports is a list, in the library's order, of (tag . timed-out?) for
  ;; each socket reported. The arrays are foreign memory (a collection may
  ;; run while the wait blocks); the wait is collect-safe.
  (define c-selector-wait
    (fp safe "sag_selector_wait" (uptr integer-64 uptr uptr uptr size_t uptr uptr) int))
  (define (%selector-wait sel us capacity)
    (let ([arr (foreign-alloc (* 20 capacity))] [m (scratch)])
      (dynamic-wind
        void
        (lambda ()
          (let* ([tags (+ arr (* 8 capacity))]
                 [flags (+ arr (* 16 capacity))]
                 [st (c-selector-wait sel us arr tags flags capacity m 0)])
            (values st
                    (if (eqv? st 0)
                        (let loop ([i (fx- (min capacity (out-size m 0)) 1)] [acc '()])
                          (if (fx< i 0)
                              acc
                              (loop (fx- i 1)
                                    (cons (cons (fref 'integer-64 tags (fx* 8 i))
                                                (not (eqv? 0 (fref 'int flags (fx* 4 i)))))
                                          acc))))
                        '()))))
        (lambda () (foreign-free arr)))))

  ;; (%selector-clear sel capacity) => (values status tags): every tag the
  ;; selector held, asking `capacity' at a time until it holds no more.
  (define c-selector-clear
    (fp "sag_selector_clear" (uptr uptr uptr size_t uptr uptr) int))
  (define (%selector-clear sel capacity)
    (let ([arr (foreign-alloc (* 16 capacity))] [m (scratch)])
      (dynamic-wind
        void
        (lambda ()
          (let ([tags (+ arr (* 8 capacity))])
            (let loop ([acc '()])
              (let ([st (c-selector-clear sel arr tags capacity m 0)])
                (if (eqv? st 0)
                    (let* ([n (min capacity (out-size m 0))]
                           [acc (let collect ([i 0] [acc acc])
                                  (if (fx= i n)
                                      acc
                                      (collect (fx+ i 1)
                                               (cons (fref 'integer-64 tags (fx* 8 i))
                                                     acc))))])
                      (if (fx< n capacity) (values st (reverse acc)) (loop acc)))
                    (values st (reverse acc)))))))
        (lambda () (foreign-free arr)))))
)
