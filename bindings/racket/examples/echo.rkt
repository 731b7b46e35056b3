#lang racket/base
;;; echo.rkt: the echo server of Sagittarius Scheme's socket manual
;;; (example/socket/echo.scm, bindings/scheme/examples/echo.scm here) written
;;; in #lang racket over (require sagsocket):
;;;
;;;   racket -S "$(pkg-config --variable=racketdir sagsocket)" echo.rkt [SERVICE]
;;;
;;; The socket port is a Racket port: read-line and write-string work on it
;;; directly (UTF-8, as Sagittarius's native transcoder). The service comes
;;; from the command line (default "5000").
(require racket/cmdline sagsocket)

(define service
  (command-line #:args ([service "5000"]) service))

(define (print . args)
  (for-each display args)
  (newline)
  (flush-output))

;; creates echo server socket with port number 5000
(define echo-server-socket (make-server-socket service))
;; addr is client socket; a signal (SIGTERM, SIGINT: a break in Racket)
;; ends the server quietly
(with-handlers ([exn:break? void])
 (let loop ([addr (socket-accept echo-server-socket)])
  (call-with-socket addr
    (lambda (sock)
      (define p (socket-port sock))
      (write-string "please type something\n\r" p)
      (write-string "> " p)
      ;; gets line from client.
      (let lp2 ([r (read-line p)])
        (unless (eof-object? r)
          (print "received: " r)
          ;; just returns message from client.
          (write-string r p)
          (write-string "\r\n> " p)
          ;; waits for next input.
          (lp2 (read-line p))))
      (close-output-port p)
      (close-input-port p)))
  ;; echo server waits next connection.
  (loop (socket-accept echo-server-socket))))
