"""The Python face: Socket, makefile, Selector, exceptions, interruption,
Ctrl-C, interoperability with the socket module, and resources."""

import array
import errno
import gc
import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import sagsocket
import sagsocket.scheme
from sagsocket import errors as E
from sagsocket.library import ffi, lib

from conftest import Bg, interrupted_child, open_fds, read_slowly, wait_until_polling

HERE = os.path.dirname(os.path.abspath(__file__))


# ---- sockets ---------------------------------------------------------------

def test_send_recv_and_the_buffer_protocol(pair):
    c, a = pair
    assert c.send(b"hello") == 5
    assert a.recv(5) == b"hello"
    c.sendall(bytearray(b"abc") + memoryview(b"def").tobytes())
    buf = bytearray(6)
    assert a.recv_into(buf) == 6 and buf == b"abcdef"
    c.sendall(memoryview(b"0123456789")[2:6])
    mv = memoryview(bytearray(10))
    assert a.recv_into(mv[3:], 4) == 4 and bytes(mv) == b"\0\0\x002345\0\0\0"
    arr = array.array("i", [0, 0])
    c.sendall(array.array("i", [7, -9]))
    got = 0
    while got < 8:
        got += a.recv_into(memoryview(arr).cast("B")[got:])
    assert arr.tolist() == [7, -9]
    c.close()
    assert a.recv(10) == b""  # the peer closed


def test_large_recv_and_sendall_byte_for_byte(pair):
    c, a = pair
    data = os.urandom(3 * 1024 * 1024 + 17)
    t = Bg(c.sendall, data)
    t.start()
    got = bytearray()
    while len(got) < len(data):
        chunk = a.recv(200_000)  # larger than the per-thread 64 KiB buffer
        assert chunk
        got += chunk
    t.join_result()
    assert bytes(got) == data


def test_context_manager_fileno_and_idempotent_close(server):
    with sagsocket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=5) as c:
        fd = c.fileno()
        assert fd >= 0 and os.fstat(fd)
        assert c.getpeername() == ("127.0.0.1", server.getsockname()[1])
        assert c.getsockname()[0] == "127.0.0.1"
        assert f"raddr=('127.0.0.1', {server.getsockname()[1]})" in repr(c)
    assert c.closed and c.fileno() == -1 and repr(c) == "<sagsocket.Socket [closed]>"
    c.close()
    c.close()
    with pytest.raises(E.SocketClosedError) as ei:
        c.send(b"x")
    assert ei.value.errno is not None and ei.value.socket is c and ei.value.who


def test_accept_returns_socket_and_address(server):
    c = socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=5)
    a, addr = server.accept()
    with a:
        assert addr == c.getsockname()
        assert a.getsockopt(sagsocket.IPPROTO_TCP, sagsocket.TCP_NODELAY) != 0
    c.close()
    with sagsocket.create_connection(("localhost", server.getsockname()[1])) as c2:
        a2, addr2 = server.accept()
        with a2:
            assert addr2 == c2.getsockname() and c2.gettimeout() is None
            c2.sendall(b"no timeout")
            assert a2.recv(10) == b"no timeout"


def test_settimeout_raises_timeout_error_with_fields(pair):
    c, a = pair
    a.settimeout(0.05)
    assert a.gettimeout() == 0.05 and a.getblocking()
    with pytest.raises(TimeoutError) as ei:
        a.recv(1)
    e = ei.value
    assert isinstance(e, E.SocketReadTimeoutError) and isinstance(e, OSError)
    assert isinstance(e, socket.timeout)
    assert e.errno == errno.ETIMEDOUT or e.errno == 0
    assert e.strerror and e.timeout == pytest.approx(0.05) and e.socket is a
    # The socket still works afterwards.
    c.sendall(b"z")
    assert a.recv(1) == b"z"


def test_nonblocking_recv_raises_blocking_io_error(pair):
    c, a = pair
    a.setblocking(False)
    assert a.gettimeout() == 0.0 and not a.getblocking()
    with pytest.raises(BlockingIOError) as ei:
        a.recv(10)
    assert isinstance(ei.value, E.SocketWouldBlockError)
    assert ei.value.errno == errno.EAGAIN
    a.setblocking(True)
    c.sendall(b"k")
    assert a.recv(1) == b"k"


