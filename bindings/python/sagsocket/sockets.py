"""The socket: :class:`Socket`, a socket of libsagsocket with the habits of
:class:`socket.socket`; both faces of the package hand these out.

Every handle is released by the library's free function when its Python
object is garbage (cffi's ``ffi.gc``); ``close()`` is explicit and
idempotent. Blocking calls release the GIL (cffi does for every call).
"""

from __future__ import annotations

import errno
import os
import threading
import socket as _socket
import warnings
from typing import Any

from . import calls, files
from .addresses import AddrInfo, SockAddr, SocketInfo, endpoint, resolve_address
from .args import c_string, check_int, descriptor, seconds_to_us, text_of
from .calls import (ARG, E_INTERRUPTED, E_WOULD_BLOCK, OK, READ, Frame, cells, give_frame, retry, signalled,
                    give_back, take_free_frame)
from .errors import error_from
from .messages import Messages
from .transfer import Transfer
from .library import NULL, ffi, lib

# SOCK_NONBLOCK and SOCK_CLOEXEC, or'ed into a type as socket(2) takes them.
_TYPE_FLAGS = _socket.SOCK_NONBLOCK | _socket.SOCK_CLOEXEC
# The timeout of new sockets (setdefaulttimeout).
_default_timeout: float | None = None


def getdefaulttimeout() -> float | None:
    """The timeout (seconds, or None) new Socket objects start with."""
    return _default_timeout


def setdefaulttimeout(timeout: float | None) -> None:
    """Sets the timeout new Socket objects (and accepted ones) start with,
    as socket.setdefaulttimeout."""
    global _default_timeout
    if timeout is not None:
        seconds_to_us(timeout)  # checks it
        timeout = float(timeout)
    _default_timeout = timeout


def fromfd(fd: int, family: int, type: int, proto: int = 0) -> "Socket":
    """A Socket over a duplicate of descriptor fd (the caller keeps fd), as
    socket.fromfd."""
    return Socket(family, type, proto, fileno=os.dup(descriptor(fd)))


def _enum(cls, value: int) -> int:
    try:
        return cls(value)
    except ValueError:
        return value


# The functions of the hot paths, looked up once.
_socket_fd = lib.sag_socket_fd
_accept_peer = lib.sag_socket_accept_peer
_make_client_socket = lib.sag_make_client_socket
_inet_ntop = _socket.inet_ntop
_AF_INET, _AF_INET6 = _socket.AF_INET, _socket.AF_INET6
_close = lib.sag_socket_close
_new_socket = object.__new__
_gc = ffi.gc
_socket_free = lib.sag_socket_free
_release_lock = threading.Lock()  # Socket.close's first-close test


def client_socket(node: str | None, service: str | None, family: int, socktype: int,
                  flags: int, protocol: int) -> "Socket":
    """make-client-socket: a socket connected to the first address of
    node/service that takes a connection (the library resolves and tries
    each in turn); HostNotFoundError (node, service) otherwise."""
    n, s = c_string(node, "node"), c_string(service, "service")
    if not (type(family) is int and type(socktype) is int and type(flags) is int and type(protocol) is int):
        family, socktype, flags, protocol = (check_int(family, "family"), check_int(socktype, "socktype"),
                                             check_int(flags, "flags"), check_int(protocol, "protocol"))
    calls.start()  # arms Ctrl-C on the main thread
    try:  # the frame as recv takes it: no with-block (three Python calls)
        f = take_free_frame()
    except IndexError:
        f = Frame()
    out, err = f.sock, f.err  # the frame's cell: no allocation per call
    while True:
        st = _make_client_socket(n, s, family, socktype, flags, protocol, out, err)
        if st == OK:
            sock = _new_socket(Socket)
            sock._setup(out[0], None, None, None)
            f.went = 0
            give_frame(f)
            return sock
        if not signalled(st, f):
            e = error_from(st, err=err)
            give_back(f)
            raise e


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


