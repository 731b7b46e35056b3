"""Data: the send and receive methods of a socket (send, sendall, recv,
recv_into, recvfrom, sendto), each one library call on its fast path, with
the retries of :mod:`sagsocket.calls` on its slow one."""

from __future__ import annotations

from typing import Any

from . import calls
from .addresses import SockAddr, resolve_address
from .args import CHARS, byte_buffer, check_int, unexport
from .calls import (E_INTERRUPTED, OK, READ, SEND, Frame, give_frame, retry, signalled, take_free_frame,
                    take_frame)
from .errors import error_from
from .library import ffi, lib

# The functions of the hot paths, looked up once.
_recv = lib.sag_socket_recv
_send = lib.sag_socket_send
_buffer = ffi.buffer
_from_buffer = ffi.from_buffer
_release = ffi.release


def recv_again(sock: Any, st: int, t0: float, buf, start: int, n: int, flags: int, f: Frame) -> None:
    """The slow path of a recv into buf[start:start+n] that failed with
    status st at t0 (calls.start()), with frame f's error object and count:
    signals (the call is made again with the time left), or the exception
    raised."""
    h, got, err = sock.handle, f.size, f.err
    st = retry(st, lambda us: _recv(h, buf, start, n, flags, got, err), sock, t0, READ, frame=f)
    if st != OK:
        raise error_from(st, sock, err=err)


def destination(sock: Any, address: Any) -> SockAddr:
    """The SockAddr of a destination as sendto takes it: (host, port) of the
    socket's family, a path (a Unix-domain socket) or a SockAddr."""
    if isinstance(address, SockAddr):
        return address
    if isinstance(address, (str, bytes, bytearray)):
        from . import unix
        return unix.sockaddr(address)
    return resolve_address(sock.family, address, socktype=lib.SAG_SOCK_DGRAM).sockaddr


