"""How sure is an error rate, and is one system really better than another?

- ``bootstrap_interval``: a percentile bootstrap confidence interval on a corpus error rate,
  resampling utterances with replacement (the errors and reference tokens of an utterance
  travel together, so the rate stays a ratio of corpus sums). A resample whose references are
  all empty has rate 0 without errors and inf with insertions; an upper bound may be inf.
- ``mapsswe``: NIST sclite's matched-pairs sentence-segment word error test (Gillick & Cox 1989;
  SCTK ``mtchprs.c``, ``sc_stats -t mapsswe``). Each utterance is cut into segments bounded by
  ``min_good`` (2) consecutive reference tokens that both systems got right, or by its ends;
  ``Z_i = errors_A - errors_B`` in segment i; ``Z = mean / (sd / sqrt(n))`` with the n-1
  standard deviation, compared with the standard normal, two-sided. Where all differences are
  equal and not zero, sclite reports Z = 0 (no difference); here Z is infinite (p = 0).
- ``paired_bootstrap``: Bisani & Ney (2004): resample utterances, compare the two systems'
  errors on each resample; two-sided p = 2 min(P(B <= A), P(B >= A)), capped at 1.

Both tests take two ScoreResults of the same references (same utterances, same tokens).
Randomness comes from ``numpy.random.default_rng(seed)``: results are reproducible.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from seqlabel.errors import DataError
from seqlabel.scoring.metrics import ScoreResult

METHODS = ("mapsswe", "bootstrap")
_MAX_DRAWS = 1 << 22  # resampled utterance indices held at once


@dataclass(frozen=True)
class Interval:
    """A confidence interval on an error rate (fractions, not percent)."""

    low: float
    high: float
    level: float = 0.95
    resamples: int = 1000
    seed: int = 0

    def __str__(self) -> str:
        return f"{100 * self.level:g}% CI {percent(self.low)}-{percent(self.high)}"


@dataclass(frozen=True)
class Comparison:
    """A paired test of system B against system A on the same references.

    ``statistic``: MAPSSWE's Z (positive: A makes more errors), or for the bootstrap the fraction of
    resamples in which B is not worse than A. ``samples``: segments (MAPSSWE) or resamples (bootstrap).
    """

    name: str  # PER, CER, WER
    method: str  # "mapsswe" or "bootstrap"
    rate_a: float
    rate_b: float
    statistic: float
    p_value: float
    samples: int

    @property
    def difference(self) -> float:
        """rate_b - rate_a (positive: B is worse)."""
        return self.rate_b - self.rate_a

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha

    def summary(self, label_a: str = "A", label_b: str = "B", folding: Optional[str] = None,
                alpha: float = 0.05) -> str:
        name = f"{self.name} ({folding})" if folding else self.name
        head = (f"{name}: A {100 * self.rate_a:.2f}% ({label_a}), B {100 * self.rate_b:.2f}% ({label_b}), "
                f"B - A {100 * self.difference:+.2f} points")
        if self.method == "mapsswe":
            test = f"MAPSSWE over {self.samples} segments: Z = {self.statistic:.3f}"
        else:
            test = f"paired bootstrap, {self.samples} resamples: B not worse in {100 * self.statistic:.1f}%"
        verdict = "significant" if self.significant(alpha) else "not significant"
        return f"{head}\n  {test}, {format_p(self.p_value, self)}: {verdict} at p < {alpha:g}"


def percent(rate: float) -> str:
    """A rate (fraction) as a percentage with two decimals, ``inf`` when infinite."""
    return f"{100 * rate:.2f}" if math.isfinite(rate) else "inf"


def format_p(p: float, comparison: Optional[Comparison] = None) -> str:
    """``p = 0.0132``; a bootstrap p of 0 is shown as below one resample's share (``p < 0.001``)."""
    if p == 0.0 and comparison is not None and comparison.method == "bootstrap":
        return f"p < {1 / comparison.samples:g}"
    return f"p = {p:.4f}" if p >= 1e-4 or p == 0.0 else f"p = {p:.1e}"


def utterance_counts(result: ScoreResult) -> tuple[np.ndarray, np.ndarray]:
    """Per-utterance errors (N,) and reference tokens (N,), in the result's order."""
    errors = np.array([u.stats.errors for u in result.utterances], dtype=np.int64)
    refs = np.array([u.stats.ref_tokens for u in result.utterances], dtype=np.int64)
    return errors, refs


