"""Selectors: the library's socket selector (Scheme's, :class:`SocketSelector`)
and, over the same epoll selector, :class:`Selector`, used as the
:mod:`selectors` module's selectors are."""

from __future__ import annotations

import selectors
import threading
from math import floor as _floor
from collections.abc import Mapping
from typing import Any, Iterator, NamedTuple

from . import calls
from .args import select_timeout_us
from .calls import OK, WAIT, Frame, cells, give_frame, retry, take_free_frame
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
        h = self.handle
        with calls.take_frame() as f:
            args = (self._socks, self._tags, self._timed, self.CAPACITY, self._count, f.err)
            t0 = calls.start()
            st = lib.sag_selector_wait(h, us, *args)
            if st != OK:
                st = retry(st, lambda left: lib.sag_selector_wait(h, left, *args), None, t0, WAIT, us, frame=f)
                if st != OK:
                    raise error_from(st, err=f.err)
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


_NULL = ffi.NULL
_wait_events = lib.sag_selector_wait_events
_watch_events = lib.sag_selector_watch_events
_watch_fd = lib.sag_selector_watch_fd
_unwatch = lib.sag_selector_unwatch
_unwatch_fd = lib.sag_selector_unwatch_fd
_READ = lib.SAG_SELECTOR_READ
_WRITE = lib.SAG_SELECTOR_WRITE
# What the library reports (a bit set) -> the selectors module's events.
_EVENTS = tuple((EVENT_READ if b & _READ else 0) | (EVENT_WRITE if b & _WRITE else 0) for b in range(8))


def _waiting(h, socks, tags, events, cap: int, count) -> tuple:
    """Selector.select's arguments and, after them, memoryviews of the count,
    tags and events it reads back: a memoryview's item costs less than a
    cdata's subscript (about 75 instructions each)."""
    def view(c, fmt: str) -> memoryview:
        return memoryview(ffi.buffer(c)).cast(fmt)
    return (h, socks, tags, events, cap, count, view(count, "N"), view(tags, "q"), view(events, "i"))


