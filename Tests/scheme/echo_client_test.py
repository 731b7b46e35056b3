#!/usr/bin/env python3
"""The seed's echo server (bindings/scheme/examples/echo.scm) on Chez Scheme
or Guile, answered by a CPython socket client.

    echo_client_test.py chez|guile LIBDIR ECHO_SCM
        (LD_LIBRARY_PATH finds libsagsocket; LIBDIR holds the Scheme libraries)

Starts the server on a free loopback port, talks to it as a person at a
terminal would, checks every byte it sends back, and stops it. Prints one line
per check and "N passed, N failed"; exits 1 on any failure.
"""
import socket
import subprocess
import sys
import time

from echo_check import Checks, free_port, host_command, recv_exactly

host, libdir, echo_scm = sys.argv[1], sys.argv[2], sys.argv[3]
check = Checks()


def listening(port):
    want = f":{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(l.split()[1].endswith(want) and l.split()[3] == "0A"
                   for l in f.readlines()[1:])


port = free_port()
server = subprocess.Popen(
    host_command(host, libdir, echo_scm) + [str(port)],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
try:
    for _ in range(200):               # at most 20 s for the host to start
        if listening(port) or server.poll() is not None:
            break
        time.sleep(0.1)
    check("server is listening", True, listening(port))

    prompt = b"please type something\n\r> "
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        check("exact prompt bytes, sent before the server reads",
              prompt, recv_exactly(s, len(prompt)))
        s.sendall(b"hello\n")
        check("a line is echoed with CRLF and a new prompt",
              b"hello\r\n> ", recv_exactly(s, b"hello\r\n> "))
        s.sendall(b"split ")
        time.sleep(0.2)                # the server reads the half line first
        s.sendall(b"line\n")
        check("a line split across two sends", b"split line\r\n> ",
              recv_exactly(s, b"split line\r\n> "))
        text = "ソケット\n".encode()
        s.sendall(text[:4])            # the second character cut in two
        time.sleep(0.2)
        s.sendall(text[4:])
        want = "ソケット\r\n> ".encode()
        check("UTF-8 split across sends", want, recv_exactly(s, len(want)))
        s.sendall(b"one\ntwo\n")
        check("two lines in one send", b"one\r\n> two\r\n> ",
              recv_exactly(s, b"one\r\n> two\r\n> "))
        s.shutdown(socket.SHUT_WR)
        check("the server closes at end of input", b"", s.recv(10))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        check("the server accepts the next client", prompt,
              recv_exactly(s, len(prompt)))
    server.terminate()
    out, err = server.communicate(timeout=10)
    check("the server printed each line",
          "received: hello\nreceived: split line\nreceived: ソケット\n"
          "received: one\nreceived: two\n", out.decode())
    if err:
        print(err.decode(), file=sys.stderr)
finally:
    if server.poll() is None:
        server.kill()
        server.wait()

check.finish()
