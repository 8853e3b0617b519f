"""Transcript files.

Kaldi ``text``: one utterance a line, ``utt-id tok tok ...``, fields split at ASCII white space only
(as Kaldi splits them: U+0085 or U+2028 inside a token stays in it).

CTM (NIST time-marked conversation): one line per token or word, ``utt channel start duration token
confidence``, times in seconds (three decimals), confidence in [0, 1].
"""
from __future__ import annotations

import os
from dataclasses import dataclass
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
        if utt_id.startswith("{"):  # '{"id":' is no utterance id
            raise DataError(f"{path}:{lineno}: a JSON line, as in a manifest, where Kaldi text ('utt-id tok tok "
                            "...') is expected; score a model on a manifest with `seqlabel evaluate CKPT MANIFEST`, "
                            "whose --out folder holds ref.txt and hyp.txt")
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


@dataclass(frozen=True)
class CtmEntry:
    utt: str
    channel: str
    start: float
    duration: float
    token: str
    confidence: float


def format_ctm(entries: Iterable[CtmEntry]) -> str:
    return "".join(f"{e.utt} {e.channel} {e.start:.3f} {e.duration:.3f} {e.token} {e.confidence:.3f}\n"
                   for e in entries)


def read_ctm(path: str | os.PathLike) -> list[CtmEntry]:
    """Read a CTM file (``;;`` comment lines skipped; a missing confidence reads as 1). Errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"CTM file not found: {path}")
    out = []
    for lineno, line in iter_lines(path, "a UTF-8 CTM file"):
        if not line.strip() or line.startswith(";;"):
            continue
        fields = line.split()
        if len(fields) not in (5, 6):
            raise DataError(f"{path}:{lineno}: expected 'utt channel start dur token [conf]', got {line!r}")
        try:
            start, dur = float(fields[2]), float(fields[3])
            conf = float(fields[5]) if len(fields) == 6 else 1.0
        except ValueError:
            raise DataError(f"{path}:{lineno}: start, duration and confidence must be numbers: {line!r}") from None
        out.append(CtmEntry(fields[0], fields[1], start, dur, fields[4], conf))
    return out


def read_ctm_utterances(path: str | os.PathLike) -> dict[str, list[CtmEntry]]:
    """``read_ctm`` grouped by utterance: utt -> its entries, utterances and entries in file order."""
    out: dict[str, list[CtmEntry]] = {}
    for entry in read_ctm(path):
        out.setdefault(entry.utt, []).append(entry)
    return out
