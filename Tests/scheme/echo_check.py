"""Tests/scheme/echo_check.py: what the two echo-server tests share
(echo_client_test.py here, Tests/tls/echo_tls_client.py): the checks and
their summary, a free loopback port, the command that starts an example
program on each Scheme host, and reads of a reply."""
import socket
import sys


class Checks:
    """Counts checks; each prints one line ("ok   NAME" or "FAIL NAME: ...")."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, name, expected, actual):
        if expected == actual:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}: expected {expected!r}, got {actual!r}")

    def finish(self):
        """Prints "N passed, M failed" and exits 1 when a check failed."""
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def free_port():
    """A loopback TCP port nothing listens on (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_command(host, libdir, program):
    """The command the README gives to run a Scheme program on chez, guile
    or racket, LIBDIR holding the Scheme libraries."""
    return {"chez": ["scheme", "--libdirs", libdir, "--program", program],
            "guile": ["guile", "-L", libdir, program],
            "racket": ["plt-r6rs", "++path", libdir, program]}[host]


def recv_exactly(s, n):
    """n bytes (or len(n) for bytes n) from s, fewer at end of input."""
    if isinstance(n, bytes):
        n = len(n)
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            break
        buf += d
    return buf


def recv_until(s, marker):
    """What s sends up to and including marker, or to end of input."""
    data = b""
    while not data.endswith(marker):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data
