"""The Sagittarius surface: every procedure of (sagittarius socket) as a
Python function, for code ported from Scheme.

Names: ``-`` becomes ``_``, ``x?`` becomes ``is_x``, a trailing ``!`` is
dropped (``socket-select!`` is :func:`socket_select_inplace`, the
``recv!``-style fills are ``..._into``), ``->`` becomes ``_to_``,
``make-server-socket*`` is :func:`make_server_sockets` and ``/resolver``,
``/range`` become ``_with_resolver``, ``_range``. Defaults and results are
Sagittarius's: None for #f, bytes for bytevectors; a *duration* is seconds
(int or float) or a :class:`datetime.timedelta`; select timeouts take
Sagittarius's forms (None: forever; an int: microseconds; a float or
timedelta: seconds; a pair (seconds, microseconds)). Conditions are the
exceptions of :mod:`sagsocket.errors`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Iterable

from . import calls
from .addresses import AddrInfo, IPAddress, SockAddr, SocketInfo
from .args import c_string, check_int, check_range, seconds_to_us, select_timeout_us
from .calls import ARG, OK, SEND, cells, retry
from .errors import HostNotFoundError, SocketClosedError, SocketConnectionError, error_from
from .fdsets import FdSet, ready_select, select as _select, select_inplace as _select_inplace
from .library import NULL, ffi, lib
from .selector import SelectorEntry, SocketSelector
from .sockets import Socket, client_socket, socket_for
from .transfer import recv_again
from .ports import (Port, close_port, flush_output_port, get_bytevector_all, get_bytevector_n,
                    get_bytevector_some, get_char, get_line, get_string_all, get_string_n,
                    get_u8, lookahead_char, lookahead_u8, port_ready, put_bytevector, put_char,
                    put_string, put_u8, shutdown_input_port, shutdown_output_port, shutdown_port,
                    socket_input_port, socket_output_port, socket_port, transcoded_port)

AF_INET = lib.SAG_AF_INET
SOCK_STREAM = lib.SAG_SOCK_STREAM
_DEFAULT_CLIENT_FLAGS = lib.SAG_AI_V4MAPPED  # no AI_ADDRCONFIG, as Sagittarius since 2025-11


def _sock(s: Any) -> Socket:
    if not isinstance(s, Socket):
        raise TypeError(f"expected a socket, not {type(s).__name__}")
    return s


def _new_socket(st: int, out) -> Socket:
    if st != OK:
        raise error_from(st)
    return Socket.adopt(out[0])


# ---- 1. Client and server sockets -----------------------------------------

def make_client_socket(node: str | None, service: str | None, family: int = AF_INET,
                       socktype: int = SOCK_STREAM, flags: int = _DEFAULT_CLIENT_FLAGS,
                       protocol: int = 0) -> Socket:
    """make-client-socket: tries every address of node/service until one
    connects; HostNotFoundError (node, service) otherwise."""
    return client_socket(node, service, family, socktype, flags, protocol)


def make_server_socket(service: str | None, family: int = AF_INET, socktype: int = SOCK_STREAM,
                       protocol: int = 0) -> Socket:
    """make-server-socket: bound and (stream) listening; service "0" picks a port."""
    out = ffi.new("sag_socket **")
    st = lib.sag_make_server_socket(c_string(service, "service"), check_int(family, "family"),
                                    check_int(socktype, "socktype"), check_int(protocol, "protocol"), out, NULL)
    return _new_socket(st, out)


def make_server_sockets(service: str | None, family: int = lib.SAG_AF_UNSPEC,
                        socktype: int = SOCK_STREAM, protocol: int = 0) -> list[Socket]:
    """make-server-socket*: one listening socket per address (IPv4 and IPv6)."""
    cap = 16
    out = ffi.new("sag_socket *[]", cap)
    st = lib.sag_make_server_sockets(c_string(service, "service"), check_int(family, "family"),
                                     check_int(socktype, "socktype"), check_int(protocol, "protocol"),
                                     out, cap, cells.size, NULL)
    if st != OK:
        raise error_from(st)
    return [Socket.adopt(out[i]) for i in range(cells.size[0])]


make_server_socket_star = make_server_sockets


def _from_resolved(chain: Any, make: Callable[[AddrInfo], Socket | None], node: str | None,
                   service: str | None) -> Socket:
    ai = chain
    while ai is not None:
        s = make(ai)
        if s is not None:
            return s
        ai = ai.next
    e = HostNotFoundError(0, f"no address of {node!r} {service!r} could be used")
    e.node, e.service, e.status = node, service, lib.SAG_E_HOST_NOT_FOUND
    raise e


def make_client_socket_with_resolver(node: str | None, service: str | None,
                                     resolver: Callable[[Any, Any], AddrInfo | None],
                                     timeout: Any = None) -> Socket:
    """make-client-socket/resolver: resolver(node, service) gives an
    addrinfo chain; each entry is tried with socket-connect! (timeout)."""
    def make(ai: AddrInfo) -> Socket | None:
        s = create_socket(ai)
        if s is None:
            return None
        try:
            if socket_connect(s, ai, timeout) is not None:
                return s
        except SocketConnectionError:
            pass
        s.close()
        return None
    return _from_resolved(resolver(node, service), make, node, service)


def _server_from(ai: AddrInfo) -> Socket | None:
    s = create_socket(ai)
    if s is None:
        return None
    try:
        s.setsockopt(lib.SAG_SOL_SOCKET, lib.SAG_SO_REUSEADDR, 1)
    except OSError:
        pass
    if socket_bind(s, ai) is None or (ai.socktype == SOCK_STREAM
                                      and socket_listen(s, lib.SAG_SOMAXCONN) is None):
        s.close()
        return None
    return s


def make_server_socket_with_resolver(service: str | None,
                                     resolver: Callable[[Any], AddrInfo | None]) -> Socket:
    """make-server-socket/resolver: resolver(service) gives the chain."""
    return _from_resolved(resolver(service), _server_from, None, service)


def make_server_sockets_with_resolver(service: str | None,
                                      resolver: Callable[[Any], AddrInfo | None]) -> list[Socket]:
    """make-server-socket*/resolver: a listening socket per entry that works,
    in the reverse of the chain's order (as Sagittarius builds the list)."""
    out = []
    ai = resolver(service)
    while ai is not None:
        s = _server_from(ai)
        if s is not None:
            out.insert(0, s)
        ai = ai.next
    return out


