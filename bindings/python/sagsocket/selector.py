"""Selectors: the library's socket selector (Scheme's, :class:`SocketSelector`)
and, over the same epoll selector, :class:`Selector`, used as the
:mod:`selectors` module's selectors are."""

from __future__ import annotations

import selectors
import threading
from collections.abc import Mapping
from typing import Any, Iterator, NamedTuple

from . import calls
from .args import select_timeout_us
from .calls import OK, WAIT, cells, retry
from .errors import error_from
from .library import NULL, ffi, lib
from .sockets import Socket

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE
SelectorKey = selectors.SelectorKey


class SelectorEntry(NamedTuple):
    """A socket a selector reported: the socket, its own timeout (seconds
    or None) and the datum given to add."""
    socket: Socket
    timeout: float | None
    data: Any


class SocketSelector:
    """Scheme's socket selector (epoll): ``add`` sockets with an optional
    timeout of their own and a datum; ``wait`` reports those that became
    readable and those whose timeout passed, and each reported socket
    leaves the selector."""

    CAPACITY = 1024

    def __init__(self) -> None:
        out = ffi.new("sag_selector **")
        st = lib.sag_selector_new(out, NULL)
        if st != OK:
            raise error_from(st)
        self.handle = ffi.gc(out[0], lib.sag_selector_free)
        self._entries: dict[int, SelectorEntry] = {}  # tag -> entry
        self._socks = ffi.new("sag_socket *[]", self.CAPACITY)
        self._tags = ffi.new("int64_t[]", self.CAPACITY)
        self._timed = ffi.new("int[]", self.CAPACITY)
        self._count = ffi.new("size_t *")
        self._lock = threading.Lock()
        self._prune_at = 64

    def add(self, s: Socket, timeout: Any = None, data: Any = None) -> None:
        if not isinstance(s, Socket):
            raise TypeError(f"expected a sagsocket.Socket, not {type(s).__name__}")
        us = select_timeout_us(timeout)
        # The entry goes in before the library's add, so that a wait in
        # another thread that reports the socket at once finds it; it goes
        # out again when the add fails (a closed socket or selector, ...).
        key = s.tag
        with self._lock:
            fresh = key not in self._entries
            if fresh:
                self._entries[key] = SelectorEntry(s, None if us < 0 else us / 1e6, data)
        st = lib.sag_selector_add(self.handle, s.handle, us, key, NULL)
        if st == OK and not (fresh and s.closed):
            return
        # Failed, or a closed socket, which the library does not add (SAG_OK,
        # as Sagittarius ignores it) and will never report.
        e = error_from(st, s) if st != OK else None
        if fresh:
            with self._lock:
                self._entries.pop(key, None)
        if e is not None:
            raise e

    def wait(self, timeout: Any = None) -> tuple[list[SelectorEntry], list[SelectorEntry]]:
        us = select_timeout_us(timeout)
        args = (self._socks, self._tags, self._timed, self.CAPACITY, self._count, NULL)
        h = self.handle
        t0 = calls.start()
        st = lib.sag_selector_wait(h, us, *args)
        if st != OK:
            st = retry(st, lambda left: lib.sag_selector_wait(h, left, *args), None, t0, WAIT, us)
            if st != OK:
                raise error_from(st)
        ready: list[SelectorEntry] = []
        timed: list[SelectorEntry] = []
        tags, flags = self._tags, self._timed
        with self._lock:
            pop = self._entries.pop
            for i in range(self._count[0]):
                e = pop(tags[i], None)
                if e is not None:
                    (timed if flags[i] else ready).append(e)
            if len(self._entries) > self._prune_at:
                # Sockets closed while held leave the library's selector
                # unreported: drop their entries here too.
                for tag in [t for t, e in self._entries.items() if e.socket.closed]:
                    del self._entries[tag]
                self._prune_at = 2 * len(self._entries) + 64
        return ready, timed

    def interrupt(self) -> None:
        st = lib.sag_selector_interrupt(self.handle, NULL)
        if st != OK:
            raise error_from(st)

    def close(self) -> None:
        st = lib.sag_selector_close(self.handle, NULL)
        if st != OK:
            raise error_from(st)
        with self._lock:
            self._entries.clear()

    def clear(self) -> list[SelectorEntry]:
        out: list[SelectorEntry] = []
        while True:
            st = lib.sag_selector_clear(self.handle, self._socks, self._tags, self.CAPACITY, self._count, NULL)
            if st != OK:
                raise error_from(st)
            n = self._count[0]
            with self._lock:
                for i in range(n):
                    e = self._entries.pop(self._tags[i], None)
                    if e is not None:
                        out.append(e)
            if n < self.CAPACITY:
                break
        with self._lock:
            self._entries.clear()
        return out

    def __len__(self) -> int:
        st = lib.sag_selector_size(self.handle, cells.size, NULL)
        if st != OK:
            raise error_from(st)
        return cells.size[0]

    @property
    def closed(self) -> bool:
        st = lib.sag_selector_is_closed(self.handle, cells.int, NULL)
        if st != OK:
            raise error_from(st)
        return cells.int[0] != 0

    @property
    def waiting(self) -> bool:
        st = lib.sag_selector_is_waiting(self.handle, cells.int, NULL)
        if st != OK:
            raise error_from(st)
        return cells.int[0] != 0

    def __enter__(self) -> "SocketSelector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_selector_wait = lib.sag_selector_wait
