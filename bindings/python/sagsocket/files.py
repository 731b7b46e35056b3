"""Files over a socket: :meth:`Socket.makefile`'s io objects over a raw
:class:`SocketIO`, as the socket module makes them."""

from __future__ import annotations

import io
from typing import Any, Callable

from . import calls, transfer
from .args import CHARS
from .calls import E_WOULD_BLOCK, OK
from .library import ffi, lib

_recv = lib.sag_socket_recv
_from_buffer = ffi.from_buffer
_release = ffi.release


def make_file(sock: Any, release: Callable[[], None], mode: str = "r", buffering: int | None = None,
              encoding: str | None = None, errors: str | None = None, newline: str | None = None):
    """A file object over sock, as socket.socket.makefile: "r", "w", "rw"
    with "b" for bytes. Text files are io.TextIOWrapper over
    io.BufferedReader/Writer/RWPair over a raw SocketIO, whose close calls
    release (the socket's count of open files)."""
    if not set(mode) <= {"r", "w", "b"}:
        raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
    writing = "w" in mode
    reading = "r" in mode or not writing
    binary = "b" in mode
    rawmode = ""
    if reading:
        rawmode += "r"
    if writing:
        rawmode += "w"
    if buffering is None:
        buffering = -1
    if buffering < 0:
        buffering = io.DEFAULT_BUFFER_SIZE
    if buffering == 0 and not binary:
        raise ValueError("unbuffered streams must be binary")
    raw = SocketIO(sock, rawmode, release)
    if buffering == 0:
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

    def __init__(self, sock: Any, mode: str, release: Callable[[], None] = lambda: None) -> None:
        if mode not in ("r", "w", "rw", "rb", "wb", "rwb"):
            raise ValueError(f"invalid mode: {mode!r}")
        io.RawIOBase.__init__(self)
        self._sock = sock
        self._release = release
        self._timed_out = False
        if "b" not in mode:
            mode += "b"
        self._mode = mode
        self._reading = "r" in mode
        self._writing = "w" in mode

    def readinto(self, b: Any) -> int | None:
        """One recv into b. After a timeout the file refuses to read (what
        was buffered may be lost), as the socket module's SocketIO does."""
        self._checkClosed()
        if not self._reading:
            raise io.UnsupportedOperation("not readable")
        if self._timed_out:
            raise OSError("cannot read from timed out object")
        sock = self._sock
        buf = _from_buffer(CHARS, b, True)
        try:
            f = calls.take_free_frame()
        except IndexError:
            f = calls.Frame()
        got = f.size
        n = len(buf)
        t0 = calls.start()
        st = _recv(sock.handle, buf, 0, n, 0, got, f.err)
        if st == OK:
            n = got[0]
            calls.give_frame(f)
            return n
        try:
            with f:
                if st == E_WOULD_BLOCK:
                    return None
                try:
                    transfer.recv_again(sock, st, t0, buf, 0, n, 0, f)
                except TimeoutError:
                    self._timed_out = True
                    raise
                return got[0]
        except BaseException:
            # b is io.BufferedReader's memoryview: see args.unexport.
            _release(buf)
            raise

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
        self._release()
        self._sock = None  # type: ignore[assignment]