def is_socket(obj: Any) -> bool:
    """socket?"""
    return isinstance(obj, Socket)


def is_socket_closed(s: Socket) -> bool:
    """socket-closed?"""
    return _sock(s).closed


def is_nonblocking_socket(s: Socket) -> bool:
    """nonblocking-socket?"""
    st = lib.sag_socket_is_nonblocking(_sock(s).handle, cells.int, NULL)
    if st != OK:
        raise error_from(st, s)
    return cells.int[0] != 0


def call_with_socket(s: Socket, proc: Callable[[Socket], Any]) -> Any:
    """call-with-socket: proc(s), then closes s; returns proc's result."""
    try:
        return proc(_sock(s))
    finally:
        s.close()


def socket_accept(s: Socket) -> Socket | None:
    """socket-accept: a new connected socket, or None when interrupted or
    closed while waiting."""
    h = _sock(s).accept_handle()
    return None if h is None else Socket.adopt(h)


def socket_recv(s: Socket, size: int, flags: int = 0) -> bytes | None:
    """socket-recv: at most size bytes; b"" when the peer closed; None on a
    non-blocking socket with nothing to read."""
    check_int(size, "size")
    try:
        return _sock(s).recv(size, flags)
    except BlockingIOError:
        return None


def socket_recv_into(s: Socket, bv: Any, start: int, length: int, flags: int = 0) -> int:
    """socket-recv!: into bv[start:start+length]; the count (-1 would block)."""
    buf = ffi.from_buffer(bv, require_writable=True)
    try:
        check_range(len(buf), start, length)
        sock = _sock(s)
        with calls.take_frame() as f:
            t0 = calls.start()
            st = lib.sag_socket_recv(sock.handle, buf, start, length, flags, f.size, f.err)
            try:
                if st != OK:
                    recv_again(sock, st, t0, buf, start, length, flags, f)
            except BlockingIOError:
                return -1
            return f.size[0]
    except BaseException:
        ffi.release(buf)  # see args.unexport
        raise


