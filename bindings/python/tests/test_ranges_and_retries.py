"""Ranges of (buffer, start, count) calls, timeouts that signals neither
restart nor prolong, Ctrl-C when another thread imported the package, how
the library is found, and selector adds that fail."""

import contextlib
import errno
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

import sagsocket
from sagsocket import errors as E
from sagsocket import scheme as S

from conftest import Bg, interrupted_child, read_slowly


HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)


@pytest.fixture
def conn():
    """(server, client, accepted) of the Sagittarius face, 10 s timeouts."""
    srv = S.make_server_socket("0", S.AF_INET)
    port = srv.getsockname()[1]
    c = S.make_client_socket("127.0.0.1", str(port))
    a = S.socket_accept(srv)
    for s in (c, a):
        S.socket_set_read_timeout(s, 10_000)
    yield srv, c, a
    for s in (c, a, srv):
        s.close()


@pytest.fixture
def udp():
    """(receiver, sender, receiver's sockaddr) of UDP on 127.0.0.1."""
    hint = S.make_hint_addrinfo(S.AF_INET, sagsocket.SOCK_DGRAM, sagsocket.AI_NUMERICHOST)
    r = S.make_socket(S.AF_INET, sagsocket.SOCK_DGRAM)
    S.socket_bind(r, S.get_addrinfo("127.0.0.1", "0", hint))
    port = r.getsockname()[1]
    to = S.addrinfo_sockaddr(S.get_addrinfo("127.0.0.1", str(port), hint))
    w = S.make_socket(S.AF_INET, sagsocket.SOCK_DGRAM)
    yield r, w, to
    r.close()
    w.close()


# ---- 1. (buffer, start, count) ranges ----------------------------------------

# Out of the 8-byte buffer each way: negative start or count, past the end
# by one, start at the end with a count, and a start far past the end (what
# C would have written to or read from).
BAD = [(-1, 1), (0, -1), (0, 9), (8, 1), (4, 5), (1 << 40, 1)]


def _after(c, a):
    """The connection still works after the refused call: nothing was sent
    or read by it."""
    S.socket_send(c, b"ok")
    assert S.socket_recv(a, 2) == b"ok"


@pytest.mark.parametrize("start,count", BAD)
def test_port_ranges_are_checked(conn, start, count):
    srv, c, a = conn
    out, inp = S.socket_port(c, False), S.socket_port(a, False)
    buf = bytearray(8)
    with pytest.raises(ValueError):
        inp.get_bytevector_n_into(buf, start, count)
    with pytest.raises(ValueError):
        out.put_bytevector(b"12345678", start, count)
    with pytest.raises(ValueError):
        S.put_bytevector(out, b"12345678", start, count)
    assert buf == bytearray(8)
    _after(c, a)


def test_port_range_defaults_and_edges(conn):
    srv, c, a = conn
    out, inp = S.socket_port(c, False), S.socket_port(a, False)
    with pytest.raises(ValueError):
        out.put_bytevector(b"1234", 5)  # start past the end, count defaulted
    with pytest.raises(TypeError):
        out.put_bytevector(b"1234", 1.5, 1)
    for bad in (lambda: inp.get_bytevector_some(-1), lambda: inp.get_string_n(-1),
                lambda: inp.get_bytevector_n(-1)):
        with pytest.raises(ValueError):
            bad()
    out.put_bytevector(b"1234", 4, 0)  # an empty range at the end is one
    out.put_bytevector(b"abcdef", 2)   # count defaults to the rest
    buf = bytearray(6)
    assert inp.get_bytevector_n_into(buf, 2, 4) == 4
    assert buf == bytearray(b"\0\0cdef")


@pytest.mark.parametrize("start,count", BAD)
def test_socket_ranges_are_checked(conn, udp, start, count):
    srv, c, a = conn
    buf = bytearray(8)
    with pytest.raises(ValueError):
        S.socket_recv_into(a, buf, start, count)
    with pytest.raises(ValueError):
        S.socket_send_range(c, b"12345678", start, count)
    r, w, to = udp
    with pytest.raises(ValueError):
        S.socket_sendto_range(w, b"12345678", start, count, to)
    with pytest.raises(ValueError):
        S.socket_recvfrom_into(r, buf, start, count, S.make_sockaddr())
    assert buf == bytearray(8)
    _after(c, a)


