"""Descriptors and messages through the Python face, as the socket module
has them: Socket(fileno=), fromfd, dup, detach; sendmsg, recvmsg,
recvmsg_into with ancillary data, send_fds/recv_fds; on socket pairs and
loopback UDP and TCP."""
import array
import os
import socket
import threading

import pytest

import sagsocket
from sagsocket import errors as E


def test_socket_from_fileno_takes_the_descriptor():
    raw_a, raw_b = socket.socketpair()
    fd = raw_a.detach()
    with sagsocket.Socket(fileno=fd) as s:
        assert s.fileno() == fd
        assert s.family == socket.AF_UNIX and s.type == socket.SOCK_STREAM and s.proto == 0
        assert not os.get_inheritable(fd)  # close-on-exec, as the library's own
        raw_b.sendall(b"ping")
        s.settimeout(10)
        assert s.recv(4) == b"ping"
    with pytest.raises(OSError) as e:
        os.fstat(fd)  # closed with the socket
    assert e.value.errno == 9
    raw_b.close()


def test_socket_from_fileno_refuses_bad_descriptors():
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as e:
            sagsocket.Socket(fileno=r)
        assert e.value.errno == 88  # ENOTSOCK
        assert os.get_inheritable(r) is False and os.fstat(r)  # left as it was
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(ValueError):
        sagsocket.Socket(fileno=-1)
    with pytest.raises(OSError) as e:
        sagsocket.Socket(fileno=r)  # closed now
    assert e.value.errno == 9
    with pytest.raises(TypeError):
        sagsocket.Socket(fileno="3")


def test_fromfd_keeps_the_callers_descriptor():
    with sagsocket.Socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        with sagsocket.fromfd(u.fileno(), socket.AF_INET, socket.SOCK_DGRAM) as v:
            assert v.fileno() != u.fileno()
            assert v.getsockname() == u.getsockname()
            assert v.type == socket.SOCK_DGRAM
        assert u.getsockname()[0] == "127.0.0.1"  # still open


def test_dup_and_detach():
    a, b = sagsocket.socketpair()
    with a, b:
        a.settimeout(2.5)
        d = a.dup()
        with d:
            assert d.fileno() != a.fileno()
            assert d.gettimeout() == 2.5
            assert d.family == socket.AF_UNIX
            a.close()
            d.sendall(b"from-dup")  # the connection stays open in the dup
            assert b.recv(16) == b"from-dup"
            fd = d.detach()
            assert d.fileno() == -1 and d.closed
            assert d.detach() == -1
            os.write(fd, b"raw")  # the descriptor is the caller's, open
            assert b.recv(16) == b"raw"
            os.close(fd)


def test_detach_wakes_a_waiting_recv():
    a, b = sagsocket.socketpair()
    got = []

    def reader():
        try:
            a.recv(10)
        except OSError as e:
            got.append(e)

    t = threading.Thread(target=reader)
    t.start()
    while not t.is_alive():
        pass
    threading.Event().wait(0.1)
    fd = a.detach()
    t.join(10)
    assert not t.is_alive()
    assert got and isinstance(got[0], E.SocketClosedError)
    b.sendall(b"kept")
    os.set_blocking(fd, True)
    assert os.read(fd, 10) == b"kept"  # the woken recv took nothing
    os.close(fd)
    b.close()


def test_sendmsg_recvmsg_gather_scatter():
    a, b = sagsocket.socketpair()
    with a, b:
        b.settimeout(10)
        assert a.sendmsg([b"ab", bytearray(b"cd"), memoryview(b"efg")]) == 7
        data, anc, flags, addr = b.recvmsg(64)
        assert (data, anc, flags, addr) == (b"abcdefg", [], 0, None)
        a.sendmsg([b"0123456789"])
        x, y = bytearray(3), bytearray(20)
        n, anc, flags, addr = b.recvmsg_into([x, memoryview(y)[:4]])
        assert n == 7 and bytes(x) == b"012" and bytes(y[:4]) == b"3456"
        assert b.recv(10) == b"789"
        with pytest.raises(TypeError):
            a.sendmsg(["text"])
        with pytest.raises(TypeError):
            b.recvmsg_into([b"immutable"])
        with pytest.raises(ValueError):
            b.recvmsg(-1)
        with pytest.raises(ValueError):
            b.recvmsg(1, -1)


def test_descriptors_across_and_truncation():
    a, b = sagsocket.socketpair()
    r, w = os.pipe()
    with a, b:
        b.settimeout(10)
        assert sagsocket.send_fds(a, [b"F"], [w, r]) == 1
        data, fds, flags, addr = sagsocket.recv_fds(b, 8, 2)
        assert data == b"F" and len(fds) == 2 and flags == 0
        assert all(not os.get_inheritable(fd) for fd in fds)
        os.write(fds[0], b"via")
        assert os.read(r, 3) == b"via"
        for fd in fds:
            os.close(fd)
        # room for one of two: MSG_CTRUNC, and the one that fits arrives
        sagsocket.send_fds(a, [b"G"], [w, r])
        data, fds, flags, addr = sagsocket.recv_fds(b, 8, 1)
        assert data == b"G" and len(fds) == 1 and flags & socket.MSG_CTRUNC
        os.close(fds[0])
        # generic ancillary data: the kernel checks it
        with pytest.raises(OSError) as e:
            a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [10**6]))])
        assert e.value.errno == 9  # EBADF
        with pytest.raises(TypeError):
            a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS)])
    os.close(r)
    os.close(w)


def test_udp_truncation_and_sender():
    with sagsocket.Socket(socket.AF_INET, socket.SOCK_DGRAM) as u1, \
            sagsocket.Socket(socket.AF_INET, socket.SOCK_DGRAM) as u2:
        u1.bind(("127.0.0.1", 0))
        u2.bind(("127.0.0.1", 0))
        u2.settimeout(10)
        assert u1.sendmsg([b"hello ", b"world"], [], 0, u2.getsockname()) == 11
        data, anc, flags, addr = u2.recvmsg(5)
        assert data == b"hello" and flags & socket.MSG_TRUNC and addr == u1.getsockname()
        u1.sendmsg([b"abcdef"], (), 0, u2.getsockname())
        data, anc, flags, addr = u2.recvmsg(2, 0, socket.MSG_TRUNC)
        assert data == b"ab" and flags & socket.MSG_TRUNC


def test_recvmsg_on_tcp_has_no_address_and_times_out():
    with sagsocket.create_server(("127.0.0.1", 0)) as srv:
        with sagsocket.create_connection(srv.getsockname(), timeout=10) as c:
            a, _ = srv.accept()
            with a:
                a.settimeout(0.2)
                with pytest.raises(TimeoutError):
                    a.recvmsg(10)
                c.sendall(b"stream")
                data, anc, flags, addr = a.recvmsg(10)
                assert (data, addr) == (b"stream", None)
                a.setblocking(False)
                with pytest.raises(BlockingIOError):
                    a.recvmsg(10)
