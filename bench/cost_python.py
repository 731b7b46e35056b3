"""The driver of bench/run_python_cost.sh: one workload, N times, in this
process (which run_python_cost.sh runs under callgrind; the peer is a child
process, which valgrind does not follow).

    python3 bench/cost_python.py WORKLOAD IMPL N

IMPL: sag (sagsocket) or py (the socket and selectors modules). WORKLOAD:
ping (send 1 byte, recv 1 byte: the peer echoes), recv_into (the same with
recv_into), fileno (100 calls), select (select(0) of a selector holding 1,000 sockets,
one of them readable), bulk (recv_into of a 64 KiB bytearray, the peer
sending 64 KiB at a time; the buffer is placed 16 bytes past a 32-byte
boundary, as malloc places a bytearray in about half of the runs, or on
one with COST_ALIGN=0), lines (100 lines of 40 bytes iterated from
makefile('rb'), the peer sending them all at once), connect (the server's
accept()[0].close() of a connection a socket-module client makes, waits
for the close and closes: bench_python.py's connect/accept/close row, its
server side), dial (its client side: create_connection, recv(1) of the
server's close, close; a socket-module server accepts and closes first). Everything but the N operations is the same whatever
N, so the difference of two runs divided by the difference of their N is
the cost of one operation. COST_SELECT: the sockets in the selector
(default 1,000).
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys

ECHO = ("import socket, sys\n"
        "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
        "while True:\n"
        "    b = s.recv(1)\n"
        "    if not b:\n"
        "        break\n"
        "    s.sendall(b)\n")

SEND_BULK = ("import socket, sys\n"
             "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
             "b = b'x' * 65536\n"
             "for _ in range(int(sys.argv[2]) // 65536):\n"
             "    s.sendall(b)\n"
             "s.close()\n")
# The client of connect: connects, waits for the server's close, closes
# (the server closes first, as in bench_python.py's row: TIME_WAIT lands on
# the server's side).
CONNECTS = ("import socket, sys\n"
            "for _ in range(int(sys.argv[2])):\n"
            "    c = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
            "    c.recv(1)\n"
            "    c.close()\n")
# The server of dial: accepts and closes first.
ACCEPTS = ("import socket, sys\n"
           "s = socket.create_server(('127.0.0.1', 0))\n"
           "print(s.getsockname()[1], flush=True)\n"
           "for _ in range(int(sys.argv[1])):\n"
           "    s.accept()[0].close()\n")
SEND_LINES = ("import socket, sys\n"
              "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
              "s.sendall(b''.join(b'%039d\\n' % i for i in range(int(sys.argv[2]))))\n"
              "s.close()\n")


def aligned_offset(raw: bytearray, rest: int) -> int:
    """The offset in raw at which an address is `rest` bytes past a
    32-byte boundary."""
    import ctypes
    base = ctypes.addressof((ctypes.c_char * len(raw)).from_buffer(raw))
    return (rest - base) % 32


def main() -> None:
    work, impl, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if impl == "sag":
        import sagsocket as mod
        make_selector = mod.Selector
    else:
        mod = socket
        make_selector = selectors.EpollSelector
    srv = mod.create_server(("127.0.0.1", 0))
    if work in ("ping", "recv_into"):
        peer = subprocess.Popen([sys.executable, "-c", ECHO, str(srv.getsockname()[1])])
        a, _ = srv.accept()
        send, recv, recv_into = a.send, a.recv, a.recv_into
        buf = bytearray(1)
        for _ in range(100):  # warm-up, whatever n
            send(b"x")
            recv(1)
            send(b"x")
            recv_into(buf)
        if work == "ping":
            for _ in range(n):
                send(b"x")
                recv(1)
        else:
            for _ in range(n):
                send(b"x")
                recv_into(buf)
        a.close()
        peer.wait(60)
    elif work == "bulk":
        total = (n + 110) * 65536
        peer = subprocess.Popen([sys.executable, "-c", SEND_BULK, str(srv.getsockname()[1]), str(total)])
        a, _ = srv.accept()
        raw = bytearray(65536 + 64)
        off = aligned_offset(raw, int(os.environ.get("COST_ALIGN", "16")))
        buf = memoryview(raw)[off:off + 65536]
        got = 0
        while got < total:  # whole chunks: recv_into may return less than 64 KiB
            k = a.recv_into(buf)
            if not k:
                break
            got += k
        a.close()
        peer.wait(60)
    elif work == "lines":
        peer = subprocess.Popen([sys.executable, "-c", SEND_LINES, str(srv.getsockname()[1]),
                                 str((n + 100) * 100)])
        a, _ = srv.accept()
        f = a.makefile("rb")
        for _ in f:
            pass
        f.close()
        a.close()
        peer.wait(60)
    elif work == "connect":
        peer = subprocess.Popen([sys.executable, "-c", CONNECTS, str(srv.getsockname()[1]), str(n + 100)])
        accept = srv.accept
        for _ in range(100):  # warm-up, whatever n
            accept()[0].close()
        for _ in range(n):
            accept()[0].close()
        peer.wait(60)
    elif work == "dial":
        peer = subprocess.Popen([sys.executable, "-c", ACCEPTS, str(n + 100)], stdout=subprocess.PIPE)
        port = int(peer.stdout.readline())
        addr = ("127.0.0.1", port)
        for _ in range(n + 100):  # 100 of warm-up, whatever n
            c = mod.create_connection(addr)
            c.recv(1)
            c.close()
        peer.wait(60)
    elif work == "fileno":
        s = mod.Socket() if impl == "sag" else mod.socket()
        f = s.fileno
        for _ in range(100):
            f()
        for _ in range(100 * n):  # 100 calls an operation: one is too few to count
            f()
        s.close()
    elif work == "select":
        socks = []
        for _ in range(int(os.environ.get("COST_SELECT", "1000")) // 2):
            c = mod.create_connection(srv.getsockname())
            socks += [c, srv.accept()[0]]
        sel = make_selector()
        for i, s in enumerate(socks):
            sel.register(s, selectors.EVENT_READ, i)
        socks[len(socks) // 2].sendall(b"!")
        select = sel.select
        for _ in range(100):
            assert len(select(0)) == 1
        for _ in range(n):
            select(0)
        sel.close()
        for s in socks:
            s.close()
    srv.close()


if __name__ == "__main__":
    main()
