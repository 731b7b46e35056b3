"""A CPython client for the seed's echo server in LuaJIT (Tests/luajit/run.sh):
two sessions, each read back byte for byte. Exits non-zero on a mismatch.
    python3 echo_client.py PORT"""
import socket
import sys

port = int(sys.argv[1])


def session(lines):
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        f = s.makefile("rb")
        want = b"please type something\n\r> "
        got = f.read(len(want))
        assert got == want, (got, want)
        for line in lines:
            s.sendall(line + b"\n")
            want = line + b"\r\n> "
            got = f.read(len(want))
            assert got == want, (got, want)
        s.shutdown(socket.SHUT_WR)
        assert f.read() == b"", "the server closes after the client"


session([b"hello", "Sagittarius ソケット".encode(), b"bye"])
session([b"second client\r", b"", b"x" * 3000])
print("echo client: 2 sessions, 6 lines echoed")
