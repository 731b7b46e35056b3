"""Arguments: Python values checked and converted for the library's calls
(ints, descriptors, strings, buffer ranges, durations, select timeouts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .library import NULL, ffi

# ffi.from_buffer's own default type, given positionally: a keyword
# argument (require_writable=) is parsed on every call, and a type given by
# name is looked up (docs/performance.md, "Python: bulk, binary lines and
# the connection row": a 64 KiB recv_into 11,654 -> 7,657 instructions).
CHARS = ffi.typeof("char[]")
_from_buffer = ffi.from_buffer
_release = ffi.release


def descriptor(fileno: Any) -> int:
    """The descriptor of socket(fileno=...): an int, or an object with
    fileno(), as the socket module takes it."""
    if not isinstance(fileno, int):
        if not hasattr(fileno, "fileno"):
            raise TypeError(f"an integer is required (got type {type(fileno).__name__})")
        fileno = fileno.fileno()
    if fileno < 0:
        raise ValueError("negative file descriptor")
    if fileno > 0x7FFFFFFF:
        raise OverflowError("file descriptor is greater than maximum")
    return fileno


def byte_buffer(data: Any):
    """A bytes-like object as the library takes it (bytes as they are,
    other buffers through ffi.from_buffer); TypeError as the socket module
    words it for anything else."""
    if type(data) is bytes:
        return data
    try:
        return _from_buffer(CHARS, data, False)
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(data).__name__}'") from None


def unexport(buf) -> None:
    """Ends the export that ffi.from_buffer took of a caller's object
    (bytes, as byte_buffer gives them, hold none): what a call does with
    its from_buffer before it raises. The exception's traceback keeps the
    call's frame and so the export alive: the caller's bytearray could not
    be resized, nor its memoryview released, while the exception lives;
    and when the exception is garbage in a reference cycle (an ``except
    ... as e`` that keeps e, retry's own), CPython 3.11's collector may
    clear the memoryview before the export is released, then crash in
    memory_dealloc (CPython issue gh-77894, fixed in 3.12.7)."""
    if type(buf) is not bytes:
        _release(buf)


def text_of(p) -> str | None:
    """A C string of the library as a str (None for NULL)."""
    return None if p == NULL else ffi.string(p).decode("utf-8", "replace")


def c_string(v: str | None, what: str):
    """A str argument as UTF-8 bytes for a const char * (NULL for None)."""
    if v is None:
        return NULL
    if not isinstance(v, str):
        raise TypeError(f"{what} must be a str or None, not {type(v).__name__}")
    if "\0" in v:
        raise ValueError(f"{what} contains a NUL character")
    return v.encode("utf-8")


def check_int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{what} must be an int, not {type(v).__name__}")
    return v


def check_range(size: int, start: Any, count: Any) -> None:
    """start and count of a (buffer, start, count) call must lie within the
    buffer's size bytes: the library cannot know the buffer's length."""
    check_int(start, "start")
    check_int(count, "count")
    if start < 0 or count < 0 or start + count > size:
        raise ValueError(f"start {start} and count {count} must lie within the buffer ({size} bytes)")


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
        s, us = (check_int(x, "timeout") for x in timeout)
        if s < 0 or us < 0:
            raise ValueError("timeout must not be negative")
        return s * 1_000_000 + us
    return seconds_to_us(timeout)

