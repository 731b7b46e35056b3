"""The Python face as the socket module: sendto's argument orders, family,
type and proto, the default timeout, SOCK_NONBLOCK/SOCK_CLOEXEC, makefile
after a timeout, IPv6 4-tuples, close of a descriptor closed elsewhere,
ResourceWarning for unclosed sockets."""

import errno
import fcntl
import gc
import os
import socket

import pytest

import sagsocket


def _udp_pair(family=socket.AF_INET, host="127.0.0.1"):
    r = sagsocket.Socket(family, socket.SOCK_DGRAM)
    w = sagsocket.Socket(family, socket.SOCK_DGRAM)
    r.bind((host, 0))
    r.settimeout(10)
    return r, w


def test_sendto_takes_the_socket_modules_argument_orders():
    r, w = _udp_pair()
    with r, w:
        assert w.sendto(b"one", r.getsockname()) == 3
        assert w.sendto(b"two", 0, r.getsockname()) == 3
        assert w.sendto(memoryview(b"three"), socket.MSG_DONTWAIT, r.getsockname()) == 5
        assert [r.recvfrom(10)[0] for _ in range(3)] == [b"one", b"two", b"three"]
        with pytest.raises(TypeError):
            w.sendto(b"x", "not flags", r.getsockname())


def test_family_type_proto_on_every_socket(server):
    c = sagsocket.create_connection(server.getsockname(), timeout=10)
    a, _ = server.accept()
    u = sagsocket.Socket(socket.AF_INET, socket.SOCK_DGRAM)
    from sagsocket import scheme
    m = scheme.make_client_socket("127.0.0.1", str(server.getsockname()[1]))
    a2 = scheme.socket_accept(server)
    try:
        for s in (server, c, a, m, a2):
            assert s.family is socket.AF_INET and isinstance(s.family, socket.AddressFamily)
            assert s.type is socket.SOCK_STREAM and isinstance(s.type, socket.SocketKind)
            assert s.proto in (0, socket.IPPROTO_TCP)
        assert u.family is socket.AF_INET and u.type is socket.SOCK_DGRAM and u.proto == 0
    finally:
        for s in (c, a, u, m, a2):
            s.close()


def test_setdefaulttimeout_applies_to_new_and_accepted_sockets(server):
    assert sagsocket.getdefaulttimeout() is None
    sagsocket.setdefaulttimeout(7.5)
    try:
        with sagsocket.Socket() as s:
            assert s.gettimeout() == 7.5
        c = sagsocket.create_connection(server.getsockname())
        a, _ = server.accept()
        with c, a:
            assert c.gettimeout() == 7.5 and a.gettimeout() == 7.5
        with pytest.raises(ValueError):
            sagsocket.setdefaulttimeout(-1)
    finally:
        sagsocket.setdefaulttimeout(None)
    with sagsocket.Socket() as s:
        assert s.gettimeout() is None


