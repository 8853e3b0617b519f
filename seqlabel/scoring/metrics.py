"""Error rates over token sequences: substitutions, deletions, insertions summed over the corpus.

The alignment is NIST sclite's (SCTK ``net_dp.c`` with ``wwd_WORD``), so the counts
equal sclite's for the same reference and hypothesis tokens:

- costs: correct 0, substitution 4, insertion 3, deletion 3. This minimises
  ``4 S + 3 (D + I)``, not ``S + D + I``: where unit-cost Levenshtein (jiwer) sees a
  tie between two substitutions and a deletion plus an insertion, sclite takes the
  deletion plus insertion, and in rare cases its total errors exceed the Levenshtein
  distance by one or more.
- ties in each cell: diagonal (correct or substitution) if it is no worse than both
  others; otherwise deletion if strictly cheaper than insertion; otherwise insertion.
  The path is traced back from the end of both sequences.

Tokens are compared exactly (sclite lowercases unless run with ``-s``). sclite's special
tokens (``@``, ``(optional)``, ``frag-`` under ``-D``/``-F``) have no special meaning here.
Rates are corpus totals (sum of errors / sum of reference tokens), never a mean of
per-utterance rates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, NamedTuple, Optional, Sequence

import numpy as np

from seqlabel.errors import DataError
from seqlabel.types import ErrorStats

RATE_NAMES = {"phone": "PER", "char": "CER", "word": "WER"}

# sclite's default edit costs (SCTK word.c, wwd_WORD)
SUB_COST = 4
INS_COST = 3
DEL_COST = 3

OPS = "CSDI"  # op codes in alignment strings: correct, substitution, deletion, insertion
_DIAG, _DEL, _INS = 0, 1, 2  # back-pointers
_MAX_CELLS = 1 << 22  # DP cells (B x (N+1) x (M+1)) per vectorised chunk
_OP_BYTES = np.frombuffer(OPS.encode(), dtype=np.uint8)


class Edit(NamedTuple):
    """One aligned position: op in "CSDI"; ``ref`` is None for an insertion, ``hyp`` for a deletion."""

    op: str
    ref: Optional[str]
    hyp: Optional[str]


@dataclass(frozen=True)
class UtteranceScore:
    id: str
    stats: ErrorStats
    ref: tuple[str, ...]
    hyp: tuple[str, ...]
    ops: str = ""  # the alignment, one of "CSDI" per aligned position (see ``edits``)

    def edits(self) -> tuple[Edit, ...]:
        """The alignment as (op, ref token, hyp token) triples, in order."""
        return tuple(_edits(self.ops, self.ref, self.hyp))


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
    """Per-pair counts for token sequences, aligned as sclite aligns them."""
    return [_stats(ops, len(r)) for ops, r in zip(align_ops(refs, hyps), refs)]


def align_ops(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> list[str]:
    """Per-pair alignments as strings over "CSDI" (correct, substitution, deletion, insertion).

    Each string reads left to right: C, S and D consume a reference token, C, S and I a
    hypothesis token.
    """
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    refs = [tuple(r) for r in refs]
    hyps = [tuple(h) for h in hyps]
    out: list[str] = [""] * len(refs)
    for chunk in _chunks([len(r) for r in refs], [len(h) for h in hyps]):
        for i, ops in zip(chunk, _align_chunk([refs[i] for i in chunk], [hyps[i] for i in chunk])):
            out[i] = ops
    return out


def edit_cost(ops: str) -> int:
    """sclite's cost of an alignment: 4 per substitution, 3 per insertion or deletion."""
    return SUB_COST * ops.count("S") + DEL_COST * ops.count("D") + INS_COST * ops.count("I")


def score(refs: Mapping[str, Sequence[str]], hyps: Mapping[str, Sequence[str]], unit: str = "char",
          allow_missing: bool = False, word_boundary: Optional[str] = "|") -> ScoreResult:
    """Score hypotheses against references by utterance id.

    A reference without hypothesis is an error (or an empty hypothesis with
    ``allow_missing``); a hypothesis without reference is always an error. Character tokens
    are scored as the text they spell (``normalize_boundaries``), so a doubled, leading or
    trailing ``word_boundary`` costs nothing and earns nothing; ``None`` scores them as they are.
    """
    if unit == "char" and word_boundary is not None:
        refs = {k: normalize_boundaries(v, word_boundary) for k, v in refs.items()}
        hyps = {k: normalize_boundaries(v, word_boundary) for k, v in hyps.items()}
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
    ops = align_ops(ref_seqs, hyp_seqs)
    utts = tuple(UtteranceScore(u, _stats(o, len(r)), r, h, o) for u, o, r, h in zip(ids, ops, ref_seqs, hyp_seqs))
    total = sum((u.stats for u in utts), ErrorStats())
    return ScoreResult(unit, total, utts)


def normalize_boundaries(tokens: Sequence[str], word_boundary: str = "|") -> list[str]:
    """Character tokens as the text they spell: no leading, trailing or repeated boundary tokens."""
    out: list[str] = []
    for t in tokens:
        if t != word_boundary or (out and out[-1] != word_boundary):
            out.append(t)
    if out and out[-1] == word_boundary:
        out.pop()
    return out


def to_words(tokens: Sequence[str], word_boundary: str = "|") -> list[str]:
    """Character tokens with boundary tokens -> words. Words end only at a boundary token (or a plain
    space inside a token): U+0085, U+2028 or U+001C inside a word keep it whole."""
    return [w for w in "".join(" " if t == word_boundary else t for t in tokens).split(" ") if w]