_NULL = ffi.NULL
_selector_watch = lib.sag_selector_watch
_selector_unwatch = lib.sag_selector_unwatch


class _Map(Mapping):
    def __init__(self, sel: "Selector") -> None:
        self._sel = sel

    def __len__(self) -> int:
        return len(self._sel._keys)

    def __getitem__(self, fileobj: Any) -> SelectorKey:
        return self._sel._keys[self._sel._fd(fileobj)]

    def __iter__(self) -> Iterator[int]:
        return iter(self._sel._keys)


class Selector(selectors.BaseSelector):
    """A selector over libsagsocket's (epoll) for :class:`Socket` objects,
    used as the selectors module's are: register(sock, EVENT_READ, data),
    select(timeout) -> [(key, EVENT_READ), ...], unregister, modify, close,
    get_key, get_map, a context manager. It waits for reading only
    (EVENT_WRITE raises ValueError: the library's selector watches
    readability). :meth:`interrupt` wakes a select blocked in another
    thread; Ctrl-C raises KeyboardInterrupt in a blocked select.

    Sockets stay registered in the library (sag_selector_watch: level-
    triggered, as EpollSelector), so a select is one sag_selector_wait and
    costs no system call per reported socket."""

    def __init__(self) -> None:
        self._sel = sel = SocketSelector()
        # select's arguments, fetched in one go.
        self._wait = (sel.handle, sel._socks, sel._tags, sel._timed, sel.CAPACITY, sel._count)
        self._keys: dict[int, SelectorKey] = {}     # fd -> key
        self._by_tag: dict[int, tuple[SelectorKey, Any]] = {}  # socket tag -> (key, handle)

    def _fd(self, fileobj: Any) -> int:
        if isinstance(fileobj, Socket):
            fd = fileobj.fileno()
            if fd < 0:  # closed since it was registered: find it by identity
                for key in self._keys.values():
                    if key.fileobj is fileobj:
                        return key.fd
            return fd
        if isinstance(fileobj, int):
            return fileobj
        raise TypeError(f"expected a sagsocket.Socket, not {type(fileobj).__name__}")

    def register(self, fileobj: Any, events: int, data: Any = None) -> SelectorKey:
        if not isinstance(fileobj, Socket):
            raise TypeError(f"a sagsocket.Selector registers sagsocket.Socket objects, not {type(fileobj).__name__}")
        if (not events) or (events & ~(EVENT_READ | EVENT_WRITE)):
            raise ValueError(f"Invalid events: {events!r}")
        if events & EVENT_WRITE:
            raise ValueError("sagsocket.Selector waits for reading only (EVENT_READ)")
        fd = fileobj.fileno()
        if fd < 0:
            raise ValueError("the socket is closed")
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        key = SelectorKey(fileobj, fd, events, data)
        st = _selector_watch(self._sel.handle, fileobj.handle, fileobj.tag, ffi.NULL)
        if st != 0:
            raise error_from(st, socket=fileobj)
        self._keys[fd] = key
        self._by_tag[fileobj.tag] = (key, fileobj.handle)
        return key

    def unregister(self, fileobj: Any) -> SelectorKey:
        try:
            key = self._keys.pop(self._fd(fileobj))
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        sock = key.fileobj
        self._by_tag.pop(sock.tag, None)
        # Also a no-op (SAG_OK) for a socket closed meanwhile, which the
        # library dropped by itself; a closed selector has no keys left.
        st = _selector_unwatch(self._sel.handle, sock.handle, ffi.NULL)
        if st != 0:
            raise error_from(st, socket=sock)
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> SelectorKey:
        key = self.get_key(fileobj)
        if events != key.events:
            self.unregister(fileobj)
            return self.register(fileobj, events, data)
        if data != key.data:
            key = key._replace(data=data)
            self._keys[key.fd] = key
            self._by_tag[key.fileobj.tag] = (key, key.fileobj.handle)
        return key

    def select(self, timeout: float | None = None) -> list[tuple[SelectorKey, int]]:
        """[(key, EVENT_READ)] of the registered sockets that are readable,
        waiting at most timeout seconds (None: until one is; <= 0: not at
        all); [] when the time passes or interrupt() wakes it."""
        if timeout is None:
            us = -1
        elif timeout <= 0:
            us = 0
        else:
            us = int(timeout * 1e6) or 1
        h, socks, tags, timed, cap, count = self._wait
        t0 = calls.start()
        st = _selector_wait(h, us, socks, tags, timed, cap, count, _NULL)
        if st != 0:
            st = retry(st, lambda left: _selector_wait(h, left, socks, tags, timed, cap, count, _NULL),
                        None, t0, WAIT, us)
            if st != 0:
                raise error_from(st)
        n = count[0]
        if not n:
            return []
        by_tag = self._by_tag
        if n == 1:
            entry = by_tag.get(tags[0])
            return [] if entry is None else [(entry[0], EVENT_READ)]
        out = []
        for i in range(n):
            entry = by_tag.get(tags[i])
            if entry is not None:  # else unregistered meanwhile
                out.append((entry[0], EVENT_READ))
        return out


    def interrupt(self) -> None:
        """Makes a select blocked in another thread return (with what is ready)."""
        self._sel.interrupt()

    def close(self) -> None:
        if not self._sel.closed:
            self._sel.close()
        self._keys.clear()
        self._by_tag.clear()

    def get_map(self) -> Mapping:
        return _Map(self)
