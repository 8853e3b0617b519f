"""Fixture corpora shared by the recipe tests (``test_corpora.py``, ``test_corpus_an4.py``): tiny sine
WAVs, fake big-endian Sphinx .mfc files, transcript files, and the real corpora under ``shared_data``
(skipped with a reason when absent)."""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterable

import numpy as np
import pytest
import soundfile

from seqlabel.data.manifest import read_manifest
from seqlabel.types import Utterance


def write_wav(path: Path, seconds: float = 0.05, rate: int = 16000) -> Path:
    """A short sine tone (any suffix soundfile knows: .wav, .flac)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), 0.1 * np.sin(2 * np.pi * 440 * t), rate)
    return path


def write_mfc(path: Path, frames: int, header: int | None = None) -> Path:
    """A Sphinx cepstrum file: big-endian int32 float count, then big-endian float32s."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = frames * 13
    values = np.linspace(-1, 1, count, dtype=">f4")
    path.write_bytes(struct.pack(">i", count if header is None else header) + values.tobytes())
    return path


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def splits_of(paths: dict[str, Path]) -> dict[str, list[Utterance]]:
    return {split: read_manifest(path) for split, path in paths.items()}


def speakers(utts: list[Utterance]) -> set[str]:
    return {u.speaker for u in utts}


def real_corpus(shared_data: Path, name: str) -> Path:
    folder = shared_data / name
    if not folder.is_dir():
        pytest.skip(f"real corpus {name!r} not found at {folder} (set SEQLABEL_SHARED_DATA to its parent)")
    return folder
