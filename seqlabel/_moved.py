"""Aliases for module paths that moved in 0.2 (see README, "Moved in 0.2"); they go in 0.3.

A stub module at an old path calls ``alias(__name__, new)``: importing the old path warns once and
gives the new module itself (so ``seqlabel.metrics.score`` is ``seqlabel.scoring.metrics.score``).
"""
from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType


def alias(old: str, new: str) -> ModuleType:
    warnings.warn(f"{old} moved to {new} in seqlabel 0.2; the old path goes in 0.3", DeprecationWarning,
                  stacklevel=3)
    module = importlib.import_module(new)
    sys.modules[old] = module
    return module
