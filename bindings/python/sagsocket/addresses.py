"""Addresses: the library's ip-address, socket-info, sockaddr and addrinfo
objects, and Python's (host, port) tuples resolved to an addrinfo."""

from __future__ import annotations

import os
from typing import Any

from .args import c_string, check_int, text_of
from .calls import OK, cells
from .errors import error_from
from .library import NULL, ffi, lib


class IPAddress:
    """An IPv4 or IPv6 address (Scheme's ip-address)."""
    __slots__ = ("handle",)

    def __init__(self, handle) -> None:
        self.handle = ffi.gc(handle, lib.sag_ip_address_free)

    def __str__(self) -> str:
        st = lib.sag_ip_address_to_string(self.handle, cells.str, NULL)
        if st != OK:
            raise error_from(st)
        return text_of(cells.str[0]) or ""

    def __repr__(self) -> str:
        return f"IPAddress({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IPAddress) and bytes(self) == bytes(other)

    def __hash__(self) -> int:
        return hash(bytes(self))

    @property
    def is_v6(self) -> bool:
        st = lib.sag_ip_address_is_v6(self.handle, cells.int, NULL)
        if st != OK:
            raise error_from(st)
        return cells.int[0] != 0

    def __bytes__(self) -> bytes:
        buf = ffi.new("uint8_t[16]")
        st = lib.sag_ip_address_to_bytes(self.handle, buf, 0, 16, cells.size, NULL)
        if st != OK:
            raise error_from(st)
        return ffi.buffer(buf, cells.size[0])[:]


class SocketInfo:
    """hostname, ip-address and port of a socket's end (Scheme's socket-info)."""
    __slots__ = ("handle",)

    def __init__(self, handle) -> None:
        self.handle = ffi.gc(handle, lib.sag_socket_info_free)

    @property
    def hostname(self) -> str:
        st = lib.sag_socket_info_hostname(self.handle, cells.str, NULL)
        if st != OK:
            raise error_from(st)
        return text_of(cells.str[0]) or ""

    @property
    def ip_address(self) -> IPAddress:
        out = ffi.new("sag_ip_address **")
        st = lib.sag_socket_info_ip_address(self.handle, out, NULL)
        if st != OK:
            raise error_from(st)
        return IPAddress(out[0])

    @property
    def port(self) -> int:
        st = lib.sag_socket_info_port(self.handle, cells.int, NULL)
        if st != OK:
            raise error_from(st)
        return cells.int[0]

    def __repr__(self) -> str:
        return f"SocketInfo({str(self.ip_address)!r}, {self.port})"


class SockAddr:
    """A socket address (Scheme's sockaddr): for sendto and recvfrom."""
    __slots__ = ("handle",)

    def __init__(self, handle=None) -> None:
        if handle is None:
            out = ffi.new("sag_sockaddr **")
            st = lib.sag_sockaddr_new(out, NULL)
            if st != OK:
                raise error_from(st)
            handle = out[0]
        self.handle = ffi.gc(handle, lib.sag_sockaddr_free)

    @property
    def family(self) -> int:
        st = lib.sag_sockaddr_family(self.handle, cells.int, NULL)
        if st != OK:
            raise error_from(st)
        return cells.int[0]

    @property
    def port(self) -> int:
        st = lib.sag_sockaddr_port(self.handle, cells.int, NULL)
        if st != OK:
            raise error_from(st)
        return cells.int[0]

    @property
    def ip_address(self) -> IPAddress:
        out = ffi.new("sag_ip_address **")
        st = lib.sag_sockaddr_ip_address(self.handle, out, NULL)
        if st != OK:
            raise error_from(st)
        return IPAddress(out[0])

    def address(self) -> Any:
        """The address as the socket module gives it: as_tuple() for IPv4
        and IPv6; for a Unix-domain one its path (a str, bytes for an
        abstract name, '' when unnamed); None when the sockaddr holds none
        (a recvfrom on a stream socket fills none)."""
        family = self.family
        if family in (lib.SAG_AF_INET, lib.SAG_AF_INET6):
            return self.as_tuple()
        if family != lib.SAG_AF_UNIX:
            return None
        buf = ffi.new("uint8_t[]", 128)
        st = lib.sag_sockaddr_path(self.handle, buf, 0, 128, cells.size, NULL)
        if st != OK:
            raise error_from(st)
        raw = ffi.buffer(buf, cells.size[0])[:]
        return raw if raw.startswith(b"\0") else os.fsdecode(raw)

    def as_tuple(self) -> tuple:
        """(ip, port), or (ip, port, flowinfo, scope_id) for IPv6, as the
        socket module gives addresses."""
        return python_address(str(self.ip_address), self.port)

    def __repr__(self) -> str:
        try:
            return f"SockAddr{self.as_tuple()!r}"
        except Exception:  # an empty sockaddr
            return "SockAddr()"