class Transfer:
    """The data methods of :class:`sagsocket.Socket` (its base): they use
    its ``handle`` and ``family``."""

    __slots__ = ()

    def send(self, data: Any, flags: int = 0) -> int:
        """Sends the bytes of a buffer (bytes, bytearray, memoryview, ...).
        A blocking socket sends them all; a non-blocking one what fits."""
        buf = data if type(data) is bytes else byte_buffer(data)
        n = len(buf)
        try:
            f = take_free_frame()
        except IndexError:
            f = Frame()
        sent = f.size
        t0 = calls.start()
        st = _send(self.handle, buf, 0, n, flags, sent, f.err)
        if not st:  # OK (0): no global to look up, no comparison
            n = sent[0]
            give_frame(f)
            return n
        try:
            with f:
                return self._send_again(st, t0, buf, n, flags, f)
        except BaseException:
            unexport(buf)  # see unexport
            raise

    def _send_again(self, st: int, t0: float, buf, n: int, flags: int, f: Frame) -> int:
        """The slow path of send: signals, or the exception raised."""
        h, sent, err = self.handle, f.size, f.err
        if st == E_INTERRUPTED:
            done = lib.sag_error_sent(err)
            if done and signalled(st, f):
                return done  # a partial send, as send(2) reports one

            def again(us: int) -> int:
                # After a signal: a partial send is the result; if
                # nothing went, send again with the time left.
                if f.went:
                    sent[0] = f.went
                    return OK
                return _send(h, buf, 0, n, flags, sent, err)

            if not done:
                st = retry(st, again, self, t0, SEND, frame=f)
                if st == OK:
                    return sent[0]
        raise error_from(st, self, err=err)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Sends every byte of a buffer (also on a timeout socket)."""
        buf = byte_buffer(data)
        n = len(buf)
        start = 0
        h = self.handle
        try:
            with take_frame() as f:
                err, sent = f.err, f.size

                def again(us: int) -> int:
                    # After a signal: resume after what went, with the time left.
                    nonlocal start
                    start += f.went
                    return _send(h, buf, start, n - start, flags, sent, err)

                while start < n:
                    t0 = calls.start()  # each send has the send timeout, as the library's
                    st = _send(h, buf, start, n - start, flags, sent, err)
                    if st != OK:
                        try:
                            st = retry(st, again, self, t0, SEND, frame=f)
                        except OSError as e:  # its timeout passed during the retries
                            e.sent = start + getattr(e, "sent", 0)
                            raise
                    if st == OK:
                        start += sent[0]
                        continue
                    e = error_from(st, self, err=err)
                    e.sent = start + getattr(e, "sent", 0)
                    raise e
        except BaseException:
            unexport(buf)  # see unexport
            raise

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """At most bufsize bytes; b"" when the peer has closed."""
        try:
            f = take_free_frame()
        except IndexError:
            f = Frame()
        if 0 <= bufsize <= 65536:
            buf, view = f.buf, f.view
        elif bufsize > 65536:
            buf = ffi.new("uint8_t[]", bufsize)
            view = _buffer(buf)
        else:
            give_frame(f)
            raise ValueError("negative buffersize in recv")
        got = f.size
        t0 = calls.start()
        st = _recv(self.handle, buf, 0, bufsize, flags, got, f.err)
        if not st:  # OK (0): no global to look up, no comparison
            data = view[:got[0]]  # bytes, one copy
            give_frame(f)
            return data
        with f:
            recv_again(self, st, t0, buf, 0, bufsize, flags, f)
            return view[:got[0]]

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Receives into a writable buffer (bytearray, memoryview, array,
        ...): at most nbytes (0: its size); returns the count."""
        try:
            buf = _from_buffer(CHARS, buffer, True)
        except BufferError:
            raise TypeError("recv_into() argument must be a writable buffer") from None
        size = len(buf)
        if nbytes == 0:
            nbytes = size
        elif nbytes < 0:
            _release(buf)
            raise ValueError("negative buffersize in recv_into")
        elif nbytes > size:
            _release(buf)
            raise ValueError("buffer too small for requested bytes")
        try:
            f = take_free_frame()
        except IndexError:
            f = Frame()
        got = f.size
        t0 = calls.start()
        st = _recv(self.handle, buf, 0, nbytes, flags, got, f.err)
        if not st:  # OK (0): no global to look up, no comparison
            n = got[0]
            give_frame(f)
            return n
        try:
            with f:
                recv_again(self, st, t0, buf, 0, nbytes, flags, f)
                return got[0]
        except BaseException:
            _release(buf)  # see args.unexport
            raise

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

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> tuple[int, Any]:
        """Receives into a writable buffer, at most nbytes (0: its size):
        (count, sender's address), the address None on a stream socket."""
        try:
            buf = ffi.from_buffer(buffer, require_writable=True)
        except (TypeError, BufferError):
            raise TypeError("recvfrom_into() argument 1 must be read-write bytes-like object, "
                            f"not {type(buffer).__name__}") from None
        try:
            if check_int(nbytes, "nbytes") < 0:
                raise ValueError("negative buffersize in recvfrom_into")
            if nbytes == 0:
                nbytes = len(buf)
            elif nbytes > len(buf):
                raise ValueError("nbytes is greater than the length of the buffer")
            sa = SockAddr()
            n = self.recvfrom_range(buf, 0, nbytes, flags, sa)
        except BaseException:
            _release(buf)  # see args.unexport
            raise
        return n, sa.address()  # nothing after the read may fail

    def recvfrom_range(self, buf, start: int, n: int, flags: int, sa: SockAddr,
                  would_block: bool = False) -> int:
        """recvfrom into buf[start:start+n] (both faces); -1 when the call
        would block and ``would_block`` asks for that rather than the
        exception."""
        h, a = self.handle, sa.handle
        with take_frame() as f:
            got, err = f.size, f.err
            t0 = calls.start()
            st = lib.sag_socket_recvfrom(h, buf, start, n, flags, a, got, err)
            if st != OK:
                st = retry(st, lambda us: lib.sag_socket_recvfrom(h, buf, start, n, flags, a, got, err),
                           self, t0, READ, frame=f)
            if st == OK:
                return got[0]
            if would_block and st == lib.SAG_E_WOULD_BLOCK:
                return -1
            raise error_from(st, self, err=err)

    def sendto(self, data: Any, *args: Any) -> int:
        """sendto(data, address) or sendto(data, flags, address), as
        socket.socket.sendto: the count sent."""
        if len(args) == 1:
            flags, address = 0, args[0]
        elif len(args) == 2:
            flags, address = check_int(args[0], "flags"), args[1]
        else:
            raise TypeError(f"sendto() takes 2 or 3 arguments ({len(args) + 1} given)")
        buf = byte_buffer(data)
        try:
            return self.sendto_range(buf, 0, len(buf), flags, destination(self, address))
        except BaseException:
            unexport(buf)  # see unexport
            raise

    def sendto_range(self, buf, start: int, n: int, flags: int, sa: SockAddr) -> int:
        """sendto of buf[start:start+n] (both faces)."""
        h, a = self.handle, sa.handle
        with take_frame() as f:
            sent, err = f.size, f.err
            t0 = calls.start()
            st = lib.sag_socket_sendto(h, buf, start, n, flags, a, sent, err)
            if st != OK:
                st = retry(st, lambda us: lib.sag_socket_sendto(h, buf, start, n, flags, a, sent, err),
                           self, t0, SEND, frame=f)
            if st == OK:
                return sent[0]
            raise error_from(st, self, err=err)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """Sends the bytes of a file opened in binary mode, from offset,
        count of them (None: to its end), as socket.socket.sendfile does
        where it cannot use sendfile(2): with sendall, a block at a time.
        The file's position ends after the last byte sent; returns the
        count sent."""
        if "b" not in getattr(file, "mode", "b"):
            raise ValueError("file should be opened in binary mode")
        if self.gettimeout() == 0:
            raise ValueError("non-blocking sockets are not supported")
        if check_int(offset, "offset") < 0:
            raise ValueError(f"offset must be non-negative, got {offset!r}")
        if count is not None and (check_int(count, "count") <= 0):
            raise ValueError(f"count must be a positive integer (got {count!r})")
        if offset:
            file.seek(offset)
        total = 0
        try:
            while count is None or total < count:
                size = 8192 if count is None else min(8192, count - total)
                data = file.read(size)
                if not data:
                    break
                self.sendall(data)
                total += len(data)
            return total
        finally:
            if total > 0 and hasattr(file, "seek"):
                file.seek(offset + total)
