"""The objects of sagsocket over libsagsocket: sockets, addresses, fdsets,
selectors and ports. Both faces of the package (the Python one in
:mod:`sagsocket` and the Sagittarius one in :mod:`sagsocket.scheme`) use
these; nothing here keeps state the library does not.

Every handle is released by the library's free function when its Python
object is garbage (cffi's ``ffi.gc``); ``close()`` is explicit and
idempotent. Blocking calls release the GIL (cffi does for every call).
"""

from __future__ import annotations

import ctypes
import io
import threading
import time
from datetime import timedelta
from typing import Any, Iterable, NamedTuple

from ._ffi import NULL, ffi, lib
from .errors import (SocketConnectionError, SocketReadTimeoutError, SocketSendTimeoutError,
                     error_from)

OK = lib.SAG_OK
E_INTERRUPTED = lib.SAG_E_INTERRUPTED
E_WOULD_BLOCK = lib.SAG_E_WOULD_BLOCK
E_EINTR = lib.SAG_EINTR

# The library's signal interrupts are on in the main thread: CPython runs
# signal handlers (Ctrl-C's KeyboardInterrupt) in the main thread only,
# after a foreign call returns. A blocked call then returns on a signal; the
# wrappers below run the handlers and call again with the time that is left
# (PEP 475). The setting is per thread: when the package is imported in the
# main thread it is made at once; otherwise _start (which every blocking
# wrapper calls before its first try) makes it the first time the main
# thread calls one, then stops checking.
_MAIN_IDENT = threading.main_thread().ident
_monotonic = time.monotonic


def _start_arming() -> float:
    """_start until the main thread has turned its signal interrupts on."""
    global _start
    if threading.get_ident() == _MAIN_IDENT:
        lib.sag_thread_set_signal_interrupts(1)
        _start = _monotonic
    return _monotonic()


if threading.get_ident() == _MAIN_IDENT:
    lib.sag_thread_set_signal_interrupts(1)
    _start = _monotonic
else:
    _start = _start_arming
"""The start time of a blocking call (time.monotonic()), taken before its
first try: where its timeout is counted from. Call it as ``core._start()``
from other modules: it is rebound once the main thread is armed."""

# The functions of the hot paths, looked up once.
_recv = lib.sag_socket_recv
_send = lib.sag_socket_send
_unpack = ffi.unpack
_socket_fd = lib.sag_socket_fd
_from_buffer = ffi.from_buffer

_check_signals = ctypes.pythonapi.PyErr_CheckSignals
_check_signals.restype = ctypes.c_int
_check_signals.argtypes = []


def _signalled(status: int, frame: list | None = None) -> bool:
    """True when the failed call was ended by a signal (errno EINTR); runs
    the interpreter's signal handlers first, which may raise. The bytes the
    call sent before the signal are left in ``frame[2]`` (the call's own
    error object is ``frame[0]``, see _frame_take), or without a frame in
    ``_c.went`` (read from the thread's last error)."""
    if status != E_INTERRUPTED:
        return False
    err = lib.sag_last_error() if frame is None else frame[0]
    if lib.sag_error_errno(err) != E_EINTR:
        return False
    went = lib.sag_error_sent(err)
    _check_signals()  # raises KeyboardInterrupt (or what a handler raises)
    if frame is None:
        _c.went = went
    else:
        frame[2] = went
    return True


class _Frames(threading.local):
    """Frames no call of this thread is using (see _frame_take)."""

    def __init__(self) -> None:
        self.free: list = []


_frames = _Frames()


def _frame_take() -> list:
    """[error object, size_t cell, bytes sent before a signal] for one call
    that counts bytes across signals (send, sendall, socket-send). Python
    runs signal handlers between any two foreign calls, and a handler's own
    sagsocket calls replace the thread's last error and its cells: a call
    whose retries depend on them uses a frame of its own instead (from a
    per-thread free list, so a handler's nested call takes another)."""
    free = _frames.free
    if free:
        return free.pop()
    p = ffi.new("sag_error **")
    if lib.sag_error_new(p) != OK:
        raise MemoryError("sag_error_new failed")
    return [ffi.gc(p[0], lib.sag_error_free), ffi.new("size_t *"), 0]


def _frame_give(frame: list) -> None:
    _frames.free.append(frame)


# How a retried call is given the time left of its timeout (_retry).
_READ, _SEND, _ARG, _WAIT = 0, 1, 2, 3


