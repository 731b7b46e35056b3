"""Fixtures of the sagsocket suite: everything runs on loopback, with every
blocking call bounded (a socket timeout or a thread join timeout)."""

import os
import platform
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import sagsocket

# Tests/python/run.sh runs the suite in both modes (cffi's API and ABI) and
# says which it expects: a suite that ran in the other would prove nothing.
if os.environ.get("SAGSOCKET_EXPECT_MODE"):
    assert sagsocket.MODE == os.environ["SAGSOCKET_EXPECT_MODE"], (sagsocket.MODE, sagsocket.__file__)


def pytest_report_header(config):
    return f"sagsocket: cffi {sagsocket.MODE} mode, {os.path.dirname(sagsocket.__file__)}"


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


def interrupted_child(setup: str, call: str) -> float:
    """Runs a child Python that sets Python's own SIGINT handler (a child
    started from a background job may inherit SIGINT ignored, and Python
    then leaves it ignored), runs ``setup``, prints "ready" and makes the
    blocking ``call``, exiting 3 after printing "KeyboardInterrupt" when the
    call raises it, 1 when it returns. Sends it SIGINT once it is in the
    call (seen blocked in its poll, where it can be told) and asserts that
    it ended so. Returns the seconds from the signal to the child's catching
    the KeyboardInterrupt (the monotonic clock is the machine's; the
    child's exit, slow on a loaded machine, is not in it; a call Ctrl-C
    cannot end fails the assertion after 10 s)."""
    code = "\n".join([
        "import signal, sys",
        "signal.signal(signal.SIGINT, signal.default_int_handler)",
        textwrap.dedent(setup).strip("\n"),
        'print("ready", flush=True)',
        "try:",
        textwrap.indent(textwrap.dedent(call).strip("\n"), "    "),
        "except KeyboardInterrupt:",
        "    import time",
        '    print("KeyboardInterrupt", time.monotonic(), flush=True)',
        "    sys.exit(3)",
        "sys.exit(1)",
    ])
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        # Into the blocking call: a signal that came between Python's last
        # check and the wait would find no wait to end.
        assert wait_until_polling(p.pid), "the child never blocked in its call"
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        rc = p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    said = p.stdout.read().split()
    assert rc == 3 and said[:1] == ["KeyboardInterrupt"], said
    return float(said[1]) - t0


# System call numbers of the waits the library blocks in (ppoll; epoll_pwait
# for a selector; the older calls where the machine has them), by machine.
_POLL_CALLS = {
    "x86_64": {7, 232, 271, 281, 441},   # poll, epoll_wait, ppoll, epoll_pwait, epoll_pwait2
    "aarch64": {22, 73, 441},            # epoll_pwait, ppoll, epoll_pwait2
}


def wait_until_polling(pid: int, tries: int = 10000) -> bool:
    """True once the main thread of process ``pid`` (a child of this one)
    is blocked in a poll-family system call (its /proc syscall file names
    it), polled every millisecond at most ``tries`` times. Where the
    machine or /proc cannot tell, a 0.2 s sleep stands in."""
    calls = _POLL_CALLS.get(platform.machine())
    path = f"/proc/{pid}/syscall"
    for _ in range(tries if calls else 0):
        try:
            with open(path) as f:
                first = f.read().split(maxsplit=1)[:1]
        except PermissionError:
            break
        except OSError:
            return False  # gone
        if first and first[0].isdigit() and int(first[0]) in calls:
            return True
        time.sleep(0.001)
    else:
        if calls:
            return False
    time.sleep(0.2)
    return True


def read_slowly(sock, n: int) -> bytes:
    """Up to n bytes from sock (fewer at end of input), 64 KiB a recv with a
    1 ms pause after each, so that a sender meets full buffers and waits."""
    got = bytearray()
    while len(got) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
        time.sleep(0.001)
    return bytes(got)



def selector_waiting_in(sel, tries: int = 1000) -> Bg:
    """A started Bg thread in socket-selector-wait on sel (the Scheme face),
    returned once sel says a thread waits in it (polled every 10 ms, at most
    ``tries`` times)."""
    from sagsocket import scheme as S
    t = Bg(S.socket_selector_wait, sel)
    t.start()
    for _ in range(tries):
        if S.is_socket_selector_waiting(sel):
            break
        time.sleep(0.01)
    return t
