#!/usr/bin/env python3
"""cgcalls.py OUT [PATTERN]: from a callgrind output file, each function whose
name matches PATTERN (a regular expression; default: the library's exported
sag_ functions): how often it was called, and the instructions it executed per
call, itself and everything it called (inclusive), summed over its callers."""
import re
import sys
from collections import defaultdict


def main():
    path = sys.argv[1]
    pat = re.compile(sys.argv[2] if len(sys.argv) > 2 else r"^sag_")
    names = {}  # "(id)" -> name, for the compressed names callgrind writes
    calls = defaultdict(int)
    incl = defaultdict(int)
    cur_cfn = None
    pending = None

    def name_of(v):
        m = re.match(r"\((\d+)\)(?: (.*))?$", v)
        if not m:
            return v
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), v)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if pending is not None:
                parts = line.split()
                if len(parts) >= 2:
                    incl[pending] += int(parts[1])
                pending = None
                continue
            if line.startswith("fn="):
                name_of(line[3:])
            elif line.startswith("cfn="):
                cur_cfn = name_of(line[4:])
            elif line.startswith("cfi=") or line.startswith("cfl="):
                pass
            elif line.startswith("calls="):
                n = int(line[6:].split()[0])
                calls[cur_cfn] += n
                pending = cur_cfn
    rows = [(k, calls[k], incl[k]) for k in calls if pat.search(k)]
    for k, c, i in sorted(rows, key=lambda r: -r[2]):
        print(f"{k:40s} calls {c:9d}  incl {i:12d}  per call {i / c:9.1f}")


main()
