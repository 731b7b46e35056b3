"""Signals and retries: how a blocking call of the library is made from
Python. A call that a signal ends is made again with the time left of its
timeout (PEP 475), after the interpreter's signal handlers ran; the
per-thread out-parameters (``cells``) and error frames live here too.
"""

from __future__ import annotations

import ctypes
import threading
import time
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


def signalled(status: int, frame: list | None = None) -> bool:
    """True when the failed call was ended by a signal (errno EINTR); runs
    the interpreter's signal handlers first, which may raise. The bytes the
    call sent before the signal are left in ``frame[2]`` (the call's own
    error object is ``frame[0]``, see take_frame), or without a frame in
    ``cells.went`` (read from the thread's last error)."""
    if status != E_INTERRUPTED:
        return False
    err = lib.sag_last_error() if frame is None else frame[0]
    if lib.sag_error_errno(err) != E_EINTR:
        return False
    went = lib.sag_error_sent(err)
    _check_signals()  # raises KeyboardInterrupt (or what a handler raises)
    if frame is None:
        cells.went = went
    else:
        frame[2] = went
    return True


class _Frames(threading.local):
    """Frames no call of this thread is using (see take_frame)."""

    def __init__(self) -> None:
        self.free: list = []


_frames = _Frames()


def take_frame() -> list:
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


def give_frame(frame: list) -> None:
    _frames.free.append(frame)


# How a retried call is given the time left of its timeout (retry).
READ, SEND, ARG, WAIT = 0, 1, 2, 3


def retry(st: int, again, sock: Any, t0: float, kind: int, timeout_us: int = -1,
           frame: list | None = None) -> int:
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
    take_frame), whose error object its calls fill. Returns the first
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
            if kind == SEND and (cells.went if frame is None else frame[2]):
                # The send timeout is one of no progress (the library's):
                # bytes went before the signal, so it counts from now.
                deadline = _monotonic() + total / 1e6
            left = int((deadline - _monotonic()) * 1e6)
            if left <= 0:
                if kind != WAIT:
                    e = _timed_out(sock, kind, total)
                    if kind == SEND:  # the caller adds what went before
                        e.sent = cells.went if frame is None else frame[2]
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
        self.info = ffi.new("sag_socket_info **")
        self.ip = ffi.new("sag_ip_address **")
        self.buf = ffi.new("uint8_t[]", 65536)
        # (buf, size) in one attribute: each attribute of a threading.local
        # costs a per-thread dictionary look-up (about 90 ns measured).
        # The same buffer as char *: ffi.unpack makes bytes of a char *
        # (of a uint8_t * it makes a list).
        self.rx = (self.buf, ffi.cast("char *", self.buf), self.size)
        # Bytes a send had sent when a signal ended it (signalled).
        self.went = 0



cells = _Cells()
