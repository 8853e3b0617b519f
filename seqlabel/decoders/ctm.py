"""CTM files (NIST time-marked conversation): one line per token or word,

    utt channel start duration token confidence

times in seconds (three decimals), confidence in [0, 1]. Written from Hypothesis records that
carry frame timing (``timesteps``, ``durations``, ``frame_seconds``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from seqlabel.errors import DataError
from seqlabel.textfile import iter_lines
from seqlabel.types import Hypothesis

LEVELS = ("token", "word")


@dataclass(frozen=True)
class CtmEntry:
    utt: str
    channel: str
    start: float
    duration: float
    token: str
    confidence: float


def ctm_entries(hyp: Hypothesis, channel: str = "1", level: str = "token", word_boundary: str = "|") -> list[CtmEntry]:
    """One entry per token, or per word (``level="word"``: characters between word boundaries,
    from the first character's start to the last one's end, confidence the lowest of its characters)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    times = hyp.token_times()
    confs = hyp.token_confidences or (1.0,) * len(hyp.tokens)
    if level == "token":
        return [CtmEntry(hyp.id, channel, s, d, tok, c) for tok, (s, d), c in zip(hyp.tokens, times, confs)]
    out: list[CtmEntry] = []
    word: list[tuple[str, float, float, float]] = []
    for tok, (s, d), c in (*zip(hyp.tokens, times, confs), (word_boundary, (0.0, 0.0), 1.0)):
        if tok != word_boundary:
            word.append((tok, s, d, c))
            continue
        if word:
            start, end = word[0][1], word[-1][1] + word[-1][2]
            out.append(CtmEntry(hyp.id, channel, start, end - start, "".join(w[0] for w in word),
                                min(w[3] for w in word)))
            word = []
    return out


def format_ctm(entries: Iterable[CtmEntry]) -> str:
    return "".join(f"{e.utt} {e.channel} {e.start:.3f} {e.duration:.3f} {e.token} {e.confidence:.3f}\n"
                   for e in entries)


def write_ctm(path: str | os.PathLike, hyps: Iterable[Hypothesis], channel: str = "1", level: str = "token",
              word_boundary: str = "|") -> Path:
    """Write the hypotheses' tokens (or words) with times and confidences as CTM."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = format_ctm(e for h in hyps for e in ctm_entries(h, channel, level, word_boundary))
    path.write_text(text, encoding="utf-8")
    return path


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