def _fd_of(fileobj: Any) -> int:
    """The descriptor of an int or of an object with fileno(), as the
    selectors module finds it (ValueError when there is none)."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


class _Map(Mapping):
    def __init__(self, sel: "Selector") -> None:
        self._sel = sel

    def __len__(self) -> int:
        return len(self._sel._keys)

    def __getitem__(self, fileobj: Any) -> SelectorKey:
        try:
            return self._sel._keys[self._sel._fileobj_lookup(fileobj)]
        except ValueError:
            raise KeyError(f"{fileobj!r} is not registered") from None

    def __iter__(self) -> Iterator[int]:
        return iter(self._sel._keys)


class Selector(selectors.BaseSelector):
    """A selector over libsagsocket's (epoll), used as the selectors
    module's are: register(fileobj, events, data) with EVENT_READ,
    EVENT_WRITE or both, for a :class:`Socket`, any object with fileno() or
    a raw descriptor; select(timeout) -> [(key, events), ...]; unregister,
    modify, close, get_key, get_map, a context manager; KeyError and
    ValueError where the selectors module raises them. So
    ``asyncio.SelectorEventLoop(sagsocket.Selector())`` runs.
    :meth:`interrupt` wakes a select blocked in another thread; Ctrl-C
    raises KeyboardInterrupt in a blocked select.

    Registrations stay in the library (sag_selector_watch_events for a
    Socket, sag_selector_watch_fd for another descriptor: level-triggered,
    as EpollSelector), so a select is one sag_selector_wait_events and costs
    no system call per reported descriptor. As with EpollSelector,
    unregister a descriptor before closing it."""

    def __init__(self) -> None:
        self._sel = sel = SocketSelector()
        self._events = ffi.new("int[]", sel.CAPACITY)
        # select's arguments, and views of what it reads back, fetched in
        # one go (_waiting).
        self._wait = _waiting(sel.handle, sel._socks, sel._tags, self._events, sel.CAPACITY, sel._count)
        self._keys: dict[int, SelectorKey] = {}     # fd (also the tag) -> key
        # fd -> what select reports for each bit set the library gives
        # (_EVENTS' index): (key, events) or None, made when registered.
        self._reports: dict[int, tuple] = {}
        self._map: _Map | None = _Map(self)

    def _fileobj_lookup(self, fileobj: Any) -> int:
        """fileobj's descriptor; for one that has none any more (closed),
        the descriptor it was registered with (as the selectors module)."""
        try:
            return _fd_of(fileobj)
        except ValueError:
            for key in self._keys.values():
                if key.fileobj is fileobj:
                    return key.fd
            raise

    def _watch(self, fileobj: Any, fd: int, events: int) -> None:
        ev = (_READ if events & EVENT_READ else 0) | (_WRITE if events & EVENT_WRITE else 0)
        h = self._sel.handle
        if isinstance(fileobj, Socket):
            st = _watch_events(h, fileobj.handle, ev, fd, _NULL)
        else:
            st = _watch_fd(h, fd, ev, fd, _NULL)
        if st != 0:
            raise error_from(st, socket=fileobj if isinstance(fileobj, Socket) else None)

    def _unwatch(self, key: SelectorKey) -> None:
        # SAG_OK also for a descriptor closed (or a socket closed) meanwhile.
        sock = key.fileobj
        if isinstance(sock, Socket):
            st = _unwatch(self._sel.handle, sock.handle, _NULL)
        else:
            st = _unwatch_fd(self._sel.handle, key.fd, _NULL)
        if st != 0:
            raise error_from(st)

    def register(self, fileobj: Any, events: int, data: Any = None) -> SelectorKey:
        if (not events) or (events & ~(EVENT_READ | EVENT_WRITE)):
            raise ValueError(f"Invalid events: {events!r}")
        if self._map is None:
            raise RuntimeError("Selector is closed")
        fd = self._fileobj_lookup(fileobj)
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        key = SelectorKey(fileobj, fd, events, data)
        self._watch(fileobj, fd, events)
        self._add(key)
        return key

    def _add(self, key: SelectorKey) -> None:
        """Keeps a watched key, and what select reports for it; the wait's
        arrays grow to hold every registration, as EpollSelector asks epoll
        for (a wait reports no more than fit)."""
        self._keys[key.fd] = key
        self._reports[key.fd] = tuple(((key, ev & key.events) if ev & key.events else None)
                                      for ev in _EVENTS)
        h, socks, tags, events, cap, count = self._wait[:6]
        if len(self._keys) > cap:
            cap = 2 * len(self._keys)
            socks, tags, events = ffi.new("sag_socket *[]", cap), ffi.new("int64_t[]", cap), ffi.new("int[]", cap)
            self._wait = _waiting(h, socks, tags, events, cap, count)

    def unregister(self, fileobj: Any) -> SelectorKey:
        try:
            key = self._keys.pop(self._fileobj_lookup(fileobj))
        except (KeyError, ValueError):
            raise KeyError(f"{fileobj!r} is not registered") from None
        del self._reports[key.fd]
        try:
            self._unwatch(key)
        except OSError:
            # As EpollSelector: the key is gone whatever the library says
            # (a socket freed meanwhile, a selector closed behind our back).
            pass
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> SelectorKey:
        try:
            key = self._keys[self._fileobj_lookup(fileobj)]
        except (KeyError, ValueError):
            raise KeyError(f"{fileobj!r} is not registered") from None
        if events != key.events:
            if (not events) or (events & ~(EVENT_READ | EVENT_WRITE)):
                raise ValueError(f"Invalid events: {events!r}")
            # The library holds a descriptor once whatever its interest:
            # unwatch, then watch with the new one.
            self._unwatch(key)
            del self._keys[key.fd]
            del self._reports[key.fd]
            new = key._replace(events=events, data=data)
            self._watch(new.fileobj, new.fd, events)
            self._add(new)
            return new
        if data != key.data:
            key = key._replace(data=data)
            self._add(key)
        return key

    def select(self, timeout: float | None = None) -> list[tuple[SelectorKey, int]]:
        """[(key, events)] of the registered descriptors that are ready for
        what they were registered for, waiting at most timeout seconds
        (None: until one is; <= 0: not at all); [] when the time passes or
        interrupt() wakes it."""
        if timeout is None:
            us = -1
        elif timeout <= 0:
            us = 0
        else:
            us = _floor(timeout * 1e6) or 1  # int() of a positive float; a call to int costs ~400 more
        h, socks, tags, events, cap, count, n_v, tags_v, events_v = self._wait
        try:
            f = take_free_frame()
        except IndexError:
            f = Frame()
        t0 = calls.start()
        st = _wait_events(h, us, socks, tags, events, cap, count, f.err)
        if st:
            self._wait_again(st, t0, us, f)
        else:
            give_frame(f)
        n = n_v[0]
        if n == 1:  # the common case
            r = self._reports.get(tags_v[0])  # None: unregistered meanwhile
            ev = events_v[0] & 7
            return [] if r is None or r[ev] is None else [r[ev]]
        reports = self._reports
        out = []
        for i in range(n):
            r = reports.get(tags_v[i])
            if r is not None:
                r = r[events_v[i] & 7]
                if r is not None:
                    out.append(r)
        return out

    def _wait_again(self, st: int, t0: float, us: int, f: Frame) -> None:
        """The slow path of select (apart, so that select makes no closure):
        the wait that failed with st at t0 made again after signals with the
        time left, or the exception raised; gives f back."""
        h, socks, tags, events, cap, count = self._wait[:6]
        with f:
            st = retry(st, lambda left: _wait_events(h, left, socks, tags, events, cap, count, f.err),
                       None, t0, WAIT, us, frame=f)
            if st:
                raise error_from(st, err=f.err)

    def interrupt(self) -> None:
        """Makes a select blocked in another thread return (with what is ready)."""
        self._sel.interrupt()

    def close(self) -> None:
        if not self._sel.closed:
            self._sel.close()
        self._keys.clear()
        self._reports.clear()
        self._map = None

    def get_map(self) -> Mapping | None:
        return self._map
