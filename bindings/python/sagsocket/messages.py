"""Messages: sendmsg, recvmsg and recvmsg_into of a socket, with scattered
and gathered buffers and ancillary data, over the library's
sag_socket_sendmsg / sag_socket_recvmsg (which wait, time out and are
interrupted as send and recv are); and send_fds / recv_fds, as the socket
module has them. Control buffers are laid out and read by the library
(sag_cmsg_append, sag_cmsg_next)."""

from __future__ import annotations

import array
import socket as _socket
from typing import Any, Iterable

from . import calls
from .addresses import SockAddr
from .args import byte_buffer, check_int, unexport
from .calls import OK, READ, SEND, retry
from .errors import error_from
from .library import NULL, ffi, lib
from .transfer import destination

_SOL_SOCKET = _socket.SOL_SOCKET
_SCM_RIGHTS = _socket.SCM_RIGHTS


def _unexport_all(bufs: list) -> None:
    """unexport of each buffer a failed call took (see args.unexport)."""
    for b in bufs:
        unexport(b)


def _control(ancdata: Iterable) -> tuple:
    """The control buffer of sendmsg's ancdata, an iterable of (level,
    type, data) with data bytes-like: (buffer, length), laid out by the
    library."""
    items = []
    try:
        for item in ancdata:
            try:
                level, kind, data = item
            except (TypeError, ValueError):
                raise TypeError("[sendmsg() ancillary data items]() argument must be sequence of length 3") from None
            items.append((check_int(level, "level"), check_int(kind, "type"), byte_buffer(data)))
        if not items:
            return NULL, 0
        used = ffi.new("size_t *")
        for level, kind, data in items:  # asks the length each needs (len 0)
            lib.sag_cmsg_append(NULL, 0, 0, used, level, kind, data, 0, len(data), NULL)
        total = used[0]
        buf = ffi.new("uint8_t[]", total)
        used[0] = 0
        for level, kind, data in items:
            st = lib.sag_cmsg_append(buf, 0, total, used, level, kind, data, 0, len(data), NULL)
            if st != OK:
                raise error_from(st)
        return buf, used[0]
    except BaseException:
        _unexport_all([d for _, _, d in items])  # see args.unexport
        raise


def _ancillary(control, length: int) -> list:
    """The (level, type, data) of the control messages in control[0:length]."""
    out: list = []
    if length <= 0:
        return out
    offset, level, kind = ffi.new("size_t *"), ffi.new("int *"), ffi.new("int *")
    start, size, found = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("int *")
    while True:
        if lib.sag_cmsg_next(control, 0, length, offset, level, kind, start, size, found, NULL) != OK or not found[0]:
            return out
        out.append((level[0], kind[0], ffi.buffer(control + start[0], size[0])[:]))