def test_send_timeout_is_a_timeout_error_with_sent_count(pair):
    c, a = pair
    c.setsockopt(sagsocket.SOL_SOCKET, sagsocket.SO_SNDBUF, 4096)
    c.settimeout(0.2)
    with pytest.raises(TimeoutError) as ei:
        c.sendall(b"x" * (64 * 1024 * 1024))  # the peer never reads
    e = ei.value
    assert isinstance(e, E.SocketSendTimeoutError) and e.errno == errno.ETIMEDOUT
    assert 0 < e.sent < 64 * 1024 * 1024


def test_connection_refused_is_a_connection_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    for timeout in (5, None):  # connect with a timeout; the library's make-client-socket
        with pytest.raises(ConnectionError) as ei:
            sagsocket.create_connection(("127.0.0.1", port), timeout=timeout)
        assert isinstance(ei.value, E.SocketConnectionError)
        assert ei.value.errno == errno.ECONNREFUSED and ei.value.strerror


def test_host_not_found_carries_node_and_service():
    with pytest.raises(E.HostNotFoundError) as ei:
        sagsocket.scheme.make_client_socket("localhost", "no-such-service-sagsocket")
    e = ei.value
    assert isinstance(e, OSError) and isinstance(e, E.SocketIOError)
    assert e.node == "localhost" and e.service == "no-such-service-sagsocket"
    assert "no-such-service-sagsocket" in e.strerror and e.who == "make-client-socket"
    assert e.status == lib.SAG_E_HOST_NOT_FOUND
    with pytest.raises(E.HostNotFoundError) as ei:
        sagsocket.scheme.get_addrinfo("not an address", "80",
                                      sagsocket.scheme.make_hint_addrinfo(flags=sagsocket.AI_NUMERICHOST))
    assert ei.value.node == "not an address" and ei.value.service == "80"


