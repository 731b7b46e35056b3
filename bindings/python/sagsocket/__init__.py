"""sagsocket: the socket library of Sagittarius Scheme (libsagsocket) for Python.

Two faces over one implementation:

* the Python one, here: :class:`Socket` (a context manager with
  ``send``/``sendall``/``recv``/``recv_into``/``accept``/``settimeout``/
  ``makefile`` as :class:`socket.socket` has them), :func:`create_connection`,
  :func:`create_server`, :class:`Selector` (used as the :mod:`selectors`
  module's selectors are, for reading), and the exceptions of
  :mod:`sagsocket.errors` (``OSError`` subclasses with ``errno`` and
  ``strerror``);
* the Sagittarius one, :mod:`sagsocket.scheme`: every procedure of
  (sagittarius socket) under a Python name (``make_client_socket``,
  ``socket_recv``, ``socket_select``, ``make_socket_selector``, ...).

Every constant the library knows (``AF_INET6``, ``SO_REUSEADDR``,
``MSG_PEEK``, ...) is an attribute of this module with this OS's value.
"""

from __future__ import annotations

import selectors as _selectors
import threading
from collections.abc import Mapping
from typing import Any, Iterator

from . import core as _core
from ._ffi import ffi, lib, DECLS_PATH, LIBRARY_PATH
from .core import (AddrInfo, FdSet, IPAddress, SelectorEntry, SockAddr, Socket, SocketInfo,
                   SocketIO, SocketSelector, _retry, _WAIT, seconds_to_us)
from .errors import *  # noqa: F401,F403
from .errors import HostNotFoundError, SocketConnectionError, error_from, __all__ as _error_names
from . import scheme  # noqa: F401

__version__ = "1.4.0"


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

EVENT_READ = _selectors.EVENT_READ
EVENT_WRITE = _selectors.EVENT_WRITE


def create_connection(address: tuple[str, Any], timeout: float | None = None, *,
                      family: int = lib.SAG_AF_UNSPEC) -> Socket:
    """Connects to (host, port), trying every address of host, as
    socket.create_connection does; timeout (seconds) bounds each connect
    and becomes the socket's timeout."""
    host, port = address[0], address[1]
    if timeout is None:
        # One call: the library resolves and tries every address in turn.
        try:
            # Flags 0, as socket.create_connection's getaddrinfo: with
            # AI_ADDRCONFIG glibc asks the kernel for the interfaces'
            # addresses on every call (about 27 us measured here).
            return scheme.make_client_socket(host, str(port), family, lib.SAG_SOCK_STREAM, 0, 0)
        except HostNotFoundError as e:
            if e.errno in _CONNECT_ERRNOS:  # resolved, but no address connected
                c = SocketConnectionError(e.errno, e.strerror)
                c._fill(lib.SAG_E_CONNECTION, e.who, 0)
                raise c from None
            raise
    ai = AddrInfo.resolve(host, str(port), AddrInfo.hint(family, lib.SAG_SOCK_STREAM, 0, 0))
    last: BaseException | None = None
    for entry in ai:
        s = scheme.create_socket(entry)
        if s is None:
            continue
        if timeout is not None:
            s.settimeout(timeout)
        try:
            s.connect(entry)
            return s
        except OSError as e:
            last = e
            s.close()
    if last is None:
        last = OSError(f"no address of {host!r} could be used")
    raise last


def create_server(address: tuple[str, Any], *, family: int = lib.SAG_AF_INET,
                  backlog: int | None = None, reuse_port: bool = False) -> Socket:
    """A listening TCP socket bound to (host, port) (host "" is every
    address, port 0 an ephemeral port), with SO_REUSEADDR, as
    socket.create_server."""
    s = Socket(family, lib.SAG_SOCK_STREAM)
    try:
        s.setsockopt(lib.SAG_SOL_SOCKET, lib.SAG_SO_REUSEADDR, 1)
        if reuse_port:
            s.setsockopt(lib.SAG_SOL_SOCKET, lib.SAG_SO_REUSEPORT, 1)
        host = address[0] or ("::" if family == lib.SAG_AF_INET6 else "0.0.0.0")
        s.bind((host, address[1]))
        s.listen(lib.SAG_SOMAXCONN if backlog is None else backlog)
    except BaseException:
        s.close()
        raise
    return s


import errno as _errno

_CONNECT_ERRNOS = {_errno.ECONNREFUSED, _errno.ETIMEDOUT, _errno.ENETUNREACH, _errno.EHOSTUNREACH,
                   _errno.ECONNRESET, _errno.EADDRNOTAVAIL, _errno.ECONNABORTED}

SelectorKey = _selectors.SelectorKey
_selector_wait = lib.sag_selector_wait
_NULL = ffi.NULL
_selector_watch = lib.sag_selector_watch
_selector_unwatch = lib.sag_selector_unwatch


class _Map(Mapping):
    def __init__(self, sel: "Selector") -> None:
        self._sel = sel

    def __len__(self) -> int:
        return len(self._sel._keys)

    def __getitem__(self, fileobj: Any) -> SelectorKey:
        return self._sel._keys[self._sel._fd(fileobj)]

    def __iter__(self) -> Iterator[int]:
        return iter(self._sel._keys)