class Messages:
    """The message methods of :class:`sagsocket.Socket` (its base): they
    use its ``handle`` and ``family``."""

    __slots__ = ()

    def sendmsg(self, buffers: Iterable, ancdata: Iterable = (), flags: int = 0,
                address: Any = None) -> int:
        """Sends the buffers gathered in order, with the ancillary data
        (an iterable of (level, type, data)), to address or the connected
        peer: one sendmsg(2); returns the count the kernel took."""
        bufs: list = []
        try:
            for b in buffers:
                bufs.append(byte_buffer(b))
            return self._send_message(bufs, ancdata, flags, address)
        except BaseException:
            _unexport_all(bufs)
            raise

    def _send_message(self, bufs: list, ancdata: Iterable, flags: int, address: Any) -> int:
        n = len(bufs)
        ptrs = ffi.new("uint8_t *[]", max(n, 1))
        lens = ffi.new("size_t[]", max(n, 1))
        keep = [ffi.from_buffer(b) if isinstance(b, bytes) else b for b in bufs]
        for i, b in enumerate(keep):
            ptrs[i] = ffi.cast("uint8_t *", b)
            lens[i] = len(b)
        control, clen = _control(ancdata)
        flags = check_int(flags, "flags")
        to = NULL if address is None else destination(self, address).handle
        h = self.handle
        with calls.take_frame() as f:
            sent, err = f.size, f.err
            t0 = calls.start()
            st = lib.sag_socket_sendmsg(h, ptrs, lens, n, control, 0, clen, flags, to, sent, err)
            if st != OK:
                st = retry(st, lambda us: lib.sag_socket_sendmsg(h, ptrs, lens, n, control, 0, clen, flags, to,
                                                                  sent, err), self, t0, SEND, frame=f)
            if st != OK:
                raise error_from(st, self, err=err)
            return sent[0]

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0) -> tuple:
        """One recvmsg(2) of at most bufsize bytes and ancbufsize bytes of
        ancillary data: (data, ancdata, msg_flags, address), ancdata a list
        of (level, type, data), address None when the kernel gives none."""
        if check_int(bufsize, "bufsize") < 0:
            raise ValueError("negative buffer size in recvmsg()")
        buf = ffi.new("uint8_t[]", max(bufsize, 1))
        n, anc, mflags, addr = self._receive_message([buf], [bufsize], ancbufsize, flags)
        return ffi.buffer(buf, min(n, bufsize))[:], anc, mflags, addr

    def recvmsg_into(self, buffers: Iterable, ancbufsize: int = 0, flags: int = 0) -> tuple:
        """recvmsg into the writable buffers, filled in order: (nbytes,
        ancdata, msg_flags, address)."""
        bufs: list = []
        try:
            for b in buffers:
                try:
                    bufs.append(ffi.from_buffer(b, require_writable=True))
                except (TypeError, BufferError):
                    raise TypeError("recvmsg_into() argument 1 must be an iterable of single-segment "
                                    "read-write buffers") from None
            return self._receive_message(bufs, [len(b) for b in bufs], ancbufsize, flags)
        except BaseException:
            _unexport_all(bufs)
            raise

    def _receive_message(self, bufs: list, sizes: list, ancbufsize: int, flags: int) -> tuple:
        if check_int(ancbufsize, "ancbufsize") < 0:
            raise ValueError("negative buffer size in recvmsg()")
        flags = check_int(flags, "flags")
        n = len(bufs)
        ptrs = ffi.new("uint8_t *[]", max(n, 1))
        lens = ffi.new("size_t[]", max(n, 1))
        for i, b in enumerate(bufs):
            ptrs[i] = ffi.cast("uint8_t *", b)
            lens[i] = sizes[i]
        control = ffi.new("uint8_t[]", max(ancbufsize, 1))
        sa = SockAddr()
        got, clen, mflags = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("int *")
        h, a = self.handle, sa.handle
        with calls.take_frame() as f:
            err = f.err
            t0 = calls.start()
            st = lib.sag_socket_recvmsg(h, ptrs, lens, n, control, 0, ancbufsize, flags, a, got, clen, mflags,
                                        err)
            if st != OK:
                st = retry(st, lambda us: lib.sag_socket_recvmsg(h, ptrs, lens, n, control, 0, ancbufsize, flags,
                                                                  a, got, clen, mflags, err),
                           self, t0, READ, frame=f)
            if st != OK:
                raise error_from(st, self, err=err)
        # The message is taken: what follows only reads what came.
        return got[0], _ancillary(control, clen[0]), mflags[0], sa.address()


def send_fds(sock: Any, buffers: Iterable, fds: Iterable[int], flags: int = 0, address: Any = None) -> int:
    """Sends the descriptors fds (SCM_RIGHTS) with the buffers, as
    socket.send_fds."""
    return sock.sendmsg(buffers, [(_SOL_SOCKET, _SCM_RIGHTS, array.array("i", fds))], flags, address)


def recv_fds(sock: Any, bufsize: int, maxfds: int, flags: int = 0) -> tuple:
    """Receives at most bufsize bytes and maxfds descriptors, as
    socket.recv_fds: (data, list of descriptors, msg_flags, address). The
    descriptors are new and close-on-exec."""
    fds = array.array("i")
    data, anc, mflags, addr = sock.recvmsg(bufsize, _socket.CMSG_LEN(maxfds * fds.itemsize), flags)
    for level, kind, cdata in anc:
        if level == _SOL_SOCKET and kind == _SCM_RIGHTS:
            fds.frombytes(cdata[:len(cdata) - (len(cdata) % fds.itemsize)])
    return data, list(fds), mflags, addr

