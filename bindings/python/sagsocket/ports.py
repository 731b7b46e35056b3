"""Socket ports of the library (Scheme's socket-port and transcoded-port),
for code ported from Scheme. Python code will rather use
:meth:`sagsocket.Socket.makefile`, which gives ``io`` objects.

Reads at end of file return None (Scheme's eof-object).
"""

from __future__ import annotations

from typing import Any

from . import calls
from .args import check_int, check_range
from .calls import OK, READ, cells, retry
from .errors import error_from
from .library import NULL, ffi, lib
from .sockets import Socket

_CODECS = {"utf-8": lib.SAG_CODEC_UTF8, "utf8": lib.SAG_CODEC_UTF8,
           "latin-1": lib.SAG_CODEC_LATIN1, "latin1": lib.SAG_CODEC_LATIN1}
_EOLS = {"none": lib.SAG_EOL_NONE, "lf": lib.SAG_EOL_LF, "crlf": lib.SAG_EOL_CRLF,
         "cr": lib.SAG_EOL_CR, "nel": lib.SAG_EOL_NEL, "crnel": lib.SAG_EOL_CRNEL,
         "ls": lib.SAG_EOL_LS}
_MODES = {"replace": lib.SAG_ERROR_MODE_REPLACE, "raise": lib.SAG_ERROR_MODE_RAISE}
_BUFFER = {"none": lib.SAG_BUFFER_NONE, "line": lib.SAG_BUFFER_LINE, "block": lib.SAG_BUFFER_BLOCK}


class Port:
    """A binary or textual socket port."""
    __slots__ = ("handle", "socket", "textual", "_under")

    def __init__(self, handle, socket: Socket, textual: bool = False, under: "Port | None" = None) -> None:
        self.handle = ffi.gc(handle, lib.sag_port_free)
        self.socket = socket
        self.textual = textual
        self._under = under  # keeps the binary port alive under a textual one

    def _call(self, fn, *args) -> None:
        h = self.handle
        with calls.take_frame() as f:
            err = f.err
            t0 = calls.start()
            st = fn(h, *args, err)
            if st == OK:
                return
            # A port read keeps its input for a retry after a signal, which
            # gets the time left of the socket's read timeout.
            st = retry(st, lambda us: fn(h, *args, err), self.socket, t0, READ, frame=f)
            if st != OK:
                raise error_from(st, self.socket, self, err=err)

    def _write(self, fn, *args) -> None:
        """A call that writes: signals do not end it (a port write that a
        signal cut short could not be resumed exactly, as held-back output
        may be part of it); Ctrl-C is raised when it returns."""
        on = lib.sag_thread_set_signal_interrupts(0)
        try:
            st = fn(self.handle, *args, NULL)
        finally:
            if on:
                lib.sag_thread_set_signal_interrupts(1)
        if st != OK:
            raise error_from(st, self.socket, self)

    # binary
    def get_u8(self) -> int | None:
        self._call(lib.sag_port_get_u8, cells.int)
        v = cells.int[0]
        return None if v < 0 else v

    def lookahead_u8(self) -> int | None:
        self._call(lib.sag_port_lookahead_u8, cells.int)
        v = cells.int[0]
        return None if v < 0 else v

    def get_bytevector_n(self, n: int) -> bytes | None:
        if check_int(n, "count") < 0:
            raise ValueError("count must not be negative")
        buf = ffi.new("uint8_t[]", max(n, 1))
        self._call(lib.sag_port_get_bytevector_n, buf, 0, n, cells.size)
        k = cells.size[0]
        return None if k == 0 and n > 0 else ffi.buffer(buf, k)[:]

    def get_bytevector_n_into(self, bv: Any, start: int, count: int) -> int | None:
        buf = ffi.from_buffer(bv, require_writable=True)
        try:
            check_range(len(buf), start, count)
            self._call(lib.sag_port_get_bytevector_n, buf, start, count, cells.size)
            k = cells.size[0]
            return None if k == 0 and count > 0 else k
        except BaseException:
            ffi.release(buf)  # see args.unexport
            raise

    def get_bytevector_some(self, n: int = 65536) -> bytes | None:
        if check_int(n, "count") < 0:
            raise ValueError("count must not be negative")
        buf = ffi.new("uint8_t[]", max(n, 1))
        self._call(lib.sag_port_get_bytevector_some, buf, 0, n, cells.size)
        k = cells.size[0]
        return None if k == 0 else ffi.buffer(buf, k)[:]

    def _data(self, fn) -> bytes | None:
        data = ffi.new("const uint8_t **")
        self._call(fn, data, cells.size)
        return None if data[0] == NULL else ffi.buffer(data[0], cells.size[0])[:]

    def get_bytevector_all(self) -> bytes | None:
        return self._data(lib.sag_port_get_bytevector_all)

    def get_bytes_line(self) -> bytes | None:
        return self._data(lib.sag_port_get_bytes_line)

    def put_u8(self, byte: int) -> None:
        self._write(lib.sag_port_put_u8, byte)

    def put_bytevector(self, bv: Any, start: int = 0, count: int | None = None) -> None:
        buf = ffi.from_buffer(bv)
        try:
            if count is None:
                count = len(buf) - check_int(start, "start")
            check_range(len(buf), start, count)
            self._write(lib.sag_port_put_bytevector, buf, start, count)
        except BaseException:
            ffi.release(buf)  # see args.unexport
            raise

    # textual
    def _text(self, fn, *args) -> str | None:
        p = ffi.new("const char **")
        self._call(fn, *args, p, cells.size)
        return None if p[0] == NULL else ffi.buffer(p[0], cells.size[0])[:].decode("utf-8")

    def get_char(self) -> str | None:
        ch = ffi.new("int32_t *")
        self._call(lib.sag_port_get_char, ch)
        return None if ch[0] < 0 else chr(ch[0])

    def lookahead_char(self) -> str | None:
        ch = ffi.new("int32_t *")
        self._call(lib.sag_port_lookahead_char, ch)
        return None if ch[0] < 0 else chr(ch[0])

    def get_string_n(self, n: int) -> str | None:
        if check_int(n, "count") < 0:
            raise ValueError("count must not be negative")
        return self._text(lib.sag_port_get_string_n, n)

    def get_line(self) -> "str | bytes | None":
        """get-line: a str on a textual port, bytes on a binary one."""
        if not self.textual:
            return self.get_bytes_line()
        return self._text(lib.sag_port_get_line)

    def get_string_all(self) -> str | None:
        return self._text(lib.sag_port_get_string_all)

    def put_char(self, ch: str) -> None:
        if not isinstance(ch, str) or len(ch) != 1:
            raise TypeError("put_char takes one character")
        self._write(lib.sag_port_put_char, ord(ch))

    def put_string(self, s: str) -> None:
        if not isinstance(s, str):
            raise TypeError("put_string takes a str")
        b = s.encode("utf-8", "surrogatepass")
        self._write(lib.sag_port_put_string, b, 0, len(b))

    # both
    def flush(self) -> None:
        self._write(lib.sag_port_flush)

    def close(self) -> None:
        try:
            self._write(lib.sag_port_close)
        finally:
            self.socket.descriptor_changed()  # closing may have closed the socket

    def ready(self) -> bool:
        self._call(lib.sag_port_ready, cells.int)
        return cells.int[0] != 0

    def shutdown(self, how: int) -> None:
        self._write(lib.sag_port_shutdown, how)

    def set_buffer_mode(self, mode: str) -> None:
        """"none" (each put is sent at once, the default), "line" or "block"."""
        if mode not in _BUFFER:
            raise ValueError(f"buffer mode must be one of {sorted(_BUFFER)}")
        self._write(lib.sag_port_set_buffer_mode, _BUFFER[mode])

    def __enter__(self) -> "Port":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _port(fn, s: Socket, *args) -> Port:
    if not isinstance(s, Socket):
        raise TypeError(f"expected a sagsocket.Socket, not {type(s).__name__}")
    out = ffi.new("sag_port **")
    st = fn(s.handle, *args, out, NULL)
    if st != OK:
        raise error_from(st, s)
    return Port(out[0], s)