def _retry(st: int, again, sock: Any, t0: float, kind: int, timeout_us: int = -1,
           frame: list | None = None) -> int:
    """The one retry loop of the blocking wrappers (PEP 475). ``st`` is the
    status of a first call that failed and ``t0`` the time.monotonic() taken
    before it. While the status is a signal's (whose handlers run here, and
    may raise), the call is made again, ``again(us)``, with only the time
    left of its timeout counted from t0, so that periodic signals neither
    restart nor prolong it; when none is left the timeout is raised as the
    call itself would raise it. The timeout is, by ``kind``:

    - _READ: the socket's read timeout (recv, recvfrom, accept, port reads),
      narrowed to the time left for each retry and restored after (a port
      read that needs several waits is timed from its start here, where the
      library times each wait: under signals, one that is still receiving
      when its timeout has passed since it began ends with the timeout);
    - _SEND: the socket's send timeout (SO_SNDTIMEO), likewise; as it is
      the library's timeout of no progress, it counts again from the signal
      when bytes went before it;
    - _ARG: ``timeout_us`` (negative: none), handed to again as ``us``
      (connect);
    - _WAIT: likewise, but when no time is left the call is made once more
      with 0 (a select or wait reports what is ready, or nothing).

    ``us`` is -1 when there is no timeout. ``frame``: the call's own (see
    _frame_take), whose error object its calls fill. Returns the first
    status that is not a signal's (OK, or a failure for the caller to
    raise)."""
    if not _signalled(st, frame):
        return st
    h = sock._h if kind < _ARG else None  # sock: None for selects
    total = timeout_us
    if kind == _READ:
        if lib.sag_socket_get_read_timeout(h, _c.i64, NULL) == OK and _c.i64[0] > 0:
            total = _c.i64[0]
    elif kind == _SEND:
        if lib.sag_socket_getsockopt_duration(h, lib.SAG_SOL_SOCKET, lib.SAG_SO_SNDTIMEO,
                                              _c.i64, NULL) == OK and _c.i64[0] > 0:
            total = _c.i64[0]
    if total < 0 or (total == 0 and kind < _ARG):
        while True:  # no timeout: retry as it was
            st = again(-1)
            if not _signalled(st, frame):
                return st
    deadline = t0 + total / 1e6
    narrowed = False
    try:
        while True:
            if kind == _SEND and (_c.went if frame is None else frame[2]):
                # The send timeout is one of no progress (the library's):
                # bytes went before the signal, so it counts from now.
                deadline = _monotonic() + total / 1e6
            left = int((deadline - _monotonic()) * 1e6)
            if left <= 0:
                if kind != _WAIT:
                    e = _timed_out(sock, kind, total)
                    if kind == _SEND:  # the caller adds what went before
                        e.sent = _c.went if frame is None else frame[2]
                    raise e
                left = 0
            if kind == _READ:
                narrowed = left  # before the call: a handler may raise after it
                lib.sag_socket_set_read_timeout(h, left, NULL)
            elif kind == _SEND:
                narrowed = left
                lib.sag_socket_setsockopt_duration(h, lib.SAG_SOL_SOCKET, lib.SAG_SO_SNDTIMEO, left, NULL)
            st = again(left)
            if not _signalled(st, frame):
                return st
    finally:
        # The socket's own timeout again, unless another thread has set one
        # meanwhile (then the socket no longer holds the narrowed value).
        if narrowed is not False:
            if kind == _READ:
                if lib.sag_socket_get_read_timeout(h, _c.i64, NULL) == OK and _c.i64[0] == narrowed:
                    lib.sag_socket_set_read_timeout(h, total, NULL)
            elif (lib.sag_socket_getsockopt_duration(h, lib.SAG_SOL_SOCKET, lib.SAG_SO_SNDTIMEO, _c.i64, NULL) == OK
                  and _c.i64[0] == narrowed):
                lib.sag_socket_setsockopt_duration(h, lib.SAG_SOL_SOCKET, lib.SAG_SO_SNDTIMEO, total, NULL)


def _timed_out(sock: Any, kind: int, total_us: int) -> BaseException:
    """The exception of a call whose timeout passed during its retries: the
    one the library raises when it passes during a call."""
    if kind == _READ:
        e: Any = SocketReadTimeoutError(lib.SAG_ETIMEDOUT, "read timeout passed")
        e.status = lib.SAG_E_READ_TIMEOUT
    elif kind == _SEND:
        e = SocketSendTimeoutError(lib.SAG_ETIMEDOUT, "send timeout passed")
        e.status = lib.SAG_E_SOCKET
    else:
        e = SocketConnectionError(lib.SAG_ETIMEDOUT, "connection not made in time")
        e.status = lib.SAG_E_CONNECTION
    e.socket, e.timeout = sock, total_us / 1e6
    return e


class _Cells(threading.local):
    """Out-parameters of the calling thread, made once per thread."""

    def __init__(self) -> None:
        self.size = ffi.new("size_t *")
        self.int = ffi.new("int *")
        self.i64 = ffi.new("int64_t *")
        self.str = ffi.new("const char **")
        self.sock = ffi.new("sag_socket **")
        self.info = ffi.new("sag_socket_info **")
        self.ip = ffi.new("sag_ip_address **")
        self.buf = ffi.new("uint8_t[]", 65536)
        # (buf, size) in one attribute: each attribute of a threading.local
        # costs a per-thread dictionary look-up (about 90 ns measured).
        # The same buffer as char *: ffi.unpack makes bytes of a char *
        # (of a uint8_t * it makes a list).
        self.rx = (self.buf, ffi.cast("char *", self.buf), self.size)
        # Bytes a send had sent when a signal ended it (_signalled).
        self.went = 0


_c = _Cells()


def _s(p) -> str | None:
    return None if p == NULL else ffi.string(p).decode("utf-8", "replace")


def _cstr(v: str | None, what: str):
    if v is None:
        return NULL
    if not isinstance(v, str):
        raise TypeError(f"{what} must be a str or None, not {type(v).__name__}")
    if "\0" in v:
        raise ValueError(f"{what} contains a NUL character")
    return v.encode("utf-8")


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{what} must be an int, not {type(v).__name__}")
    return v


def _check_range(size: int, start: Any, count: Any) -> None:
    """start and count of a (buffer, start, count) call must lie within the
    buffer's size bytes: the library cannot know the buffer's length."""
    _int(start, "start")
    _int(count, "count")
    if start < 0 or count < 0 or start + count > size:
        raise ValueError(f"start {start} and count {count} must lie within the buffer ({size} bytes)")


def _fail(status: int, socket: Any = None, port: Any = None, err: Any = None) -> BaseException:
    return error_from(status, socket=socket, port=port, err=err)


# ---------------------------------------------------------------------------
# Durations and timeouts
# ---------------------------------------------------------------------------

def seconds_to_us(t: float | timedelta) -> int:
    """A duration (seconds, or a timedelta) as integer microseconds."""
    if isinstance(t, timedelta):
        t = t.total_seconds()
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise TypeError(f"a duration must be seconds (int or float) or a timedelta, not {type(t).__name__}")
    if t != t or t < 0:
        raise ValueError("a duration must not be negative")
    return int(round(t * 1_000_000))


def select_timeout_us(timeout: Any) -> int:
    """Sagittarius's select timeout forms: None (forever), an int
    (microseconds), a float or timedelta (a duration in seconds), or a pair
    (seconds, microseconds). -1 means forever."""
    if timeout is None:
        return -1
    if isinstance(timeout, bool):
        raise TypeError("timeout must be None, an int, a float, a timedelta or a (s, us) pair")
    if isinstance(timeout, int):
        if timeout < 0:
            raise ValueError("timeout must not be negative")
        return timeout
    if isinstance(timeout, tuple):
        if len(timeout) != 2:
            raise ValueError("a timeout pair is (seconds, microseconds)")
        s, us = (_int(x, "timeout") for x in timeout)
        if s < 0 or us < 0:
            raise ValueError("timeout must not be negative")
        return s * 1_000_000 + us
    return seconds_to_us(timeout)