def test_negative_sizes_are_value_errors(pair, udp):
    c, a = pair
    for bad in (lambda: a.recv(-1), lambda: a.recv_into(bytearray(4), -1),
                lambda: a.recv_into(bytearray(4), 5), lambda: udp[0].recvfrom(-1)):
        with pytest.raises(ValueError):
            bad()


# ---- 2. timeouts under periodic signals -------------------------------------
#
# A timer signal every 20 ms (setitimer, as a profiler would) with a handler
# that returns: each blocked call is cut every 20 ms and retried. The call
# must still end with its timeout after about its 0.5 s. Bounds: at least
# 0.45 s (it must not end early: 50 ms below, for the clock's granularity and
# the library's rounding), below 1.5 s (three times the timeout: generous,
# for a loaded machine). A call whose retries restarted the timeout would
# never end while the signals go on: a watchdog stops them after 4 s, so
# such a call ends one timeout later and fails the upper bound instead of
# hanging the suite.

TIMEOUT = 0.5


@pytest.fixture
def ticking():
    """SIGALRM every 20 ms while the test runs (at most 30 s: a bound, not a
    measure; a test here makes up to three 0.5 s waits, longer on a loaded
    machine); the list of handler runs."""
    seen = []
    old = signal.signal(signal.SIGALRM, lambda *_: seen.append(1))
    signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
    watchdog = threading.Timer(30.0, signal.setitimer, (signal.ITIMER_REAL, 0, 0))
    watchdog.start()
    try:
        yield seen
    finally:
        watchdog.cancel()
        watchdog.join()
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, old)


def _timed(fn):
    """How long fn took to raise a timeout (or, for waits, return nothing)."""
    t0 = time.monotonic()
    try:
        r = fn()
    except TimeoutError:
        r = "timeout"
    return r, time.monotonic() - t0


def _in_bounds(took, seen):
    # Not before the timeout; the upper bound only says it ends (generously:
    # on a loaded machine a thread may wait seconds for a core).
    assert 0.45 <= took < 5, took
    assert len(seen) >= 2  # the signals came (how many depends on the load)


def test_python_face_recv_times_out_under_signals(pair, ticking):
    c, a = pair
    a.settimeout(TIMEOUT)
    r, took = _timed(lambda: a.recv(1))
    assert r == "timeout"
    _in_bounds(took, ticking)
    # The socket's read timeout is its own again.
    assert S.socket_get_read_timeout(a) == TIMEOUT
    with a.makefile("rb") as f:
        r, took = _timed(lambda: f.read(1))
    assert r == "timeout"
    _in_bounds(took, ticking)


def test_accept_times_out_under_signals(server, ticking):
    server.settimeout(TIMEOUT)
    r, took = _timed(server.accept)
    assert r == "timeout"
    _in_bounds(took, ticking)


def test_scheme_face_recv_and_ports_time_out_under_signals(conn, ticking):
    srv, c, a = conn
    S.socket_set_read_timeout(a, int(TIMEOUT * 1000))
    r, took = _timed(lambda: S.socket_recv_into(a, bytearray(4), 0, 4))
    assert r == "timeout"
    _in_bounds(took, ticking)
    p = S.socket_port(a, False)
    r, took = _timed(lambda: S.get_u8(p))
    assert r == "timeout"
    _in_bounds(took, ticking)
    assert S.socket_get_read_timeout(a) == TIMEOUT


def test_recvfrom_times_out_under_signals(udp, ticking):
    r, w, to = udp
    S.socket_set_read_timeout(r, int(TIMEOUT * 1000))
    res, took = _timed(lambda: S.socket_recvfrom(r, 16, S.make_sockaddr()))
    assert res == "timeout"
    _in_bounds(took, ticking)
    r.settimeout(TIMEOUT)
    res, took = _timed(lambda: r.recvfrom(16))
    assert res == "timeout"
    _in_bounds(took, ticking)


