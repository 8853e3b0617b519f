"""Checkpoints: one file holds config + vocab + CMVN stats + weights, so decoding needs nothing else.

Layout: the ``torch.save`` payload followed by an 81-byte footer ``SEQLABEL-SHA256:<64 hex>\\n``
holding the SHA-256 of the payload, so a truncated or bit-flipped file is caught before it is
unpickled. Written atomically (temporary file, fsync, rename): a crash or a full disk during a
save leaves the previous checkpoint as it was. One serialisation can be written to several files
(``serialize`` + ``write_checkpoint``); a copy is byte for byte (``copy_checkpoint``). Read with
``torch.load(weights_only=True)`` so a checkpoint cannot run code. Files written before the
footer existed (no footer) still load, without the checksum.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from seqlabel.errors import CheckpointError

FORMAT = "seqlabel-checkpoint-1"
FOOTER_MAGIC = b"SEQLABEL-SHA256:"
FOOTER_SIZE = len(FOOTER_MAGIC) + 64 + 1  # magic, hex digest, newline


def footer(payload: bytes | memoryview) -> bytes:
    return FOOTER_MAGIC + hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n"


def serialize(state: dict[str, Any]) -> bytes:
    """The bytes ``save_checkpoint`` writes for ``state``: payload + checksum footer."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    payload = buffer.getvalue()
    return payload + footer(payload)


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically; on failure the old file is intact and no temp is left."""
    return write_checkpoint(path, serialize(state))


def copy_checkpoint(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy the checkpoint ``source`` to ``target`` byte for byte (checksum checked, written atomically)."""
    source = Path(source)
    data = _read(source)
    _payload(source, memoryview(data))
    return write_checkpoint(target, data)


def write_checkpoint(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``serialize``'s bytes to ``path`` atomically (several files can take the same bytes)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as seqlabel.outputs promises for a missing --out folder
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        kept = f"the previous {path.name} is intact" if path.exists() else f"no {path.name} was written"
        raise CheckpointError(f"cannot write checkpoint {path}: {e.strerror or e} ({kept}); free disk space "
                              f"in {path.parent} or choose another --out, then --resume") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    data = _read(path)
    kind = _other_kind(path, data)
    if kind:
        raise CheckpointError(f"{path} is {kind}, not a seqlabel training checkpoint; give the run's best.pt or "
                              "last.pt")
    try:
        state = torch.load(_ViewReader(_payload(path, memoryview(data))), map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, IndexError, KeyError, ValueError, zipfile.BadZipFile,
            pickle.UnpicklingError) as e:
        code = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if code:
            raise CheckpointError(f"{path} refused: loading it would import {code[1]}, and a seqlabel checkpoint "
                                  "holds only tensors and plain data; use a checkpoint written by seqlabel train") from None
        raise CheckpointError(f"cannot read checkpoint {path}: corrupt, truncated or not a seqlabel checkpoint "
                              f"({(str(e).splitlines() or [type(e).__name__])[0]}); {_other_checkpoint(path)}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a seqlabel checkpoint (format {FORMAT!r} expected)")
    return state


def _other_kind(path: Path, data: bytes) -> str:
    """What a file given as a checkpoint is when it is another model file seqlabel writes ('' otherwise):
    torch.load would fail on it with advice about pickles that does not apply."""
    if data[-FOOTER_SIZE:].startswith(FOOTER_MAGIC):  # written by seqlabel: a checkpoint (checked later)
        return ""
    if data[:2] == b"PK":
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except (zipfile.BadZipFile, ValueError):
            names = []
        if any(n.endswith("/constants.pkl") for n in names):
            return "a TorchScript model (seqlabel export; load it with torch.jit.load)"
    if path.suffix == ".onnx":
        return "an ONNX model (seqlabel export --format onnx; run it with onnxruntime)"
    if data[:64].lstrip().startswith(b"\\data\\"):
        return "an ARPA language model (give it as decode.lm)"
    return ""


def _read(path: Path) -> bytes:
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory; pass a checkpoint file such as {path / 'best.pt'}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    return path.read_bytes()


def _payload(path: Path, data: memoryview) -> memoryview:
    """The ``torch.save`` payload of a checkpoint file's bytes (a view: no copy), its checksum checked;
    all of ``data`` when it has no footer (truncated, foreign, or written before checksums)."""
    payload, tail = data[:-FOOTER_SIZE], data[-FOOTER_SIZE:].tobytes()
    if not tail.startswith(FOOTER_MAGIC):
        return data
    if footer(payload) != tail:
        raise CheckpointError(f"checkpoint {path} is corrupt: its SHA-256 checksum does not match (damaged "
                              f"on disk or in transfer); {_other_checkpoint(path)}")
    return payload


class _ViewReader(io.RawIOBase):
    """A read-only file over a memoryview, for ``torch.load``: ``io.BytesIO`` would copy the payload."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self.view, self.position = view, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        target = memoryview(buffer).cast("B")
        chunk = self.view[self.position:self.position + len(target)]
        target[:len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: len(self.view)}[whence] + offset
        return self.position

    def tell(self) -> int:
        return self.position


def _other_checkpoint(path: Path) -> str:
    """The fix to suggest: the run's other checkpoint (best.pt <-> last.pt)."""
    other = {"best.pt": "last.pt", "last.pt": "best.pt"}.get(path.name)
    if other is not None and (path.parent / other).is_file():
        return f"use {path.parent / other} instead (or copy it over {path.name} to --resume)"
    return "use another checkpoint of the run (best.pt or last.pt) or retrain"
