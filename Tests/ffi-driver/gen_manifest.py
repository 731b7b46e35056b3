#!/usr/bin/env python3
"""Prints the FFI driver's signature manifest of a declarations header.

    gen_manifest.py include/sagsocket_decls.h > build/ffi/manifest.txt

The manifest is everything the driver knows about the library: it includes no
header and calls every function through libffi with a call interface built at
run time from these lines. Run at build time, so it cannot drift from the
header. Lines (fields separated by one TAB):

    status  NAME VALUE            every member of enum sag_status
    kind    NAME VALUE            every member of enum sag_kind
    constant NAME VALUE           every member of the constant enums
                                  (sagheader.CONSTANT_ENUMS)
    handle  C-TYPE KIND CODE      every opaque handle type; CODE is its
                                  SAG_KIND_* value, -1 when it has none yet
    fn      NAME RET-TYPE RET-CHECK PARAM...
                                  one line per function; each PARAM is
                                  "C-TYPE NAME CLASS" (spaces inside)
    note    NAME closed-ok        the comment of NAME says it works on a
                                  closed socket or port (idempotent, a no-op,
                                  "works when closed", "SAG_OK or
                                  SAG_E_MISUSE"); any other operation on one
                                  must give SAG_E_CLOSED
    end     COUNT                 the number of fn lines

A parameter's CLASS says what the driver passes and how it varies it:

    handle:K      a live handle of kind K (required)
    handle?:K     a handle of kind K that may be NULL
    free:K        the handle a free function releases
    anyhandle     any value (sag_handle_kind)
    err           the trailing `sag_error *err`: an error object or NULL
    str:ROLE      an input string (ROLE = the parameter name)
    buf:in buf:out  a buffer pointer, followed by `start` and `len`
    start len     the two size_t of a buffer triple
    iov:in iov:out  an array of buffer pointers, followed by `iovlens`
                  (const size_t *lens) and `iovn` (size_t n)
    harr:K        an input array of handles, followed by `n`
    n             its element count
    outarr:K:cap  an output array of handles, followed by `cap` (or by
                  parallel arrays and then `cap`)
    outpar:T      an output array parallel to the handle array before it,
                  with as many elements (T = i64 int)
    cap           its capacity
    outarr:K:n    an output array with room for the preceding array's n
    out:T out?:T  a pointer the call writes (T = int size i64 str handle.K);
                  out? when NULL is allowed
    int:ROLE      an int; ROLE picks the baseline and the values tried
    timeout       int64_t microseconds
    tag           an int64_t of the caller's, any value

RET-CHECK says what a result must be: status (a sag_status member: the
function's success or failure), status-value (a sag_status member that is the
answer, not a failure), version,
count (>= 0), bool (0 or 1), kind (a sag_kind member), errno (>= 0),
str! (never NULL), str? (may be NULL), handle!:K, handle?:K (a borrowed
handle, never NULL / may be NULL), timeout (>= -1), size (a size_t byte
count; 0 for a bad handle), void.

A parameter or result shape this script does not know stops it with an error:
a new function with a new shape needs a decision here (and a baseline in the
driver), see Tests/ffi-driver/README.md.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import sagheader  # noqa: E402

# int parameters: name -> role. The driver has a baseline value and a set of
# out-of-range values for each role.
INT_ROLES = {
    "family": "family",
    "socktype": "socktype",
    "protocol": "protocol",
    "flags": "flags",
    "level": "level",
    "name": "optname",       # the int `name` of setsockopt/getsockopt
    "value": "value",
    "how": "how",
    "backlog": "backlog",
    "on": "bool",
    "flag": "bool",
    "peer": "bool",
    "index": "index",
    "status": "status",
    "kind": "kind",
    "close_socket": "bool",
    "codec": "codec",
    "eol_style": "eol",
    "error_mode": "errmode",
    "byte": "byte",
    "mode": "mode",          # sag_buffer_mode or sag_read_mode
    "errnum": "errnum",      # an errno value (sag_error_set)
    "events": "events",      # sag_selector_event bits
    "fd": "fd",              # a raw descriptor the call borrows (sag_selector_*_fd)
    "owned_fd": "ownfd",     # a descriptor the call takes (sag_socket_from_fd): a fresh one
    "type": "value",         # a control message's type (sag_cmsg_append)
}
# int32_t parameters (Unicode scalar values): name -> role.
INT32_ROLES = {"ch": "char"}

# Out-parameters of a scalar or a borrowed string/bytes: C type -> class
# suffix ("out:int", ...).
OUT_SCALARS = {"int *": "int", "size_t *": "size", "int64_t *": "i64",
               "const char **": "str", "const uint8_t **": "bytes",
               "int32_t *": "i32"}

# Input strings, by parameter name (the driver has a baseline for each).
STRING_NAMES = {"node", "service", "name", "operation", "message"}

# Handle parameters that may be NULL (the header says so in the comment).
NULLABLE = {
    ("sag_socket_select", "rfds"), ("sag_socket_select", "wfds"),
    ("sag_socket_select", "efds"),
    ("sag_socket_select_inplace", "rfds"), ("sag_socket_select_inplace", "wfds"),
    ("sag_socket_select_inplace", "efds"),
    ("sag_get_addrinfo", "hints"),
    ("sag_error_set", "err"), ("sag_error_set", "s"),
    ("sag_socket_sendmsg", "to"), ("sag_socket_recvmsg", "from"),
}
# Out-parameters that may be NULL.
NULLABLE_OUT = {
    ("sag_socket_select", "rfds_out"), ("sag_socket_select", "wfds_out"),
    ("sag_socket_select", "efds_out"),
}

# Functions whose int result is not a status. Every other int-returning
# function must either take `sag_error *err` or name SAG_OK / SAG_E_ in its
# comment, or this script stops.
INT_RESULTS = {
    "sag_version_number": "version",
    "sag_constant_count": "count",
    "sag_status_is": "bool",
    "sag_status_parent": "status-value",
    "sag_error_status": "status-value",
    "sag_error_errno": "errno",
    "sag_handle_kind": "kind",
    "sag_thread_set_signal_interrupts": "bool",
    "sag_handle_count": "count",
}


# Output arrays that may follow an output array of handles, element for
# element, before its capacity: C type -> out type.
PARALLEL = {"int64_t *": "i64", "int *": "int"}


def parallel_then_capacity(parsed, j):
    """The index of `size_t capacity` when parsed[j:] is zero or more
    parallel output arrays followed by it, else None."""
    while j < len(parsed) and parsed[j][0] in PARALLEL:
        j += 1
    if j < len(parsed) and parsed[j] == ("size_t", "capacity"):
        return j
    return None


def is_text_function(parsed):
    """A port function that works on textual ports: it takes or gives
    characters (int32_t) or UTF-8 text (a parameter named utf8)."""
    return any(t.startswith("int32_t") or n == "utf8" for t, n in parsed)


def die(msg):
    sys.stderr.write("gen_manifest: %s\n" % msg)
    sys.exit(1)


def parse_enum(body, name):
    entries = []
    value = -1
    for item in body.split(","):
        item = " ".join(item.split())
        if not item:
            continue
        m = re.match(r"^([A-Za-z_]\w*)(?:\s*=\s*(.+))?$", item)
        if not m:
            die("enum %s: cannot read member %r" % (name, item))
        if m.group(2) is not None:
            expr = m.group(2).replace(" ", "")
            if not re.match(r"^-?(0x[0-9A-Fa-f]+|\d+)$", expr):
                die("enum %s: member %s has a value that is not a number: %r"
                    % (name, m.group(1), expr))
            value = int(expr, 0)
        else:
            value += 1
        entries.append((m.group(1), value))
    return entries


def normalize_type(t):
    t = " ".join(t.replace("*", " * ").split())
    return t.replace("* *", "**").replace(" *", " *").replace("* const", "*const")


def split_param(p):
    """'const sag_socket *s' -> ('const sag_socket *', 's')."""
    p = " ".join(p.split())
    m = re.match(r"^(.*?)([A-Za-z_]\w*)$", p)
    if not m or not m.group(1).strip():
        return None
    ctype = m.group(1).strip()
    ctype = re.sub(r"\s*\*\s*", "*", ctype)
    ctype = re.sub(r"\*const\b", "*const ", ctype)
    ctype = re.sub(r"(\w)\*", r"\1 *", ctype).strip()
    return ctype, m.group(2)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: gen_manifest.py DECLS.h\n")
        return 2
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        src = f.read()
    code, comments = sagheader.blank_comments(src)

    handle_types = {}   # C type -> kind name
    enums = {}          # enum name -> [(member, value)]
    functions = []      # (name, ret, [params], doc)
    prev_end = 0
    prev_fn_doc = None
    prev_fn_end = -1
    for start, end, text in sagheader.statements(code):
        body = " ".join(text.split())
        lead = start + (len(text) - len(text.lstrip()))
        # the doc comment: the last comment between the previous statement
        # and this one, directly before it; a declaration that directly
        # follows another one shares its group's comment
        gap = [c for c in comments if c[0] >= prev_end and c[1] <= lead]
        doc = ""
        if gap and src[gap[-1][1]:lead].strip() == "":
            doc = src[gap[-1][0]:gap[-1][1]]
        elif not gap and prev_fn_end == prev_end and src[prev_end:lead].count("\n") <= 1:
            doc = prev_fn_doc or ""
        prev_end = end
        if not body:
            continue
        m = re.match(r"^typedef struct (sag_\w+) (sag_\w+)$", body)
        if m:
            if m.group(1) != m.group(2):
                die("typedef struct %s %s: names differ" % (m.group(1), m.group(2)))
            handle_types[m.group(1)] = m.group(1)[len("sag_"):]
            continue
        m = re.match(r"^typedef enum (\w+) \{(.*)\} (\w+)$", body)
        if m:
            enums[m.group(3)] = parse_enum(m.group(2), m.group(3))
            continue
        if body.startswith("typedef"):
            die("unknown typedef: %s" % body)
        m = re.match(r"^(.*?)\b(sag_\w+)\s*\((.*)\)$", body)
        if not m:
            die("a statement that is neither a typedef nor a sag_ function: %s" % body)
        ret = normalize_type(m.group(1))
        params = [] if m.group(3).strip() in ("", "void") else [p.strip() for p in m.group(3).split(",")]
        functions.append((m.group(2), ret, params, doc))
        prev_fn_doc = doc
        prev_fn_end = end

    # every sag_xxx( of the code must be a function read above
    called = set(re.findall(r"\b(sag_[A-Za-z0-9_]*)\s*\(", code))
    read = {f[0] for f in functions}
    if called != read:
        die("functions the parser missed: %s" % sorted(called ^ read))
    for needed in ("sag_status", "sag_kind"):
        if needed not in enums:
            die("enum %s is missing" % needed)

    kinds = dict(enums["sag_kind"])
    ptr_types = {t: k for t, k in handle_types.items()}

    def handle_kind_of(ctype):
        """'const sag_socket *' -> 'socket'; None if not one handle pointer."""
        m = re.match(r"^(?:const )?(sag_\w+) \*$", ctype)
        if m and m.group(1) in ptr_types:
            return ptr_types[m.group(1)]
        return None

    def handle_pp_kind(ctype):
        m = re.match(r"^(sag_\w+) \*\*$", ctype)
        if m and m.group(1) in ptr_types:
            return ptr_types[m.group(1)]
        return None

    out = []
    out.append("# FFI signature manifest of %s, generated by Tests/ffi-driver/gen_manifest.py;"
               " do not edit" % path)
    for name, v in enums["sag_status"]:
        out.append("status\t%s\t%d" % (name, v))
    for name, v in enums["sag_kind"]:
        out.append("kind\t%s\t%d" % (name, v))
    for ename in sagheader.CONSTANT_ENUMS:
        for name, v in enums.get(ename, []):
            out.append("constant\t%s\t%d" % (name, v))
    for ename, members in enums.items():
        if ename in ("sag_status", "sag_kind") or ename in sagheader.CONSTANT_ENUMS:
            continue
        for name, v in members:
            out.append("enum\t%s\t%s\t%d" % (ename, name, v))
    for t, k in sorted(handle_types.items()):
        code_name = "SAG_KIND_" + k.upper()
        out.append("handle\t%s\t%s\t%d" % (t, k, kinds.get(code_name, -1)))

    notes = []
    for name, ret, params, doc in functions:
        parsed = []
        for p in params:
            sp = split_param(p)
            if sp is None:
                die("%s: cannot read parameter %r" % (name, p))
            parsed.append(sp)
        has_err = (len(parsed) >= 2 and parsed[-1][1] == "err"
                   and parsed[-1][0] == "sag_error *")
        classes = [None] * len(parsed)
        i = 0
        while i < len(parsed):
            ctype, pname = parsed[i]
            nxt = parsed[i + 1] if i + 1 < len(parsed) else (None, None)
            nxt2 = parsed[i + 2] if i + 2 < len(parsed) else (None, None)
            prev = parsed[i - 1] if i > 0 else (None, None)
            k = handle_kind_of(ctype)
            kk = handle_pp_kind(ctype)
            if has_err and i == len(parsed) - 1:
                classes[i] = "err"
            elif k is not None:
                if re.match(r"^sag_\w+_free$", name) and len(parsed) == 1:
                    classes[i] = "free:" + k
                elif (name, pname) in NULLABLE:
                    classes[i] = "handle?:" + k
                elif k == "port" and is_text_function(parsed):
                    classes[i] = "handle:port:text"
                else:
                    classes[i] = "handle:" + k
            elif ctype == "const void *" and pname == "handle":
                classes[i] = "anyhandle"
            elif ctype == "const char *" and nxt == ("size_t", "start"):
                if nxt2 != ("size_t", "len"):
                    die("%s: text %s is not followed by size_t start, size_t len" % (name, pname))
                classes[i] = "text:in"
                classes[i + 1] = "start"
                classes[i + 2] = "len"
                i += 3
                continue
            elif ctype == "const char *" and pname in STRING_NAMES:
                classes[i] = "str:" + pname
            elif ctype in ("const uint8_t *const *", "uint8_t *const *"):
                # scattered or gathered buffers: bufs, const size_t *lens, size_t n
                if nxt != ("const size_t *", "lens") or nxt2 != ("size_t", "n"):
                    die("%s: buffer array %s is not followed by const size_t *lens, size_t n" % (name, pname))
                classes[i] = "iov:in" if ctype.startswith("const") else "iov:out"
                classes[i + 1] = "iovlens"
                classes[i + 2] = "iovn"
                i += 3
                continue
            elif ctype in ("const uint8_t *", "uint8_t *"):
                # buf, size_t start, size_t len|count; a second buffer of a
                # function names its pair after itself (data, data_start, data_len)
                starts = (("size_t", "start"), ("size_t", pname + "_start"))
                lens = ("len", "count", pname + "_len")
                if nxt not in starts or nxt2[0] != "size_t" or nxt2[1] not in lens:
                    die("%s: buffer %s %s is not followed by size_t start, size_t len|count"
                        % (name, ctype, pname))
                classes[i] = "buf:in" if ctype.startswith("const") else "buf:out"
                classes[i + 1] = "start"
                classes[i + 2] = "len"
                i += 3
                continue
            elif re.match(r"^sag_\w+ \*const \*$", ctype) and ctype.split()[0] in ptr_types:
                if nxt != ("size_t", "n"):
                    die("%s: handle array %s is not followed by size_t n" % (name, pname))
                classes[i] = "harr:" + ptr_types[ctype.split()[0]]
                classes[i + 1] = "n"
                i += 2
                continue
            elif kk is not None and parallel_then_capacity(parsed, i + 1) is not None:
                # sag_K **out [, int64_t *x, int *y ...], size_t capacity
                cap = parallel_then_capacity(parsed, i + 1)
                classes[i] = "outarr:%s:cap" % kk
                for j in range(i + 1, cap):
                    classes[j] = "outpar:" + PARALLEL[parsed[j][0]]
                classes[cap] = "cap"
                i = cap + 1
                continue
            elif kk is not None and pname == "ready" and prev == ("size_t", "n"):
                classes[i] = "outarr:%s:n" % kk
            elif kk is not None:
                classes[i] = ("out?:" if (name, pname) in NULLABLE_OUT else "out:") + "handle." + kk
            elif ctype in OUT_SCALARS:
                classes[i] = "out:" + OUT_SCALARS[ctype]
            elif ctype == "int32_t" and pname in INT32_ROLES:
                classes[i] = "int:" + INT32_ROLES[pname]
            elif ctype == "size_t" and pname == "n":
                classes[i] = "count"
            elif ctype == "int" and pname in INT_ROLES:
                classes[i] = "int:" + INT_ROLES[pname]
            elif ctype == "int64_t" and pname.startswith("timeout"):
                classes[i] = "timeout"
            elif ctype == "int64_t" and pname == "tag":
                classes[i] = "tag"
            else:
                die("%s: parameter '%s %s' has a shape the FFI driver does not know;"
                    " classify it in gen_manifest.py (see Tests/ffi-driver/README.md)"
                    % (name, ctype, pname))
            i += 1

        # what the result must be
        lowdoc = doc.lower()
        if name in INT_RESULTS:
            if ret != "int":
                die("%s: INT_RESULTS lists it but it returns %s" % (name, ret))
            check = INT_RESULTS[name]
        elif ret == "int":
            if has_err or "SAG_OK" in doc or "SAG_E_" in doc:
                check = "status"
            else:
                die("%s returns int but takes no sag_error *err and its comment names no"
                    " status: say what its result is in INT_RESULTS" % name)
        elif ret == "const char *":
            check = "str!" if "never null" in lowdoc else "str?"
        elif ret == "int64_t" and "timeout" in name:
            check = "timeout"
        elif ret == "size_t":
            check = "size"  # a byte count: any value; 0 for a bad handle
        elif handle_kind_of(ret) is not None:
            check = ("handle!:" if "never null" in lowdoc else "handle?:") + handle_kind_of(ret)
        elif ret == "void":
            check = "void"
        else:
            die("%s: result type %s has no check; add one to gen_manifest.py" % (name, ret))
        if check != "status" and has_err:
            die("%s takes sag_error *err but does not return a status" % name)

        # operations that the header says work on a closed socket or port
        # (every other operation on one must give SAG_E_CLOSED)
        flat = " ".join(re.sub(r"^\s*/?\*+/?|\*+/\s*$", "", l) for l in doc.splitlines())
        flat = " ".join(flat.split())
        if re.search(r"works (on a closed|when closed)|closed socket is a no-op|idempotent|"
                     r"SAG_OK or SAG_E_MISUSE", flat, re.I):
            notes.append("note\t%s\tclosed-ok" % name)
        fields = ["fn", name, ret, check]
        for (ctype, pname), cls in zip(parsed, classes):
            fields.append("%s %s %s" % (ctype, pname, cls))
        out.append("\t".join(fields))
    out.extend(notes)
    out.append("end\t%d" % len(functions))
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