class Selector(_selectors.BaseSelector):
    """A selector over libsagsocket's (epoll) for :class:`Socket` objects,
    used as the selectors module's are: register(sock, EVENT_READ, data),
    select(timeout) -> [(key, EVENT_READ), ...], unregister, modify, close,
    get_key, get_map, a context manager. It waits for reading only
    (EVENT_WRITE raises ValueError: the library's selector watches
    readability). :meth:`interrupt` wakes a select blocked in another
    thread; Ctrl-C raises KeyboardInterrupt in a blocked select.

    Sockets stay registered in the library (sag_selector_watch: level-
    triggered, as EpollSelector), so a select is one sag_selector_wait and
    costs no system call per reported socket."""

    def __init__(self) -> None:
        self._sel = sel = SocketSelector()
        # select's arguments, fetched in one go.
        self._wait = (sel._h, sel._socks, sel._tags, sel._timed, sel.CAPACITY, sel._count)
        self._keys: dict[int, SelectorKey] = {}     # fd -> key
        self._by_tag: dict[int, tuple[SelectorKey, Any]] = {}  # socket tag -> (key, handle)

    def _fd(self, fileobj: Any) -> int:
        if isinstance(fileobj, Socket):
            fd = fileobj.fileno()
            if fd < 0:  # closed since it was registered: find it by identity
                for key in self._keys.values():
                    if key.fileobj is fileobj:
                        return key.fd
            return fd
        if isinstance(fileobj, int):
            return fileobj
        raise TypeError(f"expected a sagsocket.Socket, not {type(fileobj).__name__}")

    def register(self, fileobj: Any, events: int, data: Any = None) -> SelectorKey:
        if not isinstance(fileobj, Socket):
            raise TypeError(f"a sagsocket.Selector registers sagsocket.Socket objects, not {type(fileobj).__name__}")
        if (not events) or (events & ~(EVENT_READ | EVENT_WRITE)):
            raise ValueError(f"Invalid events: {events!r}")
        if events & EVENT_WRITE:
            raise ValueError("sagsocket.Selector waits for reading only (EVENT_READ)")
        fd = fileobj.fileno()
        if fd < 0:
            raise ValueError("the socket is closed")
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        key = SelectorKey(fileobj, fd, events, data)
        st = _selector_watch(self._sel._h, fileobj._h, fileobj._key, ffi.NULL)
        if st != 0:
            raise error_from(st, socket=fileobj)
        self._keys[fd] = key
        self._by_tag[fileobj._key] = (key, fileobj._h)
        return key

    def unregister(self, fileobj: Any) -> SelectorKey:
        try:
            key = self._keys.pop(self._fd(fileobj))
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        sock = key.fileobj
        self._by_tag.pop(sock._key, None)
        # Also a no-op (SAG_OK) for a socket closed meanwhile, which the
        # library dropped by itself; a closed selector has no keys left.
        st = _selector_unwatch(self._sel._h, sock._h, ffi.NULL)
        if st != 0:
            raise error_from(st, socket=sock)
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> SelectorKey:
        key = self.get_key(fileobj)
        if events != key.events:
            self.unregister(fileobj)
            return self.register(fileobj, events, data)
        if data != key.data:
            key = key._replace(data=data)
            self._keys[key.fd] = key
            self._by_tag[key.fileobj._key] = (key, key.fileobj._h)
        return key

    def select(self, timeout: float | None = None) -> list[tuple[SelectorKey, int]]:
        """[(key, EVENT_READ)] of the registered sockets that are readable,
        waiting at most timeout seconds (None: until one is; <= 0: not at
        all); [] when the time passes or interrupt() wakes it."""
        if timeout is None:
            us = -1
        elif timeout <= 0:
            us = 0
        else:
            us = int(timeout * 1e6) or 1
        h, socks, tags, timed, cap, count = self._wait
        t0 = _core._start()
        st = _selector_wait(h, us, socks, tags, timed, cap, count, _NULL)
        if st != 0:
            st = _retry(st, lambda left: _selector_wait(h, left, socks, tags, timed, cap, count, _NULL),
                        None, t0, _WAIT, us)
            if st != 0:
                raise error_from(st)
        n = count[0]
        if not n:
            return []
        by_tag = self._by_tag
        if n == 1:
            entry = by_tag.get(tags[0])
            return [] if entry is None else [(entry[0], EVENT_READ)]
        out = []
        for i in range(n):
            entry = by_tag.get(tags[i])
            if entry is not None:  # else unregistered meanwhile
                out.append((entry[0], EVENT_READ))
        return out


    def interrupt(self) -> None:
        """Makes a select blocked in another thread return (with what is ready)."""
        self._sel.interrupt()

    def close(self) -> None:
        if not self._sel.closed:
            self._sel.close()
        self._keys.clear()
        self._by_tag.clear()

    def get_map(self) -> Mapping:
        return _Map(self)


__all__ = [
    "Socket", "SocketIO", "Selector", "SelectorKey", "SocketSelector", "SelectorEntry",
    "AddrInfo", "SockAddr", "SocketInfo", "IPAddress", "FdSet", "create_connection",
    "create_server", "library_version", "scheme", "EVENT_READ", "EVENT_WRITE",
    "DECLS_PATH", "LIBRARY_PATH", *_error_names, *sorted(_CONSTANTS),
]
