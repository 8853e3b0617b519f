"""Error rates over token sequences: substitutions, deletions, insertions summed over the corpus.

The alignment is jiwer's (Levenshtein, unit costs). Rates are corpus totals
(sum of errors / sum of reference tokens), never a mean of per-utterance rates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import jiwer

from seqlabel.errors import DataError
from seqlabel.types import ErrorStats

RATE_NAMES = {"phone": "PER", "char": "CER", "word": "WER"}


@dataclass(frozen=True)
class UtteranceScore:
    id: str
    stats: ErrorStats
    ref: tuple[str, ...]
    hyp: tuple[str, ...]


@dataclass(frozen=True)
class ScoreResult:
    unit: str
    total: ErrorStats
    utterances: tuple[UtteranceScore, ...]

    @property
    def name(self) -> str:
        return RATE_NAMES.get(self.unit, "TER")

    def summary(self) -> str:
        t = self.total
        return (f"{self.name} {100 * t.rate:.2f}% [{t.errors} / {t.ref_tokens}, "
                f"{t.substitutions} sub, {t.deletions} del, {t.insertions} ins] over {t.utterances} utterances")


def align_stats(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> list[ErrorStats]:
    """Per-pair counts for token sequences (tokens must not contain whitespace)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if not refs:
        return []
    out = jiwer.process_words([" ".join(r) for r in refs], [" ".join(h) for h in hyps])
    stats = []
    for ref, chunks in zip(refs, out.alignments):
        s = d = i = h = 0
        for c in chunks:
            n_ref, n_hyp = c.ref_end_idx - c.ref_start_idx, c.hyp_end_idx - c.hyp_start_idx
            if c.type == "equal":
                h += n_ref
            elif c.type == "substitute":
                s += n_ref
            elif c.type == "delete":
                d += n_ref
            elif c.type == "insert":
                i += n_hyp
        stats.append(ErrorStats(s, d, i, h, len(ref), 1))
    return stats


def score(refs: Mapping[str, Sequence[str]], hyps: Mapping[str, Sequence[str]], unit: str = "char",
          allow_missing: bool = False) -> ScoreResult:
    """Score hypotheses against references by utterance id.

    A reference without hypothesis is an error (or an empty hypothesis with
    ``allow_missing``); a hypothesis without reference is always an error.
    """
    extra = sorted(set(hyps) - set(refs))
    if extra:
        raise DataError(f"{len(extra)} hypothesis id(s) have no reference, e.g. {extra[:3]}")
    missing = sorted(set(refs) - set(hyps))
    if missing and not allow_missing:
        raise DataError(f"{len(missing)} reference id(s) have no hypothesis, e.g. {missing[:3]} "
                        "(pass allow_missing / --allow-missing to count them as deletions)")
    ids = list(refs)
    ref_seqs = [tuple(refs[u]) for u in ids]
    hyp_seqs = [tuple(hyps.get(u, ())) for u in ids]
    per = align_stats(ref_seqs, hyp_seqs)
    total = sum(per, ErrorStats())
    return ScoreResult(unit, total, tuple(UtteranceScore(u, s, r, h) for u, s, r, h in zip(ids, per, ref_seqs, hyp_seqs)))


def to_words(tokens: Sequence[str], word_boundary: str = "|") -> list[str]:
    """Character tokens with boundary tokens -> words."""
    return "".join(" " if t == word_boundary else t for t in tokens).split()


def utterance_report(result: ScoreResult) -> str:
    """Tab-separated per-utterance report: id, ref tokens, S, D, I, errors, rate, ref, hyp."""
    lines = ["id\tref_tokens\tsub\tdel\tins\terrors\trate\tref\thyp"]
    for u in result.utterances:
        s = u.stats
        rate = f"{100 * s.rate:.2f}" if s.ref_tokens else ("0.00" if not s.errors else "inf")
        lines.append(f"{u.id}\t{s.ref_tokens}\t{s.substitutions}\t{s.deletions}\t{s.insertions}\t"
                     f"{s.errors}\t{rate}\t{' '.join(u.ref)}\t{' '.join(u.hyp)}")
    return "\n".join(lines) + "\n"
