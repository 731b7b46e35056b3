#!r6rs
;;; (sagittarius socket host): the Racket CS layer under (sagittarius socket).
;;;
;;; Racket finds this file for the library (sagittarius socket host) by its
;;; own naming rule (".mzscheme.sls" is the first extension plt-r6rs looks
;;; for), so Chez Scheme and Guile never read it. It re-exports the Racket
;;; module (sagsocket private host), bindings/racket/sagsocket/private/host.rkt,
;;; where everything specific to Racket is: the foreign calls, waiting in
;;; Racket's scheduler rather than in the library (Racket threads are green
;;; threads on one OS thread), per-thread error objects, finalization,
;;; custodians, ports. The interface is bindings/scheme/host-contract.md.
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
  (import (sagsocket private host)))
