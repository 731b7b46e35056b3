"""Unix-domain sockets through the Python face, as the socket module has
them: Socket(AF_UNIX, ...) by path and in the abstract namespace,
datagrams with sendto/recvfrom, socketpair(), SO_PEERCRED."""
import os
import socket
import struct

import pytest

import sagsocket
from sagsocket import errors as E


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "s")


def connect_and_send(srv, c, address, data):
    """c connects to the listening srv at address and sends data, which the
    accepted socket receives whole."""
    c.connect(address)
    a, _ = srv.accept()
    with a:
        c.sendall(data)
        a.settimeout(10)
        assert a.recv(len(data) + 1) == data


def test_stream_by_path(path):
    with sagsocket.Socket(sagsocket.AF_UNIX, sagsocket.SOCK_STREAM) as srv:
        srv.bind(path)
        srv.listen()
        assert os.path.exists(path)
        assert srv.getsockname() == path
        with sagsocket.Socket(sagsocket.AF_UNIX, sagsocket.SOCK_STREAM) as c:
            c.settimeout(10)
            c.connect(path)
            a, addr = srv.accept()
            with a:
                a.settimeout(10)
                assert addr == ""  # the client did not bind: unnamed
                assert c.getpeername() == path
                c.sendall(b"hello")
                assert a.recv(16) == b"hello"
                a.sendall(b"back")
                assert c.recv(16) == b"back"
                pid, uid, gid = struct.unpack("iII", a.getsockopt(sagsocket.SOL_SOCKET,
                                                                sagsocket.SO_PEERCRED, 12))
                assert (pid, uid, gid) == (os.getpid(), os.getuid(), os.getgid())
                # a file object over it
                f = c.makefile("rwb")
                a.sendall(b"line\n")
                assert f.readline() == b"line\n"
                f.close()


def test_the_socket_module_talks_to_it(path):
    with sagsocket.Socket(sagsocket.AF_UNIX) as srv:
        srv.bind(path)
        srv.listen()
        with socket.socket(socket.AF_UNIX) as c:
            c.settimeout(10)
            connect_and_send(srv, c, path, b"from the socket module")


def test_errors(path):
    with sagsocket.Socket(sagsocket.AF_UNIX) as c:
        with pytest.raises(E.SocketConnectionError) as ei:
            c.connect(path)  # nothing there
        assert ei.value.errno == 2  # ENOENT
    with sagsocket.Socket(sagsocket.AF_UNIX) as s1, sagsocket.Socket(sagsocket.AF_UNIX) as s2:
        s1.bind(path)
        with pytest.raises(OSError) as ei:
            s2.bind(path)
        assert ei.value.errno == 98  # EADDRINUSE
    with sagsocket.Socket(sagsocket.AF_UNIX) as c:
        with pytest.raises(Exception):
            c.connect("x" * 200)  # longer than sun_path


def test_abstract_namespace():
    name = b"\0sagsocket-python-%d" % os.getpid()
    with sagsocket.Socket(sagsocket.AF_UNIX) as srv:
        srv.bind(name)
        srv.listen()
        assert srv.getsockname() == name  # bytes, as the socket module
        with sagsocket.Socket(sagsocket.AF_UNIX) as c:
            connect_and_send(srv, c, name, b"abstract")


def test_datagrams(tmp_path):
    spath, cpath = str(tmp_path / "server"), str(tmp_path / "client")
    with sagsocket.Socket(sagsocket.AF_UNIX, sagsocket.SOCK_DGRAM) as srv, \
         sagsocket.Socket(sagsocket.AF_UNIX, sagsocket.SOCK_DGRAM) as cli:
        srv.bind(spath)
        cli.bind(cpath)
        srv.settimeout(10)
        cli.settimeout(10)
        assert cli.sendto(b"ping", spath) == 4
        data, addr = srv.recvfrom(64)
        assert (data, addr) == (b"ping", cpath)
        srv.sendto(b"pong", addr)
        assert cli.recvfrom(64) == (b"pong", spath)
    # an unbound sender has no address: None, as the socket module says
    with sagsocket.Socket(sagsocket.AF_UNIX, sagsocket.SOCK_DGRAM) as srv, \
         sagsocket.Socket(sagsocket.AF_UNIX, sagsocket.SOCK_DGRAM) as lone:
        p = str(tmp_path / "third")
        srv.bind(p)
        srv.settimeout(10)
        lone.sendto(b"anon", p)
        assert srv.recvfrom(64) == (b"anon", None)


def test_socketpair():
    a, b = sagsocket.socketpair()
    with a, b:
        a.settimeout(10)
        b.settimeout(10)
        a.sendall(b"one")
        assert b.recv(8) == b"one"
        b.sendall(b"two")
        assert a.recv(8) == b"two"
        cred = struct.unpack("iII", b.getsockopt(sagsocket.SOL_SOCKET, sagsocket.SO_PEERCRED, 12))
        assert cred[0] == os.getpid()
        a.close()
        assert b.recv(8) == b""  # end of stream
    a, b = sagsocket.socketpair(sagsocket.AF_UNIX, sagsocket.SOCK_DGRAM)
    with a, b:
        b.settimeout(10)
        a.send(b"d1")
        a.send(b"d2")
        assert b.recv(8) == b"d1"  # datagram boundaries kept
        assert b.recv(8) == b"d2"
    with pytest.raises(OSError):
        sagsocket.socketpair(sagsocket.AF_INET)
