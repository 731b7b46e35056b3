"""The socket: :class:`Socket`, a socket of libsagsocket with the habits of
:class:`socket.socket`; both faces of the package hand these out.

Every handle is released by the library's free function when its Python
object is garbage (cffi's ``ffi.gc``); ``close()`` is explicit and
idempotent. Blocking calls release the GIL (cffi does for every call).
"""

from __future__ import annotations

from typing import Any

from . import calls, files
from .addresses import AddrInfo, SockAddr, SocketInfo, resolve_address
from .args import c_string, check_int, seconds_to_us, text_of
from .calls import (ARG, E_INTERRUPTED, E_WOULD_BLOCK, OK, READ, SEND, cells, give_frame, retry,
                    signalled, take_frame)
from .errors import error_from
from .library import NULL, ffi, lib

# The functions of the hot paths, looked up once.
_recv = lib.sag_socket_recv
_send = lib.sag_socket_send
_unpack = ffi.unpack
_socket_fd = lib.sag_socket_fd


def recv_again(sock: "Socket", st: int, t0: float, buf, start: int, n: int, flags: int) -> None:
    """The slow path of a recv into buf[start:start+n] that failed with
    status st at t0 (calls.start()): signals (the call is made again with
    the time left), or the exception raised."""
    h = sock.handle
    st = retry(st, lambda us: _recv(h, buf, start, n, flags, cells.size, NULL), sock, t0, READ)
    if st != OK:
        raise error_from(st, sock)


def client_socket(node: str | None, service: str | None, family: int, socktype: int,
                  flags: int, protocol: int) -> "Socket":
    """make-client-socket: a socket connected to the first address of
    node/service that takes a connection (the library resolves and tries
    each in turn); HostNotFoundError (node, service) otherwise."""
    out = ffi.new("sag_socket **")
    n, s = c_string(node, "node"), c_string(service, "service")
    args = (check_int(family, "family"), check_int(socktype, "socktype"),
            check_int(flags, "flags"), check_int(protocol, "protocol"))
    calls.start()  # arms Ctrl-C on the main thread
    while True:
        st = lib.sag_make_client_socket(n, s, *args, out, NULL)
        if st == OK:
            return Socket.adopt(out[0])
        if not signalled(st):
            raise error_from(st)


def socket_for(ai: AddrInfo) -> "Socket | None":
    """create-socket: a socket of the addrinfo's family, type and protocol;
    None when the OS refuses one."""
    if not isinstance(ai, AddrInfo):
        raise TypeError("expected an AddrInfo")
    out = ffi.new("sag_socket **")
    st = lib.sag_create_socket(ai.handle, out, NULL)
    if st == lib.SAG_E_SOCKET:
        return None
    if st != OK:
        raise error_from(st)
    return Socket.adopt(out[0])


