"""sagsocket: the socket library of Sagittarius Scheme (libsagsocket) for Python.

Two faces over one implementation, side by side:

* the Python one, here: :class:`Socket` (a context manager with
  ``send``/``sendall``/``recv``/``recv_into``/``accept``/``settimeout``/
  ``makefile`` as :class:`socket.socket` has them), :func:`create_connection`,
  :func:`create_server`, :class:`Selector` (used as the :mod:`selectors`
  module's selectors are), and the exceptions of :mod:`sagsocket.errors`
  (``OSError`` subclasses with ``errno`` and ``strerror``);
* the Sagittarius one, :mod:`sagsocket.scheme` (``from sagsocket import
  scheme``): every procedure of (sagittarius socket) under a Python name
  (``make_client_socket``, ``socket_recv``, ``socket_select``,
  ``make_socket_selector``, ...).

Under both: :mod:`~sagsocket.library` (libsagsocket loaded with cffi:
:data:`MODE` is ``"api"`` with the compiled extension, ``"abi"`` without),
:mod:`~sagsocket.calls` (signals and retries), :mod:`~sagsocket.args`,
:mod:`~sagsocket.addresses`, :mod:`~sagsocket.sockets`,
:mod:`~sagsocket.files`, :mod:`~sagsocket.fdsets`,
:mod:`~sagsocket.selector` and :mod:`~sagsocket.ports`.

Every constant the library knows (``AF_INET6``, ``SO_REUSEADDR``,
``MSG_PEEK``, ...) is an attribute of this module with this OS's value.
"""

from __future__ import annotations

import errno
from typing import Any

from .addresses import AddrInfo, IPAddress, SockAddr, SocketInfo
from .errors import *  # noqa: F401,F403
from .errors import HostNotFoundError, SocketConnectionError, __all__ as error_names
from .fdsets import FdSet
from .files import SocketIO
from .library import DECLS_PATH, LIBRARY_PATH, MODE, ffi, lib
from .selector import EVENT_READ, EVENT_WRITE, Selector, SelectorEntry, SelectorKey, SocketSelector
from .messages import recv_fds, send_fds
from .sockets import Socket, client_socket, fromfd, getdefaulttimeout, setdefaulttimeout, socket_for
from .unix import socketpair

__version__ = "1.6.0"


def library_version() -> str:
    """The version string of the libsagsocket that was loaded."""
    return ffi.string(lib.sag_version_string()).decode()


def _constants() -> dict[str, int]:
    out: dict[str, int] = {}
    name = ffi.new("const char **")
    value = ffi.new("int *")
    for i in range(lib.sag_constant_count()):
        if lib.sag_constant_at(i, name, value) == 0:
            out[ffi.string(name[0]).decode()] = value[0]
    return out


_CONSTANTS = _constants()
globals().update(_CONSTANTS)

# A connection refused, unreachable, reset or timed out, on every address.
_CONNECT_ERRNOS = {errno.ECONNREFUSED, errno.ETIMEDOUT, errno.ENETUNREACH, errno.EHOSTUNREACH,
                   errno.ECONNRESET, errno.EADDRNOTAVAIL, errno.ECONNABORTED}


_DEFAULT = object()  # create_connection's timeout when none is given


