#!/usr/bin/env python3
"""Reads include/sagsocket_decls.h and checks it against the library.

  check_header.py functions DECLS        print the declared sag_* functions
  check_header.py symbols DECLS LIB      compare them with LIB's exported ones
  check_header.py docs DECLS             every function has a doc comment with
                                         a `Scheme:` line, and every Scheme
                                         procedure of the API is named after one

Exit status 0 when the check passes, 1 when it fails, 2 on a usage error.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import sagheader  # noqa: E402

# The procedures of (sagittarius socket) that the C ABI must cover, and this
# library's extensions (the last two lines); each must be named after some
# `Scheme:` line of the declarations file.
SCHEME_PROCEDURES = """
make-client-socket make-server-socket make-server-socket* socket? socket-closed?
nonblocking-socket? call-with-socket socket-accept socket-recv socket-recv!
socket-send socket-send/range socket-shutdown socket-close socket-info
socket-peer socket-info-hostname socket-info-ip-address socket-info-port
socket-info? socket-info-values socket-name socket-node socket-service socket-fd
ip-address? ip-v6-address? ip-address->string ip-address->bytevector
socket-error-message socket-last-error make-socket create-socket socket-connect!
socket-bind! socket-listen! socket-sendto socket-sendto/range socket-recvfrom
socket-recvfrom! socket-setsockopt! socket-getsockopt socket-nonblocking!
socket-blocking! socket-set-read-timeout! socket-get-read-timeout socket-select
socket-select! socket-read-select socket-write-select socket-error-select
make-fdset fdset? sockets->fdset fdset-ref fdset-set! fdset-clear!
collect-sockets fdset-sockets make-addrinfo make-hint-addrinfo get-addrinfo
next-addrinfo addrinfo-sockaddr addrinfo? sockaddr? host-not-found-error?
host-not-found-error-node host-not-found-error-service socket-error?
socket-error-socket socket-connection-error? socket-closed-error?
socket-read-timeout-error? socket-port-error? socket-error-port thread-interrupt!
socket-port socket-input-port socket-output-port shutdown-port
shutdown-input-port shutdown-output-port port-ready? transcoded-port close-port
flush-output-port get-u8 lookahead-u8 get-bytevector-n get-bytevector-n!
get-bytevector-some get-bytevector-all get-line put-u8 put-bytevector get-char
lookahead-char get-string-n get-string-all put-char put-string
make-socket-selector socket-selector? close-socket-selector! socket-selector-add!
socket-selector-wait! socket-selector-interrupt! socket-selector-clear!
socket-selector-size socket-selector-closed? socket-selector-waiting?
make-sockaddr sockaddr-family sockaddr-port sockaddr-ip-address
make-unix-client-socket make-unix-server-socket socket-pair
socket-peer-credentials make-unix-sockaddr sockaddr-path socket-sockaddr
socket-peer-sockaddr
""".split()


class Comment:
    def __init__(self, start, end, text):
        self.start, self.end, self.text = start, end, text


class Function:
    def __init__(self, name, start, end):
        self.name, self.start, self.end = name, start, end
        self.doc = None  # the Comment documenting it


def parse(path):
    """Returns (functions, comments) of a declarations file, through the
    shared reader (scripts/sagheader.py): a statement that is not a typedef
    and has the shape `type name(...)` with a sag_ name declares a function.
    """
    with open(path, encoding="utf-8") as f:
        src = f.read()
    code, spans = sagheader.blank_comments(src)
    comments = [Comment(i, j, src[i:j]) for i, j in spans]
    stmts = sagheader.statements(code)
    functions = []
    for start, end, text in stmts:
        lead = len(text) - len(text.lstrip())
        body = " ".join(text.split())
        m = sagheader.FUNCTION.match(body)
        if m and not body.startswith("typedef"):
            functions.append(Function(m.group(1), start + lead, end))
    # A function's doc comment is the last comment between the previous
    # statement and it, with only white space after the comment. A
    # declaration that directly follows another one (no comment, no blank
    # line between them) shares the comment of its group.
    stmt_ends = [0] + [end for _, end, _ in stmts]
    for fn in functions:
        prev_end = max(e for e in stmt_ends if e <= fn.start)
        gap = [c for c in comments if c.start >= prev_end and c.end <= fn.start]
        if gap:
            last = gap[-1]
            if src[last.end:fn.start].strip() == "":
                fn.doc = last
        else:
            previous = [g for g in functions if g.end == prev_end]
            if previous and src[prev_end:fn.start].count("\n") <= 1:
                fn.doc = previous[0].doc
    return functions, comments


SCHEME_LINE = re.compile(r"(?<!\()\bScheme:")


def comment_lines(comment_text):
    """The lines of a comment without the comment markers."""
    out = []
    for line in comment_text.splitlines():
        s = line.strip()
        s = re.sub(r"^/\*+", "", s)
        s = re.sub(r"\*+/$", "", s)
        s = re.sub(r"^\*+", "", s)
        out.append(s.strip())
    return out


def scheme_names(comment_text):
    """The procedure names of every `Scheme:` line of a comment.

    A Scheme: line is a `Scheme:` that is not inside a parenthesis, as in
    "(Scheme: #f)". Its names are the words after it on that line; a
    parenthesis opened there continues onto the next lines, and what is in
    parentheses is a remark, not a name.
    """
    names = []
    lines = comment_lines(comment_text)
    i = 0
    while i < len(lines):
        m = SCHEME_LINE.search(lines[i])
        if not m:
            i += 1
            continue
        text = lines[i][m.end():]
        while text.count("(") > text.count(")") and i + 1 < len(lines):
            i += 1
            text += " " + lines[i]
        i += 1
        depth = 0
        kept = []
        for ch in text:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth = max(0, depth - 1)
            elif depth == 0:
                kept.append(ch)
        for word in "".join(kept).split():
            word = word.strip(",;")
            if word and word != "...":
                names.append(word)
    return names


def has_scheme_line(comment_text):
    return any(SCHEME_LINE.search(l) for l in comment_lines(comment_text))


def cmd_functions(decls):
    functions, _ = parse(decls)
    for fn in functions:
        print(fn.name)
    return 0


def exported_functions(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[-2], parts[-1]
        name = name.split("@")[0]
        if kind in ("T", "W") and name not in ("_init", "_fini"):
            names.add(name)
    return names


def cmd_symbols(decls, lib):
    functions, _ = parse(decls)
    declared = [fn.name for fn in functions]
    dups = sorted({n for n in declared if declared.count(n) > 1})
    declared = set(declared)
    exported = exported_functions(lib)
    ok = True
    if dups:
        ok = False
        print("declared more than once: " + " ".join(dups))
    missing = sorted(declared - exported)
    extra = sorted(exported - declared)
    for n in missing:
        print("declared but not exported: %s" % n)
    for n in extra:
        print("exported but not declared: %s" % n)
    if missing or extra:
        ok = False
    print("symbols: %d declared, %d exported, %d missing, %d extra"
          % (len(declared), len(exported), len(missing), len(extra)))
    return 0 if ok else 1


def cmd_docs(decls):
    functions, _ = parse(decls)
    ok = True
    covered = set()
    for fn in functions:
        if fn.doc is None:
            print("no doc comment: %s" % fn.name)
            ok = False
            continue
        if not has_scheme_line(fn.doc.text):
            print("no Scheme: line in the doc comment of %s" % fn.name)
            ok = False
            continue
        covered.update(scheme_names(fn.doc.text))
    # Scheme: lines anywhere (e.g. in a section comment) also count for the
    # procedure list.
    _, comments = parse(decls)
    for c in comments:
        covered.update(scheme_names(c.text))
    for proc in SCHEME_PROCEDURES:
        if proc not in covered:
            print("Scheme procedure named after no Scheme: line: %s" % proc)
            ok = False
    print("docs: %d functions, %d Scheme procedures checked: %s"
          % (len(functions), len(SCHEME_PROCEDURES), "ok" if ok else "FAILED"))
    return 0 if ok else 1


def main(argv):
    if len(argv) >= 3 and argv[1] == "functions":
        return cmd_functions(argv[2])
    if len(argv) >= 4 and argv[1] == "symbols":
        return cmd_symbols(argv[2], argv[3])
    if len(argv) >= 3 and argv[1] == "docs":
        return cmd_docs(argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