def to_chars(tokens: Sequence[str], word_boundary: str = "|") -> list[str]:
    """Character tokens without word boundaries: what ``sclite -c`` aligns (it drops the spaces)."""
    return [c for word in to_words(tokens, word_boundary) for c in word]


def utterance_report(result: ScoreResult) -> str:
    """Tab-separated per-utterance report: id, ref tokens, S, D, I, errors, rate, ref, hyp."""
    lines = ["id\tref_tokens\tsub\tdel\tins\terrors\trate\tref\thyp"]
    for u in result.utterances:
        s = u.stats
        rate = f"{100 * s.rate:.2f}" if s.ref_tokens else ("0.00" if not s.errors else "inf")
        lines.append(f"{u.id}\t{s.ref_tokens}\t{s.substitutions}\t{s.deletions}\t{s.insertions}\t"
                     f"{s.errors}\t{rate}\t{' '.join(u.ref)}\t{' '.join(u.hyp)}")
    return "\n".join(lines) + "\n"


# --- the alignment ---------------------------------------------------------------------------

def _stats(ops: str, ref_tokens: int) -> ErrorStats:
    return ErrorStats(ops.count("S"), ops.count("D"), ops.count("I"), ops.count("C"), ref_tokens, 1)


def _edits(ops: str, ref: Sequence[str], hyp: Sequence[str]) -> Iterator[Edit]:
    i = j = 0
    for op in ops:
        if op == "I":
            yield Edit(op, None, hyp[j])
            j += 1
        elif op == "D":
            yield Edit(op, ref[i], None)
            i += 1
        else:
            yield Edit(op, ref[i], hyp[j])
            i += 1
            j += 1
    if i != len(ref) or j != len(hyp):
        raise ValueError(f"alignment {ops!r} does not cover {len(ref)} reference and {len(hyp)} hypothesis tokens")


def _chunks(n: list[int], m: list[int]) -> Iterator[list[int]]:
    """Indices grouped by similar lengths so that each padded DP table stays small."""
    order = sorted(range(len(n)), key=lambda i: (n[i], m[i]))
    chunk: list[int] = []
    max_n = max_m = 0
    for i in order:
        nn, mm = max(max_n, n[i]), max(max_m, m[i])
        if chunk and (len(chunk) + 1) * (nn + 1) * (mm + 1) > _MAX_CELLS:
            yield chunk
            chunk, nn, mm = [], n[i], m[i]
        chunk.append(i)
        max_n, max_m = nn, mm
    if chunk:
        yield chunk


def _align_chunk(refs: list[tuple[str, ...]], hyps: list[tuple[str, ...]]) -> list[str]:
    """sclite's DP for B pairs at once, padded to (N, M); vectorised over pairs and hypothesis positions."""
    B = len(refs)
    n = np.array([len(r) for r in refs], dtype=np.int64)  # (B,)
    m = np.array([len(h) for h in hyps], dtype=np.int64)  # (B,)
    N, M = int(n.max()), int(m.max())
    ids: dict[str, int] = {}
    ref_ids = np.full((B, max(N, 1)), -1, dtype=np.int64)  # (B, N), padding never equals a token
    hyp_ids = np.full((B, max(M, 1)), -2, dtype=np.int64)  # (B, M)
    for k, (r, h) in enumerate(zip(refs, hyps)):
        ref_ids[k, :len(r)] = [ids.setdefault(t, len(ids)) for t in r]
        hyp_ids[k, :len(h)] = [ids.setdefault(t, len(ids)) for t in h]

    back = np.empty((B, N + 1, M + 1), dtype=np.int8)  # back-pointer of each cell
    back[:, 0, :] = _INS  # first row: insertions only
    back[:, :, 0] = _DEL  # first column: deletions only
    steps = INS_COST * np.arange(M + 1, dtype=np.int64)  # (M+1,)
    prev = steps[None, :].repeat(B, axis=0)  # (B, M+1): row 0
    for a in range(1, N + 1):
        sub = prev[:, :-1] + np.where(ref_ids[:, a - 1:a] == hyp_ids[:, :M], 0, SUB_COST)  # (B, M)
        dele = prev[:, 1:] + DEL_COST  # (B, M)
        # D[a, b] = min(best[b], D[a, b-1] + INS) with best = min(sub, del): a min-plus prefix scan
        x = np.empty_like(prev)  # (B, M+1)
        x[:, 0] = DEL_COST * a
        x[:, 1:] = np.minimum(sub, dele)
        cur = np.minimum.accumulate(x - steps, axis=1) + steps  # (B, M+1)
        ins = cur[:, :-1] + INS_COST  # (B, M)
        back[:, a, 1:] = np.where((sub <= dele) & (sub <= ins), _DIAG, np.where(dele < ins, _DEL, _INS))
        prev = cur

    # trace back all pairs in step; ops[s, k] is the s-th op from the end of pair k (-1: done)
    rows = np.arange(B)
    a, b = n.copy(), m.copy()
    ops = np.full((N + M, B), -1, dtype=np.int8)
    for s in range(N + M):
        live = (a > 0) | (b > 0)
        if not live.any():
            break
        c = back[rows, a, b]
        diag, dele, ins = live & (c == _DIAG), live & (c == _DEL), live & (c == _INS)
        same = ref_ids[rows, np.maximum(a - 1, 0)] == hyp_ids[rows, np.maximum(b - 1, 0)]
        ops[s] = np.select([diag & same, diag, dele, ins], [0, 1, 2, 3], -1)
        a -= diag | dele
        b -= diag | ins
    return [_OP_BYTES[col[col >= 0][::-1]].tobytes().decode() for col in ops.T]