def socket_send(s: Socket, bv: Any, flags: int = 0) -> int:
    """socket-send: sends all the bytes, returns the count."""
    return socket_send_range(s, bv, 0, len(ffi.from_buffer(bv)), flags)


def socket_send_range(s: Socket, bv: Any, start: int, count: int, flags: int = 0) -> int:
    """socket-send/range: bv[start:start+count]."""
    buf = ffi.from_buffer(bv)
    try:
        check_range(len(buf), start, count)
        h = _sock(s).handle
        done = 0
        with calls.take_frame() as frame:  # the call's own error object and cells
            err, size = frame.err, frame.size

            def send(retry: bool) -> int:
                nonlocal done
                if retry:  # after a signal: resume after what went
                    done += frame.went
                return lib.sag_socket_send(h, buf, start + done, count - done, flags, size, err)

            t0 = calls.start()
            st = send(False)
            if st != OK:
                try:
                    st = retry(st, lambda us: send(True), s, t0, SEND, frame=frame)
                except OSError as e:  # its timeout passed during the retries
                    e.sent = done + getattr(e, "sent", 0)
                    raise
            if st == OK:
                return done + size[0]
            if st == lib.SAG_E_WOULD_BLOCK:
                return done
            e = error_from(st, s, err=err)
            e.sent = getattr(e, "sent", 0) + done
            raise e
    except BaseException:
        ffi.release(buf)  # see args.unexport
        raise


def socket_shutdown(s: Socket, how: int) -> None:
    _sock(s).shutdown(how)


def socket_close(s: Socket) -> None:
    _sock(s).close()


# ---- 2. Ports: the procedures over Port are in ports.py, imported above --

# ---- 3. Socket information --------------------------------------------------

def socket_info(s: Socket) -> SocketInfo | None:
    return _sock(s).info()


def socket_peer(s: Socket) -> SocketInfo | None:
    return _sock(s).peer()


def is_socket_info(o: Any) -> bool:
    return isinstance(o, SocketInfo)


def socket_info_hostname(i: SocketInfo) -> str: return i.hostname
def socket_info_ip_address(i: SocketInfo) -> IPAddress: return i.ip_address
def socket_info_port(i: SocketInfo) -> int: return i.port


def socket_info_values(s: Socket, type: str = "peer") -> tuple[Any, Any, Any]:
    """(hostname, ip-address, port) of the peer ("peer") or of the socket
    ("info"); (None, None, None) when unavailable."""
    if type not in ("peer", "info"):
        raise ValueError("type must be 'peer' or 'info'")
    i = socket_peer(s) if type == "peer" else socket_info(s)
    if i is None:
        return (None, None, None)
    return (i.hostname, i.ip_address, i.port)


def socket_name(s: Socket) -> str | None: return _sock(s).name
def socket_node(s: Socket) -> str | None: return _sock(s).node
def socket_service(s: Socket) -> str | None: return _sock(s).service


def socket_fd(s: Socket) -> int:
    _sock(s)._shown = True  # given out: Socket.close looks at it
    st = lib.sag_socket_fd(s.handle, cells.int, NULL)
    if st != OK:
        raise error_from(st, s)
    return cells.int[0]


def is_ip_address(o: Any) -> bool: return isinstance(o, IPAddress)
def is_ip_v6_address(o: Any) -> bool: return isinstance(o, IPAddress) and o.is_v6
def ip_address_to_string(ip: IPAddress) -> str: return str(ip)
def ip_address_to_bytes(ip: IPAddress) -> bytes: return bytes(ip)


