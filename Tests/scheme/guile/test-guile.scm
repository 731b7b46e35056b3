;;; test-guile.scm: what only the Guile binding has, beyond the shared suite
;;; (test-socket.sps): the library as a Guile module (use-modules), the
;;; transcoded-port that (rnrs io ports) hands socket ports to this library
;;; for (every other port still goes to Guile's own), and the textual
;;; socket ports' codecs, end-of-line styles and error modes. Run by
;;; Tests/scheme/run.sh --guile:
;;;   guile -L GUILELIBDIR Tests/scheme/guile/test-guile.scm
;;; Prints one line per failure and "N passed, N failed"; exits 1 on failure.
(use-modules (sagittarius socket)
             ((srfi srfi-106) #:select (*af-inet*))
             (rnrs bytevectors)
             ((rnrs io ports) #:select (transcoded-port make-transcoder utf-8-codec
                                        latin-1-codec native-transcoder get-line
                                        put-string get-char lookahead-u8
                                        open-bytevector-input-port
                                        eof-object get-string-all
                                        make-custom-binary-input-port))
             ((rnrs exceptions) #:select (guard))
             ((rnrs io ports) #:select (i/o-decoding-error?))
             (ice-9 threads))

(define passed 0)
(define failed 0)
(define (check name expected actual)
  (if (equal? expected actual)
      (set! passed (+ passed 1))
      (begin (set! failed (+ failed 1))
             (format #t "FAIL ~a: expected ~s, got ~s\n" name expected actual))))

;; A connected pair on 127.0.0.1: (values client server-side).
(define (tcp-pair)
  (let* ([server (make-server-socket "0")]
         [c (make-client-socket "127.0.0.1"
                                (number->string (socket-info-port (socket-info server))))]
         [s (socket-accept server)])
    (socket-close server)
    (values c s)))
(define (recv-n s n)
  (let loop ([acc #vu8()])
    (if (>= (bytevector-length acc) n)
        acc
        (let ([bv (socket-recv s (- n (bytevector-length acc)))])
          (if (= 0 (bytevector-length bv))
              acc
              (loop (u8-list->bytevector (append (bytevector->u8-list acc)
                                                 (bytevector->u8-list bv)))))))))
(define (pause) (usleep 50000))         ; lets the reader take what came

;; ---- the library as Guile modules ---------------------------------------------
(check "use-modules (sagittarius socket)" #t (procedure? make-client-socket))
(check "use-modules (srfi srfi-106)" AF_INET *af-inet*)

;; ---- transcoded-port --------------------------------------------------------------
(check "(rnrs io ports)'s transcoded-port is the library's"
       #t (procedure-property transcoded-port 'sagsocket))
(check "other ports still go to Guile's own"
       "héllo\nworld"
       (get-string-all (transcoded-port (open-bytevector-input-port (string->utf8 "héllo\nworld"))
                                        (native-transcoder))))

;; Lines read from a textual port with `transcoder' while the peer sends
;; `pieces' (bytevectors) one by one, pausing between them.
(define (lines-read transcoder pieces count)
  (call-with-values tcp-pair
    (lambda (c s)
      (let* ([p (transcoded-port (socket-port c) transcoder)]
             [t (call-with-new-thread
                 (lambda ()
                   (for-each (lambda (bv) (socket-send s bv) (pause)) pieces)
                   (socket-shutdown s SHUT_WR)))]
             [lines (let loop ([i 0] [acc '()])
                      (if (= i count)
                          (reverse acc)
                          (loop (+ i 1) (cons (get-line p) acc))))])
        (join-thread t)
        (close-port p)
        (socket-close s)
        lines))))
(define (bv . xs)
  (u8-list->bytevector
   (apply append (map (lambda (x) (if (string? x) (bytevector->u8-list (string->utf8 x)) (list x))) xs))))

(check "eol lf: CR LF, CR, NEL, CR NEL and LS end lines (UTF-8)"
       '("a" "b" "c" "d" "e" "f" "g")
       (lines-read (make-transcoder (utf-8-codec) 'lf)
                   (list (bv "a" 13 10 "b" 13 "c" #xC2 #x85 "d" 13 #xC2 #x85 "e" #xE2 #x80 #xA8 "f\ng\n"))
                   7))
(check "eol crlf: a CR at the end of a receive, its LF in the next"
       '("one" "two" "three")
       (lines-read (make-transcoder (utf-8-codec) 'crlf)
                   (list (bv "one" 13) (bv 10 "two" 13) (bv 10 "three" 13 10))
                   3))
(check "eol lf: NEL and LS cut across receives"
       '("x" "y" "z")
       (lines-read (make-transcoder (utf-8-codec) 'lf)
                   (list (bv "x" #xC2) (bv #x85 "y" #xE2) (bv #x80) (bv #xA8 "z\n"))
                   3))
(check "eol lf keeps other characters of the same lead bytes"
       '("©→" "end")
       (lines-read (make-transcoder (utf-8-codec) 'lf)
                   (list (bv "©" #xE2) (bv #x86 #x92 "\nend\n"))
                   2))
(check "eol none leaves CR and NEL alone"
       (list (string #\a #\return) (string #\b (integer->char #x85) #\c))
       (lines-read (native-transcoder) (list (bv "a" 13 10 "b" #xC2 #x85 "c\n")) 2))
(check "Latin-1 with eol lf: 0x85 (NEL) and CR end lines"
       (list (string #\c #\a #\f (integer->char #xE9)) "x" "y")
       (lines-read (make-transcoder (latin-1-codec) 'lf) (list (bv #x63 #x61 #x66 #xE9 #x85 #x78 13 #x79 10)) 3))
(check "the end of the stream after a lone CR"
       (list "last" (eof-object))
       (lines-read (make-transcoder (utf-8-codec) 'crlf) (list (bv "last" 13)) 2))

;; Output: each linefeed written as the style's end of line.
(define (written transcoder text)
  (call-with-values tcp-pair
    (lambda (c s)
      (let ([p (transcoded-port (socket-port c) transcoder)])
        (put-string p text)
        (close-port p)                  ; closes c: s reads to its end
        (let ()
          (let loop ([acc #vu8()])
            (let ([more (socket-recv s 100)])
              (if (= 0 (bytevector-length more))
                  (begin (socket-close s) acc)
                  (loop (u8-list->bytevector (append (bytevector->u8-list acc)
                                                     (bytevector->u8-list more))))))))))))
(check "put-string with eol crlf" (bv "a" 13 10 "b" 13 10) (written (make-transcoder (utf-8-codec) 'crlf) "a\nb\n"))
(check "put-string with eol cr" (bv "a" 13 "b") (written (make-transcoder (utf-8-codec) 'cr) "a\nb"))
(check "put-string with eol nel (UTF-8)" (bv "a" #xC2 #x85) (written (make-transcoder (utf-8-codec) 'nel) "a\n"))
(check "put-string with eol ls (UTF-8)" (bv "a" #xE2 #x80 #xA8) (written (make-transcoder (utf-8-codec) 'ls) "a\n"))
(check "put-string with eol lf" (bv "a\nb\n") (written (make-transcoder (utf-8-codec) 'lf) "a\nb\n"))
(check "put-string with Latin-1" (bv #xE9 10) (written (make-transcoder (latin-1-codec) 'none) (string (integer->char #xE9) #\newline)))

;; Error modes
(check "error mode replace: an invalid byte reads as U+FFFD"
       (list (string #\a (integer->char #xFFFD) #\b))
       (lines-read (make-transcoder (utf-8-codec) 'none 'replace) (list (bv "a" #xFF "b\n")) 1))
(check "error mode raise: an invalid byte raises &i/o-decoding"
       #t
       (call-with-values tcp-pair
         (lambda (c s)
           (let ([p (transcoded-port (socket-port c) (make-transcoder (utf-8-codec) 'none 'raise))])
             (socket-send s (bv "a" #xFF "b\n"))
             (let ([r (guard (e [(i/o-decoding-error? e) #t] [#t (list 'other e)]) (get-line p) #f)])
               (close-port p)
               (socket-close s)
               r)))))

;; Bytes the binary port had read ahead are read first by the textual port.
(check "bytes buffered in the binary port carry over to the textual port"
       '(104 "hello" "world")
       (call-with-values tcp-pair
         (lambda (c s)
           (let ([bp (socket-port c)])
             (socket-send s (string->utf8 "hello\n"))
             (let* ([first (lookahead-u8 bp)]
                    [tp (transcoded-port bp (native-transcoder))]
                    [l1 (get-line tp)])
               (socket-send s (string->utf8 "world\n"))
               (let ([l2 (get-line tp)])
                 (close-port tp)
                 (socket-close s)
                 (list first l1 l2)))))))

;; ---- bytevectors passed by address, dropped right after the call ------------------
;; Ranges over 4 KiB reach the library at the bytevector's own address (an
;; integer); the binding must keep the bytevector alive until the call has
;; returned. Here every buffer is made for one call and dropped at once
;; while another thread allocates and collects without pause: the bytes
;; must arrive exactly, and the >512-socket select path (two arrays, the
;; second allocated after the first is filled) must report every socket.
;; What the churning thread allocates goes to a top-level variable (Guile's
;; compiler drops allocations nothing reads); `collections' counts the
;; collections it ran, so a test can tell that some happened meanwhile.
(define churned '())
(define collections 0)
(define (churn-while thunk)
  (let* ([stop #f]
         [churner (call-with-new-thread
                   (lambda ()
                     (let loop ([i 0])
                       (unless stop
                         (when (= 0 (modulo i 64))
                           (gc)
                           (set! collections (+ collections 1)))
                         (set! churned
                               (if (= 0 (modulo i 16))
                                   '()
                                   (cons (make-bytevector (+ 4100 (* 8 (modulo i 700))) 255)
                                         churned)))
                         (loop (+ i 1))))))]
         [r (dynamic-wind (lambda () #f) thunk (lambda () (set! stop #t)))])
    (join-thread churner)
    r))
(define transfers 400)
(define (transfer-size i) (+ 4097 (* 997 (modulo i 61))))   ; 4,097 .. 63,917 bytes
(define (transfer-byte i k) (modulo (+ (* 31 i) k) 251))
(check "fresh bytevectors sent and received by address while another thread collects"
       '(0 0)
       (call-with-values tcp-pair
         (lambda (c s)
           (let* ([total (let loop ([i 0] [t 0])
                           (if (= i transfers) t (loop (+ i 1) (+ t (transfer-size i)))))]
                  [sender (call-with-new-thread
                           (lambda ()
                             (let loop ([i 0] [short 0])
                               (if (= i transfers)
                                   short
                                   (let* ([n (transfer-size i)]
                                          [sent (socket-send
                                                 c (let ([b (make-bytevector n)])
                                                     (let fill ([k 0])
                                                       (when (< k n)
                                                         (bytevector-u8-set! b k (transfer-byte i k))
                                                         (fill (+ k 1))))
                                                     b))])
                                     (loop (+ i 1) (if (= sent n) short (+ short 1))))))))]
                  [wrong
                   (churn-while
                    (lambda ()
                      ;; every receive into a fresh 65,536-byte bytevector
                      ;; (socket-recv makes one), checked against the pattern
                      (let loop ([i 0] [k 0] [got 0] [wrong 0])
                        (if (>= got total)
                            wrong
                            (let ([bv (socket-recv s 65536)])
                              (if (= 0 (bytevector-length bv))
                                  (+ wrong (- total got))   ; the stream ended early
                                  (let scan ([j 0] [i i] [k k] [wrong wrong])
                                    (cond
                                     [(= j (bytevector-length bv))
                                      (loop i k (+ got j) wrong)]
                                     [(= k (transfer-size i)) (scan j (+ i 1) 0 wrong)]
                                     [else
                                      (scan (+ j 1) i (+ k 1)
                                            (if (= (bytevector-u8-ref bv j) (transfer-byte i k))
                                                wrong
                                                (+ wrong 1)))]))))))))]
                  [short (join-thread sender)])
             (socket-close c)
             (socket-close s)
             (list wrong short)))))
(check "collections ran during the transfers" #t (> collections 10))
(set! collections 0)
(check "socket-read-select over 600 sockets while another thread collects"
       '(600 0)
       (call-with-values tcp-pair
         (lambda (c s)
           (socket-send c (string->utf8 "x"))
           (socket-read-select 5000000 s)        ; the byte has arrived (at most 5 s)
           (let* ([socks (make-list 600 s)]
                  [counts (churn-while
                           (lambda ()
                             (let loop ([i 0] [acc '()])
                               (if (= i 300)
                                   acc
                                   (loop (+ i 1)
                                         (cons (length (apply socket-read-select 0 socks))
                                               acc))))))])
             (socket-close c)
             (socket-close s)
             (list (car counts) (length (filter (lambda (n) (not (= n 600))) counts)))))))

(check "collections ran during the selects" #t (> collections 10))
(set! churned '())

;; How socket ports print: as what they are, where Guile prints any R6RS
;; custom port as "#<input: file 7f...>"; other ports print as before.
(define (printed x) (call-with-output-string (lambda (o) (write x o))))
(define (prints-as? prefix x)
  (let ([s (printed x)])
    (and (>= (string-length s) (string-length prefix))
         (string=? prefix (substring s 0 (string-length prefix))))))
(call-with-values tcp-pair
  (lambda (c s)
    (let* ([p (socket-port c #f)]
           [in (socket-input-port c)]
           [out (socket-output-port c)]
           [t (transcoded-port (socket-port s #f) (native-transcoder))]
           [other (make-custom-binary-input-port "other" (lambda (bv start n) 0) #f #f #f)])
      (check "a socket port prints as one" #t (prints-as? "#<input-output: socket-port " p))
      (check "socket-input-port" #t (prints-as? "#<input: socket-port " in))
      (check "socket-output-port" #t (prints-as? "#<output: socket-port " out))
      (check "a transcoded socket port" #t (prints-as? "#<input-output: socket-textual-port " t))
      (check "display too" (printed p) (call-with-output-string (lambda (o) (display p o))))
      (check "another custom port prints as Guile prints it, not as a socket port" #f
             (prints-as? "#<input: socket" other))
      (check "(its mode still first)" #t (prints-as? "#<input: " other))
      (close-port p)
      (check "a closed socket port" #t (prints-as? "#<closed: socket-port " p))
      (socket-close c)
      (socket-close s))))

(format #t "~a passed, ~a failed\n" passed failed)
(exit (if (= failed 0) 0 1))
