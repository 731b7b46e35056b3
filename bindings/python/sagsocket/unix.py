"""Unix-domain sockets (AF_UNIX) as the socket module has them, over the
library's extension (docs/reference.md section 12): ``Socket(AF_UNIX,
...)`` binds and connects to a path, :func:`socketpair`, and addresses read
back as the socket module gives them. A path is a str (encoded with
:func:`os.fsencode`) or bytes; one that begins with a NUL names Linux's
abstract namespace. As in the socket module, an address read back is a
str for a file system path, bytes for an abstract name, ``''`` for an
unnamed socket, and ``None`` for a datagram sender that has no address.

:class:`~sagsocket.Socket` calls in here for a path address; nothing here
keeps state.
"""

from __future__ import annotations

import os
from typing import Any

from .addresses import SockAddr
from .calls import OK
from .errors import error_from
from .library import NULL, ffi, lib
from .sockets import Socket

AF_UNIX = lib.SAG_AF_UNIX


def is_path(address: Any) -> bool:
    """Whether ``address`` is a Unix-domain path (str, bytes, bytearray)."""
    return isinstance(address, (str, bytes, bytearray))


def sockaddr(path: Any) -> SockAddr:
    """The AF_UNIX sockaddr of ``path`` (make-unix-sockaddr); the empty path
    is the unnamed address (binding to it autobinds an abstract name)."""
    raw = os.fsencode(path) if isinstance(path, str) else bytes(path)
    if len(raw) > (108 if raw[:1] == b"\0" else 107):
        raise OSError("AF_UNIX path too long")  # as the socket module says it
    out = ffi.new("sag_sockaddr **")
    st = lib.sag_make_unix_sockaddr(raw, 0, len(raw), out, NULL)
    if st != OK:
        raise error_from(st)
    return SockAddr(out[0])


def socket_sockaddr(sock: Socket, peer: bool) -> SockAddr | None:
    """The socket's own address (getsockname) or its peer's, any family."""
    out = ffi.new("sag_sockaddr **")
    st = lib.sag_socket_sockaddr(sock.handle, 1 if peer else 0, out, NULL)
    if st != OK:
        raise error_from(st, sock)
    return None if out[0] == NULL else SockAddr(out[0])


def name_of(sock: Socket, peer: bool) -> Any:
    """getsockname / getpeername of a socket that socket-info does not
    describe (a Unix-domain one)."""
    sa = socket_sockaddr(sock, peer)
    a = None if sa is None else sa.address()
    if a is None:
        raise OSError(107, "Transport endpoint is not connected" if peer else "the socket has no address")
    return a


def connect(sock: Socket, address: Any, timeout_us: int) -> None:
    """connect(2) to a path or a SockAddr."""
    sa = address if isinstance(address, SockAddr) else sockaddr(address)
    st = lib.sag_socket_connect_sockaddr(sock.handle, sa.handle, timeout_us, NULL)
    if st != OK:
        raise error_from(st, sock)


def bind(sock: Socket, address: Any) -> None:
    """bind(2) to a path or a SockAddr."""
    sa = address if isinstance(address, SockAddr) else sockaddr(address)
    st = lib.sag_socket_bind_sockaddr(sock.handle, sa.handle, NULL)
    if st != OK:
        raise error_from(st, sock)


def socketpair(family: int = AF_UNIX, type: int = lib.SAG_SOCK_STREAM,
               proto: int = 0) -> tuple[Socket, Socket]:
    """Two connected sockets, as :func:`socket.socketpair`."""
    a = ffi.new("sag_socket **")
    b = ffi.new("sag_socket **")
    st = lib.sag_socket_pair(family, type, proto, a, b, NULL)
    if st != OK:
        raise error_from(st)
    return Socket.adopt(a[0]), Socket.adopt(b[0])
