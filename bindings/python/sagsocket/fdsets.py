"""Fdsets and select: Scheme's fdset (an ordered set of sockets), and
socket-select, socket-select! and the read/write/error selects over it."""

from __future__ import annotations

from typing import Iterable

from .calls import E_INTERRUPTED, OK, WAIT, cells, retry
from . import calls
from .errors import error_from
from .library import NULL, ffi, lib
from .sockets import Socket


def _handle_key(p) -> int:
    """A handle's value as an int: how handles the library hands back
    (fdset members, select results) are matched with the caller's objects
    (Socket.tag)."""
    return int(ffi.cast("uintptr_t", p))


def _socket_array(socks: Iterable[Socket]):
    lst = list(socks)
    for s in lst:
        if not isinstance(s, Socket):
            raise TypeError(f"expected a sagsocket.Socket, not {type(s).__name__}")
    arr = ffi.new("sag_socket *[]", max(len(lst), 1))
    for i, s in enumerate(lst):
        arr[i] = s.handle
    return lst, arr


class FdSet:
    """An ordered set of sockets for select (Scheme's fdset)."""
    __slots__ = ("handle", "_keep")

    def __init__(self, sockets: Iterable[Socket] = (), *, _handle=None,
                 _known: "dict[int, Socket] | None" = None) -> None:
        # Members are handle values in the library: _keep maps them to the
        # caller's objects (and keeps those alive).
        self._keep: dict[int, Socket] = {}
        if _handle is None:
            lst, arr = _socket_array(sockets)
            out = ffi.new("sag_fdset **")
            st = lib.sag_fdset_from_sockets(arr, len(lst), out, NULL)
            if st != OK:
                raise error_from(st)
            _handle = out[0]
            _known = {s.tag: s for s in lst}
        self.handle = ffi.gc(_handle, lib.sag_fdset_free)
        if _known:
            self._keep = _known
            self._keep = {s.tag: s for s in self.sockets()}

    def __contains__(self, s: Socket) -> bool:
        if not isinstance(s, Socket):
            raise TypeError("expected a sagsocket.Socket")
        st = lib.sag_fdset_ref(self.handle, s.handle, cells.int, NULL)
        if st != OK:
            raise error_from(st, s)
        return cells.int[0] != 0

    def set(self, s: Socket, flag: bool) -> None:
        if not isinstance(s, Socket):
            raise TypeError("expected a sagsocket.Socket")
        st = lib.sag_fdset_set(self.handle, s.handle, 1 if flag else 0, NULL)
        if st != OK:
            raise error_from(st, s)
        if flag:
            self._keep[s.tag] = s
        else:
            self._keep.pop(s.tag, None)

    def clear(self) -> None:
        st = lib.sag_fdset_clear(self.handle, NULL)
        if st != OK:
            raise error_from(st)
        self._keep.clear()

    def sockets(self) -> list[Socket]:
        st = lib.sag_fdset_sockets(self.handle, NULL, 0, cells.size, NULL)
        if st != OK:
            raise error_from(st)
        n = cells.size[0]
        arr = ffi.new("sag_socket *[]", max(n, 1))
        st = lib.sag_fdset_sockets(self.handle, arr, n, cells.size, NULL)
        if st != OK:
            raise error_from(st)
        keep = self._keep
        out = []
        for i in range(min(n, cells.size[0])):
            s = keep.get(_handle_key(arr[i]))
            if s is not None:
                out.append(s)
        return out

    def __len__(self) -> int:
        st = lib.sag_fdset_sockets(self.handle, NULL, 0, cells.size, NULL)
        if st != OK:
            raise error_from(st)
        return cells.size[0]

    def __repr__(self) -> str:
        return f"FdSet({self.sockets()!r})"


def _fdset_arg(f: FdSet | None):
    if f is None:
        return NULL
    if not isinstance(f, FdSet):
        raise TypeError("an fdset must be an FdSet or None")
    return f.handle


def select(rfds: FdSet | None, wfds: FdSet | None, efds: FdSet | None,
           timeout_us: int) -> tuple[int, FdSet | None, FdSet | None, FdSet | None]:
    """socket-select: (count, new rfds, new wfds, new efds)."""
    r, w, e = _fdset_arg(rfds), _fdset_arg(wfds), _fdset_arg(efds)
    outs = ffi.new("sag_fdset *[3]")
    cnt = ffi.new("int *")
    with calls.take_frame() as f:
        err = f.err
        t0 = calls.start()
        st = lib.sag_socket_select(r, w, e, timeout_us, cnt, outs, outs + 1, outs + 2, err)
        if st != OK:
            st = retry(st, lambda us: lib.sag_socket_select(r, w, e, us, cnt, outs, outs + 1, outs + 2, err),
                       None, t0, WAIT, timeout_us, frame=f)
        if st == OK:
            return (cnt[0], *(None if given is None else FdSet(_handle=outs[i], _known=given._keep)
                              for i, given in enumerate((rfds, wfds, efds))))
        if st == E_INTERRUPTED:
            return (0, *(None if given is None else FdSet() for given in (rfds, wfds, efds)))
        raise error_from(st, err=err)


def select_inplace(rfds: FdSet | None, wfds: FdSet | None, efds: FdSet | None,
                   timeout_us: int) -> tuple[int, FdSet | None, FdSet | None, FdSet | None]:
    """socket-select!: the given sets keep only their ready members."""
    r, w, e = _fdset_arg(rfds), _fdset_arg(wfds), _fdset_arg(efds)
    cnt = ffi.new("int *")
    with calls.take_frame() as frame:
        err = frame.err
        t0 = calls.start()
        st = lib.sag_socket_select_inplace(r, w, e, timeout_us, cnt, err)
        if st != OK:
            st = retry(st, lambda us: lib.sag_socket_select_inplace(r, w, e, us, cnt, err),
                       None, t0, WAIT, timeout_us, frame=frame)
        if st != OK and st != E_INTERRUPTED:
            raise error_from(st, err=err)
    if st == E_INTERRUPTED:
        for f in (rfds, wfds, efds):
            if f is not None:
                f.clear()
        return (0, rfds, wfds, efds)
    for f in (rfds, wfds, efds):
        if f is not None:
            f._keep = {s.tag: s for s in f.sockets()}  # the members left
    return (cnt[0], rfds, wfds, efds)


def ready_select(fn, timeout_us: int, socks: Iterable[Socket]) -> list[Socket]:
    """socket-read-select and friends: the ready sockets, in order given."""
    lst, arr = _socket_array(socks)
    ready = ffi.new("sag_socket *[]", max(len(lst), 1))
    with calls.take_frame() as f:
        n, err = f.size, f.err
        t0 = calls.start()
        st = fn(timeout_us, arr, len(lst), ready, n, err)
        if st != OK:
            st = retry(st, lambda us: fn(us, arr, len(lst), ready, n, err), None, t0, WAIT, timeout_us,
                       frame=f)
        if st == E_INTERRUPTED:
            return []
        if st != OK:
            raise error_from(st, err=err)
        count = n[0]
    by_key = {s.tag: s for s in lst}
    return [by_key[_handle_key(ready[i])] for i in range(count)]