class AddrInfo:
    """One entry of a getaddrinfo chain (Scheme's addrinfo)."""
    __slots__ = ("handle",)

    def __init__(self, handle) -> None:
        self.handle = ffi.gc(handle, lib.sag_addrinfo_free)

    def _slot(self, fn) -> int:
        st = fn(self.handle, cells.int, NULL)
        if st != OK:
            raise error_from(st)
        return cells.int[0]

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
        st = lib.sag_addrinfo_sockaddr(self.handle, out, NULL)
        if st != OK:
            raise error_from(st)
        return None if out[0] == NULL else SockAddr(out[0])

    @property
    def next(self) -> AddrInfo | None:
        out = ffi.new("sag_addrinfo **")
        st = lib.sag_next_addrinfo(self.handle, out, NULL)
        if st != OK:
            raise error_from(st)
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
        st = lib.sag_make_hint_addrinfo(check_int(family, "family"), check_int(socktype, "socktype"),
                                        check_int(flags, "flags"), check_int(protocol, "protocol"), out, NULL)
        if st != OK:
            raise error_from(st)
        return AddrInfo(out[0])

    @staticmethod
    def empty() -> "AddrInfo":
        out = ffi.new("sag_addrinfo **")
        st = lib.sag_make_addrinfo(out, NULL)
        if st != OK:
            raise error_from(st)
        return AddrInfo(out[0])

    @staticmethod
    def resolve(node: str | None, service: str | None, hints: "AddrInfo | None" = None) -> "AddrInfo":
        out = ffi.new("sag_addrinfo **")
        n, s = c_string(node, "node"), c_string(service, "service")
        if hints is not None and not isinstance(hints, AddrInfo):
            raise TypeError("hints must be an AddrInfo or None")
        st = lib.sag_get_addrinfo(n, s, hints.handle if hints is not None else NULL, out, NULL)
        if st != OK:
            raise error_from(st)
        return AddrInfo(out[0])


def resolve_address(family: int, address: Any, passive: bool = False,
                    socktype: int = lib.SAG_SOCK_STREAM) -> AddrInfo:
    """A Python address as the first addrinfo for it: (host, port) for
    IPv4, (host, port[, flowinfo[, scope_id]]) for IPv6, checked as the
    socket module checks them (a scope id becomes the host's %scope)."""
    if isinstance(address, AddrInfo):
        return address
    if not isinstance(address, tuple):
        raise TypeError(f"an address must be a tuple, not {type(address).__name__}")
    n = len(address)
    if family == lib.SAG_AF_INET6:
        if not 2 <= n <= 4:
            raise TypeError("AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])")
    elif n != 2:
        raise TypeError("AF_INET address must be a pair (host, port)")
    host, port = address[0], address[1]
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise OverflowError("port must be 0-65535.")
    flowinfo = check_int(address[2], "flowinfo") if n > 2 else 0
    scope = check_int(address[3], "scope_id") if n > 3 else 0
    if not 0 <= flowinfo <= 0xFFFFF:
        raise OverflowError("flowinfo must be 0-1048575.")
    if not 0 <= scope <= 0xFFFFFFFF:
        raise OverflowError("scope_id must be 0-4294967295.")
    if scope and "%" not in host:
        host = f"{host}%{scope}"
    if host == "":
        host = None
    elif host == "<broadcast>":
        host = "255.255.255.255"
    flags = lib.SAG_AI_NUMERICSERV | (lib.SAG_AI_PASSIVE if passive else 0)
    return AddrInfo.resolve(host, str(port), AddrInfo.hint(family, socktype, flags, 0))

def endpoint(sock: Any, fn) -> tuple | None:
    """The address of a socket's end as the socket module gives it: (ip,
    port), or (ip, port, flowinfo, scope_id) for IPv6; None when it has
    none. fn is sag_socket_get_info (getsockname) or sag_socket_get_peer
    (getpeername). No wrapper objects are made."""
    c = cells
    st = fn(sock.handle, c.info, NULL)
    if st != OK:
        raise error_from(st, sock)
    info = c.info[0]
    if info == NULL:
        return None
    try:
        st = lib.sag_socket_info_port(info, c.int, NULL)
        if st == OK:
            port = c.int[0]
            st = lib.sag_socket_info_ip_address(info, c.ip, NULL)
        if st != OK:
            raise error_from(st, sock)
        ip = c.ip[0]
        try:
            st = lib.sag_ip_address_to_string(ip, c.str, NULL)
            if st != OK:
                raise error_from(st, sock)
            text = ffi.string(c.str[0]).decode("ascii")
            return (text, port, 0, 0) if ":" in text else (text, port)  # python_address
        finally:
            lib.sag_ip_address_free(ip)
    finally:
        lib.sag_socket_info_free(info)


def python_address(ip: str, port: int) -> tuple:
    """(ip, port) for IPv4, (ip, port, 0, 0) for IPv6: the library's
    addresses carry no flow label or scope id."""
    return (ip, port, 0, 0) if ":" in ip else (ip, port)