def test_selects_and_waits_keep_their_time_under_signals(pair, ticking):
    c, a = pair
    res, took = _timed(lambda: S.socket_read_select(TIMEOUT, a))
    assert res == []
    _in_bounds(took, ticking)
    sel = sagsocket.Selector()
    sel.register(a, sagsocket.EVENT_READ)
    res, took = _timed(lambda: sel.select(TIMEOUT))
    assert res == []
    _in_bounds(took, ticking)
    sel.close()
    ss = S.make_socket_selector()
    S.socket_selector_add(ss, a)
    res, took = _timed(lambda: S.socket_selector_wait(ss, TIMEOUT))
    assert res == ([], [])
    _in_bounds(took, ticking)
    ss.close()


def test_send_times_out_under_signals(pair, ticking):
    # The peer reads nothing: the send fills the buffers at once, then
    # stalls; its send timeout (no progress for 0.5 s) must still pass.
    c, a = pair
    c.setsockopt(sagsocket.SOL_SOCKET, sagsocket.SO_SNDBUF, 8192)
    c.settimeout(TIMEOUT)
    data = bytes(16 * 1024 * 1024)
    r, took = _timed(lambda: c.sendall(data))
    assert r == "timeout"
    _in_bounds(took, ticking)
    S.socket_setsockopt(c, sagsocket.SOL_SOCKET, sagsocket.SO_SNDTIMEO, timedelta(seconds=TIMEOUT))
    r, took = _timed(lambda: S.socket_send(c, data))
    assert r == "timeout"
    _in_bounds(took, ticking)


def _drain(a):
    """Every byte the peer sent until it shut its side down."""
    a.settimeout(10)
    got = bytearray()
    while True:
        chunk = a.recv(65536)
        if not chunk:
            return bytes(got)
        got += chunk


def _kept_failure(call, what=""):
    """The exception call raises, kept as an ``except ... as e`` that keeps e
    does (its traceback holds the frames of the call)."""
    try:
        call()
    except (OSError, ValueError, TypeError) as e:
        return e
    raise AssertionError(f"{what}: the call did not fail")


_FAILING_CALLS = {
    # name: (the call of memoryview m of a 16-byte bytearray; a and c
    # non-blocking, nothing to read; r, w, to of the udp fixture)
    "recv_into": lambda m, a, c, r, w, to: a.recv_into(m),
    "recv_into too many": lambda m, a, c, r, w, to: a.recv_into(m, 64),
    "recvfrom_into": lambda m, a, c, r, w, to: a.recvfrom_into(m),
    "recvmsg_into": lambda m, a, c, r, w, to: a.recvmsg_into([m]),
    "send": lambda m, a, c, r, w, to: (c.shutdown(1), c.send(m)),  # EPIPE
    "sendto": lambda m, a, c, r, w, to: (w.shutdown(1), w.sendto(m, ("127.0.0.1", 9))),
    "makefile readinto": lambda m, a, c, r, w, to: (a.settimeout(0.01), a.makefile("rb", buffering=0).readinto(m)),
    "socket-recv! range": lambda m, a, c, r, w, to: S.socket_recv_into(a, m, 4, 64),
    "socket-send/range range": lambda m, a, c, r, w, to: S.socket_send_range(c, m, 4, 64),
    "socket-recvfrom! range": lambda m, a, c, r, w, to: S.socket_recvfrom_into(r, m, 4, 64, S.make_sockaddr()),
    "socket-sendto/range range": lambda m, a, c, r, w, to: S.socket_sendto_range(w, m, 4, 64, to),
    "sendmsg": lambda m, a, c, r, w, to: (c.shutdown(1), c.sendmsg([m])),  # EPIPE
    "sendmsg ancillary": lambda m, a, c, r, w, to: c.sendmsg([b"x"], [(1, 1, m), (1, 1)]),  # TypeError
}


@pytest.mark.parametrize("what", list(_FAILING_CALLS))
def test_a_failed_call_holds_no_export_of_the_callers_buffer(pair, udp, what):
    # A call that raises ends its ffi.from_buffer of the caller's buffer
    # first: while the exception lives, the caller's memoryview can be
    # released and its bytearray resized (the traceback keeps the call's
    # frames, and with them what their locals hold).
    c, a = pair
    a.setblocking(False)
    c.setblocking(False)
    r, w, to = udp
    ba = bytearray(16)
    m = memoryview(ba)
    e = _kept_failure(lambda: _FAILING_CALLS[what](m, a, c, r, w, to), what)
    m.release()  # BufferError while an export lives
    ba.append(0)  # likewise
    assert e.__traceback__ is not None


