;;; echo.scm: the echo server of Sagittarius Scheme's socket manual
;;; (example/socket/echo.scm), run on Chez Scheme or Guile 3.0.
;;;
;;;   scheme --libdirs DIR --program echo.scm [SERVICE]
;;;   guile -L DIR echo.scm [SERVICE]
;;;
;;; Two changes from the original: Sagittarius's builtin `print' is defined
;;; here (Chez and Guile have none; it flushes, so a log read through a pipe
;;; is current), and the service comes from the command line (default "5000").
(import (rnrs) (sagittarius socket))

(define (print . args)
  (for-each display args)
  (newline)
  (flush-output-port (current-output-port)))

(define service
  (let ([args (command-line)])
    (if (and (pair? args) (pair? (cdr args))) (cadr args) "5000")))

;; creates echo server socket with port number 5000
(define echo-server-socket (make-server-socket service))
;; addr is client socket
(let loop ((addr (socket-accept echo-server-socket)))
  (call-with-socket addr
    (lambda (sock)
      ;; socket-port creates binary input/output port
      ;; make it transcoded port for convenience.
      (let ((p (transcoded-port (socket-port sock)
                                ;; on Sagittarius Scheme native-transcoder
                                ;; uses utf8 codec for ASCII compatibility.
                                ;; For socket programming it might be better
                                ;; to specify eol-style with crlf.
                                ;; But this sample just shows how it goes.
                                (native-transcoder))))
        (call-with-port p
          (lambda (p)
            (put-string p "please type something\n\r")
            (put-string p "> ")
            ;; gets line from client.
            (let lp2 ((r (get-line p)))
              (unless (eof-object? r)
                (print "received: " r)
                ;; just returns message from client.
                ;; NB: If client type nothing, it'll throw assertion-violation.
                (put-string p r)
                (put-string p "\r\n> ")
                ;; waits for next input.
                (lp2 (get-line p)))))))))
  ;; echo server waits next connection.
  (loop (socket-accept echo-server-socket)))
