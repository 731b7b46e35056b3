"""The conditions of (sagittarius socket) as Python exceptions.

The tree follows the library's (and Sagittarius's) condition types; its root
``&i/o`` is :class:`SocketIOError`, an :class:`OSError`, so every exception
of the tree has ``errno`` and ``strerror`` (the library's message) set::

    SocketIOError (OSError)                 &i/o
     + HostNotFoundError                    &host-not-found   (node, service)
     + SocketError                          &socket           (socket)
        + SocketConnectionError (ConnectionError)  &socket-connection
        + SocketClosedError                 &socket-closed
        + SocketReadTimeoutError (TimeoutError)    &socket-read-timeout (timeout)
        + SocketSendTimeoutError (TimeoutError)    a send's SO_SNDTIMEO (errno ETIMEDOUT)
        + SocketPortError                   &socket-port      (port)
     + PortReadError, PortWriteError        &i/o-read, &i/o-write (port)
     + PortDecodingError, PortEncodingError &i/o-decoding, &i/o-encoding (port)
    SocketInterruptedError (InterruptedError)  &sag-interrupted
    SocketWouldBlockError (BlockingIOError)    &sag-would-block

Invalid arguments raise :class:`TypeError` or :class:`ValueError` (the
library's ``SAG_E_INVALID`` and ``SAG_E_MISUSE`` become
:class:`InvalidArgumentError`, a ``ValueError``); out of memory raises
:class:`MemoryError`. Every exception raised for a library status carries
``status`` (the ``SAG_E_*`` value), ``who`` (the Scheme procedure that
failed) and ``sent`` (bytes of a failed send that went out).
"""

from __future__ import annotations

from typing import Any

from .library import ffi, lib

__all__ = [
    "SocketIOError", "HostNotFoundError", "SocketError", "SocketConnectionError",
    "SocketClosedError", "SocketReadTimeoutError", "SocketSendTimeoutError",
    "SocketPortError", "PortReadError", "PortWriteError", "PortDecodingError",
    "PortEncodingError", "SocketInterruptedError", "SocketWouldBlockError",
    "InvalidArgumentError",
]


class _Fields:
    """The fields every library failure carries."""
    status: int = 0
    who: str = ""
    sent: int = 0
    socket: Any = None
    port: Any = None



class SocketIOError(_Fields, OSError):
    """&i/o: the root of the library's I/O conditions."""


class HostNotFoundError(SocketIOError):
    """&host-not-found: resolution failed or no address could be used.
    ``node`` and ``service`` are what was asked for (None for #f)."""
    node: str | None = None
    service: str | None = None


class SocketError(SocketIOError):
    """&socket: a failure concerning ``socket``."""


class SocketConnectionError(SocketError, ConnectionError):
    """&socket-connection: a connection could not be made."""


class SocketClosedError(SocketError):
    """&socket-closed: the socket is closed."""


class SocketReadTimeoutError(SocketError, TimeoutError):
    """&socket-read-timeout: the read timeout passed (``timeout`` in seconds)."""
    timeout: float | None = None


class SocketSendTimeoutError(SocketError, TimeoutError):
    """A send did not complete within the socket's send timeout (errno
    ETIMEDOUT; ``sent`` bytes went)."""
    timeout: float | None = None


class SocketPortError(SocketError):
    """&socket-port: a failure concerning a socket port (``port``)."""


class PortReadError(SocketIOError):
    """&i/o-read: a socket port's read failed."""


class PortWriteError(SocketIOError):
    """&i/o-write: a socket port's write failed."""


class PortDecodingError(SocketIOError):
    """&i/o-decoding: malformed input on a textual port."""


class PortEncodingError(SocketIOError):
    """&i/o-encoding: a character the codec cannot encode."""


class SocketInterruptedError(_Fields, InterruptedError):
    """&sag-interrupted: :meth:`Socket.interrupt` woke the call."""


class SocketWouldBlockError(_Fields, BlockingIOError):
    """&sag-would-block: a non-blocking socket was not ready."""


class InvalidArgumentError(_Fields, ValueError):
    """An argument the library refused (SAG_E_INVALID, SAG_E_MISUSE)."""


_BY_STATUS = {
    lib.SAG_E_IO: SocketIOError,
    lib.SAG_E_HOST_NOT_FOUND: HostNotFoundError,
    lib.SAG_E_SOCKET: SocketError,
    lib.SAG_E_CONNECTION: SocketConnectionError,
    lib.SAG_E_CLOSED: SocketClosedError,
    lib.SAG_E_READ_TIMEOUT: SocketReadTimeoutError,
    lib.SAG_E_PORT: SocketPortError,
    lib.SAG_E_IO_READ: PortReadError,
    lib.SAG_E_IO_WRITE: PortWriteError,
    lib.SAG_E_IO_DECODING: PortDecodingError,
    lib.SAG_E_IO_ENCODING: PortEncodingError,
    lib.SAG_E_INTERRUPTED: SocketInterruptedError,
    lib.SAG_E_WOULD_BLOCK: SocketWouldBlockError,
    lib.SAG_E_INVALID: InvalidArgumentError,
    lib.SAG_E_MISUSE: InvalidArgumentError,
}


def _str(p) -> str | None:
    return None if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")


def error_from(status: int, socket: Any = None, port: Any = None, err=None) -> BaseException:
    """The exception for a failed call's status, with the fields the calling
    thread's last error object (or ``err``) recorded."""
    e_obj = err if err is not None else lib.sag_last_error()
    if status == lib.SAG_E_NOMEM:
        return MemoryError(_str(lib.sag_error_message(e_obj)) or "out of memory")
    cls = _BY_STATUS.get(status, SocketIOError)
    no = lib.sag_error_errno(e_obj)
    msg = _str(lib.sag_error_message(e_obj)) or _str(lib.sag_status_message(status)) or ""
    if cls is SocketError and no == lib.SAG_ETIMEDOUT:
        cls = SocketSendTimeoutError
    if cls is InvalidArgumentError:
        exc = cls(msg)
    else:
        exc = cls(no, msg)
    exc.status = status
    exc.who = _str(lib.sag_error_operation(e_obj)) or ""
    exc.sent = int(lib.sag_error_sent(e_obj))
    exc.socket = socket
    exc.port = port
    if cls is HostNotFoundError:
        exc.node = _str(lib.sag_error_node(e_obj))
        exc.service = _str(lib.sag_error_service(e_obj))
    t = lib.sag_error_timeout(e_obj)
    if t >= 0 and isinstance(exc, TimeoutError):
        exc.timeout = t / 1e6
    return exc

