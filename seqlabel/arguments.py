"""Checks of the Python API's arguments, so that a value of the wrong kind (a list where a manifest
path is expected, None for a checkpoint) is refused naming the function, the argument and what it
expects, not met later as a ``TypeError`` traceback from inside pathlib or torch.

This module sits beside ``errors`` at the bottom of the stage order.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

from seqlabel.errors import ConfigError

CHECKPOINT = "the path of a checkpoint written by `seqlabel train` (e.g. exp/run/best.pt)"
MANIFEST = "the path of a JSONL manifest (one utterance a line, written by `seqlabel prepare`)"
TRANSCRIBE_HINT = "to transcribe audio, image or stroke files without a manifest, use api.transcribe(checkpoint, files)"


def shown(value: Any) -> str:
    """A short description of a wrong value: its type and the start of its repr."""
    if value is None:
        return "None"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def path_argument(value: Any, function: str, name: str, expects: str, hint: str = "") -> Path:
    """``value`` as a Path when it is a non-empty str or os.PathLike; else a ConfigError naming
    ``function``'s argument ``name`` and what it ``expects``."""
    if isinstance(value, (str, os.PathLike)) and str(value).strip():
        return Path(value)
    got = "an empty string" if isinstance(value, str) else shown(value)
    raise ConfigError(f"{function}: {name} must be {expects}, a str or pathlib.Path; got {got}"
                      + (f" ({hint})" if hint else ""))


def optional_path(value: Any, function: str, name: str, expects: str) -> Optional[Path]:
    return None if value is None else path_argument(value, function, name, expects)


def paths_argument(value: Any, function: str, name: str, expects: str) -> list[Path]:
    """One path or a list (tuple) of paths, as a list of Paths; anything else refused as ``path_argument``."""
    if isinstance(value, (str, os.PathLike)):
        return [path_argument(value, function, name, expects)]
    if not isinstance(value, Sequence) or isinstance(value, bytes):
        raise ConfigError(f"{function}: {name} must be {expects}: a path or a list of paths; got {shown(value)}")
    return [path_argument(v, function, f"{name}[{i}]", expects) for i, v in enumerate(value)]
