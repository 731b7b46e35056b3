"""Signals and retries: how a blocking call of the library is made from
Python. A call that a signal ends is made again with the time left of its
timeout (PEP 475), after the interpreter's signal handlers ran; the
per-thread out-parameters (``cells``) and error frames live here too.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections import deque
from typing import Any

from .library import NULL, ffi, lib
from .errors import SocketConnectionError, SocketReadTimeoutError, SocketSendTimeoutError

OK = lib.SAG_OK
E_INTERRUPTED = lib.SAG_E_INTERRUPTED
E_WOULD_BLOCK = lib.SAG_E_WOULD_BLOCK
E_EINTR = lib.SAG_EINTR

# The library's signal interrupts are on in the main thread: CPython runs
# signal handlers (Ctrl-C's KeyboardInterrupt) in the main thread only,
# after a foreign call returns. A blocked call then returns on a signal; the
# wrappers below run the handlers and call again with the time that is left
# (PEP 475). The setting is per thread: when the package is imported in the
# main thread it is made at once; otherwise start (which every blocking
# wrapper calls before its first try) makes it the first time the main
# thread calls one, then stops checking.
_MAIN_IDENT = threading.main_thread().ident
_monotonic = time.monotonic


def _start_arming() -> float:
    """start until the main thread has turned its signal interrupts on."""
    global start
    if threading.get_ident() == _MAIN_IDENT:
        lib.sag_thread_set_signal_interrupts(1)
        start = _monotonic
    return _monotonic()


if threading.get_ident() == _MAIN_IDENT:
    lib.sag_thread_set_signal_interrupts(1)
    start = _monotonic
else:
    start = _start_arming
"""The start time of a blocking call (time.monotonic()), taken before its
first try: where its timeout is counted from. Call it as ``calls.start()``
from other modules: it is rebound once the main thread is armed."""

_check_signals = ctypes.pythonapi.PyErr_CheckSignals
_check_signals.restype = ctypes.c_int
_check_signals.argtypes = []


def signalled(status: int, frame: "Frame") -> bool:
    """True when the failed call was ended by a signal (errno EINTR, read
    from the call's own error object, ``frame.err``); runs the interpreter's
    signal handlers first, which may raise. The bytes the call sent before
    the signal are left in ``frame.went``."""
    if status != E_INTERRUPTED:
        return False
    err = frame.err
    if lib.sag_error_errno(err) != E_EINTR:
        return False
    frame.went = lib.sag_error_sent(err)
    _check_signals()  # raises KeyboardInterrupt (or what a handler raises)
    return True


class Frame:
    """One call's own error object and out-parameters. CPython runs a
    signal handler as soon as the foreign call the signal cut returns, and
    a handler's own sagsocket calls replace the thread's last error and
    fill the thread's cells: a call that reads why it failed, or a result,
    after that point passes these instead (``err`` to the library instead
    of NULL). Taken from a free list shared by every thread (a deque: pop
    and append are atomic under the GIL, and, unlike a list's, allocate
    nothing when it empties and fills again; a handler's nested call takes
    another) and given back after (``with take_frame() as f:``, or
    give_frame on the hot paths). A frame an exception skips past is not
    given back: it is garbage, its error object freed."""

    __slots__ = ("err", "size", "went", "buf", "view", "sock", "port")

    def __init__(self) -> None:
        p = ffi.new("sag_error **")
        if lib.sag_error_new(p) != OK:
            raise MemoryError("sag_error_new failed")
        self.err = ffi.gc(p[0], lib.sag_error_free)
        self.size = ffi.new("size_t *")
        self.went = 0  # bytes sent before a signal (signalled)
        # recv's buffer, and a cffi buffer over it: its slice is the bytes
        # received (one copy, and cheaper than ffi.unpack, which parses its
        # arguments by keyword).
        self.buf = ffi.new("uint8_t[]", 65536)
        self.view = ffi.buffer(self.buf)
        self.sock = ffi.new("sag_socket **")
        self.port = ffi.new("int *")  # accept's peer port

    def __enter__(self) -> "Frame":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.went = 0
        _free_frames.append(self)


_free_frames: deque[Frame] = deque()
take_free_frame = _free_frames.pop
"""A frame from the free list (IndexError when none is free: make one,
Frame()); the hot paths' take_frame."""


def take_frame() -> Frame:
    """A frame no call is using (see Frame)."""
    try:
        return _free_frames.pop()
    except IndexError:
        return Frame()


give_frame = _free_frames.append
"""Gives back a frame whose ``went`` is 0 (the hot paths': Frame.__exit__
resets it)."""


def give_back(frame: Frame) -> None:
    """Gives back a frame whose call failed (its ``went`` reset): an error
    path that raises after it has read the frame's error object."""
    frame.went = 0
    _free_frames.append(frame)


# How a retried call is given the time left of its timeout (retry).
READ, SEND, ARG, WAIT = 0, 1, 2, 3


def retry(st: int, again, sock: Any, t0: float, kind: int, timeout_us: int = -1, *,
          frame: Frame) -> int:
    """The one retry loop of the blocking wrappers (PEP 475). ``st`` is the
    status of a first call that failed and ``t0`` the time.monotonic() taken
    before it. While the status is a signal's (whose handlers run here, and
    may raise), the call is made again, ``again(us)``, with only the time
    left of its timeout counted from t0, so that periodic signals neither
    restart nor prolong it; when none is left the timeout is raised as the
    call itself would raise it. The timeout is, by ``kind``:

    - READ: the socket's read timeout (recv, recvfrom, accept, port reads);
      each retry runs under the thread's deadline (sag_thread_set_deadline)
      set to the time left, removed after: the socket's own timeout, which
      other threads share, is never changed (a port read that needs several
      waits is timed from its start here, where the library times each
      wait: under signals, one that is still receiving when its timeout has
      passed since it began ends with the timeout);
    - SEND: the socket's send timeout (SO_SNDTIMEO), likewise; as it is
      the library's timeout of no progress, it counts again from the signal
      when bytes went before it;
    - ARG: ``timeout_us`` (negative: none), handed to again as ``us``
      (connect);
    - WAIT: likewise, but when no time is left the call is made once more
      with 0 (a select or wait reports what is ready, or nothing).

    ``us`` is -1 when there is no timeout. ``frame``: the call's own (see
    Frame), whose error object ``again`` passes to the library. Returns the first
    status that is not a signal's (OK, or a failure for the caller to
    raise)."""
    if not signalled(st, frame):
        return st
    h = sock.handle if kind < ARG else None  # sock: None for selects
    total = timeout_us
    if kind == READ:
        if lib.sag_socket_get_read_timeout(h, cells.i64, NULL) == OK and cells.i64[0] > 0:
            total = cells.i64[0]
    elif kind == SEND:
        if lib.sag_socket_getsockopt_duration(h, lib.SAG_SOL_SOCKET, lib.SAG_SO_SNDTIMEO,
                                              cells.i64, NULL) == OK and cells.i64[0] > 0:
            total = cells.i64[0]
    if total < 0 or (total == 0 and kind < ARG):
        while True:  # no timeout: retry as it was
            st = again(-1)
            if not signalled(st, frame):
                return st
    deadline = t0 + total / 1e6
    capped = False
    try:
        while True:
            if kind == SEND and frame.went:
                # The send timeout is one of no progress (the library's):
                # bytes went before the signal, so it counts from now.
                deadline = _monotonic() + total / 1e6
            left = int((deadline - _monotonic()) * 1e6)
            if left <= 0:
                if kind != WAIT:
                    e = _timed_out(sock, kind, total)
                    if kind == SEND:  # the caller adds what went before
                        e.sent = frame.went
                    raise e
                left = 0
            if kind < ARG:
                capped = True  # before the call: a handler may raise after it
                lib.sag_thread_set_deadline(left)
            st = again(left)
            if not signalled(st, frame):
                return st
    finally:
        if capped:
            lib.sag_thread_set_deadline(-1)


def _timed_out(sock: Any, kind: int, total_us: int) -> BaseException:
    """The exception of a call whose timeout passed during its retries: the
    one the library raises when it passes during a call."""
    if kind == READ:
        e: Any = SocketReadTimeoutError(lib.SAG_ETIMEDOUT, "read timeout passed")
        e.status = lib.SAG_E_READ_TIMEOUT
    elif kind == SEND:
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
        self.port = ffi.new("int *")  # accept's peer port
        self.info = ffi.new("sag_socket_info **")
        self.ip = ffi.new("sag_ip_address **")



cells = _Cells()
