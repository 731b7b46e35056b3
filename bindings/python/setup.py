"""The package's metadata is in pyproject.toml; this adds the optional
extension sagsocket._native (cffi's API mode, see native_build.py) when the
installed libsagsocket header is found."""

import os
import sys

from setuptools import setup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import native_build  # noqa: E402

ext = native_build.extension()
setup(ext_modules=[ext] if ext is not None else [])
