"""sagheader.py: the one reader of include/sagsocket_decls.h, shared by the
version script generator, the ABI doc check and the libffi driver's manifest.

blank_comments(src) -> (code, [(start, end)])   comments blanked, offsets kept
statements(code)    -> [(start, end, text)]     top-level statements, split at ;
function_names(path) -> sorted sag_* function names declared in the file
enum_members(path, enum) -> [(name, value)] of a typedef enum, in order
status_tree(path)   -> [(status, parent, condition)] from the tree comment
constants(path)     -> [(name, value)] of every constant enum (CONSTANT_ENUMS)
version(path)       -> (major, minor, patch, abi) from sagsocket.h
"""
import os
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


def enum_members(path, enum):
    """The members of `typedef enum ENUM {...}` as (name, int value)."""
    with open(path, encoding="utf-8") as f:
        code, _ = blank_comments(f.read())
    m = re.search(r"typedef\s+enum\s+%s\s*\{(.*?)\}" % re.escape(enum), code, re.S)
    if not m:
        raise SystemExit("sagheader: no enum %s in %s" % (enum, path))
    out = []
    for item in m.group(1).split(","):
        item = " ".join(item.split())
        if item:
            name, _, value = item.partition("=")
            out.append((name.strip(), int(value.strip(), 0)))
    return out


# The enums of OS constants, one per concept (sag_constant looks them up).
CONSTANT_ENUMS = ("sag_family", "sag_socktype", "sag_ai_flag", "sag_protocol",
                  "sag_shutdown_how", "sag_backlog", "sag_msg_flag",
                  "sag_sockopt_level", "sag_sockopt", "sag_errno")


def constants(path):
    """Every member of the constant enums, in header order."""
    return [m for e in CONSTANT_ENUMS for m in enum_members(path, e)]


TREE_LINE = re.compile(r"^ \*(\s+)(\+ )?(&[\w/-]+)(?:\s+(SAG_E_\w+))?")


def status_tree(path):
    """The condition tree the header draws in its comment (one status per
    line, children indented under their parent with "+ "; "&x (continued)"
    reopens &x), as (status, parent or "SAG_OK", condition name). Every
    member of enum sag_status but SAG_OK must be in it exactly once."""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    start = src.find("Statuses and the condition tree")
    end = src.find("typedef enum sag_status", start)
    if start < 0 or end < 0:
        raise SystemExit("sagheader: no status tree comment before enum sag_status")
    by_name = {}
    stack = []  # (indent, status)
    rows = []
    for line in src[start:end].splitlines():
        m = TREE_LINE.match(line)
        if not m:
            continue
        indent, cond, status = len(m.group(1)), m.group(3), m.group(4)
        if status is None:
            status = by_name.get(cond)
            if status is None:
                raise SystemExit("sagheader: tree line without a status: %r" % line)
        else:
            by_name[cond] = status
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if status is not None and m.group(4):
            rows.append((status, stack[-1][1] if stack else "SAG_OK", cond))
        stack.append((indent, status))
    members = [n for n, _ in enum_members(path, "sag_status") if n != "SAG_OK"]
    drawn = [r[0] for r in rows]
    if sorted(drawn) != sorted(members) or len(set(drawn)) != len(drawn):
        raise SystemExit("sagheader: the tree comment draws %s, enum sag_status has %s"
                         % (sorted(drawn), sorted(members)))
    return rows


def version(path):
    """(major, minor, patch, abi) from the #defines of include/sagsocket.h,
    the one place the version is written."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    parts = []
    for name in ("MAJOR", "MINOR", "PATCH", "ABI"):
        key = "SAG_ABI_VERSION" if name == "ABI" else "SAG_VERSION_" + name
        m = re.search(r"^#define %s (\d+)\s*$" % key, text, re.M)
        if not m:
            raise SystemExit("sagheader: %s has no #define %s N" % (path, key))
        parts.append(int(m.group(1)))
    return tuple(parts)


if __name__ == "__main__":
    # python3 scripts/sagheader.py version|version-number|abi include/sagsocket.h
    # python3 scripts/sagheader.py status-tree include/sagsocket_decls.h  (C rows)
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "constants":
        # K(NAME, NAME) rows: the test compares each with the system's macro.
        print("/* generated by scripts/sagheader.py from the constant enums of %s */"
              % os.path.basename(sys.argv[2]))
        for name, _ in constants(sys.argv[2]):
            bare = name[len("SAG_"):]
            print("K(%s, %s)," % (bare, bare))
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "status-tree":
        print("/* generated by scripts/sagheader.py from the tree comment of %s */"
              % os.path.basename(sys.argv[2]))
        for status, parent, cond in status_tree(sys.argv[2]):
            print('{%s, %s, "%s"},' % (status, parent, cond))
        sys.exit(0)
    if len(sys.argv) != 3 or sys.argv[1] not in ("version", "version-number", "abi"):
        raise SystemExit("usage: sagheader.py version|version-number|abi include/sagsocket.h\n"
                         "       sagheader.py status-tree|constants include/sagsocket_decls.h")
    major, minor, patch, abi = version(sys.argv[2])
    print({"version": "%d.%d.%d" % (major, minor, patch),
           "version-number": major * 10000 + minor * 100 + patch,
           "abi": abi}[sys.argv[1]])
