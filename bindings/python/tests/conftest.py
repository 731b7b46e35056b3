"""Fixtures of the sagsocket suite: everything runs on loopback, with every
blocking call bounded (a socket timeout or a thread join timeout)."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import sagsocket


@pytest.fixture
def server():
    """A sagsocket server on 127.0.0.1 (ephemeral port); closed after."""
    s = sagsocket.create_server(("127.0.0.1", 0))
    s.settimeout(10)
    yield s
    s.close()


@pytest.fixture
def pair(server):
    """(client, accepted) connected sagsocket sockets, 10 s timeouts."""
    c = sagsocket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=10)
    a, _ = server.accept()
    a.settimeout(10)
    yield c, a
    c.close()
    a.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Bg(threading.Thread):
    """A thread whose result or exception join() returns or raises."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.result, self.error = fn, args, None, None

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # handed to the test
            self.error = e

    def join_result(self, timeout=10):
        self.join(timeout)
        assert not self.is_alive(), "background call did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def interrupted_child(code: str) -> float:
    """Runs ``code`` in a child Python that prints "ready" just before a
    blocking call and exits 3 after printing "KeyboardInterrupt" when the
    call raises it; sends it SIGINT once it is in the call and asserts that
    it ended so. Returns the seconds from the signal to the child's exit
    (at most 10: a call Ctrl-C cannot end fails the assertion then)."""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.2)  # into the blocking call
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        rc = p.wait(10)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rc == 3 and p.stdout.read().strip() == "KeyboardInterrupt"
    return took
