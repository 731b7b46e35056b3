;;; Tests/tls/selector-load.sps: one selector thread serving N TLS connections
;;; at once ((rfc tls) over the socket selector), answered by Python's ssl
;;; (Tests/tls/peer.py many). Run by Tests/tls/run.sh:
;;;   scheme --libdirs LIBDIR:Tests/scheme/chez --program Tests/tls/selector-load.sps CERTS N
;;; Prints its port, accepts N connections (each handshaken in turn), puts
;;; them all in one selector, and echoes what arrives, reading at most 16
;;; bytes at a time: each client sends 32 bytes in one record, so the second
;;; half is decrypted and held by the TLS socket, with nothing left in the
;;; kernel, and only the selector's count of held plaintext reports it.
;;; Every wait is bounded (30 s); a wait that finds nothing fails the run.
;;; Prints "tls-selector: N connections, B bytes echoed, W waits" and exits 0,
;;; or says what failed and exits 1.
(import (rnrs) (rfc tls) (sagittarius socket))

(define args (command-line))
(define certs (cadr args))
(define n (string->number (caddr args)))
(define (cert name) (string-append certs "/" name))
(define (fail what . xs)
  (display "FAIL tls-selector: ")
  (display what)
  (for-each (lambda (x) (display " ") (write x)) xs)
  (newline)
  (exit 1))

(define server (make-server-tls-socket "0" (cert "server.pem") ':private-key (cert "server.key")))
(display (socket-info-port (socket-info server)))
(newline)
(flush-output-port (current-output-port))

(define conns
  (let loop ([i 0] [acc '()])
    (if (= i n)
        (reverse acc)
        (let ([s (tls-socket-accept server)])
          (unless s (fail "accept gave #f at" i))
          (loop (+ i 1) (cons s acc))))))
(socket-close server)

(define sel (make-socket-selector))
(for-each (lambda (s) (socket-selector-add! sel s)) conns)
(define got (make-eq-hashtable))   ; socket -> bytes echoed so far
(define total (* 32 n))
(define buf (make-bytevector 16))
(define (part bv from to)
  (let ([r (make-bytevector (- to from))]) (bytevector-copy! bv from r 0 (- to from)) r))

(let loop ([echoed 0] [waits 0])
  (if (= echoed total)
      (begin
        (display "tls-selector: ") (display n) (display " connections, ")
        (display echoed) (display " bytes echoed, ") (display waits) (display " waits")
        (newline))
      (let-values ([(ready timed-out) (socket-selector-wait! sel (* 30 1000000))])
        (when (null? ready)
          (fail "a 30 s wait found nothing; bytes echoed:" echoed "of" total))
        (let each ([es ready] [echoed echoed])
          (if (null? es)
              (loop echoed (+ waits 1))
              (let* ([s (caar es)]
                     [k (tls-socket-recv! s buf 0 16)])
                (when (<= k 0) (fail "end of stream, after" (hashtable-ref got s 0) "bytes"))
                (let sending ([at 0])
                  (when (< at k) (sending (+ at (tls-socket-send s (part buf at k))))))
                (let ([sofar (+ k (hashtable-ref got s 0))])
                  (hashtable-set! got s sofar)
                  (when (< sofar 32) (socket-selector-add! sel s)))
                (each (cdr es) (+ echoed k))))))))

(close-socket-selector! sel)
(for-each socket-close conns)
(exit 0)
