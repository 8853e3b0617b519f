"""Checkpoints: one file holds config + vocab + CMVN stats + weights, so decoding needs nothing else.

Written atomically (temporary file, fsync, rename); read with ``torch.load(weights_only=True)``
so a checkpoint cannot run code.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from seqlabel.errors import CheckpointError

FORMAT = "seqlabel-checkpoint-1"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory; pass a checkpoint file such as {path / 'best.pt'}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, IndexError, KeyError, ValueError, zipfile.BadZipFile,
            pickle.UnpicklingError) as e:
        raise CheckpointError(f"cannot read checkpoint {path} (truncated or not a seqlabel checkpoint?): "
                              f"{(str(e).splitlines() or [type(e).__name__])[0]}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a seqlabel checkpoint (format {FORMAT!r} expected)")
    return state
