#!/usr/bin/env python3
"""Prints the linker version script of libsagsocket: every sag_ function that
the declarations header declares is global, everything else local."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sagheader  # noqa: E402

print("SAGSOCKET_1 {\n  global:")
for name in sagheader.function_names(sys.argv[1]):
    print(f"    {name};")
print("  local:\n    *;\n};")