def create_connection(address: tuple[str, Any], timeout: Any = _DEFAULT,
                      source_address: tuple[str, int] | None = None, *,
                      all_errors: bool = False, family: int = lib.SAG_AF_UNSPEC) -> Socket:
    """Connects to (host, port), trying every address of host, as
    socket.create_connection does: timeout (seconds; by default
    getdefaulttimeout()) bounds each connect and becomes the socket's
    timeout; source_address (host, port) is bound first; when every
    address fails, the last error is raised, or with all_errors an
    ExceptionGroup of all of them."""
    host, port = address[0], address[1]
    if timeout is _DEFAULT:
        timeout = getdefaulttimeout()
    if timeout is None and source_address is None and not all_errors:
        # One call: the library resolves and tries every address in turn.
        try:
            # Flags 0, as socket.create_connection's getaddrinfo: with
            # AI_ADDRCONFIG glibc asks the kernel for the interfaces'
            # addresses on every call.
            return client_socket(host, str(port), family, lib.SAG_SOCK_STREAM, 0, 0)
        except HostNotFoundError as e:
            if e.errno in _CONNECT_ERRNOS:  # resolved, but no address connected
                c = SocketConnectionError(e.errno, e.strerror)
                c.status, c.who = lib.SAG_E_CONNECTION, e.who
                raise c from None
            raise
    ai = AddrInfo.resolve(host, str(port), AddrInfo.hint(family, lib.SAG_SOCK_STREAM, 0, 0))
    errors: list[Exception] = []
    for entry in ai:
        s = socket_for(entry)
        if s is None:
            continue
        try:
            s.settimeout(timeout)
            if source_address is not None:
                s.bind(source_address)
            s.connect(entry)
            return s
        except OSError as e:
            errors.append(e)
            s.close()
    if not errors:
        raise OSError(f"no address of {host!r} could be used")
    if all_errors:
        raise ExceptionGroup("create_connection failed", errors)
    raise errors[-1]


def has_dualstack_ipv6() -> bool:
    """Whether an AF_INET6 socket can take IPv4 connections too
    (IPV6_V6ONLY off), as socket.has_dualstack_ipv6."""
    try:
        with Socket(lib.SAG_AF_INET6, lib.SAG_SOCK_STREAM) as s:
            s.setsockopt(lib.SAG_IPPROTO_IPV6, lib.SAG_IPV6_V6ONLY, 0)
            return True
    except OSError:
        return False


def create_server(address: tuple[str, Any], *, family: int = lib.SAG_AF_INET,
                  backlog: int | None = None, reuse_port: bool = False,
                  dualstack_ipv6: bool = False) -> Socket:
    """A listening TCP socket bound to (host, port) (host "" is every
    address, port 0 an ephemeral port), with SO_REUSEADDR, as
    socket.create_server; with dualstack_ipv6 (family AF_INET6) it takes
    IPv4 connections too."""
    if reuse_port and not hasattr(lib, "SAG_SO_REUSEPORT"):
        raise ValueError("SO_REUSEPORT not supported on this platform")
    if dualstack_ipv6:
        if not has_dualstack_ipv6():
            raise ValueError("dualstack_ipv6 not supported on this platform")
        if family != lib.SAG_AF_INET6:
            raise ValueError("dualstack_ipv6 requires AF_INET6 family")
    s = Socket(family, lib.SAG_SOCK_STREAM)
    try:
        s.setsockopt(lib.SAG_SOL_SOCKET, lib.SAG_SO_REUSEADDR, 1)
        if reuse_port:
            s.setsockopt(lib.SAG_SOL_SOCKET, lib.SAG_SO_REUSEPORT, 1)
        if family == lib.SAG_AF_INET6:
            s.setsockopt(lib.SAG_IPPROTO_IPV6, lib.SAG_IPV6_V6ONLY, 0 if dualstack_ipv6 else 1)
        host = address[0] or ("::" if family == lib.SAG_AF_INET6 else "0.0.0.0")
        s.bind((host, address[1]))
        s.listen(lib.SAG_SOMAXCONN if backlog is None else backlog)
    except BaseException:
        s.close()
        raise
    return s


__all__ = [
    "Socket", "SocketIO", "Selector", "SelectorKey", "SocketSelector", "SelectorEntry",
    "AddrInfo", "SockAddr", "SocketInfo", "IPAddress", "FdSet", "create_connection",
    "create_server", "socketpair", "fromfd", "send_fds", "recv_fds", "getdefaulttimeout",
    "has_dualstack_ipv6", "setdefaulttimeout", "library_version", "EVENT_READ", "EVENT_WRITE",
    "DECLS_PATH", "LIBRARY_PATH", "MODE", *error_names, *sorted(_CONSTANTS),
]