class Socket(Transfer, Messages):
    """A socket of libsagsocket, with the habits of :class:`socket.socket`.

    ``Socket(family=AF_INET, type=SOCK_STREAM, proto=0)`` makes one;
    :func:`sagsocket.create_connection`, :func:`sagsocket.create_server` and
    the Sagittarius functions (:func:`sagsocket.scheme.make_client_socket`,
    ...) return them too. Use it as a context manager; ``close()`` is
    idempotent, and the handle is freed when the object is garbage.
    """

    __slots__ = ("handle", "_family", "_type", "_proto", "_timeout", "_closed", "_io_refs",
                 "_fd", "_released", "_shown", "__weakref__")

    def __init__(self, family: int = -1, type: int = -1, proto: int = -1,
                 fileno: int | None = None) -> None:
        family, type, proto = check_int(family, "family"), check_int(type, "type"), check_int(proto, "proto")
        if fileno is not None:
            # A descriptor made elsewhere: the socket owns it from now on.
            # Family, type and protocol are the kernel's unless given.
            fd = descriptor(fileno)
            out = cells.sock
            st = lib.sag_socket_from_fd(fd, out, NULL)
            if st != OK:
                raise error_from(st)
            kind = type & ~_TYPE_FLAGS if type != -1 else None
            self._setup(out[0], None if family == -1 else family, kind, None if proto == -1 else proto)
            self.settimeout(_default_timeout)
            return
        family = lib.SAG_AF_INET if family == -1 else family
        type = lib.SAG_SOCK_STREAM if type == -1 else type
        proto = 0 if proto == -1 else proto
        flags = type & _TYPE_FLAGS
        kind = type & ~_TYPE_FLAGS
        out = cells.sock
        st = lib.sag_make_socket(family, kind, proto, out, NULL)
        if st != OK:
            raise error_from(st)
        self._setup(out[0], family, kind, proto)
        self.settimeout(0.0 if flags & _socket.SOCK_NONBLOCK else _default_timeout)

    @classmethod
    def adopt(cls, handle) -> "Socket":
        """The Socket of a handle the library made (sag_socket *): it owns
        the handle from now on and frees it when garbage. Its timeout is
        the library's (none), not the default timeout."""
        s = cls.__new__(cls)
        s._setup(handle, None, None, None)
        return s

    def _setup(self, handle, family: int | None, kind: int | None, proto: int | None) -> None:
        self.handle = _gc(handle, _socket_free)
        # Family, type and protocol: asked of the OS when first read for a
        # socket the library made (None until then).
        self._family, self._type, self._proto = family, kind, proto
        self._timeout: float | None = None
        self._closed = False
        self._io_refs = 0
        self._fd = -1  # the descriptor, once asked for (fileno)
        self._released = False  # a close has begun (close)
        self._shown = False  # fileno() has answered: see close

    def __del__(self) -> None:
        # An unclosed socket that becomes garbage: a ResourceWarning (shown
        # with -W default or -X dev), as the socket module gives; the
        # library's free function (ffi.gc) closes it.
        try:
            if self._released:
                return  # close() reached the library: nothing to warn of
            h = self.handle
        except AttributeError:  # __init__ failed before _setup
            return
        if lib.sag_socket_is_closed(h, cells.int, NULL) == OK and not cells.int[0]:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)

    def _sockopt(self, name: int) -> int:
        st = lib.sag_socket_getsockopt_int(self.handle, lib.SAG_SOL_SOCKET, name, cells.int, NULL)
        if st != OK:
            raise error_from(st, self)
        return cells.int[0]

    @property
    def family(self) -> int:
        """The address family, an AddressFamily as the socket module's."""
        if self._family is None:
            self._family = self._sockopt(_socket.SO_DOMAIN)
        return _enum(_socket.AddressFamily, self._family)

    @property
    def type(self) -> int:
        """The socket type (without SOCK_NONBLOCK/SOCK_CLOEXEC), a SocketKind."""
        if self._type is None:
            self._type = self._sockopt(lib.SAG_SO_TYPE)
        return _enum(_socket.SocketKind, self._type)

    @property
    def proto(self) -> int:
        """The protocol number."""
        if self._proto is None:
            self._proto = self._sockopt(_socket.SO_PROTOCOL)
        return self._proto

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
        """Closes the socket (idempotent). Open files from :meth:`makefile`
        keep it open until they are closed, as with the socket module."""
        self._closed = True
        if self._io_refs > 0:
            return  # the last file's close closes it (_decref_socketios)
        self._real_close()

    def _real_close(self) -> None:  # apart, as the socket module's: see _decref_socketios
        # A descriptor closed behind the library's back (os.close of fileno())
        # is reported as close(2) reports it: EBADF. Only the first close looks,
        # before any other close of this socket reaches the library (a second
        # thread's close would otherwise find the descriptor its own close just
        # freed), and only when fileno() gave the descriptor out.
        gone = False
        with _release_lock:
            if not self._released:
                self._released = True
                if self._shown:
                    fd = self.fileno()
                    try:
                        gone = fd >= 0 and os.fstat(fd) is None
                    except OSError:
                        gone = True
        st = _close(self.handle, NULL)
        self._fd = -1
        if st != OK:
            raise error_from(st, self)
        if gone:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))

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
        out = (f"<sagsocket.Socket fd={self.fileno()}, family={self.family}, type={self.type}, "
               f"proto={self.proto}")
        for label, fn in (("laddr", lib.sag_socket_get_info), ("raddr", lib.sag_socket_get_peer)):
            try:
                a = endpoint(self, fn)
            except OSError:
                a = None
            if a is not None:
                out += f", {label}={a}"
        return out + ">"

    # -- identity -------------------------------------------------------------

    def fileno(self) -> int:
        """The OS descriptor (-1 once closed). The library owns it and
        keeps it in O_NONBLOCK mode: use it to wait for readiness only.
        Asked of the library once and kept (a socket's descriptor never
        changes) until the socket is closed."""
        fd = self._fd
        if fd >= 0 and not self._closed:
            return fd
        out = cells.int
        if _socket_fd(self.handle, out, NULL) != OK:
            self._fd = -1
            return -1
        self._fd = fd = out[0]
        self._shown = True
        return fd

    def descriptor_changed(self) -> None:
        """Forgets the descriptor fileno() keeps: called when the library
        may have closed the socket behind this object (a port that owns it
        was closed)."""
        self._fd = -1

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

    def getsockname(self) -> Any:
        """(ip, port) the socket is bound to (a Unix-domain one: its path)."""
        a = endpoint(self, lib.sag_socket_get_info)
        if a is None:
            from . import unix
            return unix.name_of(self, False)
        return a

    def getpeername(self) -> Any:
        """(ip, port) of the peer (a Unix-domain one: its path)."""
        a = endpoint(self, lib.sag_socket_get_peer)
        if a is None:
            from . import unix
            return unix.name_of(self, True)
        return a

    def dup(self) -> "Socket":
        """A new Socket over a duplicate of the descriptor (close-on-exec):
        the same connection, closed independently, with this one's family,
        type, protocol and timeout."""
        out = cells.sock
        st = lib.sag_socket_dup(self.handle, out, NULL)
        if st != OK:
            raise error_from(st, self)
        s = Socket.adopt(out[0])
        s._family, s._type, s._proto = self._family, self._type, self._proto
        s._timeout = self._timeout
        return s

    def detach(self) -> int:
        """Closes the socket object without closing its descriptor, and
        returns the descriptor (now the caller's to close), as
        socket.socket.detach; -1 when the socket was already closed."""
        self._closed = True
        st = lib.sag_socket_detach(self.handle, cells.int, NULL)
        self._fd = -1
        if st == lib.SAG_E_CLOSED:
            return -1
        if st != OK:
            raise error_from(st, self)
        return cells.int[0]

    def get_inheritable(self) -> bool:
        """Whether the descriptor is inherited by child processes (it is made
        with SOCK_CLOEXEC: False until set_inheritable(True))."""
        return os.get_inheritable(self.fileno())

    def set_inheritable(self, inheritable: bool) -> None:
        os.set_inheritable(self.fileno(), inheritable)

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

    def _accept_into(self, f: Frame) -> int:
        """One accept into f's cells (f.sock; the peer's address: f.size bytes
        of f.buf, f.port), made again after signals (PEP 475); its status."""
        h, out, buf, size, port, err = self.handle, f.sock, f.buf, f.size, f.port, f.err
        t0 = calls.start()
        st = _accept_peer(h, out, buf, 0, 16, size, port, err)
        if st != OK:
            st = retry(st, lambda us: _accept_peer(h, out, buf, 0, 16, size, port, err), self, t0, READ, frame=f)
        return st

    def accept_handle(self):
        """The handle of an accepted connection (sag_socket *), or None when
        interrupted or closed meanwhile (socket-accept answers #f then)."""
        with calls.take_frame() as f:
            st = self._accept_into(f)
            if st == OK:
                return f.sock[0]
            if st == E_INTERRUPTED:
                return None
            raise error_from(st, self, err=f.err)

    def accept(self) -> "tuple[Socket, tuple[str, int]]":
        """Waits for a connection: (new socket, peer address). Raises
        SocketInterruptedError when interrupted or closed meanwhile."""
        # _accept_into written out: a frame fewer on the usual path.
        h = self.handle
        try:
            f = take_free_frame()
        except IndexError:
            f = Frame()
        out, buf, size, port, err = f.sock, f.buf, f.size, f.port, f.err
        t0 = calls.start()
        st = _accept_peer(h, out, buf, 0, 16, size, port, err)
        if st != OK:
            st = retry(st, lambda us: _accept_peer(h, out, buf, 0, 16, size, port, err), self, t0, READ, frame=f)
            if st != OK:
                e = error_from(st, self, err=err)
                give_back(f)
                raise e
        n, p = size[0], port[0]
        if n == 4:
            addr: Any = (_inet_ntop(_AF_INET, f.view[:4]), p)
        elif n == 16:  # the library's addresses carry no flow label or scope id
            addr = (_inet_ntop(_AF_INET6, f.view[:16]), p, 0, 0)
        s = _new_socket(Socket)
        s._setup(out[0], self._family, self._type, self._proto)
        f.went = 0
        give_frame(f)
        if _default_timeout is not None:
            s.settimeout(_default_timeout)
        if n == 0:  # a peer of another family: a Unix-domain socket's path
            try:
                addr = s.getpeername()
            except OSError:
                addr = None
        return s, addr

    def connect(self, address: Any) -> None:
        """Connects to (host, port) (or an AddrInfo), trying each address;
        to a path (a Unix-domain socket) or a SockAddr."""
        us = -1 if not self._timeout else seconds_to_us(self._timeout)
        if isinstance(address, (str, bytes, bytearray, SockAddr)):
            from . import unix
            return unix.connect(self, address, us)
        ai = resolve_address(self.family, address)
        last: BaseException | None = None
        h = self.handle
        with calls.take_frame() as f:
            err = f.err
            for entry in ai:
                t0 = calls.start()
                st = lib.sag_socket_connect(h, entry.handle, us, err)
                if st != OK:
                    st = retry(st, lambda left, e=entry.handle: lib.sag_socket_connect(h, e, left, err),
                               self, t0, ARG, us, frame=f)
                if st == OK:
                    return
                if st == E_WOULD_BLOCK:
                    raise error_from(st, self, err=err)
                last = error_from(st, self, err=err)
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
        """Binds to (host, port); host "" is every address. A path (a
        Unix-domain socket) or a SockAddr binds to that address."""
        if isinstance(address, (str, bytes, bytearray, SockAddr)):
            from . import unix
            return unix.bind(self, address)
        ai = resolve_address(self.family, address, passive=True)
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

    # -- options ------------------------------------------------------------------

    def setsockopt(self, level: int, optname: int, value: "int | bytes") -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            st = lib.sag_socket_setsockopt_int(self.handle, level, optname, value, NULL)
        elif isinstance(value, bool):
            st = lib.sag_socket_setsockopt_int(self.handle, level, optname, int(value), NULL)
        else:
            b = ffi.from_buffer(value)
            st = lib.sag_socket_setsockopt_bytes(self.handle, level, optname, b, 0, len(b), NULL)
            ffi.release(b)  # before a raise: see args.unexport
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
