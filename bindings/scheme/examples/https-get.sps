;;; https-get.sps: an HTTPS GET with (rfc tls), on Chez Scheme or Guile.
;;;
;;;   scheme --libdirs DIR --program https-get.sps HOST PORT PATH [CA.pem]
;;;   guile -L DIR https-get.sps HOST PORT PATH [CA.pem]
;;;
;;; The server is verified against the system's trust store (and CA.pem when
;;; given) and the host name. Prints the TLS version, the server's subject,
;;; the status line and the body (its length is read from Content-Length).
(import (rnrs) (rfc tls))

(define args (command-line))
(define host (list-ref args 1))
(define port (list-ref args 2))
(define path (list-ref args 3))
(define trusted (if (> (length args) 4) (list (list-ref args 4)) '()))

;; The header block: bytes up to and including the empty line.
(define (read-head in)
  (let loop ([acc '()])
    (let ([b (get-u8 in)])
      (cond [(eof-object? b) (u8-list->bytevector (reverse acc))]
            [(and (= b 10) (pair? acc) (pair? (cdr acc)) (pair? (cddr acc))
                  (equal? (list (car acc) (cadr acc) (caddr acc)) '(13 10 13)))
             (u8-list->bytevector (reverse (cons b acc)))]
            [else (loop (cons b acc))]))))

;; The lines of the header block (split at CRLF).
(define (header-lines head)
  (let loop ([chars (string->list (utf8->string head))] [line '()] [lines '()])
    (cond [(null? chars) (reverse lines)]
          [(and (char=? (car chars) #\return) (pair? (cdr chars)) (char=? (cadr chars) #\newline))
           (loop (cddr chars) '() (cons (list->string (reverse line)) lines))]
          [else (loop (cdr chars) (cons (car chars) line) lines)])))

(define (content-length lines)
  (let loop ([ls lines])
    (cond [(null? ls) #f]
          [(and (> (string-length (car ls)) 15)
                (string-ci=? (substring (car ls) 0 15) "content-length:"))
           (string->number (substring (car ls) 16 (string-length (car ls))))]
          [else (loop (cdr ls))])))

(call-with-socket (make-client-tls-socket host port :trust-certificates trusted)
  (lambda (s)
    (display (tls-socket-version s)) (display " ")
    (display (tls-socket-peer-certificate-subject s)) (newline)
    (socket-send s (string->utf8 (string-append "GET " path " HTTP/1.1\r\nHost: " host
                                                "\r\nConnection: close\r\n\r\n")))
    (let* ([in (socket-input-port s)]
           [lines (header-lines (read-head in))]
           [n (content-length lines)])
      (display (car lines)) (newline)
      (when n
        (let ([body (get-bytevector-n in n)])
          (display (if (eof-object? body) "" (utf8->string body))))))))