ip_address_to_bytevector = ip_address_to_bytes


def _last(s: Socket):
    e = ffi.new("sag_error **")
    lib.sag_error_new(e)
    err = ffi.gc(e[0], lib.sag_error_free)
    st = lib.sag_socket_last_error(_sock(s).handle, err, NULL)
    if st != OK:
        raise error_from(st, s)
    return err


def socket_error_message(s: Socket) -> str:
    """The message of the last failure on s ("" when none)."""
    err = _last(s)  # kept alive while its message is read
    return ffi.string(lib.sag_error_message(err)).decode("utf-8", "replace")


def socket_last_error(s: Socket) -> int:
    """The errno of the last failure on s (0 when none)."""
    return lib.sag_error_errno(_last(s))


# ---- 4. Low level -----------------------------------------------------------

def make_socket(family: int, socktype: int, protocol: int = 0) -> Socket | None:
    """make-socket: None when the OS refuses."""
    out = ffi.new("sag_socket **")
    st = lib.sag_make_socket(check_int(family, "family"), check_int(socktype, "socktype"),
                             check_int(protocol, "protocol"), out, NULL)
    if st == lib.SAG_E_SOCKET:
        return None
    return _new_socket(st, out)


def create_socket(ai: AddrInfo) -> Socket | None:
    """create-socket: make-socket with the addrinfo's family, type, protocol."""
    return socket_for(ai)


def socket_connect(s: Socket, ai: AddrInfo, timeout: Any = None) -> Socket | None:
    """socket-connect!: s, or None on failure without a timeout; with a
    timeout, a connection not made in time raises SocketConnectionError."""
    if not isinstance(ai, AddrInfo):
        raise TypeError("expected an AddrInfo")
    us = select_timeout_us(timeout)
    h = _sock(s).handle
    with calls.take_frame() as f:
        err = f.err
        t0 = calls.start()
        st = lib.sag_socket_connect(h, ai.handle, us, err)
        if st != OK:
            st = retry(st, lambda left: lib.sag_socket_connect(h, ai.handle, left, err), s, t0, ARG, us,
                       frame=f)
        if st == OK:
            return s
        if st == lib.SAG_E_WOULD_BLOCK or (st == lib.SAG_E_CONNECTION and us < 0):
            return None
        raise error_from(st, s, err=err)


def socket_bind(s: Socket, ai: AddrInfo) -> Socket | None:
    if not isinstance(ai, AddrInfo):
        raise TypeError("expected an AddrInfo")
    st = lib.sag_socket_bind(_sock(s).handle, ai.handle, NULL)
    if st == lib.SAG_E_SOCKET:
        return None
    if st != OK:
        raise error_from(st, s)
    return s


def socket_listen(s: Socket, backlog: int) -> Socket | None:
    st = lib.sag_socket_listen(_sock(s).handle, check_int(backlog, "backlog"), NULL)
    if st == lib.SAG_E_SOCKET:
        return None
    if st != OK:
        raise error_from(st, s)
    return s


def socket_sendto(s: Socket, bv: Any, sockaddr: SockAddr, flags: int = 0) -> int:
    return socket_sendto_range(s, bv, 0, len(memoryview(bv).cast("B")), sockaddr, flags)


def socket_sendto_range(s: Socket, bv: Any, start: int, count: int, sockaddr: SockAddr,
                        flags: int = 0) -> int:
    if not isinstance(sockaddr, SockAddr):
        raise TypeError("expected a SockAddr")
    buf = ffi.from_buffer(bv)
    try:
        check_range(len(buf), start, count)
        return _sock(s).sendto_range(buf, start, count, flags, sockaddr)
    except BaseException:
        ffi.release(buf)  # see args.unexport
        raise


