"""CPython's own test_socket and test_selectors, run against sagsocket.

The tests are the installed Python's (its ``test`` package, never a copy).
Only where a test makes the socket under test is sagsocket's class put in:
test_socket sees a copy of the socket module whose ``socket``,
``create_connection``, ``create_server``, ``getdefaulttimeout`` and
``setdefaulttimeout`` (and ``socketpair``, ``fromfd``, ``dup`` when sagsocket
has them) are sagsocket's; everything else it uses (the standard library,
test.support) keeps the real module. test_selectors's base test case runs
with ``SELECTOR = sagsocket.Selector`` over socket pairs of sagsocket sockets.

Each test's sagsocket sockets are counted (every Socket made or adopted
while it runs): a test that passes without making one is not a test of
sagsocket and is counted apart ("not on sagsocket"). A test named in
cpython-expected-failures.txt (one ``Class.test_name  reason`` a line; the
name may be an fnmatch pattern) is expected to fail; a listed test that
passes is a failure of the list. An entry whose reason starts with
"not run:" is not run (each of its tests would only wait out its own
timeouts for a method sagsocket lacks) and is counted as listed.

    python3 Tests/python/cpython_suite.py [-v] [pattern ...]

The last line is ``cpython-suite: N passed, N failed, N listed``; the exit
status is 0 when nothing failed.
"""

from __future__ import annotations

import fnmatch
import os
import socket
import sys
import threading
import time
import types
import unittest
import weakref

import sagsocket

HERE = os.path.dirname(os.path.abspath(__file__))
LIST = os.path.join(HERE, "cpython-expected-failures.txt")

try:
    from test import test_selectors, test_socket
except ImportError as e:  # scripts/setup.sh installs the test suite
    print(f"cpython-suite: this Python has no test package ({e}); run scripts/setup.sh")
    sys.exit(2)


class Count:
    """The sagsocket sockets made since the current test started (and weak
    references to them, for the watchdog)."""
    made = 0
    live: list = []


# A test that blocks longer than this (a peer thread that failed and never
# connects, ...) has its sagsocket sockets interrupted, so that it fails
# instead of hanging the run. A guard against hangs, not a measurement.
HANG_GUARD_S = 30


class Watchdog(threading.Thread):
    """Interrupts the current test's sagsocket sockets once it has run for
    HANG_GUARD_S seconds, then every second until the test ends."""

    def __init__(self):
        super().__init__(daemon=True)
        self.cond = threading.Condition()
        self.test = None
        self.hung: set[str] = set()

    def start_test(self, name):
        with self.cond:
            self.test = (name, time.monotonic())
            self.cond.notify()

    def stop_test(self):
        with self.cond:
            self.test = None
            self.cond.notify()

    def run(self):
        with self.cond:
            while True:
                if self.test is None:
                    self.cond.wait()
                    continue
                name, t0 = self.test
                left = t0 + HANG_GUARD_S - time.monotonic()
                if left > 0:
                    self.cond.wait(left)
                    continue
                self.hung.add(name)
                for ref in list(Count.live):
                    s = ref()
                    if s is not None:
                        try:
                            s.interrupt()
                        except Exception:
                            pass
                self.cond.wait(1)


WATCHDOG = Watchdog()


def _counting(cls):
    """Counts every Socket made (its constructor) or adopted (accepted,
    made by the library's make-client-socket, ...)."""
    init, adopt = cls.__init__, cls.adopt.__func__

    def counted_init(self, *args, **kwargs):
        Count.made += 1
        init(self, *args, **kwargs)
        Count.live.append(weakref.ref(self))

    def counted_adopt(klass, *args, **kwargs):
        Count.made += 1
        s = adopt(klass, *args, **kwargs)
        Count.live.append(weakref.ref(s))
        return s

    cls.__init__ = counted_init
    cls.adopt = classmethod(counted_adopt)


_counting(sagsocket.Socket)


