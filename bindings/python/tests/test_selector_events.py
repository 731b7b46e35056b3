"""sagsocket.Selector as the selectors module's: EVENT_WRITE, EVENT_READ |
EVENT_WRITE, raw descriptors and objects with fileno(), the errors
selectors raises, and asyncio's SelectorEventLoop over it with
sock_connect, sock_accept, sock_recv and sock_sendall on non-blocking
sagsocket sockets. Loopback only; every wait is bounded."""

import asyncio
import os
import selectors
import socket

import pytest

import sagsocket
from sagsocket import EVENT_READ, EVENT_WRITE


def _events(ready):
    return {k.fd: ev for k, ev in ready}


def test_write_interest_and_both(pair):
    c, a = pair
    with sagsocket.Selector() as sel:
        kc = sel.register(c, EVENT_WRITE, "c")
        ka = sel.register(a, EVENT_READ | EVENT_WRITE, "a")
        assert (kc.fd, kc.events, ka.events) == (c.fileno(), EVENT_WRITE, EVENT_READ | EVENT_WRITE)
        # Nothing to read: both writable only.
        assert _events(sel.select(5)) == {c.fileno(): EVENT_WRITE, a.fileno(): EVENT_WRITE}
        c.sendall(b"ping")
        got = {}
        for _ in range(50):  # bounded: until the bytes have arrived
            got = _events(sel.select(0.1))
            if got.get(a.fileno()) == EVENT_READ | EVENT_WRITE:
                break
        assert got == {c.fileno(): EVENT_WRITE, a.fileno(): EVENT_READ | EVENT_WRITE}
        # Level-triggered, as EpollSelector: reported again while ready.
        assert _events(sel.select(0))[a.fileno()] == EVENT_READ | EVENT_WRITE
        assert a.recv(4) == b"ping"
        # modify: read only, with new data; then nothing is ready.
        key = sel.modify(a, EVENT_READ, "a2")
        assert key.events == EVENT_READ and key.data == "a2" and sel.get_key(a) == key
        sel.unregister(c)
        assert sel.select(0) == []


def test_a_full_send_buffer_is_not_writable_until_the_peer_reads(pair):
    c, a = pair
    c.setblocking(False)
    with sagsocket.Selector() as sel:
        sel.register(c, EVENT_WRITE)
        sent = 0
        for _ in range(5):  # bounded: fill, and again should room appear
            try:
                while True:
                    sent += c.send(b"x" * 65536)
            except BlockingIOError:
                pass
            if sel.select(0.05) == []:
                break
        assert sent > 0 and sel.select(0.05) == []
        got = 0
        while got < sent:
            b = a.recv(1 << 20)
            assert b
            got += len(b)
        assert _events(sel.select(5)) == {c.fileno(): EVENT_WRITE}


def test_raw_descriptors_and_objects_with_fileno(pair):
    c, a = pair
    r, w = os.pipe()
    std = socket.socket()  # the socket module's: any object with fileno()
    try:
        with sagsocket.Selector() as sel:
            kr = sel.register(r, EVENT_READ, "r")
            kw = sel.register(w, EVENT_WRITE, "w")
            ks = sel.register(std, EVENT_WRITE, "std")
            assert kr.fileobj == r and kr.fd == r and ks.fd == std.fileno()
            ready = _events(sel.select(5))
            assert ready[w] == EVENT_WRITE and r not in ready
            os.write(w, b"z")
            assert _events(sel.select(5))[r] == EVENT_READ
            assert sel.get_key(r).data == "r" and sel.get_map()[std] is ks
            assert os.read(r, 1) == b"z"
            sel.unregister(std)
            # The same descriptor twice (an object and its number): KeyError.
            sel.register(a, EVENT_READ)
            with pytest.raises(KeyError):
                sel.register(a.fileno(), EVENT_READ)
            with pytest.raises(KeyError):
                sel.register(r, EVENT_WRITE)
            # Closed before unregister (as selectors allows): no error.
            os.close(r)
            sel.unregister(r)
            r = -1
            assert set(sel.get_map()) == {w, a.fileno()}
    finally:
        std.close()
        os.close(w)
        if r >= 0:
            os.close(r)