def socket_recvfrom(s: Socket, size: int, sockaddr: SockAddr, flags: int = 0) -> bytes | None:
    """socket-recvfrom: fills sockaddr with the sender's address."""
    buf = bytearray(size)
    n = socket_recvfrom_into(s, buf, 0, size, sockaddr, flags)
    return None if n < 0 else bytes(buf[:n])


def socket_recvfrom_into(s: Socket, bv: Any, start: int, length: int, sockaddr: SockAddr,
                         flags: int = 0) -> int:
    if not isinstance(sockaddr, SockAddr):
        raise TypeError("expected a SockAddr")
    buf = ffi.from_buffer(bv, require_writable=True)
    try:
        check_range(len(buf), start, length)
        return _sock(s).recvfrom_range(buf, start, length, flags, sockaddr, would_block=True)
    except BaseException:
        ffi.release(buf)  # see args.unexport
        raise


_DURATION_OPTS = (lib.SAG_SO_RCVTIMEO, lib.SAG_SO_SNDTIMEO)


def socket_setsockopt(s: Socket, level: int, name: int, value: Any) -> None:
    """socket-setsockopt!: value an int, bytes, or (SO_RCVTIMEO, SO_SNDTIMEO)
    a duration in seconds or a timedelta."""
    h = _sock(s).handle
    if level == lib.SAG_SOL_SOCKET and name in _DURATION_OPTS and \
            isinstance(value, (int, float, timedelta)) and not isinstance(value, bool):
        st = lib.sag_socket_setsockopt_duration(h, level, name, seconds_to_us(value), NULL)
        if st != OK:
            raise error_from(st, s)
        return
    s.setsockopt(level, name, value)


def socket_getsockopt(s: Socket, level: int, name: int, size: int) -> Any:
    """socket-getsockopt: size > 0 bytes; 0 an int; -1 (SO_RCVTIMEO,
    SO_SNDTIMEO) a duration in seconds."""
    if size == -1:
        st = lib.sag_socket_getsockopt_duration(_sock(s).handle, level, name, cells.i64, NULL)
        if st != OK:
            raise error_from(st, s)
        return cells.i64[0] / 1e6
    return _sock(s).getsockopt(level, name, size)


def socket_nonblocking(s: Socket) -> None:
    """socket-nonblocking!"""
    _sock(s).setblocking(False)


def socket_blocking(s: Socket) -> None:
    """socket-blocking!"""
    _sock(s).setblocking(True)


def socket_set_read_timeout(s: Socket, t: Any) -> None:
    """socket-set-read-timeout!: t an int of milliseconds (Sagittarius's
    exact number), or a duration: a float of seconds or a timedelta."""
    if isinstance(t, bool):
        raise TypeError("timeout must be milliseconds (int) or a duration")
    if isinstance(t, int):
        if t < 0:
            raise ValueError("timeout must not be negative")
        us = t * 1000
    else:
        us = seconds_to_us(t)
    st = lib.sag_socket_set_read_timeout(_sock(s).handle, us, NULL)
    if st != OK:
        raise error_from(st, s)


def socket_get_read_timeout(s: Socket) -> float:
    """socket-get-read-timeout: seconds (0 = none)."""
    st = lib.sag_socket_get_read_timeout(_sock(s).handle, cells.i64, NULL)
    if st != OK:
        raise error_from(st, s)
    return cells.i64[0] / 1e6


# ---- 5. Select and fdsets ---------------------------------------------------

def socket_select(rfds: FdSet | None, wfds: FdSet | None, efds: FdSet | None,
                  timeout: Any) -> tuple[int, FdSet | None, FdSet | None, FdSet | None]:
    """socket-select: (count, new rfds, new wfds, new efds)."""
    return _select(rfds, wfds, efds, select_timeout_us(timeout))


def socket_select_inplace(rfds: FdSet | None, wfds: FdSet | None, efds: FdSet | None,
                          timeout: Any) -> tuple[int, FdSet | None, FdSet | None, FdSet | None]:
    """socket-select!: as socket_select, updating the given sets."""
    return _select_inplace(rfds, wfds, efds, select_timeout_us(timeout))