def socket_port(s: Socket, close: bool = True) -> Port:
    """socket-port: one binary input/output port; closing it closes the
    socket unless close is False."""
    return _port(lib.sag_socket_port, s, 1 if close else 0)


def socket_input_port(s: Socket) -> Port:
    return _port(lib.sag_socket_input_port, s)


def socket_output_port(s: Socket) -> Port:
    return _port(lib.sag_socket_output_port, s)


def transcoded_port(p: Port, codec: str = "utf-8", eol_style: str = "none",
                    error_mode: str = "replace") -> Port:
    """transcoded-port of a socket port: codec "utf-8" or "latin-1",
    eol_style "none", "lf", "crlf", ..., error_mode "replace" or "raise"."""
    if not isinstance(p, Port) or p.textual:
        raise TypeError("transcoded_port takes a binary socket port")
    try:
        c, e, m = _CODECS[codec.lower()], _EOLS[eol_style], _MODES[error_mode]
    except (KeyError, AttributeError):
        raise ValueError("unknown codec, eol style or error mode") from None
    out = ffi.new("sag_port **")
    st = lib.sag_transcoded_port(p.handle, c, e, m, out, NULL)
    if st != OK:
        raise error_from(st, p.socket, p)
    return Port(out[0], p.socket, textual=True, under=p)


# ---- The Sagittarius face's port procedures (sagsocket.scheme) --------------

def shutdown_port(p: Port, how: int) -> None:
    p.shutdown(how)


def shutdown_input_port(p: Port) -> None:
    p.shutdown(lib.SAG_SHUT_RD)


def shutdown_output_port(p: Port) -> None:
    p.shutdown(lib.SAG_SHUT_WR)


def port_ready(p: Port) -> bool:
    """port-ready?"""
    return p.ready()


def get_u8(p: Port) -> int | None: return p.get_u8()
def lookahead_u8(p: Port) -> int | None: return p.lookahead_u8()
def get_bytevector_n(p: Port, n: int) -> bytes | None: return p.get_bytevector_n(n)
def get_bytevector_some(p: Port) -> bytes | None: return p.get_bytevector_some()
def get_bytevector_all(p: Port) -> bytes | None: return p.get_bytevector_all()
def get_line(p: Port) -> "str | bytes | None": return p.get_line()
def put_u8(p: Port, b: int) -> None: p.put_u8(b)
def put_bytevector(p: Port, bv: Any, start: int = 0, count: int | None = None) -> None: p.put_bytevector(bv, start, count)
def get_char(p: Port) -> str | None: return p.get_char()
def lookahead_char(p: Port) -> str | None: return p.lookahead_char()
def get_string_n(p: Port, n: int) -> str | None: return p.get_string_n(n)
def get_string_all(p: Port) -> str | None: return p.get_string_all()
def put_char(p: Port, c: str) -> None: p.put_char(c)
def put_string(p: Port, s: str) -> None: p.put_string(s)
def flush_output_port(p: Port) -> None: p.flush()
def close_port(p: Port) -> None: p.close()