# ---------------------------------------------------------------------------
# Handles
# ---------------------------------------------------------------------------

class IPAddress:
    """An IPv4 or IPv6 address (Scheme's ip-address)."""
    __slots__ = ("_h",)

    def __init__(self, handle) -> None:
        self._h = ffi.gc(handle, lib.sag_ip_address_free)

    def __str__(self) -> str:
        st = lib.sag_ip_address_to_string(self._h, _c.str, NULL)
        if st != OK:
            raise _fail(st)
        return _s(_c.str[0]) or ""

    def __repr__(self) -> str:
        return f"IPAddress({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IPAddress) and bytes(self) == bytes(other)

    def __hash__(self) -> int:
        return hash(bytes(self))

    @property
    def is_v6(self) -> bool:
        st = lib.sag_ip_address_is_v6(self._h, _c.int, NULL)
        if st != OK:
            raise _fail(st)
        return _c.int[0] != 0

    def __bytes__(self) -> bytes:
        buf = ffi.new("uint8_t[16]")
        st = lib.sag_ip_address_to_bytes(self._h, buf, 0, 16, _c.size, NULL)
        if st != OK:
            raise _fail(st)
        return ffi.buffer(buf, _c.size[0])[:]


class SocketInfo:
    """hostname, ip-address and port of a socket's end (Scheme's socket-info)."""
    __slots__ = ("_h",)

    def __init__(self, handle) -> None:
        self._h = ffi.gc(handle, lib.sag_socket_info_free)

    @property
    def hostname(self) -> str:
        st = lib.sag_socket_info_hostname(self._h, _c.str, NULL)
        if st != OK:
            raise _fail(st)
        return _s(_c.str[0]) or ""

    @property
    def ip_address(self) -> IPAddress:
        out = ffi.new("sag_ip_address **")
        st = lib.sag_socket_info_ip_address(self._h, out, NULL)
        if st != OK:
            raise _fail(st)
        return IPAddress(out[0])

    @property
    def port(self) -> int:
        st = lib.sag_socket_info_port(self._h, _c.int, NULL)
        if st != OK:
            raise _fail(st)
        return _c.int[0]

    def __repr__(self) -> str:
        return f"SocketInfo({str(self.ip_address)!r}, {self.port})"


class SockAddr:
    """A socket address (Scheme's sockaddr): for sendto and recvfrom."""
    __slots__ = ("_h",)

    def __init__(self, handle=None) -> None:
        if handle is None:
            out = ffi.new("sag_sockaddr **")
            st = lib.sag_sockaddr_new(out, NULL)
            if st != OK:
                raise _fail(st)
            handle = out[0]
        self._h = ffi.gc(handle, lib.sag_sockaddr_free)

    @property
    def family(self) -> int:
        st = lib.sag_sockaddr_family(self._h, _c.int, NULL)
        if st != OK:
            raise _fail(st)
        return _c.int[0]

    @property
    def port(self) -> int:
        st = lib.sag_sockaddr_port(self._h, _c.int, NULL)
        if st != OK:
            raise _fail(st)
        return _c.int[0]

    @property
    def ip_address(self) -> IPAddress:
        out = ffi.new("sag_ip_address **")
        st = lib.sag_sockaddr_ip_address(self._h, out, NULL)
        if st != OK:
            raise _fail(st)
        return IPAddress(out[0])

    def as_tuple(self) -> tuple[str, int]:
        """(ip, port), as the socket module gives addresses."""
        return (str(self.ip_address), self.port)

    def __repr__(self) -> str:
        try:
            return f"SockAddr{self.as_tuple()!r}"
        except Exception:  # an empty sockaddr
            return "SockAddr()"


class AddrInfo:
    """One entry of a getaddrinfo chain (Scheme's addrinfo)."""
    __slots__ = ("_h",)

    def __init__(self, handle) -> None:
        self._h = ffi.gc(handle, lib.sag_addrinfo_free)

    def _slot(self, fn) -> int:
        st = fn(self._h, _c.int, NULL)
        if st != OK:
            raise _fail(st)
        return _c.int[0]

    @property
    def family(self) -> int:
        return self._slot(lib.sag_addrinfo_family)

    @property
    def socktype(self) -> int:
        return self._slot(lib.sag_addrinfo_socktype)

    @property
    def flags(self) -> int:
        return self._slot(lib.sag_addrinfo_flags)

    @property
    def protocol(self) -> int:
        return self._slot(lib.sag_addrinfo_protocol)

    @property
    def sockaddr(self) -> SockAddr | None:
        out = ffi.new("sag_sockaddr **")
        st = lib.sag_addrinfo_sockaddr(self._h, out, NULL)
        if st != OK:
            raise _fail(st)
        return None if out[0] == NULL else SockAddr(out[0])

    @property
    def next(self) -> AddrInfo | None:
        out = ffi.new("sag_addrinfo **")
        st = lib.sag_next_addrinfo(self._h, out, NULL)
        if st != OK:
            raise _fail(st)
        return None if out[0] == NULL else AddrInfo(out[0])

    def __iter__(self):
        ai: AddrInfo | None = self
        while ai is not None:
            yield ai
            ai = ai.next

    def __repr__(self) -> str:
        return f"AddrInfo(family={self.family}, socktype={self.socktype}, sockaddr={self.sockaddr!r})"

    @staticmethod
    def hint(family: int = 0, socktype: int = 0, flags: int = 0, protocol: int = 0) -> "AddrInfo":
        out = ffi.new("sag_addrinfo **")
        st = lib.sag_make_hint_addrinfo(_int(family, "family"), _int(socktype, "socktype"),
                                        _int(flags, "flags"), _int(protocol, "protocol"), out, NULL)
        if st != OK:
            raise _fail(st)
        return AddrInfo(out[0])

    @staticmethod
    def empty() -> "AddrInfo":
        out = ffi.new("sag_addrinfo **")
        st = lib.sag_make_addrinfo(out, NULL)
        if st != OK:
            raise _fail(st)
        return AddrInfo(out[0])

    @staticmethod
    def resolve(node: str | None, service: str | None, hints: "AddrInfo | None" = None) -> "AddrInfo":
        out = ffi.new("sag_addrinfo **")
        n, s = _cstr(node, "node"), _cstr(service, "service")
        if hints is not None and not isinstance(hints, AddrInfo):
            raise TypeError("hints must be an AddrInfo or None")
        st = lib.sag_get_addrinfo(n, s, hints._h if hints is not None else NULL, out, NULL)
        if st != OK:
            raise _fail(st)
        return AddrInfo(out[0])


