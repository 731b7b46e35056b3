"""Tests/tls/peer.py: Python's ssl module as the other end of the TLS tests
(loopback only).

  peer.py server DIR [--alpn P] [--client-cert]   prints its port, serves one
      connection: echoes until close_notify, then answers with its own
  peer.py client DIR PORT [--client-cert]         1 MiB to our server and back,
      checked byte for byte; prints the version and the ALPN protocol
  peer.py many DIR PORT N                         N connections to our server
      (selector-load.sps) held at once; 32 bytes on each in one record, the
      same 32 bytes back on each, checked
"""
import os
import socket
import ssl
import sys


def pattern(n):
    return bytes((i * 131 + (i >> 11)) & 0xFF for i in range(n))


def serve(d, args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
    if "--alpn" in args:
        ctx.set_alpn_protocols([args[args.index("--alpn") + 1]])
    if "--client-cert" in args:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(d, "ca.pem"))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(60)
    print(listener.getsockname()[1], flush=True)
    conn, _ = listener.accept()
    conn.settimeout(60)
    with ctx.wrap_socket(conn, server_side=True) as tls:
        while True:
            data = tls.recv(65536)
            if not data:
                break
            tls.sendall(data)
        tls.unwrap()  # our close_notify after the client's
    listener.close()


def truncate(d, args):
    """Serves connections (until killed): handshake, "hello", then the TCP
    stream ends without close_notify (SSLSocket.close sends none)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
            tls.sendall(b"hello")
            tls.close()
        except (ssl.SSLError, OSError):
            conn.close()


def client(d, port, args):
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if "--client-cert" in args:
        ctx.load_cert_chain(os.path.join(d, "client.pem"), os.path.join(d, "client.key"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        # One thread: an SSLSocket must not be read and written by two
        # threads at once (OpenSSL's connection state is shared). Each
        # 64 KiB chunk is echoed before the next is sent.
        data = pattern(1 << 20)
        got = bytearray()
        for i in range(0, len(data), 65536):
            tls.sendall(data[i:i + 65536])
            want = min(len(data), i + 65536)
            while len(got) < want:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                got.extend(chunk)
        assert bytes(got) == data, "echo differs (%d of %d bytes)" % (len(got), len(data))
        print("python client: %s, ALPN %s, %d bytes echoed" % (tls.version(), tls.selected_alpn_protocol(), len(got)))
        tls.unwrap()


def many(d, port, n):
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
    conns = []
    try:
        for i in range(n):  # the server handshakes them one by one
            raw = socket.create_connection(("127.0.0.1", port), timeout=60)
            conns.append(ctx.wrap_socket(raw, server_hostname="localhost"))
        msgs = [b"%015d-%015d\n" % (i, i * 7) for i in range(n)]
        for tls, m in zip(conns, msgs):
            assert len(m) == 32
            tls.sendall(m)  # one record: the server reads it in two halves
        for i, (tls, m) in enumerate(zip(conns, msgs)):
            got = bytearray()
            while len(got) < len(m):
                chunk = tls.recv(64)
                assert chunk, "connection %d: end of stream after %d bytes" % (i, len(got))
                got.extend(chunk)
            assert bytes(got) == m, "connection %d: echo differs" % i
        print("python client: %d TLS connections, each echoed" % n)
    finally:
        for tls in conns:
            tls.close()


if __name__ == "__main__":
    if sys.argv[1] == "many":
        many(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        sys.exit(0)
    if sys.argv[1] == "server":
        serve(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "truncate":
        truncate(sys.argv[2], sys.argv[3:])
    else:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