class Socket:
    """A socket of libsagsocket, with the habits of :class:`socket.socket`.

    ``Socket(family=AF_INET, type=SOCK_STREAM, proto=0)`` makes one;
    :func:`sagsocket.create_connection`, :func:`sagsocket.create_server` and
    the Sagittarius functions (:func:`sagsocket.scheme.make_client_socket`,
    ...) return them too. Use it as a context manager; ``close()`` is
    idempotent, and the handle is freed when the object is garbage.
    """

    __slots__ = ("handle", "_family", "_timeout", "_closed", "_io_refs", "__weakref__")

    def __init__(self, family: int = lib.SAG_AF_INET, type: int = lib.SAG_SOCK_STREAM,
                 proto: int = 0) -> None:
        out = cells.sock
        st = lib.sag_make_socket(check_int(family, "family"), check_int(type, "type"),
                                 check_int(proto, "proto"), out, NULL)
        if st != OK:
            raise error_from(st)
        self._setup(out[0], family)

    @classmethod
    def adopt(cls, handle) -> "Socket":
        """The Socket of a handle the library made (sag_socket *): it owns
        the handle from now on and frees it when garbage."""
        s = cls.__new__(cls)
        s._setup(handle, 0)
        return s

    def _setup(self, handle, family: int) -> None:
        self.handle = ffi.gc(handle, lib.sag_socket_free)
        # The family the socket was made with (0 when it came from the
        # library: then addresses are resolved for any family).
        self._family = family
        self._timeout: float | None = None
        self._closed = False
        self._io_refs = 0

    @property
    def tag(self) -> int:
        """The handle's value: unique while the socket lives; its tag in
        selectors and its key in fdsets."""
        return int(ffi.cast("uintptr_t", self.handle))

    # -- lifetime ------------------------------------------------------------

    def __enter__(self) -> "Socket":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the socket (idempotent). Files from :meth:`makefile` that
        are still open keep it open until they are closed, as with the
        socket module."""
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    def _real_close(self) -> None:
        st = lib.sag_socket_close(self.handle, NULL)
        if st != OK:
            raise error_from(st, self)

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._real_close()

    @property
    def closed(self) -> bool:
        """True once the library has closed the socket."""
        st = lib.sag_socket_is_closed(self.handle, cells.int, NULL)
        if st != OK:
            raise error_from(st, self)
        return cells.int[0] != 0

    def interrupt(self) -> None:
        """Wakes every call blocked on this socket in any thread at this
        moment; they raise :class:`SocketInterruptedError` (``accept`` of
        the Sagittarius face answers None)."""
        st = lib.sag_socket_interrupt(self.handle, NULL)
        if st != OK:
            raise error_from(st, self)

    def __repr__(self) -> str:
        # Numeric addresses only: socket-name may ask the resolver.
        if self.closed:
            return "<sagsocket.Socket [closed]>"
        out = f"<sagsocket.Socket fd={self.fileno()}"
        for label, fn in (("laddr", lib.sag_socket_get_info), ("raddr", lib.sag_socket_get_peer)):
            try:
                a = self._address_of(fn)
            except OSError:
                a = None
            if a is not None:
                out += f", {label}={a}"
        return out + ">"

    # -- identity -------------------------------------------------------------

    def fileno(self) -> int:
        """The OS descriptor (-1 once closed). The library owns it and
        keeps it in O_NONBLOCK mode: use it to wait for readiness only."""
        out = cells.int
        if _socket_fd(self.handle, out, NULL) != OK:
            return -1
        return out[0]

    @property
    def name(self) -> str | None:
        """socket-name: "host(ip):port" of the address it was connected or bound to."""
        st = lib.sag_socket_name(self.handle, cells.str, NULL)
        return text_of(cells.str[0]) if st == OK else None

    @property
    def node(self) -> str | None:
        st = lib.sag_socket_node(self.handle, cells.str, NULL)
        return text_of(cells.str[0]) if st == OK else None

    @property
    def service(self) -> str | None:
        st = lib.sag_socket_service(self.handle, cells.str, NULL)
        return text_of(cells.str[0]) if st == OK else None

    def _info(self, fn) -> SocketInfo | None:
        out = ffi.new("sag_socket_info **")
        st = fn(self.handle, out, NULL)
        if st != OK:
            raise error_from(st, self)
        return None if out[0] == NULL else SocketInfo(out[0])

    def info(self) -> SocketInfo | None:
        """getsockname(2) as a SocketInfo, or None."""
        return self._info(lib.sag_socket_get_info)

    def peer(self) -> SocketInfo | None:
        """getpeername(2) as a SocketInfo, or None when not connected."""
        return self._info(lib.sag_socket_get_peer)

    def _address_of(self, fn) -> tuple[str, int] | None:
        """(ip, port) of a socket-info, with no wrapper objects made."""
        c = cells
        st = fn(self.handle, c.info, NULL)
        if st != OK:
            raise error_from(st, self)
        info = c.info[0]
        if info == NULL:
            return None
        try:
            st = lib.sag_socket_info_port(info, c.int, NULL)
            if st == OK:
                port = c.int[0]
                st = lib.sag_socket_info_ip_address(info, c.ip, NULL)
            if st != OK:
                raise error_from(st, self)
            ip = c.ip[0]
            try:
                st = lib.sag_ip_address_to_string(ip, c.str, NULL)
                if st != OK:
                    raise error_from(st, self)
                return (ffi.string(c.str[0]).decode("ascii"), port)
            finally:
                lib.sag_ip_address_free(ip)
        finally:
            lib.sag_socket_info_free(info)

    def getsockname(self) -> tuple[str, int]:
        """(ip, port) the socket is bound to."""
        a = self._address_of(lib.sag_socket_get_info)
        if a is None:
            raise OSError(107, "the socket has no address")
        return a

    def getpeername(self) -> tuple[str, int]:
        """(ip, port) of the peer."""
        a = self._address_of(lib.sag_socket_get_peer)
        if a is None:
            raise OSError(107, "Transport endpoint is not connected")
        return a

    # -- blocking and timeouts ------------------------------------------------

    def settimeout(self, value: float | None) -> None:
        """None: block; 0: non-blocking; t > 0: blocking calls raise
        TimeoutError after t seconds (recv, accept: the read timeout; send:
        SO_SNDTIMEO)."""
        if value is not None:
            us = seconds_to_us(value)
            if us == 0 and value > 0:
                us = 1
        else:
            us = 0
        self._set_nonblocking(value == 0 if value is not None else False)
        if value is None or value == 0:
            self._set_timeouts(0)
        else:
            self._set_timeouts(us)
        self._timeout = None if value is None else float(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self.settimeout(None if flag else 0.0)

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    def _set_nonblocking(self, on: bool) -> None:
        st = lib.sag_socket_set_nonblocking(self.handle, 1 if on else 0, NULL)
        if st != OK:
            raise error_from(st, self)

    def _set_timeouts(self, us: int) -> None:
        st = lib.sag_socket_set_read_timeout(self.handle, us, NULL)
        if st == OK:
            st = lib.sag_socket_setsockopt_duration(self.handle, lib.SAG_SOL_SOCKET, lib.SAG_SO_SNDTIMEO, us, NULL)
        if st != OK:
            raise error_from(st, self)

    # -- connections ------------------------------------------------------------

    def accept_handle(self):
        """The handle of an accepted connection (sag_socket *), or None when
        interrupted or closed meanwhile (socket-accept answers #f then)."""
        out = cells.sock
        h = self.handle
        t0 = calls.start()
        st = lib.sag_socket_accept(h, out, NULL)
        if st != OK:
            st = retry(st, lambda us: lib.sag_socket_accept(h, out, NULL), self, t0, READ)
        if st == OK:
            return out[0]
        if st == E_INTERRUPTED:
            return None
        raise error_from(st, self)

    def accept(self) -> "tuple[Socket, tuple[str, int]]":
        """Waits for a connection: (new socket, peer address). Raises
        SocketInterruptedError when interrupted or closed meanwhile."""
        h = self.accept_handle()
        if h is None:
            e = error_from(E_INTERRUPTED, socket=self)
            raise e
        s = Socket.adopt(h)
        try:
            addr = s.getpeername()
        except OSError:
            addr = ("", 0)
        return s, addr

    def connect(self, address: Any) -> None:
        """Connects to (host, port) (or an AddrInfo), trying each address."""
        ai = resolve_address(self._family, address)
        us = -1 if not self._timeout else seconds_to_us(self._timeout)
        last: BaseException | None = None
        h = self.handle
        for entry in ai:
            t0 = calls.start()
            st = lib.sag_socket_connect(h, entry.handle, us, NULL)
            if st != OK:
                st = retry(st, lambda left, e=entry.handle: lib.sag_socket_connect(h, e, left, NULL),
                            self, t0, ARG, us)
            if st == OK:
                return
            if st == E_WOULD_BLOCK:
                raise error_from(st, self)
            last = error_from(st, self)
            if st not in (lib.SAG_E_CONNECTION,):
                break
        assert last is not None
        raise last

    def connect_ex(self, address: Any) -> int:
        try:
            self.connect(address)
            return 0
        except OSError as e:
            return e.errno or -1

    def bind(self, address: Any) -> None:
        """Binds to (host, port); host "" is every address."""
        ai = resolve_address(self._family, address, passive=True)
        st = lib.sag_socket_bind(self.handle, ai.handle, NULL)
        if st != OK:
            raise error_from(st, self)

    def listen(self, backlog: int = lib.SAG_SOMAXCONN) -> None:
        st = lib.sag_socket_listen(self.handle, check_int(backlog, "backlog"), NULL)
        if st != OK:
            raise error_from(st, self)

    def shutdown(self, how: int) -> None:
        st = lib.sag_socket_shutdown(self.handle, check_int(how, "how"), NULL)
        if st != OK:
            raise error_from(st, self)

    # -- data -------------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        """Sends the bytes of a buffer (bytes, bytearray, memoryview, ...).
        A blocking socket sends them all; a non-blocking one what fits."""
        # bytes go as they are (cffi passes their data); other buffers
        # through ffi.from_buffer.
        buf = data if type(data) is bytes else ffi.from_buffer(data)
        n = len(buf)
        h = self.handle
        t0 = calls.start()
        frame = take_frame()
        try:
            err, sent = frame[0], frame[1]
            st = _send(h, buf, 0, n, flags, sent, err)
            if st == OK:
                return sent[0]
            if st == E_INTERRUPTED:
                done = lib.sag_error_sent(err)
                if done and signalled(st, frame):
                    return done  # a partial send, as send(2) reports one

                def again(us: int) -> int:
                    # After a signal: a partial send is the result; if
                    # nothing went, send again with the time left.
                    went = frame[2]
                    if went:
                        sent[0] = went
                        return OK
                    return _send(h, buf, 0, n, flags, sent, err)

                if not done:
                    st = retry(st, again, self, t0, SEND, frame=frame)
                    if st == OK:
                        return sent[0]
            raise error_from(st, self, err=err)
        finally:
            give_frame(frame)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Sends every byte of a buffer (also on a timeout socket)."""
        buf = data if type(data) is bytes else ffi.from_buffer(data)
        n = len(buf)
        start = 0
        h = self.handle
        frame = take_frame()
        err, sent = frame[0], frame[1]

        def again(us: int) -> int:
            # After a signal: resume after what went, with the time left.
            nonlocal start
            start += frame[2]
            return _send(h, buf, start, n - start, flags, sent, err)

        try:
            while start < n:
                t0 = calls.start()  # each send has the send timeout, as the library's
                st = _send(h, buf, start, n - start, flags, sent, err)
                if st != OK:
                    try:
                        st = retry(st, again, self, t0, SEND, frame=frame)
                    except OSError as e:  # its timeout passed during the retries
                        e.sent = start + getattr(e, "sent", 0)
                        raise
                if st == OK:
                    start += sent[0]
                    continue
                e = error_from(st, self, err=err)
                e.sent = start + getattr(e, "sent", 0)
                raise e
        finally:
            give_frame(frame)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """At most bufsize bytes; b"" when the peer has closed."""
        buf, chars, got = cells.rx
        if bufsize > 65536:
            buf = ffi.new("uint8_t[]", bufsize)
            chars = ffi.cast("char *", buf)
        elif bufsize < 0:
            raise ValueError("negative buffersize in recv")
        t0 = calls.start()
        st = _recv(self.handle, buf, 0, bufsize, flags, got, NULL)
        if st == OK:
            return _unpack(chars, got[0])  # bytes, one copy
        recv_again(self, st, t0, buf, 0, bufsize, flags)
        return _unpack(chars, got[0])

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Receives into a writable buffer (bytearray, memoryview, array,
        ...): at most nbytes (0: its size); returns the count."""
        try:
            buf = ffi.from_buffer(buffer, require_writable=True)
        except BufferError:
            raise TypeError("recv_into() argument must be a writable buffer") from None
        size = len(buf)
        if nbytes == 0:
            nbytes = size
        elif nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        elif nbytes > size:
            raise ValueError("buffer too small for requested bytes")
        got = cells.size
        t0 = calls.start()
        st = _recv(self.handle, buf, 0, nbytes, flags, got, NULL)
        if st == OK:
            return got[0]
        recv_again(self, st, t0, buf, 0, nbytes, flags)
        return got[0]

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, tuple[str, int]]:
        if check_int(bufsize, "bufsize") < 0:
            raise ValueError("negative buffersize in recvfrom")
        buf = ffi.new("uint8_t[]", max(bufsize, 1))
        sa = SockAddr()
        n = self.recvfrom_range(buf, 0, bufsize, flags, sa)
        # The bytes are taken: nothing after this may fail. A stream socket
        # reports no sender (the sockaddr stays empty): None, as the socket
        # module gives.
        return ffi.buffer(buf, n)[:], sa.address()

    def recvfrom_range(self, buf, start: int, n: int, flags: int, sa: SockAddr,
                  would_block: bool = False) -> int:
        """recvfrom into buf[start:start+n] (both faces); -1 when the call
        would block and ``would_block`` asks for that rather than the
        exception."""
        h, a = self.handle, sa.handle
        t0 = calls.start()
        st = lib.sag_socket_recvfrom(h, buf, start, n, flags, a, cells.size, NULL)
        if st != OK:
            st = retry(st, lambda us: lib.sag_socket_recvfrom(h, buf, start, n, flags, a, cells.size, NULL),
                        self, t0, READ)
        if st == OK:
            return cells.size[0]
        if would_block and st == lib.SAG_E_WOULD_BLOCK:
            return -1
        raise error_from(st, self)

    def sendto(self, data: Any, address: Any, flags: int = 0) -> int:
        if isinstance(address, SockAddr):
            sa = address
        else:
            ai = AddrInfo.resolve(address[0], str(address[1]),
                                  AddrInfo.hint(self._family, lib.SAG_SOCK_DGRAM, lib.SAG_AI_NUMERICSERV, 0))
            sa = ai.sockaddr
        buf = ffi.from_buffer(data)
        return self.sendto_range(buf, 0, len(buf), flags, sa)

    def sendto_range(self, buf, start: int, n: int, flags: int, sa: SockAddr) -> int:
        """sendto of buf[start:start+n] (both faces)."""
        h, a = self.handle, sa.handle
        t0 = calls.start()
        st = lib.sag_socket_sendto(h, buf, start, n, flags, a, cells.size, NULL)
        if st != OK:
            st = retry(st, lambda us: lib.sag_socket_sendto(h, buf, start, n, flags, a, cells.size, NULL),
                        self, t0, SEND)
        if st == OK:
            return cells.size[0]
        raise error_from(st, self)

    # -- options ------------------------------------------------------------------

    def setsockopt(self, level: int, optname: int, value: "int | bytes") -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            st = lib.sag_socket_setsockopt_int(self.handle, level, optname, value, NULL)
        elif isinstance(value, bool):
            st = lib.sag_socket_setsockopt_int(self.handle, level, optname, int(value), NULL)
        else:
            b = ffi.from_buffer(value)
            st = lib.sag_socket_setsockopt_bytes(self.handle, level, optname, b, 0, len(b), NULL)
        if st != OK:
            raise error_from(st, self)

    def getsockopt(self, level: int, optname: int, buflen: int = 0) -> "int | bytes":
        if buflen == 0:
            st = lib.sag_socket_getsockopt_int(self.handle, level, optname, cells.int, NULL)
            if st != OK:
                raise error_from(st, self)
            return cells.int[0]
        if buflen < 0:
            raise ValueError("buflen must not be negative")
        buf = ffi.new("uint8_t[]", buflen)
        st = lib.sag_socket_getsockopt_bytes(self.handle, level, optname, buf, 0, buflen, cells.size, NULL)
        if st != OK:
            raise error_from(st, self)
        return ffi.buffer(buf, cells.size[0])[:]

    # -- files -------------------------------------------------------------------

    def makefile(self, mode: str = "r", buffering: int | None = None, *,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None):
        """A file object over the socket, as socket.socket.makefile: "r",
        "w", "rw" with "b" for bytes. Text files are io.TextIOWrapper over
        io.BufferedReader/Writer/RWPair over a raw SocketIO."""
        f = files.make_file(self, self._decref_socketios, mode, buffering, encoding, errors, newline)
        self._io_refs += 1
        return f