def test_send_to_a_reset_peer_is_a_socket_error_without_sigpipe():
    # A child process with SIGPIPE at its default action (CPython ignores it
    # at start-up): a send to a reset peer must raise, not kill the process.
    code = textwrap.dedent("""
        import signal, socket, struct, sys, time
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        import sagsocket
        srv = sagsocket.create_server(("127.0.0.1", 0))
        c = sagsocket.create_connection(("127.0.0.1", srv.getsockname()[1]), timeout=5)
        a, _ = srv.accept()
        a.setsockopt(sagsocket.SOL_SOCKET, sagsocket.SO_LINGER, struct.pack("ii", 1, 0))
        a.close()  # RST
        time.sleep(0.05)
        try:
            for _ in range(100):
                c.sendall(b"x" * 65536)
        except sagsocket.SocketError as e:
            print("raised", type(e).__name__, e.errno)
            sys.exit(0)
        sys.exit(1)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    name, no = r.stdout.split()[1:]
    assert name == "SocketError" and int(no) in (errno.EPIPE, errno.ECONNRESET)


def test_bad_arguments_raise_type_and_value_errors(pair):
    c, a = pair
    with pytest.raises(TypeError):
        a.recv("10")
    with pytest.raises(ValueError):
        a.recv(-1)
    with pytest.raises(TypeError):
        c.send("text is not bytes")
    with pytest.raises(TypeError):
        a.recv_into(b"immutable")
    with pytest.raises(ValueError):
        a.recv_into(bytearray(2), 5)
    with pytest.raises(ValueError) as ei:
        a.shutdown(99)
    assert isinstance(ei.value, E.InvalidArgumentError) and ei.value.status == lib.SAG_E_INVALID
    with pytest.raises(TypeError):
        sagsocket.scheme.make_client_socket(127, "80")
    with pytest.raises(ValueError):
        sagsocket.scheme.make_client_socket("local\0host", "80")
    with pytest.raises(ValueError):  # as the selectors module: no fileno()
        sagsocket.Selector().register(object(), sagsocket.EVENT_READ)
    with pytest.raises(ValueError):
        sagsocket.scheme.socket_set_read_timeout(a, -5)
    with pytest.raises(TypeError):
        sagsocket.scheme.socket_select(None, None, None, "soon")


# ---- makefile --------------------------------------------------------------

def test_makefile_text_lines_iteration_and_write(pair):
    c, a = pair
    w = c.makefile("w", encoding="utf-8", newline="\r\n")
    r = a.makefile("r", encoding="utf-8", newline="")
    assert isinstance(r, io.TextIOWrapper) and isinstance(r.buffer, io.BufferedReader)
    w.write("first line\nソケット\n\nlast")
    w.flush()
    c.shutdown(sagsocket.SHUT_WR)
    assert r.readline() == "first line\r\n"
    assert [line for line in r] == ["ソケット\r\n", "\r\n", "last"]
    assert r.readline() == ""
    w.close()
    r.close()


def test_makefile_binary_read_write_and_close_semantics(pair):
    c, a = pair
    wf = c.makefile("wb")
    rf = a.makefile("rb")
    assert isinstance(wf, io.BufferedWriter) and isinstance(rf, io.BufferedReader)
    wf.write(b"line one\nline two\n" + bytes(range(256)))
    wf.flush()
    assert rf.readline() == b"line one\n"
    assert rf.read(9) == b"line two\n"
    assert rf.read(256) == bytes(range(256))
    assert rf.fileno() == a.fileno()
    # The socket stays open while a file from makefile is open (as the
    # socket module does), and closes with the last one.
    a.close()
    assert not a.closed
    rf.close()
    assert a.closed
    wf.close()
    raw = c.makefile("rwb", buffering=0)
    assert isinstance(raw, sagsocket.SocketIO) and raw.readable() and raw.writable()
    with pytest.raises(ValueError):
        c.makefile("rw", buffering=0)
    with pytest.raises(ValueError):
        c.makefile("x")
    raw.close()


def test_makefile_read_timeout(pair):
    c, a = pair
    a.settimeout(0.05)
    f = a.makefile("rb")
    with pytest.raises(TimeoutError):
        f.readline()
    f.close()


# ---- interruption and signals ---------------------------------------------

def test_interrupt_from_another_thread_wakes_accept_and_recv(server, pair):
    c, a = pair
    server.settimeout(None)
    a.settimeout(None)
    for call in (server.accept, lambda: a.recv(10)):
        t = Bg(call)
        t.start()
        time.sleep(0.1)
        assert t.is_alive()  # really blocked
        for _ in range(50):  # an interrupt reaches only a call already blocked
            server.interrupt()
            a.interrupt()
            t.join(0.1)
            if not t.is_alive():
                break
        with pytest.raises(InterruptedError) as ei:
            t.join_result()
        assert isinstance(ei.value, E.SocketInterruptedError)
        assert ei.value.errno == 0  # not a signal
    c.sendall(b"after")
    assert a.recv(5) == b"after"


def _blocked_child(what: str):
    """The setup and the call of a child blocked in accept, recv or a
    select (interrupted_child)."""
    setup = ('import sagsocket\n'
             'srv = sagsocket.create_server(("127.0.0.1", 0))\n')
    if what in ("recv", "select"):
        setup += ('c = sagsocket.create_connection(("127.0.0.1", srv.getsockname()[1]))\n'
                  'a, _ = srv.accept()\n')
    if what == "select":
        setup += ('sel = sagsocket.Selector()\n'
                  'sel.register(a, sagsocket.EVENT_READ)\n')
    call = {"accept": "srv.accept()", "recv": "a.recv(10)", "select": "sel.select()"}[what]
    return setup, call


@pytest.mark.parametrize("what", ["accept", "recv", "select"])
def test_ctrl_c_raises_keyboard_interrupt_in_a_blocked_call(what):
    took = interrupted_child(*_blocked_child(what))
    # The issue asks for 100 ms; the bound here is generous (2.5 s, from the
    # signal to the child's catching KeyboardInterrupt) because the machine
    # may be loaded (2 cores shared with builds).
    assert took < 2.5, took


def test_a_signal_handler_that_returns_lets_the_call_go_on(pair):
    # PEP 475: a signal whose handler does not raise is retried; the call
    # still returns its data.
    c, a = pair
    seen = []
    old = signal.signal(signal.SIGUSR1, lambda *_: seen.append(1))

    def signal_then_send():
        # The signal once the recv waits, the data once the handler ran
        # (fixed delays may come in either order on a loaded machine).
        assert wait_until_polling(os.getpid()), "the recv never waited"
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(1000):
            if seen:
                break
            time.sleep(0.01)
        c.sendall(b"late")

    try:
        k = Bg(signal_then_send)
        k.start()
        assert a.recv(4) == b"late"
        k.join_result()
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert seen == [1]


# ---- Selector --------------------------------------------------------------

def test_selector_like_the_selectors_module(server):
    port = server.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
    accepted = [server.accept()[0] for _ in range(5)]
    with sagsocket.Selector() as sel:
        keys = [sel.register(s, sagsocket.EVENT_READ, data=i) for i, s in enumerate(accepted)]
        assert keys[2].fd == accepted[2].fileno() and keys[2].data == 2
        assert sel.get_key(accepted[1]).data == 1
        assert len(sel.get_map()) == 5 and accepted[0].fileno() in sel.get_map()
        with pytest.raises(KeyError):
            sel.register(accepted[0], sagsocket.EVENT_READ)
        with pytest.raises(KeyError):  # EVENT_WRITE too: registered already
            sel.register(accepted[0], sagsocket.EVENT_WRITE)
        assert sel.select(0) == []
        t0 = time.monotonic()
        assert sel.select(0.05) == []
        assert time.monotonic() - t0 >= 0.04
        clients[3].sendall(b"3")
        ready = sel.select(5)
        assert [(k.data, ev) for k, ev in ready] == [(3, sagsocket.EVENT_READ)]
        # Level-triggered, as selectors: still readable, reported again.
        assert [k.data for k, _ in sel.select(5)] == [3]
        assert accepted[3].recv(1) == b"3"
        sel.modify(accepted[4], sagsocket.EVENT_READ, data="four")
        sel.unregister(accepted[3])
        clients[3].sendall(b"x")
        clients[4].sendall(b"y")
        assert [k.data for k, _ in sel.select(5)] == ["four"]
        with pytest.raises(KeyError):
            sel.get_key(accepted[3])
    for s in clients + accepted:
        s.close()


def test_selector_keeps_sockets_registered(server):
    # Sockets stay in the library's selector (sag_selector_watch): every
    # select reports each readable one, unregister removes it (also while
    # a select blocks in another thread), a closed one leaves.
    port = server.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
    accepted = [server.accept()[0] for _ in range(3)]
    sel = sagsocket.Selector()
    for i, s in enumerate(accepted):
        sel.register(s, sagsocket.EVENT_READ, data=i)
    for c in clients:
        c.sendall(b"z")
    deadline = time.monotonic() + 5
    got: set = set()
    while len(got) < 3 and time.monotonic() < deadline:
        got |= {k.data for k, _ in sel.select(1)}
    assert got == {0, 1, 2}
    for _ in range(3):
        assert sorted(k.data for k, _ in sel.select(1)) == [0, 1, 2]
    for s in accepted:
        assert s.recv(1) == b"z"
    assert sel.select(0) == []
    # Unregistered while a select blocks: the data that comes is not reported.
    t = Bg(lambda: sel.select(0.5))
    t.start()
    time.sleep(0.1)
    sel.unregister(accepted[0])
    clients[0].sendall(b"y")
    assert t.join_result() == []
    # Registered again: reported.
    sel.register(accepted[0], sagsocket.EVENT_READ, data="again")
    assert [k.data for k, _ in sel.select(5)] == ["again"]
    # A closed socket is no longer reported; unregistering it works.
    accepted[0].close()
    assert sel.select(0) == []
    sel.unregister(accepted[0])
    sel.close()
    for s in clients + accepted:
        s.close()


def test_selector_interrupt_from_another_thread(pair):
    c, a = pair
    sel = sagsocket.Selector()
    sel.register(a, sagsocket.EVENT_READ)
    t = Bg(sel.select)
    t.start()
    time.sleep(0.1)
    assert t.is_alive()
    for _ in range(50):
        sel.interrupt()
        t.join(0.1)
        if not t.is_alive():
            break
    assert t.join_result() == []
    sel.close()


# ---- interoperability with the socket module ---------------------------------

def test_our_server_with_a_socket_module_client_byte_for_byte(server):
    data = os.urandom(2 * 1024 * 1024)

    def serve():
        a, _ = server.accept()
        with a:
            h = hashlib.sha256()
            got = 0
            while got < len(data):
                chunk = a.recv(65536)
                if not chunk:
                    break
                h.update(chunk)
                got += len(chunk)
                a.sendall(chunk)  # echo
            return got, h.hexdigest()

    t = Bg(serve)
    t.start()
    c = socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=10)
    back = bytearray()
    sender = Bg(c.sendall, data)
    sender.start()
    while len(back) < len(data):
        chunk = c.recv(65536)
        assert chunk
        back += chunk
    sender.join_result()
    c.close()
    assert t.join_result() == (len(data), hashlib.sha256(data).hexdigest())
    assert bytes(back) == data


def test_our_client_with_a_socket_module_server_byte_for_byte():
    data = os.urandom(2 * 1024 * 1024)
    ls = socket.create_server(("127.0.0.1", 0))
    ls.settimeout(10)

    def serve():
        a, _ = ls.accept()
        with a:
            a.settimeout(10)
            f = a.makefile("rwb")
            line = f.readline()
            f.write(b"hello " + line)
            f.flush()
            got = bytearray()
            while len(got) < len(data):
                chunk = a.recv(65536)
                if not chunk:
                    break
                got += chunk
            a.sendall(hashlib.sha256(got).digest())
            return bytes(got)

    t = Bg(serve)
    t.start()
    with sagsocket.create_connection(("127.0.0.1", ls.getsockname()[1]), timeout=10) as c:
        c.sendall(b"sagsocket\n")
        f = c.makefile("rb")
        assert f.readline() == b"hello sagsocket\n"
        c.sendall(data)
        assert f.read(32) == hashlib.sha256(data).digest()
        f.close()
    assert t.join_result() == data
    ls.close()


# ---- resources -----------------------------------------------------------------

def test_no_fd_or_handle_growth_over_10000_sockets():
    gc.collect()
    fds0 = open_fds()
    handles = []
    for i in range(10_000):
        s = sagsocket.Socket()
        if i % 1000 == 0:
            handles.append(s.tag)
        if i % 2:
            s.close()  # the others are closed by their finalizer
        del s
    gc.collect()
    assert open_fds() <= fds0 + 2
    for key in handles:  # each handle was freed: the library no longer knows it
        assert lib.sag_handle_kind(ffi.cast("void *", key)) == lib.SAG_KIND_NONE
    srv = sagsocket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    for _ in range(300):
        c = sagsocket.create_connection(("127.0.0.1", port), timeout=5)
        a, _ = srv.accept()
        f = a.makefile("rb")
        del c, a, f
    srv.close()
    del srv
    gc.collect()
    assert open_fds() <= fds0 + 2


def test_sendall_across_signals_loses_and_repeats_no_byte(pair):
    # The main thread's sendall is cut by signals whose handler returns
    # (the peer reads slowly, so the send waits): it resumes after the bytes
    # that went, and the peer gets every byte once, in order.
    c, a = pair
    c.setsockopt(sagsocket.SOL_SOCKET, sagsocket.SO_SNDBUF, 8192)
    data = os.urandom(8 * 1024 * 1024)
    seen = []
    old = signal.signal(signal.SIGUSR1, lambda *_: seen.append(1))

    def slow_reader():
        return read_slowly(a, len(data))

    def signaller():
        # To the main thread (a process-directed signal may land in another
        # thread and leave the send blocked), one at a time: two signals
        # pending at once would make one handler call (bounded wait).
        main = threading.main_thread().ident
        for i in range(20):
            time.sleep(0.01)
            signal.pthread_kill(main, signal.SIGUSR1)
            for _ in range(1000):
                if len(seen) > i:
                    break
                time.sleep(0.005)

    r = Bg(slow_reader)
    k = Bg(signaller)
    r.start()
    k.start()
    try:
        c.sendall(data)
        k.join_result()
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert r.join_result(30) == data
    # Python runs a handler once for signals that arrive between two of its
    # checks, so the count can be below 20; at least one must have run.
    assert 1 <= len(seen) <= 20


def test_a_signal_during_a_timed_recv_keeps_the_timeout(pair):
    # A handler that returns: the recv goes on with the time left and then
    # raises TimeoutError (not before its time; the upper bound is generous).
    c, a = pair
    a.settimeout(0.5)
    seen = []
    old = signal.signal(signal.SIGUSR1, lambda *_: seen.append(1))
    try:
        timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            a.recv(1)
        took = time.monotonic() - t0
        timer.join()
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert seen == [1]
    assert 0.45 <= took < 5, took
    assert a.gettimeout() == 0.5
    # The read timeout is the socket's own again afterwards.
    from sagsocket import scheme as S
    assert S.socket_get_read_timeout(a) == 0.5


def test_ctrl_c_in_makefile_readline_with_a_timeout():
    interrupted_child("""
        import sagsocket
        srv = sagsocket.create_server(("127.0.0.1", 0))
        c = sagsocket.create_connection(("127.0.0.1", srv.getsockname()[1]))
        a, _ = srv.accept()
        a.settimeout(30)
        f = a.makefile("r", encoding="utf-8")
    """, "f.readline()")


def test_socket_connect_bind_and_udp_as_the_socket_module(server):
    s = sagsocket.Socket()  # AF_INET: "localhost" resolves to its IPv4 address
    s.settimeout(5)
    s.connect(("localhost", server.getsockname()[1]))
    a, addr = server.accept()
    assert addr == s.getsockname() and s.getpeername() == server.getsockname()
    a.close()
    s.close()
    r = sagsocket.Socket(sagsocket.AF_INET, sagsocket.SOCK_DGRAM)
    w = sagsocket.Socket(sagsocket.AF_INET, sagsocket.SOCK_DGRAM)
    r.bind(("127.0.0.1", 0))
    r.settimeout(5)
    assert w.sendto(b"datagram", r.getsockname()) == 8
    data, frm = r.recvfrom(100)
    assert data == b"datagram" and frm[0] == "127.0.0.1" and frm[1] > 0
    p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    p.sendto(b"from the socket module", r.getsockname())
    assert r.recvfrom(100) == (b"from the socket module", ("127.0.0.1", p.getsockname()[1]))
    p.close()
    r.close()
    w.close()


# ---- a call that takes bytes never fails after taking them -----------------

def test_recvfrom_on_a_stream_socket_returns_the_bytes_and_no_address(pair):
    # recvfrom(2) on TCP fills no address: the bytes come back with None, as
    # socket.socket.recvfrom gives them, and none of the stream is lost.
    c, a = pair
    c.sendall(b"first-second")
    assert a.recvfrom(6) == (b"first-", None)
    assert a.recv(100) == b"second"
    # The same on a non-blocking socket, and through the Sagittarius face,
    # whose sockaddr is left empty.
    a.setblocking(False)
    c.sendall(b"xyz")
    got = bytearray()
    while len(got) < 3:
        try:
            data, frm = a.recvfrom(100)
        except BlockingIOError:
            sagsocket.scheme.socket_read_select(5.0, a)
            continue
        assert frm is None
        got += data
    assert got == b"xyz"
    a.setblocking(True)
    c.sendall(b"abc")
    sa = sagsocket.scheme.make_sockaddr()
    assert sagsocket.scheme.socket_recvfrom(a, 2, sa) == b"ab"
    assert sa.family == sagsocket.AF_UNSPEC
    assert a.recv(10) == b"c"