def socket_read_select(timeout: Any, *socks: Socket) -> list[Socket]:
    return ready_select(lib.sag_socket_read_select, select_timeout_us(timeout), socks)


def socket_write_select(timeout: Any, *socks: Socket) -> list[Socket]:
    return ready_select(lib.sag_socket_write_select, select_timeout_us(timeout), socks)


def socket_error_select(timeout: Any, *socks: Socket) -> list[Socket]:
    return ready_select(lib.sag_socket_error_select, select_timeout_us(timeout), socks)


def make_fdset() -> FdSet: return FdSet()
def is_fdset(o: Any) -> bool: return isinstance(o, FdSet)
def sockets_to_fdset(socks: Iterable[Socket]) -> FdSet: return FdSet(socks)
def fdset_ref(fds: FdSet, s: Socket) -> bool: return s in fds
def fdset_set(fds: FdSet, s: Socket, flag: bool) -> None: fds.set(s, flag)
def fdset_clear(fds: FdSet) -> None: fds.clear()
def collect_sockets(fds: FdSet) -> list[Socket]: return fds.sockets()
def fdset_sockets(fds: FdSet) -> list[Socket]: return fds.sockets()


# ---- 6. Addrinfo and sockaddr -----------------------------------------------

def make_addrinfo() -> AddrInfo:
    return AddrInfo.empty()


def make_hint_addrinfo(family: int = 0, socktype: int = 0, flags: int = 0,
                       protocol: int = 0) -> AddrInfo:
    return AddrInfo.hint(family, socktype, flags, protocol)


def get_addrinfo(node: str | None, service: str | None, hints: AddrInfo | None = None) -> AddrInfo:
    """get-addrinfo: the first entry of the chain; HostNotFoundError on failure."""
    return AddrInfo.resolve(node, service, hints)


def next_addrinfo(ai: AddrInfo) -> AddrInfo | None: return ai.next
def addrinfo_sockaddr(ai: AddrInfo) -> SockAddr | None: return ai.sockaddr
def is_addrinfo(o: Any) -> bool: return isinstance(o, AddrInfo)
def is_sockaddr(o: Any) -> bool: return isinstance(o, SockAddr)
def make_sockaddr() -> SockAddr: return SockAddr()


# ---- 7. Socket selector ---------------------------------------------------------

def make_socket_selector() -> SocketSelector: return SocketSelector()
def is_socket_selector(o: Any) -> bool: return isinstance(o, SocketSelector)


def socket_selector_add(sel: SocketSelector, s: Socket, timeout: Any = None, data: Any = None) -> None:
    sel.add(s, timeout, data)


def socket_selector_wait(sel: SocketSelector, timeout: Any = None
                         ) -> tuple[list[SelectorEntry], list[SelectorEntry]]:
    """(readable entries, entries whose own timeout passed); each entry is
    (socket, timeout, data) and has left the selector. A wait that
    close_socket_selector ends answers ([], []), as Sagittarius's does; a
    selector closed before the call raises SocketClosedError."""
    open_before = not sel.closed
    try:
        return sel.wait(timeout)
    except SocketClosedError:
        if open_before:
            return [], []
        raise


def socket_selector_interrupt(sel: SocketSelector) -> None: sel.interrupt()
def close_socket_selector(sel: SocketSelector) -> None: sel.close()
def socket_selector_clear(sel: SocketSelector) -> list[SelectorEntry]: return sel.clear()
def socket_selector_size(sel: SocketSelector) -> int: return len(sel)
def is_socket_selector_closed(sel: SocketSelector) -> bool: return sel.closed
def is_socket_selector_waiting(sel: SocketSelector) -> bool: return sel.waiting


# What this module defines (its procedures and their aliases), and the
# objects they take and give.
__all__ = [n for n, v in list(globals().items()) if not n.startswith("_")
           and getattr(v, "__module__", "").startswith("sagsocket")]
