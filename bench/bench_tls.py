"""bench_tls.py: Python's ssl module doing what bench_tls.c does, on the same
OpenSSL, for same-run ratios (a report, never a test).

    bench_tls.py CERTS bulk BYTES | CERTS handshakes N      prints MB/s or handshakes/s
"""
import os
import socket
import ssl
import sys
import threading
import time

certs, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
handshakes = mode == "handshakes"
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
cctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
listener = socket.create_server(("127.0.0.1", 0))
port = listener.getsockname()[1]
got = 0


def serve():
    global got
    buf = bytearray(1 << 18)
    for _ in range(n if handshakes else 1):
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as ours
        with sctx.wrap_socket(conn, server_side=True) as tls:
            while True:
                k = tls.recv_into(buf)
                if k == 0:
                    break
                got += k
                if handshakes:
                    tls.sendall(b"x")
            tls.unwrap()


th = threading.Thread(target=serve)
th.start()
chunk = b"x" * (1 << 18)
t0 = time.monotonic()
for _ in range(n if handshakes else 1):
    raw = socket.create_connection(("127.0.0.1", port))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tls = cctx.wrap_socket(raw, server_hostname="localhost")
    if handshakes:
        tls.sendall(b"x")
        tls.recv(1)
    else:
        view = memoryview(chunk)
        sent = 0
        while sent < n:
            m = min(len(chunk), n - sent)
            tls.sendall(view[:m])
            sent += m
    tls.unwrap()  # sends close_notify, waits for the server's
    tls.close()
th.join()
dt = time.monotonic() - t0
if not handshakes and got != n:
    sys.exit("bench_tls.py: the server got %d of %d bytes" % (got, n))
print("%.1f" % ((n / dt) if handshakes else (n / dt / 1e6)))
