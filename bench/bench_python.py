"""The Python binding's benchmark: sagsocket against CPython's socket module
in the same run. A report, not a test.

    python3 bench/bench_python.py            (bench/run_python.sh sets it up)

run_python.sh runs the copy of the package that pip installs (in cffi's API
mode where a compiler and Python.h are there, as a user's install is;
BENCH_PYTHON_MODE=abi measures ABI mode).

Each workload runs once per round for each implementation, the order
alternating between rounds; both ends of a connection use the same
implementation, the peer in a separate process (no GIL shared). Printed:
the median time of each and the median of the per-round ratios. Environment:
BENCH_SCALE (default 1: 1 GiB, 20,000 round trips, 20,000 connections, 1M
lines, 10,000 sockets in a selector), BENCH_ROUNDS (default 5).
"""

from __future__ import annotations

import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time
import timeit

import sagsocket
from sagsocket.library import ffi, lib

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "5")))
CHUNK = 65536
BULK = max(CHUNK, int(1024 ** 3 * SCALE) // CHUNK * CHUNK)
PINGS = max(100, int(20000 * SCALE))
CONNS = max(100, int(20000 * SCALE))
LINES = max(1000, int(1_000_000 * SCALE))
SELECT_SOCKETS = max(100, int(10000 * SCALE))
SELECTS = 2000
HERE = os.path.abspath(__file__)


# ---- the two implementations ---------------------------------------------

def server(impl: str):
    if impl == "sag":
        return sagsocket.create_server(("127.0.0.1", 0))
    return socket.create_server(("127.0.0.1", 0))


def connect(impl: str, port: int):
    if impl == "sag":
        return sagsocket.create_connection(("127.0.0.1", port))
    return socket.create_connection(("127.0.0.1", port))


def line_blob() -> bytes:
    return b"".join(b"%039d\n" % i for i in range(LINES))


def peer(impl: str, kind: str, port: int, n: int) -> None:
    """The other end, in its own process."""
    if kind == "conns":
        # The server closes each connection first, and the client closes
        # after reading that end: the TIME_WAIT of every connection lands
        # on the accepting side (the listening port's), never on the
        # client's ephemeral ports, which tens of thousands of earlier
        # connections in TIME_WAIT would otherwise leave connect() to
        # search through. The first connection says the peer is ready.
        for _ in range(n + 1):
            c = connect(impl, port)
            c.recv(1)
            c.close()
        return
    # What is sent is made before connecting: the reader's clock starts at
    # the accept, and must not time the making of a million lines.
    data = line_blob() if kind == "lines" else b"x" * CHUNK
    s = connect(impl, port)
    if kind == "bulk":
        for _ in range(n // CHUNK):
            s.sendall(data)
    elif kind == "ping":
        recv, send = s.recv, s.send
        while True:
            b = recv(1)
            if not b:
                break
            send(b)
    elif kind == "lines":
        s.sendall(data)
    s.close()


def spawn(impl: str, kind: str, port: int, n: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, HERE, "peer", impl, kind, str(port), str(n)])


def run_bulk(impl: str) -> float:
    srv = server(impl)
    p = spawn(impl, "bulk", srv.getsockname()[1], BULK)
    a, _ = srv.accept()
    buf = bytearray(CHUNK)
    recv_into = a.recv_into
    got = 0
    t0 = time.perf_counter()
    while got < BULK:
        n = recv_into(buf)
        if not n:
            break
        got += n
    t = time.perf_counter() - t0
    assert got == BULK, got
    a.close()
    srv.close()
    p.wait(60)
    return t


def run_ping(impl: str) -> float:
    srv = server(impl)
    p = spawn(impl, "ping", srv.getsockname()[1], 0)
    a, _ = srv.accept()
    send, recv = a.send, a.recv
    for _ in range(100):  # warm up
        send(b"x")
        recv(1)
    t0 = time.perf_counter()
    for _ in range(PINGS):
        send(b"x")
        if not recv(1):
            raise SystemExit("ping-pong: the peer closed")
    t = time.perf_counter() - t0
    a.close()
    srv.close()
    p.wait(60)
    return t


def run_conns(impl: str) -> float:
    srv = server(impl)
    p = spawn(impl, "conns", srv.getsockname()[1], CONNS)
    srv.accept()[0].close()  # the peer is ready
    accept = srv.accept
    t0 = time.perf_counter()
    for _ in range(CONNS):
        accept()[0].close()
    t = time.perf_counter() - t0
    srv.close()
    p.wait(60)
    return t


def run_lines(impl: str, mode: str) -> float:
    srv = server(impl)
    p = spawn(impl, "lines", srv.getsockname()[1], 0)
    a, _ = srv.accept()
    f = a.makefile(mode) if mode == "rb" else a.makefile(mode, encoding="ascii", newline="")
    n = 0
    t0 = time.perf_counter()
    for _ in f:
        n += 1
    t = time.perf_counter() - t0
    assert n == LINES, n
    f.close()
    a.close()
    srv.close()
    p.wait(60)
    return t


def run_selector(impl: str) -> float:
    srv = server(impl)
    port = srv.getsockname()[1]
    socks = []
    for _ in range(SELECT_SOCKETS // 2):
        c = connect(impl, port)
        a, _ = srv.accept()
        socks += [c, a]
    sel = sagsocket.Selector() if impl == "sag" else selectors.EpollSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    socks[len(socks) // 2].sendall(b"!")  # its peer becomes readable, and stays so
    select = sel.select
    assert len(select(1)) == 1
    t0 = time.perf_counter()
    for _ in range(SELECTS):
        if len(select(1)) != 1:
            raise SystemExit("selector: expected one ready socket")
    t = time.perf_counter() - t0
    sel.close()
    for s in socks[1::2] + socks[0::2]:  # the accepted ends first: TIME_WAIT there
        s.close()
    srv.close()
    return t


# ---- per-call cost of a trivial call ---------------------------------------------

def per_call_costs() -> list[tuple[str, float]]:
    """ns per call of sag_version_number (and of a status call with an
    out-parameter) through each mechanism: ctypes, cffi's ABI mode (opened
    here over the same library and header) and cffi's API mode (the
    package's compiled extension, when it runs in API mode)."""
    import ctypes
    import cffi
    out = []
    n = 1_000_000

    def ns(stmt, g) -> float:
        return min(timeit.repeat(stmt, globals=g, number=n, repeat=5)) / n * 1e9

    cl = ctypes.CDLL(sagsocket.LIBRARY_PATH or "libsagsocket.so.1")
    f = cl.sag_version_number
    f.restype, f.argtypes = ctypes.c_int, []
    out.append(("ctypes (argtypes set): sag_version_number()", ns("f()", {"f": f})))
    abi = cffi.FFI()
    with open(sagsocket.DECLS_PATH, encoding="utf-8") as fh:
        abi.cdef(fh.read())
    alib = abi.dlopen(sagsocket.LIBRARY_PATH or "libsagsocket.so.1")
    out.append(("cffi ABI mode: sag_version_number()", ns("f()", {"f": alib.sag_version_number})))
    if sagsocket.MODE == "api":
        out.append(("cffi API mode: sag_version_number()", ns("f()", {"f": lib.sag_version_number})))
    else:
        out.append(("cffi API mode: not built (the package runs in ABI mode)", float("nan")))
    s = sagsocket.Socket()
    g = {"f": alib.sag_socket_fd, "h": abi.cast("sag_socket *", s.handle), "c": abi.new("int *"), "N": abi.NULL}
    out.append(("cffi ABI mode: sag_socket_fd(h, &fd, NULL)", ns("f(h, c, N)", g)))
    if sagsocket.MODE == "api":
        g2 = {"f": lib.sag_socket_fd, "h": s.handle, "c": ffi.new("int *"), "N": ffi.NULL}
        out.append(("cffi API mode: sag_socket_fd(h, &fd, NULL)", ns("f(h, c, N)", g2)))
    out.append(("sagsocket Socket.fileno()", ns("s.fileno()", {"s": s})))
    ps = socket.socket()
    out.append(("socket module socket.fileno() (for reference)", ns("s.fileno()", {"s": ps})))
    ps.close()
    s.close()
    return out


# ---- main ---------------------------------------------------------------------

def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"sagsocket Python bench: sagsocket {sagsocket.__version__} (libsagsocket "
          f"{sagsocket.library_version()}, cffi {sagsocket.MODE} mode) vs the socket module, "
          f"Python {sys.version.split()[0]}")
    print(f"  BENCH_SCALE={SCALE}: bulk {BULK} bytes in {CHUNK}-byte sends, {PINGS} round trips, "
          f"{CONNS} connections, {LINES} lines of 40 bytes, {SELECT_SOCKETS} sockets in a selector "
          f"({SELECTS} selects); {ROUNDS} rounds, order alternating. A report, not a test.")
    print("  per-call cost of a trivial call (ns, best of 5 x 1M):")
    for name, v in per_call_costs():
        print(f"    {name:58s} {v:8.0f}" if v == v else f"    {name}")
    work = [
        ("bulk (1 GiB at scale 1), MB/s", run_bulk, "rate", "goal >= 0.95"),
        ("1-byte ping-pong, round trips/s", run_ping, "rate", "goal: time <= 1.05x"),
        ("connect/accept/close, connections/s", run_conns, "rate", "goal >= 0.9"),
        ("makefile('rb') line iteration, lines/s", lambda i: run_lines(i, "rb"), "rate", "goal >= 1.0"),
        ("makefile('r') text line iteration, lines/s", lambda i: run_lines(i, "r"), "rate", "goal >= 1.0"),
        ("selector, 1 ready of N, selects/s", run_selector, "rate", "goal >= 1.0"),
    ]
    amounts = [BULK / 1e6, PINGS, CONNS, LINES, LINES, SELECTS]
    results = {name: ([], []) for name, *_ in work}
    for r in range(ROUNDS):
        for name, fn, _, _ in work:
            order = ("sag", "py") if r % 2 == 0 else ("py", "sag")
            t = {}
            for impl in order:
                t[impl] = fn(impl)
            results[name][0].append(t["sag"])
            results[name][1].append(t["py"])
        print(f"  round {r + 1} done", file=sys.stderr, flush=True)
    print(f"  {'workload':44s} {'sagsocket':>12s} {'socket':>12s} {'ratio':>7s}")
    for (name, _, _, goal), amount in zip(work, amounts):
        ts, tp = results[name]
        ratios = [p / s for s, p in zip(ts, tp)]  # rate ratio = time(socket) / time(sagsocket)
        rs, rp = amount / statistics.median(ts), amount / statistics.median(tp)
        extra = ""
        if name.startswith("1-byte"):
            extra = f"  (time ratio {statistics.median([s / p for s, p in zip(ts, tp)]):.2f}x)"
        spread = f"  (rounds {min(ratios):.2f}-{max(ratios):.2f})"
        print(f"  {name:44s} {rs:12.0f} {rp:12.0f} {statistics.median(ratios):7.2f}  {goal}{extra}{spread}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "peer":
        peer(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
