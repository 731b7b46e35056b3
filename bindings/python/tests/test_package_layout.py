"""The package's shape: one idea a module, each under 600 lines; the two
faces side by side over the modules below them (importing the Python face
does not load the Sagittarius one); no private (underscore) name used
outside the module that defines it."""

import ast
import os
import subprocess
import sys

import sagsocket

PKG = os.path.dirname(sagsocket.__file__)
MODULES = sorted(f for f in os.listdir(PKG) if f.endswith(".py"))
# Underscore methods of the standard library's classes a module may call.
STDLIB_PRIVATE = {"_replace", "_checkClosed"}
# The one private module imported: the compiled extension (cffi's API mode),
# by the module that loads the library.
PRIVATE_IMPORTS = {("library.py", "_native")}


def _tree(name):
    with open(os.path.join(PKG, name), encoding="utf-8") as f:
        return ast.parse(f.read())


def _defined_privates(tree):
    """The underscore names a module defines: functions, classes, names it
    assigns, attributes it assigns on any object, __slots__ entries."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            out.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.add(node.value)  # __slots__ entries
    return {n for n in out if n.startswith("_")}


def test_every_module_is_under_600_lines():
    sizes = {}
    for name in MODULES:
        with open(os.path.join(PKG, name), encoding="utf-8") as f:
            sizes[name] = sum(1 for _ in f)
    assert max(sizes.values()) < 600, sizes


def test_no_private_name_crosses_a_module_boundary():
    crossing = []
    for name in MODULES:
        tree = _tree(name)
        own = _defined_privates(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                parts = (node.module or "").split(".")
                crossing += [(name, node.lineno, node.module) for p in parts if p.startswith("_")]
                crossing += [(name, node.lineno, a.name) for a in node.names
                             if a.name.startswith("_") and not a.name.startswith("__")
                             and (name, a.name) not in PRIVATE_IMPORTS]
            elif (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                  and not node.attr.startswith("__") and node.attr not in own
                  and node.attr not in STDLIB_PRIVATE):
                crossing.append((name, node.lineno, ast.unparse(node)))
    assert crossing == []


def test_the_python_face_does_not_load_the_sagittarius_face():
    code = ("import sys, sagsocket; s = sagsocket.Socket(); s.close(); "
            "print(sorted(m for m in sys.modules if m.startswith('sagsocket')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = eval(out.stdout)
    assert "sagsocket.scheme" not in loaded and "sagsocket.ports" not in loaded, loaded
    from sagsocket import scheme
    assert scheme.make_client_socket and "scheme" not in sagsocket.__all__


def test_errors_has_no_dead_helpers():
    assert not hasattr(sagsocket.errors, "is_signal")