def test_a_failed_sendall_holds_no_export_of_the_callers_buffer(pair):
    c, a = pair
    c.setblocking(False)
    ba = bytearray(16 * 1024 * 1024)
    m = memoryview(ba)
    e = _kept_failure(lambda: c.sendall(m), "sendall")  # the buffers fill: BlockingIOError
    m.release()
    ba.append(0)
    assert e.__traceback__ is not None


def test_a_kept_failure_over_a_memoryview_survives_the_collector():
    # The collector frees a failed call's exception, kept in a reference
    # cycle, whose traceback holds a memoryview the call exported: CPython
    # 3.11 clears the memoryview before the export ends, then crashed in
    # memory_dealloc when the export ended (CPython issue gh-77894; seen
    # as exit 139 of the under_signals tests: io.BufferedReader's
    # memoryview in SocketIO.readinto). A child, so that a crash is a
    # failure, not the end of the run.
    code = "\n".join([
        "import gc, sagsocket",
        "srv = sagsocket.create_server(('127.0.0.1', 0))",
        "c = sagsocket.create_connection(srv.getsockname(), timeout=10)",
        "a, _ = srv.accept()",
        "a.setblocking(False)",
        "def fail(call):",
        "    try:",
        "        call()",
        "    except OSError as e:",
        "        kept = e  # frame -> kept -> e -> traceback -> frame",
        "        return",
        "    raise AssertionError('the call did not fail')",
        "for i in range(20):",
        "    fail(lambda: a.recv_into(memoryview(bytearray(16))))",
        "    fail(lambda: a.recvfrom_into(memoryview(bytearray(16))))",
        "    gc.collect()",
        # The under_signals tests' case: a file's read whose timeout passes
        # during the signal retries (retry's raise e: the cycle), the
        # memoryview io.BufferedReader's own; the exception not kept.
        "import signal",
        "signal.signal(signal.SIGALRM, lambda *_: None)",
        "signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)",
        "a.settimeout(0.1)",
        "for i in range(3):",
        "    with a.makefile('rb') as f:",
        "        try:",
        "            f.read(1)",
        "        except TimeoutError:",
        "            pass",
        "    gc.collect()",
        "signal.setitimer(signal.ITIMER_REAL, 0, 0)",
        "print('survived')",
    ])
    site = os.path.dirname(os.path.dirname(os.path.abspath(sagsocket.__file__)))
    env = dict(os.environ, PYTHONPATH=site)
    out = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "survived", (out.returncode, out.stderr[-2000:])


def test_a_send_timeout_under_signals_counts_every_byte_that_went(pair, ticking):
    # A sendall whose timeout passes during its signal retries: the
    # exception's sent is exactly what the peer then receives, so a caller
    # can resume without losing or repeating a byte.
    c, a = pair
    c.setsockopt(sagsocket.SOL_SOCKET, sagsocket.SO_SNDBUF, 8192)
    c.settimeout(TIMEOUT)
    data = os.urandom(16 * 1024 * 1024)
    with pytest.raises(TimeoutError) as ei:
        c.sendall(data)
    sent = ei.value.sent
    assert 0 < sent < len(data)
    c.shutdown(1)  # SHUT_WR
    assert _drain(a) == data[:sent]


@contextlib.contextmanager
def failing_alarms(watchdog: float):
    """SIGALRM every 10 ms while the block runs (stopped after ``watchdog``
    seconds at most), each handled by a library call that fails (accept on
    a non-blocking listener: would block), which replaces the thread's last
    error. Yields the list of those failures."""
    failed = []
    idle = sagsocket.create_server(("127.0.0.1", 0))
    idle.setblocking(False)

    def handler(*_):
        try:
            idle.accept()
        except OSError as e:  # EAGAIN
            assert e.errno == errno.EAGAIN
            failed.append(1)

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
    dog = threading.Timer(watchdog, signal.setitimer, (signal.ITIMER_REAL, 0, 0))
    dog.start()
    try:
        yield failed
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        dog.cancel()
        signal.signal(signal.SIGALRM, old)
        idle.close()