def _tcp_socketpair(family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
    """A connected pair of sagsocket sockets over loopback TCP, as the socket
    module makes socketpair where the OS has no AF_UNIX."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with sagsocket.Socket(family, type, proto) as lsock:
        lsock.bind((host, 0))
        lsock.listen()
        c = sagsocket.Socket(family, type, proto)
        try:
            c.connect(lsock.getsockname()[:2])
            a, _ = lsock.accept()
        except BaseException:
            c.close()
            raise
    return c, a


def _socket_module() -> types.ModuleType:
    """A copy of the socket module with sagsocket's classes and functions
    where a test makes the socket under test."""
    m = types.ModuleType("socket")
    m.__dict__.update(socket.__dict__)
    m.socket = sagsocket.Socket
    for name in ("create_connection", "create_server", "getdefaulttimeout", "setdefaulttimeout",
                 "socketpair", "fromfd", "dup"):
        if hasattr(sagsocket, name):
            setattr(m, name, getattr(sagsocket, name))
    return m


test_socket.socket = _socket_module()
test_selectors.socketpair = getattr(sagsocket, "socketpair", _tcp_socketpair)


class SagsocketSelectorTestCase(test_selectors.BaseSelectorTestCase,
                                test_selectors.ScalableSelectorMixIn, unittest.TestCase):
    SELECTOR = sagsocket.Selector


def _expected() -> list[tuple[str, str]]:
    out = []
    with open(LIST, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                if not reason.strip():
                    raise SystemExit(f"cpython-suite: {name} is listed without a reason")
                out.append((name, reason.strip()))
    return out


def _listed(name: str, expected: list[tuple[str, str]]) -> str | None:
    """The reason name is listed for, or None."""
    for pattern, reason in expected:
        if fnmatch.fnmatchcase(name, pattern):
            return reason
    return None


def _name(test) -> str:
    return f"{type(test).__name__}.{test._testMethodName}"


class Result(unittest.TextTestResult):
    """Records each test's outcome with the count of sagsocket sockets it made."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, tuple[str, int, str]] = {}

    def startTest(self, test):
        Count.made = 0
        Count.live = []
        WATCHDOG.start_test(_name(test))
        super().startTest(test)

    def stopTest(self, test):
        WATCHDOG.stop_test()
        super().stopTest(test)

    def _record(self, test, outcome, detail=""):
        name = _name(test)
        if name in WATCHDOG.hung:
            outcome, detail = "fail", f"hung: interrupted after {HANG_GUARD_S} s\n" + detail
        self.outcomes[name] = (outcome, Count.made, detail)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "fail", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        if isinstance(test, unittest.TestCase):  # else a class or module fixture
            self._record(test, "fail", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skip", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "pass")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "fail", "unexpected success")


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    patterns = [a for a in argv if a != "-v"]
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    suite.addTests(loader.loadTestsFromModule(test_socket))
    suite.addTests(loader.loadTestsFromTestCase(SagsocketSelectorTestCase))
    expected = _expected()
    hanging: list[str] = []

    def keep(t) -> bool:
        name = _name(t)
        if patterns and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            return False
        if (_listed(name, expected) or "").startswith("not run:"):
            hanging.append(name)
            return False
        return True

    flat: list = []

    def walk(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                walk(t)
            elif keep(t):
                flat.append(t)
    walk(suite)
    suite = unittest.TestSuite(flat)
    WATCHDOG.start()
    stream = open(os.devnull, "w") if not verbose else sys.stderr
    runner = unittest.TextTestRunner(stream=stream, resultclass=Result, verbosity=2 if verbose else 0)
    result = runner.run(suite)
    passed, failed, listed, not_ours, skipped = [], [], list(hanging), [], []
    for name, (outcome, made, detail) in sorted(result.outcomes.items()):
        if outcome == "skip":
            skipped.append(name)
        elif outcome == "pass" and made == 0:
            not_ours.append(name)
        elif _listed(name, expected) is not None:
            if outcome == "fail":
                listed.append(name)
            else:
                failed.append(name)
                print(f"LISTED BUT PASSED {name} (take it off {os.path.basename(LIST)})")
        elif outcome == "fail":
            failed.append(name)
            print(f"FAIL {name} ({made} sagsocket sockets)")
            if verbose:
                print(detail)
        elif made == 0:
            not_ours.append(name)
        else:
            passed.append(name)
    if not patterns:
        for pattern, _ in expected:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in [*result.outcomes, *hanging]):
                print(f"note: listed {pattern} matches no test that ran")
    print(f"cpython-suite: {len(skipped)} skipped, {len(not_ours)} passed without a sagsocket "
          f"socket (not counted)")
    print(f"cpython-suite: {len(passed)} passed, {len(failed)} failed, {len(listed)} listed")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
