;;; (sagittarius socket host): the Guile 3.0 layer under (sagittarius socket).
;;;
;;; Installed as sagittarius/socket/host.scm in the folder Guile loads the
;;; libraries from (pkg-config --variable=guilelibdir sagsocket). It holds
;;; what is specific to Guile: loading libsagsocket, the foreign procedures,
;;; per-thread scratch memory, guardians, durations (SRFI 19 time objects),
;;; locks, weak tables, and how a socket port is made. Behaviour (argument
;;; defaults, what a status means, which condition is raised) lives in
;;; (sagittarius socket), the same file the Chez Scheme binding uses.
;;;
;;; The interface is the Chez host layer's (host.chezscheme.sls):
;;;   - A handle is an exact integer (the C pointer value); #f stands for NULL.
;;;   - A call returns its C status first, then its out-parameters.
;;;   - Strings go in as Scheme strings or #f and come out the same way.
;;;   - After a non-zero status, (%last-error) describes the failure.
;;; Guile specifics:
;;;   - Handles, out-parameters and buffers go to C as integers (uintptr_t):
;;;     no pointer object is made per call. Out-parameters land in the
;;;     thread's scratch block (a bytevector that never moves: Guile's
;;;     collector does not move objects). Buffers of up to 4 KiB pass
;;;     through the scratch block too (a copy costs less than
;;;     bytevector->pointer, ~0.7-1.4 us); larger ones are passed at their
;;;     own address, looked up in a weak table of the thread's own. An
;;;     address held as an integer does not keep its bytevector alive, so
;;;     every call given one reads the bytevector again after it returns
;;;     (`keeping', below).
;;;   - Blocking calls need nothing special: a Guile thread in a foreign call
;;;     does not stop the collector, whose signals make the call's system
;;;     calls fail with EINTR, which the library retries with the remaining
;;;     time recomputed.
;;;   - Socket ports are Guile custom binary ports with a 64 KiB read buffer
;;;     and a one-byte write buffer (every put reaches the socket before it
;;;     returns). Guile's own transcoded-port waits for 1,024 bytes on such a
;;;     port and ignores the end-of-line style, so this library, when loaded,
;;;     makes (rnrs io ports)'s transcoded-port hand socket ports to it
;;;     (every other port goes to Guile's own, as before): the textual port
;;;     it makes reads what one receive brings and applies the eol style.
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
          %socket-connect-sockaddr %socket-bind-sockaddr %socket-sockaddr
          ;; Guile only, not in the host contract: which path the calls take
          guile-binding-path)
  (import (rnrs)
          (only (rnrs io ports) make-custom-binary-input/output-port)
          (only (guile) getenv dynamic-link dynamic-func make-guardian gc
                object-address hashv-ref hashv-set! hashv-remove! hashq-ref
                hashq-set! hash-map->list make-hash-table
                make-weak-key-hash-table make-doubly-weak-hash-table
                make-thread-local-fluid fluid-ref fluid-set!
                setvbuf set-port-encoding! set-port-conversion-strategy!
                resolve-module module-ref module-set! procedure-property
                set-procedure-property! iota port-closed? load-extension
                resolve-interface)
          (only (ice-9 threads) make-mutex make-recursive-mutex lock-mutex
                unlock-mutex)
          (only (ice-9 ports internal) port-read-buffer port-write-buffer
                port-buffer-cur port-buffer-end port-buffer-bytevector
                port-read-buffering)
          (system foreign)
          (only (srfi srfi-19) time? time-type time-second time-nanosecond
                make-time add-duration current-time))

  ;; ---- Loading the library --------------------------------------------------
  ;; SAGSOCKET_LIBRARY names the file to load; otherwise the dynamic loader
  ;; finds libsagsocket.so.1 (installed, or through LD_LIBRARY_PATH).
  (define library-file
    (let ([f (getenv "SAGSOCKET_LIBRARY")])
      (if (and f (not (string=? f ""))) f "libsagsocket.so.1")))

  (define lib
    (guard (e [#t (raise
                   (condition
                    (make-error)
                    (make-who-condition 'sagittarius-socket)
                    (make-message-condition
                     (string-append
                      "cannot load " library-file
                      " (install libsagsocket, or set LD_LIBRARY_PATH or"
                      " SAGSOCKET_LIBRARY)"))
                    (make-irritants-condition (list e))))])
      (dynamic-link library-file)))

  ;; (fp ret name (arg ...)): the C function `name' as a Scheme procedure.
  (define (fp ret name args)
    (pointer->procedure ret (dynamic-func name lib) args))
  (define P uintptr_t)                    ; handles, out-parameters, buffers

  ;; ---- The compiled path ------------------------------------------------------
  ;; Where libguile-sagsocket.so (bindings/scheme/guile/sagsocket_guile.c,
  ;; built and installed by `make install' when Guile's headers are there)
  ;; can be loaded, the calls of a transfer and of a connection (recv, send,
  ;; accept, create-socket, connect, close, shutdown, and the guardian's
  ;; free) go through its subrs, which call the library's functions
  ;; directly: no libffi, no scratch block, the bytevector passed as it is.
  ;; Everything else, and everything where the extension cannot be loaded
  ;; or SAGSOCKET_GUILE_FFI is set (not empty), goes through libffi
  ;; (pointer->procedure) as before. The extension is handed this
  ;; library's function pointers, so that both paths call the same copy.
  ;; `guile-binding-path' says which: 'compiled or 'ffi.
  (define native
    (let ([forced (getenv "SAGSOCKET_GUILE_FFI")])
      (and (not (and forced (not (string=? forced ""))))
           (guard (e [#t #f])
             (load-extension "libguile-sagsocket" "sagsocket_guile_init")
             (let ([m (resolve-interface '(sagsocket guile-native))])
               ((module-ref m 'init!)
                (map (lambda (name) (dynamic-func name lib))
                     '("sag_socket_recv" "sag_socket_send" "sag_socket_accept"
                       "sag_create_socket" "sag_socket_connect" "sag_socket_close"
                       "sag_socket_free" "sag_socket_shutdown")))
               m)))))
  (define guile-binding-path (if native 'compiled 'ffi))
  ;; (native-or name ffi-procedure): the subr `name' of the extension, or
  ;; ffi-procedure without it.
  (define (native-or name ffi) (if native (module-ref native name) ffi))
  ;; A subr's answer as the host contract's (values status result): below
  ;; zero a status (and `none'), otherwise the result (made a handle or #f
  ;; with `handle').
  (define-syntax answer
    (syntax-rules (handle)
      [(_ e none) (let ([r e]) (if (< r 0) (values r none) (values 0 r)))]
      [(_ e none handle) (let ([r e]) (if (< r 0) (values r none) (values 0 (handle r))))]))

  ;; ---- Scratch memory -------------------------------------------------------
  ;; Each thread's block: 64 bytes of out-parameters (slot i at 8i), then
  ;; `data-size' bytes for small buffers and arrays. A pair (bytevector .
  ;; address); the bytevector never moves.
  (define out-size 64)
  (define data-size 8192)
  (define small 4096)
  (define scratch-fluid (make-thread-local-fluid #f))
  (define (scratch)
    (or (fluid-ref scratch-fluid)
        (let* ([bv (make-bytevector (+ out-size data-size) 0)]
               [s (cons bv (pointer-address (bytevector->pointer bv)))])
          (fluid-set! scratch-fluid s)
          s)))
  (define-syntax out-addr
    (syntax-rules () [(_ sc i) (+ (cdr sc) (* 8 i))]))
  (define (data-addr sc) (+ (cdr sc) out-size))
  (define (out-int sc i) (bytevector-s32-native-ref (car sc) (* 8 i)))
  (define (out-i64 sc i) (bytevector-s64-native-ref (car sc) (* 8 i)))
  (define (out-u64 sc i) (bytevector-u64-native-ref (car sc) (* 8 i)))

  ;; The address of a bytevector's first byte, remembered per bytevector in
  ;; a weak table of the thread's own (the entry goes with the bytevector;
  ;; one table for all threads was a contended lock: a sender and a
  ;; receiver thread made two futex calls per transfer).
  (define addresses-fluid (make-thread-local-fluid #f))
  (define (bv-address bv)
    (let ([t (or (fluid-ref addresses-fluid)
                 (let ([t (make-weak-key-hash-table)])
                   (fluid-set! addresses-fluid t)
                   t))])
      (or (hashq-ref t bv)
          (let ([a (pointer-address (bytevector->pointer bv))])
            (hashq-set! t bv a)
            a))))

  ;; (keeping (obj ...) expr): the value of expr (a foreign call given obj's
  ;; address as an integer), with each obj still in use after it returns.
  ;; An integer address does not keep a bytevector alive: Guile's VM marks
  ;; its stack precisely (a slot no code reads again is dead) and a fixnum
  ;; is not a pointer, so between (bv-address bv) and the call another
  ;; thread's collection could free bv when nothing reads it afterwards.
  ;; (During the call itself the raw address sits in the C stack, which the
  ;; collector scans conservatively, interior pointers included.) The test
  ;; below reads a cell the compiler knows nothing about, so it cannot be
  ;; dropped; it never holds (the cell holds #f), and costs a load and a
  ;; compare: no allocation, no lock.
  (define keep-cell (list #f))
  (define-syntax keeping
    (syntax-rules ()
      [(_ (o ...) e)
       (let ([r e])
         (if (or (eq? o (car keep-cell)) ...)
             (assertion-violation 'sagittarius-socket "kept object seen twice" o ...)
             r))]))

  ;; A NUL-terminated UTF-8 copy of s (a string or #f) as a pointer object
  ;; (keep it alive across the call), or the null pointer.
  (define (c-string s) (if s (string->pointer s "UTF-8") %null-pointer))
  ;; The string at address a (NUL-terminated UTF-8), or #f for NULL.
  (define (addr->string a)
    (and (not (eqv? a 0)) (pointer->string (make-pointer a) -1 "UTF-8")))
  (define (handle x) (if (eqv? x 0) #f x))

  ;; ---- Library, constants, statuses, errors ---------------------------------
  (define %library-version
    (pointer->string ((fp '* "sag_version_string" '()))))

  (define c-constant (fp int "sag_constant" (list '* P)))
  ;; The value of a constant by name, or #f when the library has none.
  (define (%constant name)
    (let ([sc (scratch)])
      (and (eqv? (c-constant (string->pointer name "UTF-8") (out-addr sc 0)) 0)
           (out-int sc 0))))

  (define %status-is (let ([f (fp int "sag_status_is" (list int int))])
                       (lambda (st kind) (not (eqv? (f st kind) 0)))))
  (define %status-name
    (let ([f (fp P "sag_status_name" (list int))])
      (lambda (st) (addr->string (f st)))))

  (define c-last-error (fp P "sag_last_error" '()))
  (define c-error-status (fp int "sag_error_status" (list P)))
  (define c-error-errno (fp int "sag_error_errno" (list P)))
  (define c-error-message (fp P "sag_error_message" (list P)))
  (define c-error-operation (fp P "sag_error_operation" (list P)))
  (define c-error-node (fp P "sag_error_node" (list P)))
  (define c-error-service (fp P "sag_error_service" (list P)))
  (define c-error-timeout (fp int64 "sag_error_timeout" (list P)))
  (define c-error-sent (fp size_t "sag_error_sent" (list P)))
  (define c-error-new (fp int "sag_error_new" (list P)))
  (define c-error-free (fp int "sag_error_free" (list P)))

  ;; The calling thread's last failure: a vector
  ;; #(status errno message operation node service timeout-us sent).
  ;; Guile threads are OS threads, so the library's per-thread record is
  ;; this thread's.
  (define (error-fields e)
    (vector (c-error-status e) (c-error-errno e) (addr->string (c-error-message e))
            (addr->string (c-error-operation e)) (addr->string (c-error-node e))
            (addr->string (c-error-service e)) (c-error-timeout e) (c-error-sent e)))
  (define (%last-error) (error-fields (c-last-error)))

  ;; ---- Locks and weak tables -----------------------------------------------
  ;; Recursive, as Chez's mutexes are.
  (define (%make-lock) (make-recursive-mutex))
  (define (%with-lock m thunk)
    (dynamic-wind (lambda () (lock-mutex m)) thunk (lambda () (unlock-mutex m))))
  ;; A thread that waits on a selector ends only by returning or raising.
  (define (%thread-token) #t)
  (define (%thread-token-live? t) #t)
  ;; A table whose entries last as long as their key. Guile's weak tables
  ;; are not ephemeron tables (a value that refers to its key would keep the
  ;; key alive), so the table holds its values weakly too: the portable
  ;; layer's values (a port's state) are reachable from their key (the
  ;; port's own procedures hold the state) for as long as the key lives.
  (define (%make-weak-table) (make-doubly-weak-hash-table))
  (define (%weak-table-ref t k) (hashq-ref t k #f))
  (define (%weak-table-set! t k v) (hashq-set! t k v))
  (define (%weak-table-keys t) (hash-map->list (lambda (k v) k) t))

  ;; ---- Guardians ------------------------------------------------------------
  ;; %guard! registers a Scheme object that owns a handle; once the object is
  ;; garbage, the handle is freed (sockets are closed) the next time any
  ;; handle is registered. Guile's guardians hand back the object itself, so
  ;; what it owns is kept by the object's address (the collector does not
  ;; move objects; a guarded object keeps its address until it is taken
  ;; from the guardian and dropped).
  (define c-socket-free (native-or 'free (fp int "sag_socket_free" (list P))))
  (define c-addrinfo-free (fp int "sag_addrinfo_free" (list P)))
  (define c-sockaddr-free (fp int "sag_sockaddr_free" (list P)))
  (define c-fdset-free (fp int "sag_fdset_free" (list P)))
  (define c-selector-free (fp int "sag_selector_free" (list P)))
  (define handle-guardian (make-guardian))
  (define owned (make-hash-table))        ; object address -> (kind . handle)
  (define guard-lock (make-mutex))
  ;; A Guile mutex costs ~0.2 us to take and give back, more than the work
  ;; it guards here: each procedure below takes it once.
  (define-syntax with-guard-lock
    (syntax-rules ()
      [(_ body ...) (%with-lock guard-lock (lambda () body ...))]))
  (define (free-handle kind h)
    (case kind
      [(socket) (c-socket-free h)]
      [(addrinfo) (c-addrinfo-free h)]
      [(sockaddr) (c-sockaddr-free h)]
      [(fdset) (c-fdset-free h)]
      [(selector) (c-selector-free h)]
      [else (assertion-violation '%guard! "unknown handle kind" kind)]))
  (define (drain!)
    (let loop ()
      (let ([obj (handle-guardian)])
        (when obj
          (let ([rep (with-guard-lock
                       (let* ([a (object-address obj)] [rep (hashv-ref owned a #f)])
                         (hashv-remove! owned a)
                         (when rep (hashv-remove! counted (cdr rep)))
                         rep))])
            (when rep (free-handle (car rep) (cdr rep))))
          (loop)))))
  ;; Descriptors run out long before memory does: once `sockets-per-collection'
  ;; sockets (or selectors, which hold two descriptors each) have been made
  ;; and not closed since the last such collection, a collection finds the
  ;; dropped ones so that they are closed now. (Sockets and selectors the
  ;; program closes itself do not count: a loop that opens and closes
  ;; connections never waits for a collection.) `counted' holds the handles
  ;; of the sockets and selectors made and not closed or freed yet, so that
  ;; a close knows whether it ends one (no foreign call to ask).
  (define sockets-per-collection 256)
  (define unclosed 0)
  (define counted (make-hash-table))      ; handle -> #t
  ;; Keeps obj reachable up to here (its handle, taken earlier, in use): a
  ;; store Guile's compiler cannot drop.
  (define keep-sink #f)
  (define (%keep-alive obj) (set! keep-sink obj) (set! keep-sink #f))

  (define (%guard! obj kind h)
    (let ([collect?
           (with-guard-lock
             (hashv-set! owned (object-address obj) (cons kind h))
             (and (or (eq? kind 'socket) (eq? kind 'selector))
                  (begin
                    (hashv-set! counted h #t)
                    (set! unclosed (+ unclosed 1))
                    (and (>= unclosed sockets-per-collection)
                         (begin (set! unclosed 0) #t)))))])
      (handle-guardian obj)
      (when collect? (gc))
      (drain!)
      obj))
  ;; Socket or selector h was closed (status st): it no longer counts.
  (define (closed! h st)
    (when (eqv? st 0)
      (with-guard-lock
        (when (hashv-ref counted h #f)
          (hashv-remove! counted h)
          (when (> unclosed 0) (set! unclosed (- unclosed 1))))))
    st)

  ;; ---- Durations (SRFI 19 time objects of type time-duration) ---------------
  (define (%duration? x) (and (time? x) (eq? (time-type x) 'time-duration)))
  ;; rounded up to the next microsecond: a positive duration stays positive
  (define (%duration->us t)
    (+ (* (time-second t) 1000000) (div (+ (time-nanosecond t) 999) 1000)))
  (define (%us->duration us)
    (let-values ([(s r) (div-and-mod us 1000000)])
      (make-time 'time-duration (* r 1000) s)))

  ;; ---- Ports ----------------------------------------------------------------
  ;; Each socket port made here is known by its info: #(read! write! close
  ;; direction binary) where binary is the binary socket port a textual
  ;; port was transcoded from (#f for a binary port). The port's own
  ;; procedures hold the info, so a doubly weak table keeps it as long as
  ;; the port lives.
  (define port-infos (make-doubly-weak-hash-table))
  (define port-lock (make-mutex))
  (define (port-info p) (%with-lock port-lock (lambda () (hashq-ref port-infos p #f))))
  (define read-buffer-size 65536)

  ;; Gives p a 64 KiB read buffer (one receive fills it) and a one-byte
  ;; write buffer, so that every put is handed to write! before it returns.
  ;; Guile's setvbuf sets both sizes at once; the write buffer's bytevector
  ;; is swapped for a one-byte one, which Guile then treats as an
  ;; unbuffered port's (checked by `split-buffers?' at load; where the check
  ;; fails, the port is unbuffered both ways: correct, one read! per byte).
  (define (set-buffers! p)
    (if split-buffers?
        (begin
          (setvbuf p 'block read-buffer-size)
          (when (output-port? p)
            (vector-set! (port-write-buffer p) 0 (make-bytevector 1 0))))
        (setvbuf p 'none)))
  (define split-buffers?
    (guard (e [#t #f])
      (let* ([writes '()]
             [p (make-custom-binary-input/output-port
                 "probe"
                 (lambda (bv start n) (bytevector-u8-set! bv start 10) 1)
                 (lambda (bv start n) (set! writes (cons n writes)) n)
                 #f #f #f)])
        (setvbuf p 'block read-buffer-size)
        (vector-set! (port-write-buffer p) 0 (make-bytevector 1 0))
        (put-u8 p 1)
        (let ([after-u8 writes])
          (put-bytevector p (make-bytevector 3 2))
          (and (equal? after-u8 '(1))
               (equal? writes '(3 1))
               (= (port-read-buffering p) read-buffer-size))))))

  (define (make-port name direction read! write! close)
    (let ([p (case direction
               [(input) (make-custom-binary-input-port name read! #f #f close)]
               [(output) (make-custom-binary-output-port name write! #f #f close)]
               [else (make-custom-binary-input/output-port name read! write! #f #f close)])])
      (print-as-socket-port! p)
      p))

  ;; ---- How a socket port prints --------------------------------------------
  ;; Guile 3.0 prints an R6RS custom port as "#<input: file 7f...>". The
  ;; print function of each port type our ports are made of (Guile's R6RS
  ;; custom binary port types) is wrapped once, with libguile's
  ;; scm_set_port_print, so that a socket port prints as what it is,
  ;; "#<input-output: socket-port 7f...>" ("socket-textual-port" for one made
  ;; by transcoded-port), and every other port of the type exactly as before
  ;; (the wrapper calls the print function it replaced). The type is read at
  ;; the place Guile 3.0 keeps it (the port's fourth word, whose first field
  ;; is the type's name); a type whose name is not Guile's R6RS custom port's
  ;; there is left alone, and its ports print as Guile prints them.
  (define printers '())               ; (type address . callback), kept alive
  (define printers-lock (make-mutex))
  (define scm-set-port-print
    (guard (e [#t #f])                  ; not in this libguile: no wrapping
      (pointer->procedure void (dynamic-func "scm_set_port_print" (dynamic-link)) (list '* '*))))
  (define (word-at address i)
    (bytevector-u64-native-ref (pointer->bytevector (make-pointer address) (* 8 (+ i 1))) (* 8 i)))
  (define (print-socket-port port out)
    (display (string-append
              "#<"
              (cond [(port-closed? port) "closed"]
                    [(and (input-port? port) (output-port? port)) "input-output"]
                    [(input-port? port) "input"]
                    [else "output"])
              ": "
              (if (vector-ref (port-info port) 4) "socket-textual-port" "socket-port")
              " " (number->string (object-address port) 16) ">")
             out))
  (define (print-as-socket-port! p)
    (when scm-set-port-print
      (let ([type (word-at (object-address p) 3)])
        (%with-lock printers-lock
          (lambda ()
            (unless (or (assv type printers) (= type 0)
                        (not (string-prefix? "r6rs-custom-binary-"
                                             (pointer->string (make-pointer (word-at type 0))))))
              (let* ([old (pointer->procedure int (make-pointer (word-at type 1)) (list '* '* '*))]
                     [new (procedure->pointer
                           int
                           (lambda (exp out pstate)
                             (let ([port (pointer->scm exp)])
                               (if (port-info port)
                                   (begin (print-socket-port port (pointer->scm out)) 1)
                                   (old exp out pstate))))
                           (list '* '* '*))])
                (scm-set-port-print (make-pointer type) new)
                (set! printers (cons (cons type new) printers)))))))))
  (define (string-prefix? prefix s)
    (and (<= (string-length prefix) (string-length s))
         (string=? prefix (substring s 0 (string-length prefix)))))

  ;; (%make-binary-port name direction read! write! get-position set-position!
  ;; close), direction 'input, 'output or 'input/output; the procedures as
  ;; for R6RS custom ports. Guile keeps buffered input across writes by
  ;; itself, so the port is made without positions (with them Guile would
  ;; treat it as random-access and move back over buffered input before
  ;; each write).
  (define (%make-binary-port name direction read! write! getpos setpos close)
    (let* ([info (vector read! write! close direction #f)]
           [p (make-port name direction
                         (and read! (lambda (bv start n) ((vector-ref info 0) bv start n)))
                         (and write! (lambda (bv start n) ((vector-ref info 1) bv start n)))
                         (lambda () ((vector-ref info 2))))])
      (set-buffers! p)
      (%with-lock port-lock (lambda () (hashq-set! port-infos p info)))
      p))

  ;; #t when textual port tp was made by transcoded-port from binary port bp.
  (define (%port-transcoded-from? bp tp)
    (let ([info (port-info tp)])
      (and info (eq? (vector-ref info 4) bp))))

  ;; #t when the port itself holds input that a read would return at once.
  (define (%port-has-buffered-input? p)
    (let ([buf (port-read-buffer p)])
      (> (port-buffer-end buf) (port-buffer-cur buf))))

  ;; ---- transcoded-port for socket ports ---------------------------------------
  ;; The bytes an end of line is written as, per eol style and codec
  ;; (#f: no translation).
  (define (eol-bytes style utf8?)
    (case style
      [(none lf) #f]
      [(cr) #vu8(13)]
      [(crlf) #vu8(13 10)]
      [(nel) (if utf8? #vu8(#xC2 #x85) #vu8(#x85))]
      [(crnel) (if utf8? #vu8(13 #xC2 #x85) #vu8(13 #x85))]
      [(ls) (if utf8? #vu8(#xE2 #x80 #xA8) #f)]
      [else #f]))

  ;; write! that writes each linefeed as `eol' (all of it, or raises).
  (define (translating-write! write! eol)
    (lambda (bv start n)
      (let* ([lfs (let loop ([i start] [c 0])
                    (if (= i (+ start n)) c
                        (loop (+ i 1) (if (= (bytevector-u8-ref bv i) 10) (+ c 1) c))))]
             [el (bytevector-length eol)]
             [out (make-bytevector (+ n (* lfs (- el 1))))])
        (let loop ([i start] [j 0])
          (when (< i (+ start n))
            (let ([b (bytevector-u8-ref bv i)])
              (if (= b 10)
                  (begin (bytevector-copy! eol 0 out j el) (loop (+ i 1) (+ j el)))
                  (begin (bytevector-u8-set! out j b) (loop (+ i 1) (+ j 1)))))))
        (let loop ([k 0])
          (when (< k (bytevector-length out))
            (loop (+ k (write! out k (- (bytevector-length out) k))))))
        n)))

  ;; read! that turns every end of line (CR LF, CR, NEL, CR NEL, and in
  ;; UTF-8 LS) into one linefeed, as R6RS asks of every eol style but none.
  ;; A CR at the end of what came is a line end at once; a LF or NEL that
  ;; follows it later is dropped. Bytes that may begin a NEL or LS not
  ;; complete yet wait for the next receive (they are no whole character
  ;; yet either).
  (define (translating-read! read! utf8?)
    (let ([raw (make-bytevector read-buffer-size)]
          [held 0]            ; bytes kept at the front of raw
          [after-cr #f])
      (lambda (bv start n)
        (let fill ()
          (let* ([got (read! raw held (min (- (bytevector-length raw) held) n))]
                 [eof? (= got 0)]
                 [end (+ held got)])
            (define (at i) (bytevector-u8-ref raw i))
            (let loop ([i 0] [j start])
              (define (emit b) (bytevector-u8-set! bv j b))
              (define (finish i j)
                ;; keep raw[i, end) for the next call
                (bytevector-copy! raw i raw 0 (- end i))
                (set! held (- end i))
                (- j start))
              (cond
               [(or (= i end) (= j (+ start n)))
                (let ([r (finish i j)])
                  (if (and (= r 0) (not eof?)) (fill) r))]
               [else
                (let ([b (at i)] [left (- end i)])
                  (cond
                   [(and after-cr (= b 10)) (set! after-cr #f) (loop (+ i 1) j)]
                   [(and after-cr utf8? (= b #xC2) (>= left 2) (= (at (+ i 1)) #x85))
                    (set! after-cr #f) (loop (+ i 2) j)]
                   [(and after-cr (not utf8?) (= b #x85)) (set! after-cr #f) (loop (+ i 1) j)]
                   [(and utf8? (not eof?)
                         (or (and (= b #xC2) (< left 2))
                             (and (= b #xE2) (or (< left 2) (and (= (at (+ i 1)) #x80) (< left 3))))))
                    ;; a NEL or LS may be cut here: wait for the rest
                    (let ([r (finish i j)])
                      (if (= r 0) (fill) r))]
                   [else
                    (set! after-cr #f)
                    (cond
                     [(= b 13) (set! after-cr #t) (emit 10) (loop (+ i 1) (+ j 1))]
                     [(and utf8? (= b #xC2) (= (at (+ i 1)) #x85)) (emit 10) (loop (+ i 2) (+ j 1))]
                     [(and utf8? (= b #xE2) (>= left 3) (= (at (+ i 1)) #x80) (= (at (+ i 2)) #xA8))
                      (emit 10) (loop (+ i 3) (+ j 1))]
                     [(and (not utf8?) (= b #x85)) (emit 10) (loop (+ i 1) (+ j 1))]
                     [else (emit b) (loop (+ i 1) (+ j 1))])]))])))))))

  ;; The textual port transcoded-port makes from socket port bp: a port of
  ;; its own over the same socket state (bytes bp had buffered already
  ;; are read first), with the transcoder's codec, error mode and eol style.
  (define (socket-transcoded-port bp info transcoder)
    (let* ([codec (transcoder-codec transcoder)]
           [utf8? (member codec '("UTF-8" "utf-8"))]
           [ascii? (or utf8? (member codec '("ISO-8859-1" "iso-8859-1")))]
           [style (transcoder-eol-style transcoder)]
           [eol (and ascii? (eol-bytes style utf8?))]
           [direction (vector-ref info 3)]
           [carried (if (and (input-port? bp) (%port-has-buffered-input? bp))
                        (get-bytevector-n bp (- (port-buffer-end (port-read-buffer bp))
                                                (port-buffer-cur (port-read-buffer bp))))
                        #f)]
           [base-read! (vector-ref info 0)]
           [read1! (and base-read!
                        (if carried
                            (let ([pos 0])
                              (lambda (bv start n)
                                (if (and carried (< pos (bytevector-length carried)))
                                    (let ([k (min n (- (bytevector-length carried) pos))])
                                      (bytevector-copy! carried pos bv start k)
                                      (set! pos (+ pos k))
                                      (when (= pos (bytevector-length carried)) (set! carried #f))
                                      k)
                                    (base-read! bv start n))))
                            base-read!))]
           [read! (and read1! (if (and ascii? (not (eq? style 'none)))
                                  (translating-read! read1! utf8?)
                                  read1!))]
           [write! (and (vector-ref info 1)
                        (if eol (translating-write! (vector-ref info 1) eol) (vector-ref info 1)))]
           [tinfo (vector read! write! (vector-ref info 2) direction bp)]
           [tp (make-port "socket-textual-port" direction
                          (and read! (lambda (bv start n) ((vector-ref tinfo 0) bv start n)))
                          (and write! (lambda (bv start n) ((vector-ref tinfo 1) bv start n)))
                          (lambda () ((vector-ref tinfo 2))))])
      (set-buffers! tp)
      (set-port-encoding! tp codec)
      (set-port-conversion-strategy!
       tp (case (transcoder-error-handling-mode transcoder)
            [(raise) 'error]
            [(replace) 'substitute]
            [else (assertion-violation 'transcoded-port "unsupported error handling mode"
                                       (transcoder-error-handling-mode transcoder))]))
      (%with-lock port-lock (lambda () (hashq-set! port-infos tp tinfo)))
      tp))

  ;; (rnrs io ports)'s transcoded-port (the variable (rnrs) exports too) is
  ;; set to one that hands socket ports to socket-transcoded-port and every
  ;; other port to Guile's own. Nothing is shadowed, so a program that
  ;; imports (rnrs) and (sagittarius socket) gets no warning.
  (define installed-transcoded-port
    (let* ([m (resolve-module '(rnrs io ports))]
           [current (module-ref m 'transcoded-port)])
      (if (procedure-property current 'sagsocket)
          current
          (let ([p (lambda (port transcoder)
                     (let ([info (and (port? port) (port-info port))])
                       (if (and info (not (vector-ref info 4)))
                           (socket-transcoded-port port info transcoder)
                           (current port transcoder))))])
            (set-procedure-property! p 'sagsocket #t)
            (module-set! m 'transcoded-port p)
            p))))

  ;; ---- Sockets --------------------------------------------------------------
  (define c-make-client-socket
    (fp int "sag_make_client_socket" (list '* '* int int int int P P)))
  (define (%make-client-socket node service family socktype flags protocol)
    (let ([sc (scratch)])
      (let ([st (c-make-client-socket (c-string node) (c-string service) family socktype
                                      flags protocol (out-addr sc 0) 0)])
        (values st (out-u64 sc 0)))))

  (define c-make-server-socket
    (fp int "sag_make_server_socket" (list '* int int int P P)))
  (define (%make-server-socket service family socktype protocol)
    (let ([sc (scratch)])
      (let ([st (c-make-server-socket (c-string service) family socktype protocol
                                      (out-addr sc 0) 0)])
        (values st (out-u64 sc 0)))))

  (define c-make-server-sockets
    (fp int "sag_make_server_sockets" (list '* int int int P size_t P P)))
  (define max-server-sockets 16)
  (define (%make-server-sockets service family socktype protocol)
    (let* ([sc (scratch)] [arr (data-addr sc)])
      (let ([st (c-make-server-sockets (c-string service) family socktype protocol arr
                                       max-server-sockets (out-addr sc 0) 0)])
        (values st (if (eqv? st 0)
                       (data->list sc (min (out-u64 sc 0) max-server-sockets))
                       '())))))

  ;; The first n 64-bit values of sc's data area.
  (define (data->list sc n)
    (let loop ([i (- n 1)] [acc '()])
      (if (< i 0)
          acc
          (loop (- i 1) (cons (bytevector-u64-native-ref (car sc) (+ out-size (* 8 i))) acc)))))

  ;; Simple calls: (define-out name cname (argtype ...) (outtype ...))
  ;; defines a procedure of the in-arguments returning (values status out ...).
  (define-syntax define-out
    (lambda (x)
      (syntax-case x ()
        [(_ name cname (atype ...) (otype ...))
         (with-syntax ([(a ...) (generate-temporaries #'(atype ...))]
                       [(i ...) (iota (length #'(otype ...)))]
                       [(ps ...) (map (lambda (o) #'P) #'(otype ...))])
           #'(define name
               (let ([f (fp int cname (list atype ... ps ... P))])
                 (lambda (a ...)
                   (let ([sc (scratch)])
                     (let ([st (f a ... (out-addr sc i) ... 0)])
                       (values st (read-out 'otype sc i) ...)))))))])))
  (define (read-out type sc i)
    (case type
      [(int) (out-int sc i)]
      [(bool) (not (eqv? (out-int sc i) 0))]
      [(i64) (out-i64 sc i)]
      [(size) (out-u64 sc i)]
      [(handle) (handle (out-u64 sc i))]
      [(string) (addr->string (out-u64 sc i))]
      [else (assertion-violation 'read-out "bad type" type)]))

  ;; (define-status name cname (argtype ...)): a procedure of the arguments
  ;; but the last (the error object, NULL) returning the status.
  (define-syntax define-status
    (lambda (x)
      (syntax-case x ()
        [(_ name cname (atype ...))
         (with-syntax ([(a ...) (generate-temporaries #'(atype ...))])
           #'(define name
               (let ([f (fp int cname (list atype ... P))])
                 (lambda (a ...) (f a ... 0)))))])))

  (define-out %socket-is-closed "sag_socket_is_closed" (P) (bool))
  (define-out %socket-is-nonblocking "sag_socket_is_nonblocking" (P) (bool))
  (define-out ffi-socket-accept "sag_socket_accept" (P) (handle))
  (define %socket-accept
    (if native
        (let ([f (module-ref native 'accept)])
          (lambda (s) (answer (f s) #f handle)))
        ffi-socket-accept))

  ;; Transfers with a bytevector: small ranges go through the scratch block,
  ;; larger ones at the bytevector's own address.
  (define c-recv (fp int "sag_socket_recv" (list P P size_t size_t int P P)))
  (define (ffi-socket-recv s bv start len flags)
    (let ([sc (scratch)])
      (if (<= len small)
          (let ([st (c-recv s (data-addr sc) 0 len flags (out-addr sc 0) 0)])
            (let ([n (out-u64 sc 0)])
              (when (and (eqv? st 0) (> n 0))
                (bytevector-copy! (car sc) out-size bv start n))
              (values st n)))
          (let ([st (keeping (bv) (c-recv s (bv-address bv) start len flags (out-addr sc 0) 0))])
            (values st (out-u64 sc 0))))))

  (define c-send (fp int "sag_socket_send" (list P P size_t size_t int P P)))
  (define (ffi-socket-send s bv start count flags)
    (let ([sc (scratch)])
      (if (<= count small)
          (begin
            (bytevector-copy! bv start (car sc) out-size count)
            (let ([st (c-send s (data-addr sc) 0 count flags (out-addr sc 0) 0)])
              (values st (out-u64 sc 0))))
          (let ([st (keeping (bv) (c-send s (bv-address bv) start count flags (out-addr sc 0) 0))])
            (values st (out-u64 sc 0))))))

  (define %socket-recv
    (if native
        (let ([f (module-ref native 'recv)])
          (lambda (s bv start len flags) (answer (f s bv start len flags) 0)))
        ffi-socket-recv))
  (define %socket-send
    (if native
        (let ([f (module-ref native 'send)])
          (lambda (s bv start count flags) (answer (f s bv start count flags) 0)))
        ffi-socket-send))

  (define c-sendto (fp int "sag_socket_sendto" (list P P size_t size_t int P P P)))
  (define (%socket-sendto s bv start count flags to)
    (let ([sc (scratch)])
      (if (<= count small)
          (begin
            (bytevector-copy! bv start (car sc) out-size count)
            (let ([st (c-sendto s (data-addr sc) 0 count flags to (out-addr sc 0) 0)])
              (values st (out-u64 sc 0))))
          (let ([st (keeping (bv) (c-sendto s (bv-address bv) start count flags to
                                            (out-addr sc 0) 0))])
            (values st (out-u64 sc 0))))))

  (define c-recvfrom (fp int "sag_socket_recvfrom" (list P P size_t size_t int P P P)))
  (define (%socket-recvfrom s bv start len flags from)
    (let ([sc (scratch)])
      (if (<= len small)
          (let ([st (c-recvfrom s (data-addr sc) 0 len flags from (out-addr sc 0) 0)])
            (let ([n (out-u64 sc 0)])
              (when (and (eqv? st 0) (> n 0))
                (bytevector-copy! (car sc) out-size bv start n))
              (values st n)))
          (let ([st (keeping (bv) (c-recvfrom s (bv-address bv) start len flags from
                                              (out-addr sc 0) 0))])
            (values st (out-u64 sc 0))))))

  (define-status ffi-socket-shutdown "sag_socket_shutdown" (P int))
  (define %socket-shutdown (native-or 'shutdown ffi-socket-shutdown))
  (define c-socket-close
    (native-or 'close (let ([f (fp int "sag_socket_close" (list P P))]) (lambda (s) (f s 0)))))
  ;; A socket the program closes no longer counts towards a collection.
  (define (%socket-close s) (closed! s (c-socket-close s)))
  (define-status %socket-interrupt "sag_socket_interrupt" (P))

  (define-out %socket-get-info "sag_socket_get_info" (P) (handle))
  (define-out %socket-get-peer "sag_socket_get_peer" (P) (handle))
  (define-out %socket-info-hostname "sag_socket_info_hostname" (P) (string))
  (define-out %socket-info-ip-address "sag_socket_info_ip_address" (P) (handle))
  (define-out %socket-info-port "sag_socket_info_port" (P) (int))
  (define %socket-info-free (fp int "sag_socket_info_free" (list P)))
  (define-out %socket-name "sag_socket_name" (P) (string))
  (define-out %socket-node "sag_socket_node" (P) (string))
  (define-out %socket-service "sag_socket_service" (P) (string))
  (define-out %socket-fd "sag_socket_fd" (P) (int))

  ;; The last failure on socket s, as %last-error's vector (status 0: none).
  (define c-socket-last-error (fp int "sag_socket_last_error" (list P P P)))
  (define (%socket-last-error s)
    (let ([sc (scratch)])
      (let ([st (c-error-new (out-addr sc 0))])
        (if (eqv? st 0)
            (let* ([e (out-u64 sc 0)]
                   [st (c-socket-last-error s e 0)]
                   [r (error-fields e)])
              (c-error-free e)
              (values st r))
            (values st #f)))))

  (define-out %ip-address-is-v6 "sag_ip_address_is_v6" (P) (bool))
  (define-out %ip-address-to-string "sag_ip_address_to_string" (P) (string))
  (define c-ip-to-bytes (fp int "sag_ip_address_to_bytes" (list P P size_t size_t P P)))
  (define (%ip-address-to-bytes ip)
    (let ([sc (scratch)])
      (let ([st (c-ip-to-bytes ip (data-addr sc) 0 16 (out-addr sc 0) 0)])
        (if (eqv? st 0)
            (let* ([n (out-u64 sc 0)] [r (make-bytevector n)])
              (bytevector-copy! (car sc) out-size r 0 n)
              (values st r))
            (values st #f)))))
  (define %ip-address-free (fp int "sag_ip_address_free" (list P)))

  (define-out %make-socket "sag_make_socket" (int int int) (handle))
  (define-out ffi-create-socket "sag_create_socket" (P) (handle))
  (define %create-socket
    (if native
        (let ([f (module-ref native 'create-socket)])
          (lambda (ai) (answer (f ai) #f handle)))
        ffi-create-socket))
  (define-status ffi-socket-connect "sag_socket_connect" (P P int64))
  (define %socket-connect (native-or 'connect ffi-socket-connect))
  (define-status %socket-bind "sag_socket_bind" (P P))
  (define-status %socket-listen "sag_socket_listen" (P int))
  (define-status %socket-setsockopt-int "sag_socket_setsockopt_int" (P int int int))
  (define c-setsockopt-bytes
    (fp int "sag_socket_setsockopt_bytes" (list P int int P size_t size_t P)))
  (define (%socket-setsockopt-bytes s level name bv start len)
    (keeping (bv) (c-setsockopt-bytes s level name (bv-address bv) start len 0)))
  (define-status %socket-setsockopt-duration "sag_socket_setsockopt_duration"
    (P int int int64))
  (define-out %socket-getsockopt-int "sag_socket_getsockopt_int" (P int int) (int))
  (define c-getsockopt-bytes
    (fp int "sag_socket_getsockopt_bytes" (list P int int P size_t size_t P P)))
  (define (%socket-getsockopt-bytes s level name size)
    (let ([sc (scratch)] [b (make-bytevector size 0)])
      (let ([st (keeping (b) (c-getsockopt-bytes s level name (bv-address b) 0 size
                                                  (out-addr sc 0) 0))])
        (if (eqv? st 0)
            (let ([n (out-u64 sc 0)])
              (values st (if (= n size)
                             b
                             (let ([r (make-bytevector n)])
                               (bytevector-copy! b 0 r 0 n)
                               r))))
            (values st #f)))))
  (define-out %socket-getsockopt-duration "sag_socket_getsockopt_duration"
    (P int int) (i64))
  (define-status %socket-set-nonblocking "sag_socket_set_nonblocking" (P int))
  (define-status %socket-set-read-timeout "sag_socket_set_read_timeout" (P int64))
  (define-out %socket-get-read-timeout "sag_socket_get_read_timeout" (P) (i64))

  ;; ---- Select and fdsets ----------------------------------------------------
  (define-out %fdset-new "sag_fdset_new" () (handle))

  ;; An array of n 64-bit slots for the duration of proc: (proc bv address).
  ;; bv is kept until proc returns (proc's own code may not read it after
  ;; its last store, and may allocate before its foreign call).
  (define (with-array n proc)
    (let ([bv (make-bytevector (* 8 (max n 1)) 0)])
      (call-with-values (lambda () (proc bv (bv-address bv)))
        (lambda results
          (if (eq? bv (car keep-cell))          ; as in `keeping'
              (assertion-violation 'sagittarius-socket "kept object seen twice" bv)
              (apply values results))))))
  (define (list->array! bv hs)
    (let loop ([hs hs] [i 0])
      (unless (null? hs)
        (bytevector-u64-native-set! bv (* 8 i) (car hs))
        (loop (cdr hs) (+ i 1)))))
  (define (array->list bv n)
    (let loop ([i (- n 1)] [acc '()])
      (if (< i 0) acc (loop (- i 1) (cons (bytevector-u64-native-ref bv (* 8 i)) acc)))))

  (define c-fdset-from-sockets (fp int "sag_fdset_from_sockets" (list P size_t P P)))
  (define (%fdset-from-sockets hs)
    (with-array (length hs)
      (lambda (bv arr)
        (list->array! bv hs)
        (let ([sc (scratch)])
          (let ([st (c-fdset-from-sockets arr (length hs) (out-addr sc 0) 0)])
            (values st (handle (out-u64 sc 0))))))))
  (define-out %fdset-ref "sag_fdset_ref" (P P) (bool))
  (define-status %fdset-set "sag_fdset_set" (P P int))
  (define-status %fdset-clear "sag_fdset_clear" (P))
  (define c-fdset-sockets (fp int "sag_fdset_sockets" (list P P size_t P P)))
  ;; The members of an fdset (handles, insertion order).
  (define (%fdset-sockets fds)
    (let ([sc (scratch)])
      (let ([st (c-fdset-sockets fds 0 0 (out-addr sc 0) 0)])
        (if (eqv? st 0)
            (let ([n (out-u64 sc 0)])
              (with-array n
                (lambda (bv arr)
                  (let ([st (c-fdset-sockets fds arr n (out-addr sc 0) 0)])
                    (values st (if (eqv? st 0)
                                   (array->list bv (min n (out-u64 sc 0)))
                                   '()))))))
            (values st '())))))

  (define c-select (fp int "sag_socket_select" (list P P P int64 P P P P P)))
  ;; (%socket-select r w e timeout-us) with fdset handles or #f:
  ;; (values status count r-out w-out e-out).
  (define (%socket-select r w e us)
    (let ([sc (scratch)])
      (let ([st (c-select (or r 0) (or w 0) (or e 0) us
                          (out-addr sc 0) (out-addr sc 1) (out-addr sc 2) (out-addr sc 3) 0)])
        (values st (out-int sc 0) (handle (out-u64 sc 1)) (handle (out-u64 sc 2))
                (handle (out-u64 sc 3))))))
  (define c-select-inplace (fp int "sag_socket_select_inplace" (list P P P int64 P P)))
  (define (%socket-select-inplace r w e us)
    (let ([sc (scratch)])
      (let ([st (c-select-inplace (or r 0) (or w 0) (or e 0) us (out-addr sc 0) 0)])
        (values st (out-int sc 0)))))

  (define-syntax define-list-select
    (syntax-rules ()
      [(_ name cname)
       (define name
         (let ([f (fp int cname (list int64 P size_t P P P))])
           ;; (name timeout-us handles) => (values status ready-handles)
           (lambda (us hs)
             (let ([n (length hs)] [sc (scratch)])
               (if (<= (* 16 n) data-size)
                   ;; both arrays in the scratch block
                   (begin
                     (let loop ([hs hs] [i 0])
                       (unless (null? hs)
                         (bytevector-u64-native-set! (car sc) (+ out-size (* 8 i)) (car hs))
                         (loop (cdr hs) (+ i 1))))
                     (let* ([ready (+ (data-addr sc) (* 8 n))]
                            [st (f us (data-addr sc) n ready (out-addr sc 0) 0)])
                       (values st (if (eqv? st 0)
                                      (let ([k (out-u64 sc 0)])
                                        (let loop ([i (- k 1)] [acc '()])
                                          (if (< i 0)
                                              acc
                                              (loop (- i 1)
                                                    (cons (bytevector-u64-native-ref
                                                           (car sc) (+ out-size (* 8 (+ n i))))
                                                          acc)))))
                                      '()))))
                   (with-array n
                     (lambda (bv arr)
                       (list->array! bv hs)
                       (with-array n
                         (lambda (rbv ready)
                           (let ([st (f us arr n ready (out-addr sc 0) 0)])
                             (values st (if (eqv? st 0)
                                            (array->list rbv (out-u64 sc 0))
                                            '()))))))))))))]))
  (define-list-select %socket-read-select "sag_socket_read_select")
  (define-list-select %socket-write-select "sag_socket_write_select")
  (define-list-select %socket-error-select "sag_socket_error_select")

  ;; ---- Addrinfo and sockaddr ------------------------------------------------
  (define-out %make-addrinfo "sag_make_addrinfo" () (handle))
  (define-out %make-hint-addrinfo "sag_make_hint_addrinfo" (int int int int) (handle))
  (define c-get-addrinfo (fp int "sag_get_addrinfo" (list '* '* P P P)))
  (define (%get-addrinfo node service hints)
    (let ([sc (scratch)])
      (let ([st (c-get-addrinfo (c-string node) (c-string service) (or hints 0)
                                (out-addr sc 0) 0)])
        (values st (handle (out-u64 sc 0))))))
  (define-out %next-addrinfo "sag_next_addrinfo" (P) (handle))
  (define-out %addrinfo-family "sag_addrinfo_family" (P) (int))
  (define-out %addrinfo-socktype "sag_addrinfo_socktype" (P) (int))
  (define-out %addrinfo-flags "sag_addrinfo_flags" (P) (int))
  (define-out %addrinfo-protocol "sag_addrinfo_protocol" (P) (int))
  (define-out %addrinfo-sockaddr "sag_addrinfo_sockaddr" (P) (handle))
  (define-out %sockaddr-new "sag_sockaddr_new" () (handle))
  (define-out %sockaddr-family "sag_sockaddr_family" (P) (int))
  (define-out %sockaddr-port "sag_sockaddr_port" (P) (int))
  (define-out %sockaddr-ip-address "sag_sockaddr_ip_address" (P) (handle))

  ;; ---- Unix-domain sockets (an extension) ---------------------------------
  ;; A path is a bytevector (a first byte 0: the abstract namespace).
  (define c-make-unix-client-socket
    (fp int "sag_make_unix_client_socket" (list P size_t size_t int P P)))
  (define c-make-unix-server-socket
    (fp int "sag_make_unix_server_socket" (list P size_t size_t int P P)))
  (define (unix-socket-call c path socktype)
    (let ([sc (scratch)])
      (let ([st (keeping (path)
                  (c (bv-address path) 0 (bytevector-length path) socktype (out-addr sc 0) 0))])
        (values st (out-u64 sc 0)))))
  (define (%make-unix-client-socket path socktype)
    (unix-socket-call c-make-unix-client-socket path socktype))
  (define (%make-unix-server-socket path socktype)
    (unix-socket-call c-make-unix-server-socket path socktype))
  (define-out %socket-pair "sag_socket_pair" (int int int) (handle handle))
  (define-status %socket-connect-sockaddr "sag_socket_connect_sockaddr" (P P int64))
  (define-status %socket-bind-sockaddr "sag_socket_bind_sockaddr" (P P))
  (define-out %socket-sockaddr "sag_socket_sockaddr" (P int) (handle))
  (define-out %socket-peer-credentials "sag_socket_peer_credentials" (P) (i64 i64 i64))
  (define c-make-unix-sockaddr (fp int "sag_make_unix_sockaddr" (list P size_t size_t P P)))
  (define (%make-unix-sockaddr path)
    (let ([sc (scratch)])
      (let ([st (keeping (path)
                  (c-make-unix-sockaddr (bv-address path) 0 (bytevector-length path) (out-addr sc 0) 0))])
        (values st (handle (out-u64 sc 0))))))
  (define c-sockaddr-path (fp int "sag_sockaddr_path" (list P P size_t size_t P P)))
  (define (%sockaddr-path sa)
    (let ([sc (scratch)])
      (let ([st (c-sockaddr-path sa (data-addr sc) 0 108 (out-addr sc 0) 0)])
        (if (eqv? st 0)
            (let* ([n (out-u64 sc 0)] [r (make-bytevector n)])
              (bytevector-copy! (car sc) out-size r 0 n)
              (values st r))
            (values st #f)))))

  ;; ---- Socket selector ------------------------------------------------------
  ;; The time-utc at which a timeout of us microseconds from now passes.
  (define (%us->deadline us)
    (add-duration (current-time 'time-utc) (%us->duration us)))

  (define-out %selector-new "sag_selector_new" () (handle))
  (define-status %selector-add "sag_selector_add" (P P int64 int64))
  (define-status %selector-interrupt "sag_selector_interrupt" (P))
  (define-out %selector-size "sag_selector_size" (P) (size))
  (define-out %selector-is-closed "sag_selector_is_closed" (P) (bool))
  (define-out %selector-is-waiting "sag_selector_is_waiting" (P) (bool))
  (define c-selector-close (fp int "sag_selector_close" (list P P)))
  ;; A selector the program closes no longer counts towards a collection.
  (define (%selector-close sel) (closed! sel (c-selector-close sel 0)))

  ;; (%selector-wait sel timeout-us capacity) => (values status reports):
  ;; reports is a list, in the library's order, of (tag . timed-out?) for
  ;; each socket reported.
  (define c-selector-wait (fp int "sag_selector_wait" (list P int64 P P P size_t P P)))
  (define (%selector-wait sel us capacity)
    (let* ([bv (make-bytevector (* 20 capacity) 0)]
           [arr (bv-address bv)]
           [sc (scratch)]
           [st (keeping (bv) (c-selector-wait sel us arr (+ arr (* 8 capacity))
                                              (+ arr (* 16 capacity)) capacity
                                              (out-addr sc 0) 0))])
      (values st
              (if (eqv? st 0)
                  (let loop ([i (- (min capacity (out-u64 sc 0)) 1)] [acc '()])
                    (if (< i 0)
                        acc
                        (loop (- i 1)
                              (cons (cons (bytevector-s64-native-ref bv (+ (* 8 capacity) (* 8 i)))
                                          (not (eqv? 0 (bytevector-s32-native-ref
                                                        bv (+ (* 16 capacity) (* 4 i))))))
                                    acc))))
                  '()))))

  ;; (%selector-clear sel capacity) => (values status tags): every tag the
  ;; selector held, asking `capacity' at a time until it holds no more.
  (define c-selector-clear (fp int "sag_selector_clear" (list P P P size_t P P)))
  (define (%selector-clear sel capacity)
    (let* ([bv (make-bytevector (* 16 capacity) 0)]
           [arr (bv-address bv)]
           [sc (scratch)])
      (let loop ([acc '()])
        (let ([st (keeping (bv) (c-selector-clear sel arr (+ arr (* 8 capacity)) capacity
                                                  (out-addr sc 0) 0))])
          (if (eqv? st 0)
              (let* ([n (min capacity (out-u64 sc 0))]
                     [acc (let collect ([i 0] [acc acc])
                            (if (= i n)
                                acc
                                (collect (+ i 1)
                                         (cons (bytevector-s64-native-ref bv (+ (* 8 capacity) (* 8 i)))
                                               acc))))])
                (if (< n capacity) (values st (reverse acc)) (loop acc)))
              (values st (reverse acc)))))))
)
