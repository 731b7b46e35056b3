"""Tests/tls/echo_tls_client.py: the TLS echo server (bindings/scheme/examples/
echo-tls.scm) on Chez Scheme or Guile, answered by a Python ssl client.

    echo_tls_client.py chez|guile LIBDIR ECHO_TLS_SCM CERTS

Starts the server on a free loopback port, verifies it with the test CA,
talks to it as a person at a terminal would, checks every byte, and stops it.
Prints one line per check and "N passed, N failed"; exits 1 on any failure.
"""
import os
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "scheme"))
from echo_check import Checks, free_port, host_command, recv_until  # noqa: E402

host, libdir, echo_scm, certs = sys.argv[1:5]
check = Checks()

port = free_port()
cert, key = os.path.join(certs, "server.pem"), os.path.join(certs, "server.key")
cmd = host_command(host, libdir, echo_scm) + [str(port), cert, key]
server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
try:
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    deadline = time.monotonic() + 60
    while True:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=30)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    # a client that does not trust the server: its handshake fails, the
    # server goes on
    try:
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
        check("an untrusting client fails", "failure", "success")
    except ssl.SSLCertVerificationError as e:
        check("an untrusting client fails verification", True, "unable to get local issuer" in str(e))
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        check("TLS version", "TLSv1.3", s.version())
        check("greeting", b"please type something\n\r> ", recv_until(s, b"> "))
        for line in ["hello", "über TLS", "x" * 5000]:
            s.sendall(line.encode() + b"\n")
            check(f"echo of {line[:12]!r}", line.encode() + b"\r\n> ", recv_until(s, b"> "))
        s.unwrap()
finally:
    server.kill()
    out = server.communicate()[0].decode(errors="replace")
check("the server logged the failed handshake", True, "handshake failed" in out)
check("the server logged the lines", True, "received: über TLS" in out)
check.finish()