def _handle_key(p) -> int:
    """A handle's value as an int: how handles the library hands back
    (fdset members, select results) are matched with the caller's objects."""
    return int(ffi.cast("uintptr_t", p))


def _address(family: int, address: Any, passive: bool = False) -> AddrInfo:
    """A Python address (host, port) — or a path-less (host, port, ...) for
    IPv6 — as the first addrinfo for it."""
    if isinstance(address, AddrInfo):
        return address
    if not isinstance(address, tuple) or len(address) < 2:
        raise TypeError("an address is a (host, port) tuple")
    host, port = address[0], address[1]
    if host == "":
        host = None
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        raise TypeError("port must be an int or a str")
    if isinstance(port, int) and not 0 <= port <= 65535:
        raise OverflowError("port must be 0-65535")
    flags = lib.SAG_AI_NUMERICSERV if isinstance(port, int) else 0
    if passive:
        flags |= lib.SAG_AI_PASSIVE
    return AddrInfo.resolve(host, str(port), AddrInfo.hint(family, lib.SAG_SOCK_STREAM, flags, 0))


class Socket:
    """A socket of libsagsocket, with the habits of :class:`socket.socket`.

    ``Socket(family=AF_INET, type=SOCK_STREAM, proto=0)`` makes one;
    :func:`sagsocket.create_connection`, :func:`sagsocket.create_server` and
    the Sagittarius functions (:func:`sagsocket.scheme.make_client_socket`,
    ...) return them too. Use it as a context manager; ``close()`` is
    idempotent, and the handle is freed when the object is garbage.
    """

    __slots__ = ("_h", "_family", "_timeout", "_closed", "_io_refs", "__weakref__")

    def __init__(self, family: int = lib.SAG_AF_INET, type: int = lib.SAG_SOCK_STREAM,
                 proto: int = 0, *, _handle=None) -> None:
        _handle_given = _handle
        if _handle is None:
            out = ffi.new("sag_socket **")
            st = lib.sag_make_socket(_int(family, "family"), _int(type, "type"), _int(proto, "proto"), out, NULL)
            if st != OK:
                raise _fail(st)
            _handle = out[0]
        self._h = ffi.gc(_handle, lib.sag_socket_free)
        # The family the socket was made with (0 when it came from the
        # library: then addresses are resolved for any family).
        self._family = family if _handle_given is None else 0
        self._timeout: float | None = None
        self._closed = False
        self._io_refs = 0

    @property
    def _key(self) -> int:
        """The handle's value: unique while the socket lives; its tag in
        selectors and its key in fdsets."""
        return int(ffi.cast("uintptr_t", self._h))

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
        st = lib.sag_socket_close(self._h, NULL)
        if st != OK:
            raise _fail(st, self)

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._real_close()

    @property
    def closed(self) -> bool:
        """True once the library has closed the socket."""
        st = lib.sag_socket_is_closed(self._h, _c.int, NULL)
        if st != OK:
            raise _fail(st, self)
        return _c.int[0] != 0

    def interrupt(self) -> None:
        """Wakes every call blocked on this socket in any thread at this
        moment; they raise :class:`SocketInterruptedError` (``accept`` of
        the Sagittarius face answers None)."""
        st = lib.sag_socket_interrupt(self._h, NULL)
        if st != OK:
            raise _fail(st, self)

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
        out = _c.int
        if _socket_fd(self._h, out, NULL) != OK:
            return -1
        return out[0]

    @property
    def name(self) -> str | None:
        """socket-name: "host(ip):port" of the address it was connected or bound to."""
        st = lib.sag_socket_name(self._h, _c.str, NULL)
        return _s(_c.str[0]) if st == OK else None

    @property
    def node(self) -> str | None:
        st = lib.sag_socket_node(self._h, _c.str, NULL)
        return _s(_c.str[0]) if st == OK else None

    @property
    def service(self) -> str | None:
        st = lib.sag_socket_service(self._h, _c.str, NULL)
        return _s(_c.str[0]) if st == OK else None

    def _info(self, fn) -> SocketInfo | None:
        out = ffi.new("sag_socket_info **")
        st = fn(self._h, out, NULL)
        if st != OK:
            raise _fail(st, self)
        return None if out[0] == NULL else SocketInfo(out[0])

    def info(self) -> SocketInfo | None:
        """getsockname(2) as a SocketInfo, or None."""
        return self._info(lib.sag_socket_get_info)

    def peer(self) -> SocketInfo | None:
        """getpeername(2) as a SocketInfo, or None when not connected."""
        return self._info(lib.sag_socket_get_peer)

    def _address_of(self, fn) -> tuple[str, int] | None:
        """(ip, port) of a socket-info, with no wrapper objects made."""
        c = _c
        st = fn(self._h, c.info, NULL)
        if st != OK:
            raise _fail(st, self)
        info = c.info[0]
        if info == NULL:
            return None
        try:
            st = lib.sag_socket_info_port(info, c.int, NULL)
            if st == OK:
                port = c.int[0]
                st = lib.sag_socket_info_ip_address(info, c.ip, NULL)
            if st != OK:
                raise _fail(st, self)
            ip = c.ip[0]
            try:
                st = lib.sag_ip_address_to_string(ip, c.str, NULL)
                if st != OK:
                    raise _fail(st, self)
                return (ffi.string(c.str[0]).decode("ascii"), port)
            finally:
                lib.sag_ip_address_free(ip)
        finally:
            lib.sag_socket_info_free(info)

    def getsockname(self) -> Any:
        """(ip, port) the socket is bound to (a Unix-domain one: its path)."""
        a = self._address_of(lib.sag_socket_get_info)
        if a is None:
            from . import unix
            return unix.name_of(self, False)
        return a

    def getpeername(self) -> Any:
        """(ip, port) of the peer (a Unix-domain one: its path)."""
        a = self._address_of(lib.sag_socket_get_peer)
        if a is None:
            from . import unix
            return unix.name_of(self, True)
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
        st = lib.sag_socket_set_nonblocking(self._h, 1 if on else 0, NULL)
        if st != OK:
            raise _fail(st, self)

    def _set_timeouts(self, us: int) -> None:
        st = lib.sag_socket_set_read_timeout(self._h, us, NULL)
        if st == OK:
            st = lib.sag_socket_setsockopt_duration(self._h, lib.SAG_SOL_SOCKET, lib.SAG_SO_SNDTIMEO, us, NULL)
        if st != OK:
            raise _fail(st, self)

    # -- connections ------------------------------------------------------------

    def _accept_handle(self):
        """The handle of an accepted connection, or None when interrupted."""
        out = _c.sock
        h = self._h
        t0 = _start()
        st = lib.sag_socket_accept(h, out, NULL)
        if st != OK:
            st = _retry(st, lambda us: lib.sag_socket_accept(h, out, NULL), self, t0, _READ)
        if st == OK:
            return out[0]
        if st == E_INTERRUPTED:
            return None
        raise _fail(st, self)

    def accept(self) -> "tuple[Socket, tuple[str, int]]":
        """Waits for a connection: (new socket, peer address). Raises
        SocketInterruptedError when interrupted or closed meanwhile."""
        h = self._accept_handle()
        if h is None:
            e = error_from(E_INTERRUPTED, socket=self)
            raise e
        s = Socket(_handle=h)
        try:
            addr = s.getpeername()
        except OSError:
            addr = ("", 0)
        return s, addr

    def connect(self, address: Any) -> None:
        """Connects to (host, port) (or an AddrInfo), trying each address;
        to a path (a Unix-domain socket) or a SockAddr."""
        us = -1 if not self._timeout else seconds_to_us(self._timeout)
        if isinstance(address, (str, bytes, bytearray, SockAddr)):
            from . import unix
            return unix.connect(self, address, us)
        ai = _address(self._family, address)
        last: BaseException | None = None
        h = self._h
        for entry in ai:
            t0 = _start()
            st = lib.sag_socket_connect(h, entry._h, us, NULL)
            if st != OK:
                st = _retry(st, lambda left, e=entry._h: lib.sag_socket_connect(h, e, left, NULL),
                            self, t0, _ARG, us)
            if st == OK:
                return
            if st == E_WOULD_BLOCK:
                raise _fail(st, self)
            last = _fail(st, self)
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
        ai = _address(self._family, address, passive=True)
        st = lib.sag_socket_bind(self._h, ai._h, NULL)
        if st != OK:
            raise _fail(st, self)

    def listen(self, backlog: int = lib.SAG_SOMAXCONN) -> None:
        st = lib.sag_socket_listen(self._h, _int(backlog, "backlog"), NULL)
        if st != OK:
            raise _fail(st, self)

    def shutdown(self, how: int) -> None:
        st = lib.sag_socket_shutdown(self._h, _int(how, "how"), NULL)
        if st != OK:
            raise _fail(st, self)

    # -- data -------------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        """Sends the bytes of a buffer (bytes, bytearray, memoryview, ...).
        A blocking socket sends them all; a non-blocking one what fits."""
        # bytes go as they are (cffi passes their data); other buffers
        # through ffi.from_buffer.
        buf = data if type(data) is bytes else ffi.from_buffer(data)
        n = len(buf)
        h = self._h
        t0 = _start()
        frame = _frame_take()
        try:
            err, sent = frame[0], frame[1]
            st = _send(h, buf, 0, n, flags, sent, err)
            if st == OK:
                return sent[0]
            if st == E_INTERRUPTED:
                done = lib.sag_error_sent(err)
                if done and _signalled(st, frame):
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
                    st = _retry(st, again, self, t0, _SEND, frame=frame)
                    if st == OK:
                        return sent[0]
            raise _fail(st, self, err=err)
        finally:
            _frame_give(frame)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Sends every byte of a buffer (also on a timeout socket)."""
        buf = data if type(data) is bytes else ffi.from_buffer(data)
        n = len(buf)
        start = 0
        h = self._h
        frame = _frame_take()
        err, sent = frame[0], frame[1]

        def again(us: int) -> int:
            # After a signal: resume after what went, with the time left.
            nonlocal start
            start += frame[2]
            return _send(h, buf, start, n - start, flags, sent, err)

        try:
            while start < n:
                t0 = _start()  # each send has the send timeout, as the library's
                st = _send(h, buf, start, n - start, flags, sent, err)
                if st != OK:
                    try:
                        st = _retry(st, again, self, t0, _SEND, frame=frame)
                    except OSError as e:  # its timeout passed during the retries
                        e.sent = start + getattr(e, "sent", 0)
                        raise
                if st == OK:
                    start += sent[0]
                    continue
                e = _fail(st, self, err=err)
                e.sent = start + getattr(e, "sent", 0)
                raise e
        finally:
            _frame_give(frame)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """At most bufsize bytes; b"" when the peer has closed."""
        buf, chars, got = _c.rx
        if bufsize > 65536:
            buf = ffi.new("uint8_t[]", bufsize)
            chars = ffi.cast("char *", buf)
        elif bufsize < 0:
            raise ValueError("negative buffersize in recv")
        t0 = _start()
        st = _recv(self._h, buf, 0, bufsize, flags, got, NULL)
        if st == OK:
            return _unpack(chars, got[0])  # bytes, one copy
        self._recv_again(st, t0, buf, 0, bufsize, flags)
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
        got = _c.size
        t0 = _start()
        st = _recv(self._h, buf, 0, nbytes, flags, got, NULL)
        if st == OK:
            return got[0]
        self._recv_again(st, t0, buf, 0, nbytes, flags)
        return got[0]

    def _recv_again(self, st: int, t0: float, buf, start: int, n: int, flags: int) -> None:
        """The slow path of a recv that failed at t0: signals (retry with
        the time left), or raise."""
        h = self._h
        st = _retry(st, lambda us: _recv(h, buf, start, n, flags, _c.size, NULL), self, t0, _READ)
        if st != OK:
            raise _fail(st, self)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, tuple[str, int]]:
        if _int(bufsize, "bufsize") < 0:
            raise ValueError("negative buffersize in recvfrom")
        buf = ffi.new("uint8_t[]", max(bufsize, 1))
        sa = SockAddr()
        n = self._recvfrom(buf, 0, bufsize, flags, sa)
        data = ffi.buffer(buf, n)[:]
        try:
            return data, sa.as_tuple()
        except Exception:  # not IPv4/IPv6: a Unix-domain sender, or none
            from . import unix
            return data, unix.address_of(sa)

    def _recvfrom(self, buf, start: int, n: int, flags: int, sa: SockAddr,
                  would_block: bool = False) -> int:
        """recvfrom into buf[start:start+n] (both faces); -1 when the call
        would block and ``would_block`` asks for that rather than the
        exception."""
        h, a = self._h, sa._h
        t0 = _start()
        st = lib.sag_socket_recvfrom(h, buf, start, n, flags, a, _c.size, NULL)
        if st != OK:
            st = _retry(st, lambda us: lib.sag_socket_recvfrom(h, buf, start, n, flags, a, _c.size, NULL),
                        self, t0, _READ)
        if st == OK:
            return _c.size[0]
        if would_block and st == lib.SAG_E_WOULD_BLOCK:
            return -1
        raise _fail(st, self)

    def sendto(self, data: Any, address: Any, flags: int = 0) -> int:
        if isinstance(address, SockAddr):
            sa = address
        elif isinstance(address, (str, bytes, bytearray)):
            from . import unix
            sa = unix.sockaddr(address)
        else:
            ai = AddrInfo.resolve(address[0], str(address[1]),
                                  AddrInfo.hint(self._family, lib.SAG_SOCK_DGRAM, lib.SAG_AI_NUMERICSERV, 0))
            sa = ai.sockaddr
        buf = ffi.from_buffer(data)
        return self._sendto(buf, 0, len(buf), flags, sa)

    def _sendto(self, buf, start: int, n: int, flags: int, sa: SockAddr) -> int:
        """sendto of buf[start:start+n] (both faces)."""
        h, a = self._h, sa._h
        t0 = _start()
        st = lib.sag_socket_sendto(h, buf, start, n, flags, a, _c.size, NULL)
        if st != OK:
            st = _retry(st, lambda us: lib.sag_socket_sendto(h, buf, start, n, flags, a, _c.size, NULL),
                        self, t0, _SEND)
        if st == OK:
            return _c.size[0]
        raise _fail(st, self)

    # -- options ------------------------------------------------------------------

    def setsockopt(self, level: int, optname: int, value: "int | bytes") -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            st = lib.sag_socket_setsockopt_int(self._h, level, optname, value, NULL)
        elif isinstance(value, bool):
            st = lib.sag_socket_setsockopt_int(self._h, level, optname, int(value), NULL)
        else:
            b = ffi.from_buffer(value)
            st = lib.sag_socket_setsockopt_bytes(self._h, level, optname, b, 0, len(b), NULL)
        if st != OK:
            raise _fail(st, self)

    def getsockopt(self, level: int, optname: int, buflen: int = 0) -> "int | bytes":
        if buflen == 0:
            st = lib.sag_socket_getsockopt_int(self._h, level, optname, _c.int, NULL)
            if st != OK:
                raise _fail(st, self)
            return _c.int[0]
        if buflen < 0:
            raise ValueError("buflen must not be negative")
        buf = ffi.new("uint8_t[]", buflen)
        st = lib.sag_socket_getsockopt_bytes(self._h, level, optname, buf, 0, buflen, _c.size, NULL)
        if st != OK:
            raise _fail(st, self)
        return ffi.buffer(buf, _c.size[0])[:]

    # -- files -------------------------------------------------------------------

    def makefile(self, mode: str = "r", buffering: int | None = None, *,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None):
        """A file object over the socket, as socket.socket.makefile: "r",
        "w", "rw" with "b" for bytes. Text files are io.TextIOWrapper over
        io.BufferedReader/Writer/RWPair over a raw SocketIO."""
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        writing = "w" in mode
        reading = "r" in mode or not writing
        assert reading or writing
        binary = "b" in mode
        rawmode = ""
        if reading:
            rawmode += "r"
        if writing:
            rawmode += "w"
        raw = SocketIO(self, rawmode)
        self._io_refs += 1
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if not binary:
                raise ValueError("unbuffered streams must be binary")
            return raw
        if reading and writing:
            buffer: Any = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if binary:
            return buffer
        encoding = io.text_encoding(encoding)
        text = io.TextIOWrapper(buffer, encoding, errors, newline)
        text.mode = mode
        return text