def test_sock_nonblock_and_sock_cloexec_in_the_type():
    with sagsocket.Socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK) as s:
        assert s.gettimeout() == 0.0 and not s.getblocking()
        assert s.type is socket.SOCK_STREAM
    with sagsocket.Socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        assert s.type is socket.SOCK_DGRAM and s.getblocking()
        assert fcntl.fcntl(s.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC


def test_a_makefile_reader_refuses_to_read_after_a_timeout(pair):
    c, a = pair
    a.settimeout(0.05)
    f = a.makefile("rb")
    with pytest.raises(TimeoutError):
        f.read(1)
    c.sendall(b"late")
    with pytest.raises(OSError, match="timed out object"):
        f.read(1)
    f.close()
    assert a.recv(10) == b"late"  # the socket itself still reads


def test_the_last_files_close_does_not_call_a_subclasss_close_again(server):
    # As the socket module: the file's close closes the socket through
    # _real_close, so a subclass's close() runs once, when the user calls it.
    calls = []

    class Counted(sagsocket.Socket):
        def close(self):
            calls.append(1)
            super().close()

    s = Counted(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(server.getsockname())
    a, _ = server.accept()
    with a:
        f = s.makefile("rb")
        s.close()
        assert not s.closed  # the file keeps it open
        f.close()
        assert s.closed and calls == [1]


def test_failed_accepts_and_connects_give_their_frames_back(server):
    # A frame (error object, buffers) taken by accept or create_connection
    # goes back to the free list on a failure too, not only on success.
    from sagsocket import calls
    for _ in range(3):
        calls.give_frame(calls.Frame())
    n = len(calls._free_frames)
    server.setblocking(False)
    for _ in range(5):
        with pytest.raises(BlockingIOError):
            server.accept()
    assert len(calls._free_frames) == n
    port = server.getsockname()[1]
    server.close()  # nothing listens there now
    for _ in range(5):
        with pytest.raises(OSError) as e:  # the one-call path (no timeout)
            sagsocket.create_connection(("127.0.0.1", port))
        assert e.value.errno == errno.ECONNREFUSED
    assert len(calls._free_frames) == n


def test_ipv6_addresses_are_4_tuples_with_flowinfo_checked():
    try:
        r, w = _udp_pair(socket.AF_INET6, "::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with r, w:
        name = r.getsockname()
        assert len(name) == 4 and name[0] == "::1" and name[2:] == (0, 0)
        w.sendto(b"v6", ("::1", name[1], 0, 0))
        w.sendto(b"v6b", ("::1", name[1]))
        data, frm = r.recvfrom(10)
        assert data == b"v6" and frm == ("::1", w.getsockname()[1], 0, 0)
        with pytest.raises(OverflowError):
            w.sendto(b"x", ("::1", name[1], 1 << 20, 0))
        with pytest.raises(OverflowError):
            w.sendto(b"x", ("::1", name[1], -1, 0))
        with pytest.raises(TypeError):
            w.sendto(b"x", ("::1", name[1], 0, 0, 0))
    with sagsocket.Socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(TypeError):
            s.sendto(b"x", ("127.0.0.1", 9, 0, 0))
        with pytest.raises(OverflowError):
            s.sendto(b"x", ("127.0.0.1", 70000))


def test_close_of_a_descriptor_closed_elsewhere_raises_ebadf():
    s = sagsocket.Socket()
    os.close(s.fileno())
    with pytest.raises(OSError) as ei:
        s.close()
    assert ei.value.errno == errno.EBADF
    assert s.closed and s.fileno() == -1
    s.close()  # idempotent after that


def test_an_unclosed_socket_gives_a_resource_warning():
    s = sagsocket.Socket()
    with pytest.warns(ResourceWarning, match="unclosed"):
        del s
        gc.collect()
    with sagsocket.Socket() as s:
        pass
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del s
        gc.collect()


def test_recvfrom_into_on_udp_and_tcp(pair):
    r, w = _udp_pair()
    with r, w:
        w.sendto(b"datagram", r.getsockname())
        buf = bytearray(20)
        n, frm = r.recvfrom_into(memoryview(buf)[4:], 5)
        assert (n, bytes(buf[4:9]), frm) == (5, b"datag", ("127.0.0.1", w.getsockname()[1]))
        with pytest.raises(ValueError):
            r.recvfrom_into(bytearray(2), 3)
        with pytest.raises(TypeError):
            r.recvfrom_into(b"read-only")
    c, a = pair
    c.sendall(b"stream")
    buf = bytearray(6)
    assert a.recvfrom_into(buf) == (6, None) and buf == b"stream"


def test_sendfile_sends_the_file_from_offset_and_moves_its_position(pair, tmp_path):
    c, a = pair
    data = os.urandom(100_000)
    p = tmp_path / "f"
    p.write_bytes(data)
    with open(p, "rb") as f:
        assert c.sendfile(f, 1000, 50_000) == 50_000
        assert f.tell() == 51_000
    got = bytearray()
    while len(got) < 50_000:
        got += a.recv(65536)
    assert got == data[1000:51_000]
    with open(p, "r") as f, pytest.raises(ValueError):
        c.sendfile(f)


def test_inheritable_and_dualstack():
    with sagsocket.Socket() as s:
        assert s.get_inheritable() is False
        s.set_inheritable(True)
        assert s.get_inheritable() is True
    if not sagsocket.has_dualstack_ipv6():
        pytest.skip("no IPv6 here")
    with sagsocket.create_server(("::1", 0), family=socket.AF_INET6) as srv6:
        assert srv6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
    with sagsocket.create_server(("", 0), family=socket.AF_INET6, dualstack_ipv6=True) as srv:
        assert srv.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
        srv.settimeout(10)
        with sagsocket.create_connection(("127.0.0.1", srv.getsockname()[1]), timeout=10) as c:
            a, addr = srv.accept()
            with a:
                assert addr[0] == "::ffff:127.0.0.1" and len(addr) == 4
    with pytest.raises(ValueError):
        sagsocket.create_server(("", 0), dualstack_ipv6=True)


def test_two_threads_closing_one_socket_raise_nothing():
    # The socket module's close from two threads at once: both return. The
    # check for a descriptor closed behind the library's back (EBADF) must
    # not take the other thread's close for one.
    import threading
    failures = []
    for _ in range(300):
        s = sagsocket.Socket()
        s.fileno()
        go = threading.Barrier(2)

        def close():
            go.wait(5)
            try:
                s.close()
            except OSError as e:
                failures.append(e)
        threads = [threading.Thread(target=close) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert failures == []
    # and os.close behind its back is still EBADF
    s = sagsocket.Socket()
    os.close(s.fileno())
    with pytest.raises(OSError) as e:
        s.close()
    assert e.value.errno == errno.EBADF