def test_a_handler_whose_library_call_fails_changes_no_count(pair):
    # The handler of each signal makes a library call that fails; the
    # sendall cut by those signals must still resume right after the bytes
    # that went: the peer gets every byte once, in order.
    c, a = pair
    c.setsockopt(sagsocket.SOL_SOCKET, sagsocket.SO_SNDBUF, 8192)
    data = os.urandom(8 * 1024 * 1024)

    def slow_reader():
        a.settimeout(10)
        return read_slowly(a, len(data))

    r = Bg(slow_reader)
    with failing_alarms(20.0) as failed:
        r.start()
        c.sendall(data)
    assert r.join_result(30) == data
    assert failed  # the handlers ran and their call failed


@pytest.mark.parametrize("call", ["recv", "recv_into", "recvfrom", "recvfrom_into", "accept",
                                  "select"])
def test_a_handler_whose_library_call_fails_does_not_end_a_wait(pair, server, call):
    # CPython runs a signal handler as soon as the call the signal cut
    # returns: a handler that makes a failing library call replaces the
    # thread's last error before the binding has read why the call ended.
    # The blocked call must still see the signal and wait on for the bytes
    # (or the connection) that come 0.3 s later, not raise.
    c, a = pair
    buf = bytearray(4)
    sel = sagsocket.Selector()
    sel.register(a, sagsocket.EVENT_READ)
    calls = {
        "recv": lambda: a.recv(4),
        "recv_into": lambda: bytes(buf[:a.recv_into(buf)]),
        "recvfrom": lambda: a.recvfrom(4)[0],
        "recvfrom_into": lambda: bytes(buf[:a.recvfrom_into(buf)[0]]),
        "accept": lambda: server.accept()[0].recv(4),
        "select": lambda: a.recv(4) if sel.select(10) else b"",
    }
    late = []

    def later():
        if call == "accept":
            late.append(sagsocket.create_connection(server.getsockname(), timeout=5))
            late[0].sendall(b"late")
        else:
            c.sendall(b"late")

    t = threading.Timer(0.3, later)
    try:
        with failing_alarms(5.0) as failed:
            t.start()
            got = calls[call]()
    finally:
        t.join()
        sel.close()
        for s in late:
            s.close()
    assert got == b"late"
    assert failed  # the handlers ran and their call failed


def test_data_still_arrives_between_signals(pair, ticking):
    # The retries give back what comes: the signals do not lose a read.
    c, a = pair
    a.settimeout(5)
    t = threading.Timer(0.2, c.sendall, (b"late",))
    t.start()
    assert a.recv(4) == b"late"
    t.join()


# A connect timeout needs a peer that does not answer (SYNs dropped), which
# loopback cannot give without firewall rules: a connect to a loopback port
# is refused or made at once. The connect retries use the same helper
# (_retry with the time left passed as the call's timeout argument), but
# their timeout under signals is not tested here.


# ---- 3. Ctrl-C when a worker thread imported the package -----------------------

def test_ctrl_c_when_a_worker_thread_imported_the_package():
    setup = """
        import threading
        def imp():
            import sagsocket
        t = threading.Thread(target=imp)
        t.start()
        t.join()
        import sagsocket
        srv = sagsocket.create_server(("127.0.0.1", 0))
    """
    # Without the fix accept never returns: the helper's 10 s pass, then a
    # failure. The bound is generous (from the signal to the child's
    # catching KeyboardInterrupt, on a machine that may be loaded).
    took = interrupted_child(setup, "srv.accept()")
    assert took < 2.5, took


# ---- 4. how the library is found ----------------------------------------------

