"""Training n-gram LMs from transcripts: LM tokens of a transcript, texts from manifests or files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from seqlabel.errors import ConfigError, DataError
from seqlabel.lm.ngram import FALLBACK_DISCOUNTS, NgramLM
from seqlabel.textfile import iter_lines

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
        for _, line in iter_lines(p, "a UTF-8 text file (one sentence a line) or a .jsonl manifest"):
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


def discount_note(lm: NgramLM) -> str | None:
    """Why modified Kneser-Ney discounts fell back to fixed values, for orders above 1 (unigrams of a
    small closed vocabulary, such as characters, routinely have no rare counts); None when every
    order above 1 was estimated, the discounts were given, or the model was not trained here."""
    training = lm.training
    orders = sorted((n for n in (training.fallbacks if training else {}) if n > 1), reverse=True)
    if not orders:
        return None
    which = f"order{'s' * (len(orders) > 1)} {', '.join(map(str, orders))}"
    lines = [f"note: modified Kneser-Ney discounts could not be estimated at {which} of this text, which "
             f"use{'s' * (len(orders) == 1)} KenLM's fallback discounts (D1, D2, D3+) = {FALLBACK_DISCOUNTS} instead. "
             "The estimate needs n-grams counted 1, 2, 3 and 4 times (below the highest order, the count is "
             "the number of distinct tokens seen before the n-gram):"]
    for n in orders:
        lines.append(f"  order {n}: {_missing_counts(n, lm.order, training.fallbacks[n])}")
    if training.distinct * 2 <= training.sentences:
        lines.append(f"  the text repeats itself: {training.sentences} sentences, {training.distinct} distinct")
    lines.append("  (--smoothing witten_bell needs no such estimate)")
    return "\n".join(lines)


def _missing_counts(n: int, order: int, coc: tuple[int, int, int, int]) -> str:
    """Which counts an order lacks, e.g. 'no 4-gram occurs fewer than 5 times'."""
    what = "occurs" if n == order else "follows"
    unit = "times" if n == order else "distinct tokens"
    missing = [k for k, c in enumerate(coc, 1) if c == 0]
    if len(missing) == 4:
        return f"no {n}-gram {what} fewer than 5 {unit}"
    if missing:
        ks = ", ".join(map(str, missing[:-1])) + (" or " if len(missing) > 1 else "") + str(missing[-1])
        return f"no {n}-gram {what} exactly {ks} {unit}"
    return f"its counts of 1, 2, 3 and 4 ({', '.join(map(str, coc))}) give a discount outside its range"
