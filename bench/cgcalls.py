#!/usr/bin/env python3
"""cgcalls.py OUT [PATTERN] [--entries]: from a callgrind output file, each
function whose name matches PATTERN (a regular expression; default: the
library's exported sag_ functions): how often it was called, and the
instructions it executed per call, itself and everything it called
(inclusive), summed over its callers. With --entries, only calls made from
another object file count (calls into the library from a program or a host,
not the library's own calls between its parts)."""
import re
import sys
from collections import defaultdict


def main():
    args = [a for a in sys.argv[1:] if a != "--entries"]
    entries = "--entries" in sys.argv[1:]
    path = args[0]
    pat = re.compile(args[1] if len(args) > 1 else r"^sag_")
    objs = {}  # "(id)" -> object file, as for names
    cur_ob = cur_cob = None
    names = {}  # "(id)" -> name, for the compressed names callgrind writes
    calls = defaultdict(int)
    incl = defaultdict(int)
    cur_cfn = None
    pending = None

    def expand(table, v):
        m = re.match(r"\((\d+)\)(?: (.*))?$", v)
        if not m:
            return v
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), v)

    def name_of(v):
        return expand(names, v)

    def obj_of(v):
        return expand(objs, v)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if pending is not None:
                parts = line.split()
                if len(parts) >= 2:
                    incl[pending] += int(parts[1])
                pending = None
                continue
            if line.startswith("ob="):
                cur_ob = cur_cob = obj_of(line[3:])
            elif line.startswith("cob="):
                cur_cob = obj_of(line[4:])
            elif line.startswith("fn="):
                name_of(line[3:])
                cur_cob = cur_ob
            elif line.startswith("cfn="):
                cur_cfn = name_of(line[4:])
            elif line.startswith("cfi=") or line.startswith("cfl="):
                pass
            elif line.startswith("calls="):
                same = cur_cob == cur_ob
                cur_cob = cur_ob  # a cob= line names the object of one call
                if entries and same:
                    continue
                n = int(line[6:].split()[0])
                calls[cur_cfn] += n
                pending = cur_cfn
    rows = [(k, calls[k], incl[k]) for k in calls if pat.search(k)]
    for k, c, i in sorted(rows, key=lambda r: -r[2]):
        print(f"{k:40s} calls {c:9d}  incl {i:12d}  per call {i / c:9.1f}")


main()
