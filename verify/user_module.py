"""Importing a user's module by name (``--claims-from MODULE``, ``MODULE:NAME`` targets)."""
from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType


def import_user_module(name: str) -> ModuleType:
    """The module ``name``, imported with the working directory on sys.path (a user runs
    ``python -m verify`` beside their own files). Any failure of the user's code is bad input:
    ValueError with the error's first line, never a traceback."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except Exception as e:
        first = (str(e).splitlines() or [""])[0][:160]
        raise ValueError(f"cannot import {name!r}: {type(e).__name__}: {first}") from None
