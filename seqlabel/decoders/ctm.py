"""CTM files from hypotheses: one line per token or word (the format, ``CtmEntry``, ``format_ctm`` and
``read_ctm``, lives with the other transcript files in ``seqlabel.data.transcripts``). Written from
Hypothesis records that carry frame timing (``timesteps``, ``durations``, ``frame_seconds``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from seqlabel.data.transcripts import CtmEntry, format_ctm, read_ctm
from seqlabel.errors import ConfigError
from seqlabel.types import Hypothesis

__all__ = ["LEVELS", "CtmEntry", "check_level", "ctm_entries", "format_ctm", "read_ctm", "write_ctm"]

LEVELS = ("token", "word")


def check_level(level: str, unit: str) -> str:
    """A CTM level a model of ``unit`` can write: words need character tokens with word boundaries."""
    if level not in LEVELS:
        raise ConfigError(f"CTM level must be 'token' or 'word', got {level!r}")
    if level == "word" and unit != "char":
        raise ConfigError(f"a word-level CTM needs character tokens with word boundaries, the model's are {unit}s")
    return level


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


def write_ctm(path: str | os.PathLike, hyps: Iterable[Hypothesis], channel: str = "1", level: str = "token",
              word_boundary: str = "|") -> Path:
    """Write the hypotheses' tokens (or words) with times and confidences as CTM."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = format_ctm(e for h in hyps for e in ctm_entries(h, channel, level, word_boundary))
    path.write_text(text, encoding="utf-8")
    return path
