;;; echo-tls.scm: the echo server of Sagittarius Scheme's socket manual
;;; (example/socket/echo.scm, as in echo.scm beside this file) over TLS with
;;; (rfc tls), on Chez Scheme or Guile 3.0.
;;;
;;;   scheme --libdirs DIR --program echo-tls.scm SERVICE CERT.pem KEY.pem
;;;   guile -L DIR echo-tls.scm SERVICE CERT.pem KEY.pem
;;;
;;; The changes from echo.scm: make-server-tls-socket with the server's
;;; certificate and key (PEM files) and tls-socket-accept where the plain
;;; server has make-server-socket and socket-accept. Everything else (socket-port,
;;; call-with-socket, the transcoded port) is the plain code, working on the
;;; TLS socket.
(import (rnrs) (sagittarius socket) (rfc tls))

(define (print . args)
  (for-each display args)
  (newline)
  (flush-output-port (current-output-port)))

(define args (command-line))
(define service (cadr args))
(define certificate (caddr args))
(define private-key (cadddr args))

(define echo-server-socket
  (make-server-tls-socket service certificate :private-key private-key))

;; A client whose handshake fails is logged and the server goes on.
(define (accept)
  (guard (e [(tls-error? e)
             (print "handshake failed: " (condition-message e))
             (accept)])
    (tls-socket-accept echo-server-socket)))

(let loop ((addr (accept)))
  (call-with-socket addr
    (lambda (sock)
      (let ((p (transcoded-port (socket-port sock) (native-transcoder))))
        (call-with-port p
          (lambda (p)
            (put-string p "please type something\n\r")
            (put-string p "> ")
            (let lp2 ((r (get-line p)))
              (unless (eof-object? r)
                (print "received: " r)
                (put-string p r)
                (put-string p "\r\n> ")
                (lp2 (get-line p)))))))))
  (loop (accept)))
