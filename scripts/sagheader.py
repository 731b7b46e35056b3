"""sagheader.py: the one reader of include/sagsocket_decls.h, shared by the
version script generator, the ABI doc check and the libffi driver's manifest.

blank_comments(src) -> (code, [(start, end)])   comments blanked, offsets kept
statements(code)    -> [(start, end, text)]     top-level statements, split at ;
function_names(path) -> sorted sag_* function names declared in the file
"""
import re


def blank_comments(src):
    """The source with every comment replaced by spaces (newlines kept, so
    offsets and line numbers stay), and the comments' (start, end)."""
    chars = list(src)
    comments = []
    i = 0
    while i < len(src):
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise SystemExit("sagheader: unterminated comment at offset %d" % i)
            j += 2
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = len(src) if j < 0 else j
        else:
            i += 1
            continue
        comments.append((i, j))
        for k in range(i, j):
            if chars[k] != "\n":
                chars[k] = " "
        i = j
    return "".join(chars), comments


def statements(code):
    """The top-level statements of comment-free code: (start, end, text)."""
    out = []
    depth = 0
    start = 0
    for pos, ch in enumerate(code):
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch == ";" and depth == 0:
            out.append((start, pos + 1, code[start:pos]))
            start = pos + 1
    return out


FUNCTION = re.compile(r"^[A-Za-z_][\w\s\*]*?\b(sag_\w+)\s*\((.*)\)$", re.S)


def function_names(path):
    with open(path, encoding="utf-8") as f:
        code, _ = blank_comments(f.read())
    names = set()
    for _, _, text in statements(code):
        body = " ".join(text.split())
        m = FUNCTION.match(body)
        if m and not body.startswith("typedef"):
            names.add(m.group(1))
    return sorted(names)