def bootstrap_interval(result: ScoreResult, level: float = 0.95, resamples: int = 1000,
                       seed: int = 0) -> Optional[Interval]:
    """Percentile bootstrap interval on the corpus error rate; None without reference tokens."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    errors, refs = utterance_counts(result)
    if refs.sum() == 0:
        return None
    sums = bootstrap_sums(np.stack([errors, refs]), resamples, seed)  # (R, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(sums[:, 1] > 0, sums[:, 0] / np.maximum(sums[:, 1], 1),
                         np.where(sums[:, 0] > 0, np.inf, 0.0))  # (R,)
    # A resample of only empty references with insertions has an infinite rate; interpolating
    # between two of them gives NaN, so then the bounds are resampled rates themselves (inverted CDF).
    method = "linear" if np.isfinite(rates).all() else "inverted_cdf"
    low, high = np.quantile(rates, [(1 - level) / 2, (1 + level) / 2], method=method)
    return Interval(float(low), float(high), level, resamples, seed)


def bootstrap_sums(values: np.ndarray, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """values (K, N) per-utterance counts -> (R, K) sums over R resamples of the N utterances.

    Each resample draws N utterance indices with replacement, shared by the K rows (paired).
    """
    if values.ndim != 2 or values.shape[1] == 0:
        raise ValueError(f"values must be (K, N) with N > 0, got {values.shape}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    rng = np.random.default_rng(seed)
    n = values.shape[1]
    out = np.empty((resamples, values.shape[0]), dtype=np.int64)
    step = max(1, _MAX_DRAWS // n)
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))  # (r, N)
        out[start:stop] = values[:, idx].sum(axis=-1).T  # (K, r, N) -> (K, r) -> (r, K)
    return out


def compare(a: ScoreResult, b: ScoreResult, method: str = "mapsswe", resamples: int = 1000,
            seed: int = 0) -> Comparison:
    """Paired test of B against A by ``method`` ("mapsswe" or "bootstrap")."""
    if method == "mapsswe":
        return mapsswe(a, b)
    if method == "bootstrap":
        return paired_bootstrap(a, b, resamples, seed)
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def paired_bootstrap(a: ScoreResult, b: ScoreResult, resamples: int = 1000, seed: int = 0) -> Comparison:
    """Bisani & Ney's paired bootstrap: how often is B not worse than A over resampled test sets?"""
    _check_paired(a, b)
    errors_a, _ = utterance_counts(a)
    errors_b, _ = utterance_counts(b)
    if errors_a.size == 0:
        return Comparison(a.name, "bootstrap", a.total.rate, b.total.rate, 1.0, 1.0, 0)
    sums = bootstrap_sums(np.stack([errors_a, errors_b]), resamples, seed)  # (R, 2)
    delta = sums[:, 1] - sums[:, 0]  # (R,) B's errors minus A's on the same resample
    not_worse, not_better = float(np.mean(delta <= 0)), float(np.mean(delta >= 0))
    p = min(1.0, 2 * min(not_worse, not_better))
    return Comparison(a.name, "bootstrap", a.total.rate, b.total.rate, not_worse, p, resamples)


def mapsswe(a: ScoreResult, b: ScoreResult, min_good: int = 2) -> Comparison:
    """sclite's matched-pairs sentence-segment word error test of B against A (two-sided)."""
    _check_paired(a, b)
    diffs = np.array([ea - eb for ua, ub in zip(a.utterances, b.utterances)
                      for ea, eb in segment_errors(ua.ops, ub.ops, min_good)], dtype=np.float64)
    z = z_statistic(diffs)
    p = math.erfc(abs(z) / math.sqrt(2))  # two-sided normal tail
    return Comparison(a.name, "mapsswe", a.total.rate, b.total.rate, z, p, int(diffs.size))


def z_statistic(diffs: np.ndarray) -> float:
    """mean / (sd / sqrt(n)), sd with n - 1; 0 for fewer than 2 values or all zero; +-inf for a constant non-zero."""
    n = diffs.size
    if n < 2:
        return 0.0
    mean = float(diffs.mean())
    var = float(((diffs - mean) ** 2).sum() / (n - 1))
    if var == 0.0:
        return 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    return mean / math.sqrt(var / n)


def segment_errors(ops_a: str, ops_b: str, min_good: int = 2) -> list[tuple[int, int]]:
    """Cut one utterance into MAPSSWE segments; return (errors of A, errors of B) per segment.

    ``ops_a``/``ops_b`` are the two systems' alignments ("CSDI") against the same reference.
    A segment closes after ``min_good`` consecutive reference tokens correct in both systems
    with no insertion between them, or at the end of the utterance. Segments without errors
    are not segments.
    """
    if min_good < 1:
        raise ValueError(f"min_good must be >= 1, got {min_good}")
    gaps_a, words_a = _slots(ops_a)
    gaps_b, words_b = _slots(ops_b)
    if len(words_a) != len(words_b):
        raise ValueError(f"alignments cover {len(words_a)} and {len(words_b)} reference tokens: {ops_a!r}, {ops_b!r}")
    segments: list[tuple[int, int]] = []
    err_a = err_b = good = 0
    inside = False
    for k in range(len(words_a) + 1):
        if gaps_a[k] or gaps_b[k]:  # insertions before reference token k (or at the end)
            err_a, err_b, good, inside = err_a + gaps_a[k], err_b + gaps_b[k], 0, True
        if k == len(words_a):
            break
        if words_a[k] or words_b[k]:
            err_a, err_b, good, inside = err_a + words_a[k], err_b + words_b[k], 0, True
        elif inside:
            good += 1
            if good == min_good:
                segments.append((err_a, err_b))
                err_a = err_b = good = 0
                inside = False
    if inside:
        segments.append((err_a, err_b))
    return segments


def _slots(ops: str) -> tuple[list[int], list[int]]:
    """Alignment -> insertions before each reference token and after the last (n + 1), and an
    error flag per reference token (n)."""
    gaps, words = [0], []
    for op in ops:
        if op == "I":
            gaps[-1] += 1
        else:
            words.append(int(op != "C"))
            gaps.append(0)
    return gaps, words


def _check_paired(a: ScoreResult, b: ScoreResult) -> None:
    ids_a = [u.id for u in a.utterances]
    ids_b = [u.id for u in b.utterances]
    if ids_a != ids_b:
        only_a, only_b = sorted(set(ids_a) - set(ids_b)), sorted(set(ids_b) - set(ids_a))
        raise DataError(f"the two systems were scored on different utterances (only in A: {only_a[:5]}, "
                        f"only in B: {only_b[:5]})" if only_a or only_b else
                        "the two systems list their utterances in different orders")
    for ua, ub in zip(a.utterances, b.utterances):
        if ua.ref != ub.ref:
            raise DataError(f"utterance {ua.id!r}: the two systems were scored against different references")
    if a.unit != b.unit:
        raise DataError(f"cannot compare {a.name} with {b.name}")

