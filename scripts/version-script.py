#!/usr/bin/env python3
"""Prints the linker version script of libsagsocket: every sag_ function that
the declarations header declares is global, everything else local."""
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
text = re.sub(r"//[^\n]*", " ", text)
names = sorted(set(re.findall(r"\b(sag_[A-Za-z0-9_]*)\s*\(", text)))
print("SAGSOCKET_1 {\n  global:")
for n in names:
    print(f"    {n};")
print("  local:\n    *;\n};")