def test_the_errors_selectors_raises(pair):
    c, a = pair
    sel = sagsocket.Selector()
    with pytest.raises(ValueError):
        sel.register(a, 0)
    with pytest.raises(ValueError):
        sel.register(a, 99)
    with pytest.raises(ValueError):
        sel.register(-10, EVENT_READ)
    with pytest.raises(ValueError):
        sel.register("not a file", EVENT_READ)
    with pytest.raises(KeyError):
        sel.unregister(a)
    with pytest.raises(KeyError):
        sel.modify(999999, EVENT_READ)
    with pytest.raises(KeyError):
        sel.get_key(a)
    with pytest.raises(KeyError):
        sel.get_map()[999999]
    # A descriptor that is not open: the library's OSError (EBADF), no key.
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as ei:
        sel.register(r, EVENT_READ)
    assert ei.value.errno == 9 and len(sel.get_map()) == 0
    sel.register(a, EVENT_READ)
    mapping = sel.get_map()
    sel.close()
    sel.close()  # idempotent
    with pytest.raises(RuntimeError):
        sel.get_key(a)
    with pytest.raises(KeyError):
        mapping[a]
    assert sel.get_map() is None


def test_asyncio_selector_event_loop_over_sagsocket():
    """asyncio's own loop, on our selector, with its sock_* calls on
    non-blocking sagsocket sockets: 4 MiB each way, byte for byte."""
    payload = os.urandom(4 << 20)

    async def main():
        loop = asyncio.get_running_loop()
        srv = sagsocket.Socket(sagsocket.AF_INET, sagsocket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(5)
        srv.setblocking(False)
        cli = sagsocket.Socket(sagsocket.AF_INET, sagsocket.SOCK_STREAM)
        cli.setblocking(False)
        try:
            accepting = asyncio.ensure_future(loop.sock_accept(srv))
            await asyncio.wait_for(loop.sock_connect(cli, srv.getsockname()), 10)
            conn, addr = await asyncio.wait_for(accepting, 10)
            assert isinstance(conn, sagsocket.Socket) and addr == cli.getsockname()
            conn.setblocking(False)

            async def receive(s):
                got = bytearray()
                while len(got) < len(payload):
                    b = await loop.sock_recv(s, 65536)
                    assert b, "end of stream before every byte"
                    got += b
                return bytes(got)

            async def echo():
                # The server sends back what it received, from its own task.
                data = await receive(conn)
                await loop.sock_sendall(conn, data)

            server = asyncio.ensure_future(echo())
            await asyncio.wait_for(loop.sock_sendall(cli, payload), 30)
            back = await asyncio.wait_for(receive(cli), 30)
            await asyncio.wait_for(server, 30)
            assert back == payload
            conn.close()
        finally:
            cli.close()
            srv.close()

    sel = sagsocket.Selector()
    loop = asyncio.SelectorEventLoop(sel)
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 60))
        assert loop._selector is sel
    finally:
        loop.close()
    assert sel.get_map() is None  # the loop closed its selector


def test_asyncio_add_reader_on_a_pipe():
    """loop.add_reader / add_writer on raw descriptors (what asyncio's
    self-pipe and subprocess plumbing use)."""
    r, w = os.pipe()
    loop = asyncio.SelectorEventLoop(sagsocket.Selector())
    try:
        got = loop.create_future()
        loop.add_reader(r, lambda: got.set_result(os.read(r, 10)) if not got.done() else None)
        writable = loop.create_future()
        loop.add_writer(w, lambda: writable.set_result(True) if not writable.done() else None)
        assert loop.run_until_complete(asyncio.wait_for(writable, 10))
        loop.remove_writer(w)
        os.write(w, b"hi")
        assert loop.run_until_complete(asyncio.wait_for(got, 10)) == b"hi"
        assert loop.remove_reader(r)
    finally:
        loop.close()
        os.close(r)
        os.close(w)
