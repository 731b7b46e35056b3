"""The seed's echo server (Sagittarius's example/socket/echo.scm) in Python,
on sagsocket with makefile text I/O.

    python3 echo.py [PORT]        (default 5000; connect with any client)

For each client in turn: a prompt, then every line it sends comes back
after "> ", and the server prints "received: LINE". newline="" keeps the
line endings as they came, as the seed's native transcoder (eol-style
none) does: a client's CR before LF is part of the line.
"""

import sys

import sagsocket
from sagsocket import scheme

port = sys.argv[1] if len(sys.argv) > 1 else "5000"
with scheme.make_server_socket(port) as server:
    while True:
        client, _ = server.accept()
        # Two text files, one per direction: a TextIOWrapper opened "rw"
        # drops what it has read ahead whenever it writes (as with the
        # socket module's makefile).
        with client, client.makefile("r", encoding="utf-8", newline="") as inp, \
                client.makefile("w", encoding="utf-8", newline="") as out:
            out.write("please type something\n\r")
            out.write("> ")
            out.flush()
            for line in inp:
                line = line[:-1] if line.endswith("\n") else line
                print("received: " + line, flush=True)
                out.write(line)
                out.write("\r\n> ")
                out.flush()
