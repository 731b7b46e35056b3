"""The driver of bench/run_python_cost.sh: one workload, N times, in this
process (which run_python_cost.sh runs under callgrind; the peer is a child
process, which valgrind does not follow).

    python3 bench/cost_python.py WORKLOAD IMPL N

IMPL: sag (sagsocket) or py (the socket and selectors modules). WORKLOAD:
ping (send 1 byte, recv 1 byte: the peer echoes), recv_into (the same with
recv_into), fileno (100 calls), select (select(0) of a selector holding 1,000 sockets,
one of them readable). Everything but the N operations is the same whatever
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