class SocketIO(io.RawIOBase):
    """The raw I/O object under :meth:`Socket.makefile`: readinto is one
    recv into the buffer io.BufferedReader hands it, write one send."""

    def __init__(self, sock: Socket, mode: str) -> None:
        if mode not in ("r", "w", "rw", "rb", "wb", "rwb"):
            raise ValueError(f"invalid mode: {mode!r}")
        io.RawIOBase.__init__(self)
        self._sock = sock
        if "b" not in mode:
            mode += "b"
        self._mode = mode
        self._reading = "r" in mode
        self._writing = "w" in mode

    def readinto(self, b: Any) -> int | None:
        self._checkClosed()
        if not self._reading:
            raise io.UnsupportedOperation("not readable")
        sock = self._sock
        buf = _from_buffer(b, require_writable=True)
        got = _c.size
        n = len(buf)
        t0 = _start()
        st = _recv(sock._h, buf, 0, n, 0, got, NULL)
        if st == OK:
            return got[0]
        if st == E_WOULD_BLOCK:
            return None
        sock._recv_again(st, t0, buf, 0, n, 0)
        return got[0]

    def write(self, b: Any) -> int | None:
        self._checkClosed()
        if not self._writing:
            raise io.UnsupportedOperation("not writable")
        try:
            return self._sock.send(b)
        except BlockingIOError:
            return None

    def readable(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._reading

    def writable(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._writing

    def seekable(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return False

    def fileno(self) -> int:
        self._checkClosed()
        return self._sock.fileno()

    @property
    def name(self) -> int:
        return -1 if self.closed else self.fileno()

    @property
    def mode(self) -> str:
        return self._mode

    def close(self) -> None:
        if self.closed:
            return
        io.RawIOBase.close(self)
        self._sock._decref_socketios()
        self._sock = None  # type: ignore[assignment]


# ---------------------------------------------------------------------------
# Fdsets and select
# ---------------------------------------------------------------------------

def _socket_array(socks: Iterable[Socket]):
    lst = list(socks)
    for s in lst:
        if not isinstance(s, Socket):
            raise TypeError(f"expected a sagsocket.Socket, not {type(s).__name__}")
    arr = ffi.new("sag_socket *[]", max(len(lst), 1))
    for i, s in enumerate(lst):
        arr[i] = s._h
    return lst, arr


class FdSet:
    """An ordered set of sockets for select (Scheme's fdset)."""
    __slots__ = ("_h", "_keep")

    def __init__(self, sockets: Iterable[Socket] = (), *, _handle=None,
                 _known: "dict[int, Socket] | None" = None) -> None:
        # Members are handle values in the library: _keep maps them to the
        # caller's objects (and keeps those alive).
        self._keep: dict[int, Socket] = {}
        if _handle is None:
            lst, arr = _socket_array(sockets)
            out = ffi.new("sag_fdset **")
            st = lib.sag_fdset_from_sockets(arr, len(lst), out, NULL)
            if st != OK:
                raise _fail(st)
            _handle = out[0]
            _known = {s._key: s for s in lst}
        self._h = ffi.gc(_handle, lib.sag_fdset_free)
        if _known:
            self._keep = _known
            self._keep = {s._key: s for s in self.sockets()}

    def __contains__(self, s: Socket) -> bool:
        if not isinstance(s, Socket):
            raise TypeError("expected a sagsocket.Socket")
        st = lib.sag_fdset_ref(self._h, s._h, _c.int, NULL)
        if st != OK:
            raise _fail(st, s)
        return _c.int[0] != 0

    def set(self, s: Socket, flag: bool) -> None:
        if not isinstance(s, Socket):
            raise TypeError("expected a sagsocket.Socket")
        st = lib.sag_fdset_set(self._h, s._h, 1 if flag else 0, NULL)
        if st != OK:
            raise _fail(st, s)
        if flag:
            self._keep[s._key] = s
        else:
            self._keep.pop(s._key, None)

    def clear(self) -> None:
        st = lib.sag_fdset_clear(self._h, NULL)
        if st != OK:
            raise _fail(st)
        self._keep.clear()

    def sockets(self) -> list[Socket]:
        st = lib.sag_fdset_sockets(self._h, NULL, 0, _c.size, NULL)
        if st != OK:
            raise _fail(st)
        n = _c.size[0]
        arr = ffi.new("sag_socket *[]", max(n, 1))
        st = lib.sag_fdset_sockets(self._h, arr, n, _c.size, NULL)
        if st != OK:
            raise _fail(st)
        keep = self._keep
        out = []
        for i in range(min(n, _c.size[0])):
            s = keep.get(_handle_key(arr[i]))
            if s is not None:
                out.append(s)
        return out

    def __len__(self) -> int:
        st = lib.sag_fdset_sockets(self._h, NULL, 0, _c.size, NULL)
        if st != OK:
            raise _fail(st)
        return _c.size[0]

    def __repr__(self) -> str:
        return f"FdSet({self.sockets()!r})"


def _fdset_arg(f: FdSet | None):
    if f is None:
        return NULL
    if not isinstance(f, FdSet):
        raise TypeError("an fdset must be an FdSet or None")
    return f._h


def select(rfds: FdSet | None, wfds: FdSet | None, efds: FdSet | None,
           timeout_us: int) -> tuple[int, FdSet | None, FdSet | None, FdSet | None]:
    """socket-select: (count, new rfds, new wfds, new efds)."""
    r, w, e = _fdset_arg(rfds), _fdset_arg(wfds), _fdset_arg(efds)
    outs = ffi.new("sag_fdset *[3]")
    cnt = ffi.new("int *")
    t0 = _start()
    st = lib.sag_socket_select(r, w, e, timeout_us, cnt, outs, outs + 1, outs + 2, NULL)
    if st != OK:
        st = _retry(st, lambda us: lib.sag_socket_select(r, w, e, us, cnt, outs, outs + 1, outs + 2, NULL),
                    None, t0, _WAIT, timeout_us)
    if st == OK:
        return (cnt[0], *(None if given is None else FdSet(_handle=outs[i], _known=given._keep)
                          for i, given in enumerate((rfds, wfds, efds))))
    if st == E_INTERRUPTED:
        return (0, *(None if given is None else FdSet() for given in (rfds, wfds, efds)))
    raise _fail(st)


def select_inplace(rfds: FdSet | None, wfds: FdSet | None, efds: FdSet | None,
                   timeout_us: int) -> tuple[int, FdSet | None, FdSet | None, FdSet | None]:
    """socket-select!: the given sets keep only their ready members."""
    r, w, e = _fdset_arg(rfds), _fdset_arg(wfds), _fdset_arg(efds)
    cnt = ffi.new("int *")
    t0 = _start()
    st = lib.sag_socket_select_inplace(r, w, e, timeout_us, cnt, NULL)
    if st != OK:
        st = _retry(st, lambda us: lib.sag_socket_select_inplace(r, w, e, us, cnt, NULL),
                    None, t0, _WAIT, timeout_us)
    if st == E_INTERRUPTED:
        for f in (rfds, wfds, efds):
            if f is not None:
                f.clear()
        return (0, rfds, wfds, efds)
    if st != OK:
        raise _fail(st)
    for f in (rfds, wfds, efds):
        if f is not None:
            f._keep = {s._key: s for s in f.sockets()}  # the members left
    return (cnt[0], rfds, wfds, efds)


def ready_select(fn, timeout_us: int, socks: Iterable[Socket]) -> list[Socket]:
    """socket-read-select and friends: the ready sockets, in order given."""
    lst, arr = _socket_array(socks)
    ready = ffi.new("sag_socket *[]", max(len(lst), 1))
    n = _c.size
    t0 = _start()
    st = fn(timeout_us, arr, len(lst), ready, n, NULL)
    if st != OK:
        st = _retry(st, lambda us: fn(us, arr, len(lst), ready, n, NULL), None, t0, _WAIT, timeout_us)
    if st == E_INTERRUPTED:
        return []
    if st != OK:
        raise _fail(st)
    by_key = {s._key: s for s in lst}
    return [by_key[_handle_key(ready[i])] for i in range(n[0])]


# ---------------------------------------------------------------------------
# The library's socket selector
# ---------------------------------------------------------------------------

class SelectorEntry(NamedTuple):
    """A socket a selector reported: the socket, its own timeout (seconds
    or None) and the datum given to add."""
    socket: Socket
    timeout: float | None
    data: Any


class SocketSelector:
    """Scheme's socket selector (epoll): ``add`` sockets with an optional
    timeout of their own and a datum; ``wait`` reports those that became
    readable and those whose timeout passed, and each reported socket
    leaves the selector."""

    CAPACITY = 1024

    def __init__(self) -> None:
        out = ffi.new("sag_selector **")
        st = lib.sag_selector_new(out, NULL)
        if st != OK:
            raise _fail(st)
        self._h = ffi.gc(out[0], lib.sag_selector_free)
        self._entries: dict[int, SelectorEntry] = {}  # tag -> entry
        self._socks = ffi.new("sag_socket *[]", self.CAPACITY)
        self._tags = ffi.new("int64_t[]", self.CAPACITY)
        self._timed = ffi.new("int[]", self.CAPACITY)
        self._count = ffi.new("size_t *")
        self._lock = threading.Lock()
        self._prune_at = 64

    def add(self, s: Socket, timeout: Any = None, data: Any = None) -> None:
        if not isinstance(s, Socket):
            raise TypeError(f"expected a sagsocket.Socket, not {type(s).__name__}")
        us = select_timeout_us(timeout)
        # The entry goes in before the library's add, so that a wait in
        # another thread that reports the socket at once finds it; it goes
        # out again when the add fails (a closed socket or selector, ...).
        key = s._key
        with self._lock:
            fresh = key not in self._entries
            if fresh:
                self._entries[key] = SelectorEntry(s, None if us < 0 else us / 1e6, data)
        st = lib.sag_selector_add(self._h, s._h, us, key, NULL)
        if st == OK and not (fresh and s.closed):
            return
        # Failed, or a closed socket, which the library does not add (SAG_OK,
        # as Sagittarius ignores it) and will never report.
        e = _fail(st, s) if st != OK else None
        if fresh:
            with self._lock:
                self._entries.pop(key, None)
        if e is not None:
            raise e

    def wait(self, timeout: Any = None) -> tuple[list[SelectorEntry], list[SelectorEntry]]:
        us = select_timeout_us(timeout)
        args = (self._socks, self._tags, self._timed, self.CAPACITY, self._count, NULL)
        h = self._h
        t0 = _start()
        st = lib.sag_selector_wait(h, us, *args)
        if st != OK:
            st = _retry(st, lambda left: lib.sag_selector_wait(h, left, *args), None, t0, _WAIT, us)
            if st != OK:
                raise _fail(st)
        ready: list[SelectorEntry] = []
        timed: list[SelectorEntry] = []
        tags, flags = self._tags, self._timed
        with self._lock:
            pop = self._entries.pop
            for i in range(self._count[0]):
                e = pop(tags[i], None)
                if e is not None:
                    (timed if flags[i] else ready).append(e)
            if len(self._entries) > self._prune_at:
                # Sockets closed while held leave the library's selector
                # unreported: drop their entries here too.
                for tag in [t for t, e in self._entries.items() if e.socket.closed]:
                    del self._entries[tag]
                self._prune_at = 2 * len(self._entries) + 64
        return ready, timed

    def wait_tags(self, us: int) -> tuple[list[int], int]:
        """The tags of the sockets that became readable, and 1 when a signal
        ended the wait (after its handlers ran): for the selectors-like
        Selector, which keeps its own keys and adds sockets itself."""
        _start()  # arms the main thread's signal interrupts
        while True:
            st = lib.sag_selector_wait(self._h, us, self._socks, self._tags, self._timed,
                                       self.CAPACITY, self._count, NULL)
            if st == OK:
                tags = self._tags
                return [tags[i] for i in range(self._count[0])], 0
            if _signalled(st):
                return [], 1
            raise _fail(st)

    def interrupt(self) -> None:
        st = lib.sag_selector_interrupt(self._h, NULL)
        if st != OK:
            raise _fail(st)

    def close(self) -> None:
        st = lib.sag_selector_close(self._h, NULL)
        if st != OK:
            raise _fail(st)
        with self._lock:
            self._entries.clear()

    def clear(self) -> list[SelectorEntry]:
        out: list[SelectorEntry] = []
        while True:
            st = lib.sag_selector_clear(self._h, self._socks, self._tags, self.CAPACITY, self._count, NULL)
            if st != OK:
                raise _fail(st)
            n = self._count[0]
            with self._lock:
                for i in range(n):
                    e = self._entries.pop(self._tags[i], None)
                    if e is not None:
                        out.append(e)
            if n < self.CAPACITY:
                break
        with self._lock:
            self._entries.clear()
        return out

    def __len__(self) -> int:
        st = lib.sag_selector_size(self._h, _c.size, NULL)
        if st != OK:
            raise _fail(st)
        return _c.size[0]

    @property
    def closed(self) -> bool:
        st = lib.sag_selector_is_closed(self._h, _c.int, NULL)
        if st != OK:
            raise _fail(st)
        return _c.int[0] != 0

    @property
    def waiting(self) -> bool:
        st = lib.sag_selector_is_waiting(self._h, _c.int, NULL)
        if st != OK:
            raise _fail(st)
        return _c.int[0] != 0

    def __enter__(self) -> "SocketSelector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