def _import_in_child(env_extra, tmp_path):
    """Imports sagsocket in a child whose PATH starts with a pkg-config that
    records each run; (its LIBRARY_PATH, the number of pkg-config runs)."""
    marker = tmp_path / "runs"
    fake = tmp_path / "bin" / "pkg-config"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho run >> {marker}\nexit 1\n")
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake.parent}:{os.environ['PATH']}", PYTHONPATH=PKG, **env_extra)
    out = subprocess.run([sys.executable, "-c", "import sagsocket; print(sagsocket.LIBRARY_PATH)"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    runs = len(marker.read_text().split()) if marker.exists() else 0
    return out.stdout.strip(), runs


def test_the_soname_is_tried_before_pkg_config(tmp_path):
    # The loader finds libsagsocket.so.1 (LD_LIBRARY_PATH of the test run)
    # and the declarations lie beside it: pkg-config is never run.
    lib_dir = os.path.dirname(os.path.realpath(sagsocket.LIBRARY_PATH))
    env = {"LD_LIBRARY_PATH": lib_dir}
    path, runs = _import_in_child(env, tmp_path)
    assert runs == 0
    assert os.path.realpath(path) == os.path.realpath(sagsocket.LIBRARY_PATH)


def test_sagsocket_library_names_the_file(tmp_path):
    path, runs = _import_in_child({"SAGSOCKET_LIBRARY": sagsocket.LIBRARY_PATH}, tmp_path)
    assert path == sagsocket.LIBRARY_PATH and runs == 0


def test_search_functions_are_defined_once():
    from sagsocket import library as _ffi
    with open(_ffi.__file__, encoding="utf-8") as f:
        src = f.read()
    for name in ("_loaded_library_path", "_pkg_config", "_decls_candidates", "_library_candidates"):
        assert src.count(f"def {name}(") == 1, name


# ---- 5. selector adds that fail ------------------------------------------------

def test_a_failed_selector_add_leaves_no_entry(pair):
    c, a = pair
    sel = S.make_socket_selector()
    dead = sagsocket.Socket()
    dead.close()
    # A closed socket is ignored, as Sagittarius does: not added, and no
    # entry of it is kept (it would never be reported, nor let go).
    S.socket_selector_add(sel, dead, None, "dead")
    assert sel._entries == {} and S.socket_selector_size(sel) == 0
    S.socket_selector_add(sel, a, None, "live")
    S.close_socket_selector(sel)
    with pytest.raises(E.SocketClosedError):
        S.socket_selector_add(sel, c, None, "after close")
    assert c.tag not in sel._entries


def test_a_failed_register_raises_and_keeps_no_key(pair):
    c, a = pair
    sel = sagsocket.Selector()
    sel._sel.close()  # the library's selector refuses from now on
    with pytest.raises(OSError):
        sel.register(a, sagsocket.EVENT_READ, "x")
    assert len(sel.get_map()) == 0 and sel._keys == {}
    with pytest.raises(KeyError):
        sel.get_key(a)
    sel.close()


def test_retries_leave_the_sockets_timeout_alone(pair, ticking):
    """A retry after a signal gets the time left through the thread's
    deadline (sag_thread_set_deadline): the socket's read timeout, which
    another thread may be using, never changes meanwhile."""
    c, a = pair
    a.settimeout(TIMEOUT)
    seen_by_other = set()
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen_by_other.add(S.socket_get_read_timeout(a))
            time.sleep(0.003)

    t = threading.Thread(target=watch)
    t.start()
    try:
        r, took = _timed(lambda: a.recv(1))
    finally:
        stop.set()
        t.join(5)
    assert r == "timeout"
    _in_bounds(took, ticking)
    assert seen_by_other == {TIMEOUT}
    # The thread's deadline is gone after the call: a recv that gets its
    # byte 0.3 s later (past no deadline) succeeds.
    a.settimeout(5)
    threading.Timer(0.3, c.sendall, (b"x",)).start()
    assert a.recv(1) == b"x"


def test_fileno_is_kept_and_minus_one_after_close(pair):
    c, a = pair
    fd = c.fileno()
    assert fd >= 0 and c.fileno() == fd
    os.fstat(fd)  # a real descriptor
    c.close()
    assert c.fileno() == -1


def test_fileno_after_a_port_that_owns_the_socket_is_closed(conn):
    srv, c, a = conn
    fd = c.fileno()
    assert fd >= 0
    p = S.socket_port(c)  # closing it closes the socket
    p.close()
    assert c.fileno() == -1
