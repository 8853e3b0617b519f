"""Training n-gram LMs from transcripts: LM tokens of a transcript, texts from manifests or files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from seqlabel.errors import ConfigError, DataError
from seqlabel.lm.ngram import NgramLM

UNITS = ("char", "phone", "word")


def tokenize(text: str, unit: str, word_boundary: str = "|") -> list[str]:
    """A transcript as LM tokens: ``char`` like ``Vocab(unit="char").tokenize`` (spaces become
    ``word_boundary``, none at either end), ``phone`` and ``word`` split on whitespace."""
    if unit == "char":
        from seqlabel.data.vocab import Vocab

        return Vocab([], "char", word_boundary).tokenize(text)
    if unit in ("phone", "word"):
        return text.split()
    raise ConfigError(f"unit must be one of {UNITS}, got {unit!r}")


def read_texts(paths: Iterable[str | os.PathLike]) -> Iterator[str]:
    """Transcripts from files: ``.jsonl`` manifests (their ``text``), else one sentence per line."""
    for p in paths:
        p = Path(p)
        if p.suffix == ".jsonl":
            from seqlabel.data.manifest import read_manifest

            for utt in read_manifest(p):
                yield utt.text
            continue
        if not p.is_file():
            raise DataError(f"text file not found: {p}")
        with p.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield line


def train_lm(manifests: Iterable[str | os.PathLike] = (), unit: str = "char", order: int = 3,
             smoothing: str = "kneser_ney", out_arpa: str | os.PathLike | None = None, *,
             texts: Iterable[str] = (), discount: float | Sequence[float] | None = None,
             word_boundary: str = "|", vocabulary: Iterable[str] = ()) -> NgramLM:
    """Train an n-gram LM on transcripts and optionally write it as ARPA.

    ``manifests``: JSONL manifests (their ``text`` fields) or plain text files (one sentence per
    line); ``texts``: transcripts given directly. Both may be used. ``unit``: ``char``, ``phone`` or
    ``word`` (see :func:`tokenize`). Empty transcripts are skipped. ``vocabulary``: tokens the LM must
    know even when the text lacks them (a model's characters; see :meth:`NgramLM.train`).
    """
    if unit not in UNITS:
        raise ConfigError(f"unit must be one of {UNITS}, got {unit!r}")
    if isinstance(manifests, (str, os.PathLike)):
        manifests = [manifests]
    if isinstance(texts, str):
        texts = [texts]
    sentences = [toks for text in (*read_texts(manifests), *texts) if (toks := tokenize(text, unit, word_boundary))]
    if not sentences:
        raise DataError("no text to train a language model on (all transcripts empty or none given)")
    lm = NgramLM.train(sentences, order, smoothing, discount, vocabulary)
    if out_arpa is not None:
        lm.write_arpa(out_arpa)
    return lm
