"""Kaldi ``text`` files: one utterance a line, ``utt-id tok tok ...``, fields split at ASCII white
space only (as Kaldi splits them: U+0085 or U+2028 inside a token stays in it)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from seqlabel.data.unicode import split_spaces
from seqlabel.errors import DataError
from seqlabel.textfile import iter_lines


def read_kaldi_text(path: str | os.PathLike) -> dict[str, list[str]]:
    """utt-id -> tokens. Errors name the file and line (duplicate ids, blank ids)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"transcript file not found: {path}")
    out: dict[str, list[str]] = {}
    for lineno, line in iter_lines(path, "a UTF-8 Kaldi text file ('utt-id tok tok ...' lines)"):
        parts = split_spaces(line)
        if not parts:
            continue
        utt_id, tokens = parts[0], parts[1:]
        if utt_id in out:
            raise DataError(f"{path}:{lineno}: duplicate utterance id {utt_id!r}")
        out[utt_id] = tokens
    return out


def write_kaldi_text(path: str | os.PathLike, items: Iterable[tuple[str, Sequence[str]]]) -> Path:
    """Write ``utt-id tok tok ...`` lines atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for utt_id, tokens in items:
            f.write(" ".join([utt_id, *tokens]) + "\n")
    os.replace(tmp, path)
    return path
