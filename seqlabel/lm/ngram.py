"""Back-off n-gram language models over string tokens (characters, phones or words).

A model of order N holds, for n = 1..N, n-grams ``(h1, ..., h_{n-1}, w)`` with a probability and
(for n < N) a back-off weight, as in an ARPA file. Scoring backs off the usual way::

    p(w | h) = p*(h w)                 if the n-gram h w is in the model
             = bo(h) * p(w | h[1:])    otherwise (bo(h) = 1 when h is not in the model)

Sentences are scored between ``<s>`` and ``</s>``; ``<s>`` is context only, never predicted.
Training (:meth:`NgramLM.train`) uses interpolated modified Kneser-Ney (Chen & Goodman 1999, with
KenLM's treatment of n-grams that start with ``<s>``) or interpolated Witten-Bell. Both interpolate
the unigrams with a uniform distribution over the vocabulary (seen tokens, ``</s>`` and ``<unk>``),
so ``<unk>`` always has a probability. Interpolated models are stored exactly as back-off models:
the back-off weight of a context is its interpolation weight.

All scores returned by the API are natural logs; ARPA files hold log10.

Unknown tokens (not a unigram of the model) are scored as ``<unk>`` when the model has it (``<UNK>``
is accepted too, as in CMU's files); otherwise they get a fixed floor, ``oov_log10`` = -100 by
default (KenLM's convention), and the context after them is empty.
"""
from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from seqlabel.errors import ConfigError, DataError
from seqlabel.lm import arpa
from seqlabel.lm.arpa import LN10

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
_UNK_SPELLINGS = ("<unk>", "<UNK>")
#: log10 written for the probability of ``<s>`` (never predicted), as SRILM and KenLM do.
BOS_LOG10 = -99.0
#: KenLM's fallback modified Kneser-Ney discounts (D1, D2, D3+) when the count-of-counts cannot
#: give valid ones (tiny corpora).
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
SMOOTHINGS = ("kneser_ney", "witten_bell")
# The cache of score() results is cleared when it grows past this many (state, token) entries.
_CACHE_LIMIT = 4_000_000

State = tuple  # a context: tuple of tokens, at most order-1 long


def modified_kn_discounts(n1: int, n2: int, n3: int, n4: int) -> tuple[float, float, float] | None:
    """Chen & Goodman's estimates of D1, D2, D3+ from the numbers of n-grams seen once..four times.

    ``Y = n1 / (n1 + 2 n2)``, ``D1 = 1 - 2Y n2/n1``, ``D2 = 2 - 3Y n3/n2``, ``D3+ = 3 - 4Y n4/n3``.
    Returns None when a count is zero or a discount falls outside ``(0, k]``.
    """
    if min(n1, n2, n3, n4) <= 0:
        return None
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if not all(0 < dk <= k for k, dk in enumerate(d, 1)):
        return None
    return d


@dataclass(frozen=True)
class TrainingText:
    """What :meth:`NgramLM.train` saw: the sentences (how many, how many distinct) and, per order
    where modified Kneser-Ney discounts could not be estimated (so :data:`FALLBACK_DISCOUNTS` were
    used), its count-of-counts (n1, n2, n3, n4): raw counts at the highest order, Kneser-Ney counts
    (distinct tokens seen before the n-gram) below it. See ``seqlabel.lm.corpus.discount_note``."""

    sentences: int
    distinct: int
    fallbacks: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)


class NgramLM:
    """A back-off n-gram LM. Build it with :meth:`train` or :meth:`read_arpa`.

    Decoder API (natural logs; states are hashable tuples of tokens)::

        state = lm.begin()                      # context after <s>
        lp, state = lm.score(state, token)      # log p(token | state), next state
        lp_end = lm.end_score(state)            # log p(</s> | state)

    A state is the context truncated to ``order - 1`` tokens and reduced to its longest suffix that
    can still matter (a proper prefix of some n-gram, or an n-gram with a non-zero back-off weight),
    so equal states score every continuation identically. ``score`` caches its results: after the
    first call for a (state, token) pair it is one dict lookup.
    """

    def __init__(self, order: int, logprobs: dict[tuple[str, ...], float],
                 backoffs: dict[tuple[str, ...], float] | None = None, *, oov_log10: float = -100.0,
                 discounts: dict[int, tuple[float, float, float]] | None = None) -> None:
        """``logprobs``/``backoffs``: n-gram tuple -> natural-log probability / back-off weight."""
        if not isinstance(order, int) or order < 1:
            raise ConfigError(f"order must be an integer >= 1, got {order!r}")
        self.order = order
        self._prob = dict(logprobs)
        self._bo = {k: v for k, v in (backoffs or {}).items() if v != 0.0}
        self.oov_log10 = float(oov_log10)
        self.discounts = dict(discounts or {})
        self.training: TrainingText | None = None  # set by train(); None for a model read from ARPA
        self.vocab: frozenset[str] = frozenset(g[0] for g in self._prob if len(g) == 1)
        self.unk: str | None = next((u for u in _UNK_SPELLINGS if u in self.vocab), None)
        contexts: set[tuple[str, ...]] = {()}
        for g in self._prob:
            for k in range(1, min(len(g), order)):
                contexts.add(g[:k])
        contexts.update(h for h in self._bo if len(h) < order)
        self._contexts = frozenset(contexts)
        self._cache: dict[State, dict[str, tuple[float, State]]] = {}  # state -> token -> result
        self._cache_size = 0
        self._complete: set[State] = set()  # states whose cache row holds the whole vocabulary

    # ------------------------------------------------------------------ construction: training
    @classmethod
    def train(cls, sentences: Iterable[Sequence[str]], order: int, smoothing: str = "kneser_ney",
              discount: float | Sequence[float] | None = None, vocabulary: Iterable[str] = ()) -> "NgramLM":
        """Estimate an interpolated model from token sequences (without ``<s>``/``</s>``).

        ``smoothing``: ``"kneser_ney"`` (modified KN) or ``"witten_bell"``. ``discount`` (KN only):
        None estimates D1, D2, D3+ per order from the count-of-counts, falling back to
        :data:`FALLBACK_DISCOUNTS` where that fails (recorded in ``lm.training.fallbacks``; no
        warning); a float uses one discount for every count (plain interpolated KN); a triple gives
        (D1, D2, D3+) for every order. The discounts used are in ``lm.discounts`` (order -> triple). ``vocabulary``: tokens that get a unigram
        even when the text lacks them (the uniform share, as ``<unk>``), e.g. a model's.
        """
        if not isinstance(order, int) or isinstance(order, bool) or order < 1:
            raise ConfigError(f"order must be an integer >= 1, got {order!r}")
        if smoothing not in SMOOTHINGS:
            raise ConfigError(f"smoothing must be one of {SMOOTHINGS}, got {smoothing!r}")
        fixed = _check_discount(discount, smoothing)
        raw, seen = _count(sentences, order)
        fallbacks: dict[int, tuple[int, int, int, int]] = {}
        vocab = {g[0] for g in raw[1]} | {EOS, UNK} | set(vocabulary)
        if smoothing == "kneser_ney":
            counts = _kn_adjusted_counts(raw, order)
        else:
            counts = raw
        logprobs: dict[tuple[str, ...], float] = {}
        backoffs: dict[tuple[str, ...], float] = {}
        discounts: dict[int, tuple[float, float, float]] = {}
        lower: dict[tuple[str, ...], float] = {}  # probabilities (not logs) of order n-1
        for n in range(1, order + 1):
            by_context: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
            for g, c in counts[n].items():
                by_context[g[:-1]].append((g[-1], c))
            if smoothing == "kneser_ney":
                d = fixed
                if d is None:
                    coc = Counter(c for c in counts[n].values() if c <= 4)
                    d = modified_kn_discounts(coc[1], coc[2], coc[3], coc[4])
                    if d is None:
                        fallbacks[n] = (coc[1], coc[2], coc[3], coc[4])
                        d = FALLBACK_DISCOUNTS
                discounts[n] = d
            probs: dict[tuple[str, ...], float] = {}
            for h, items in by_context.items():
                total = sum(c for _, c in items)
                if smoothing == "kneser_ney":
                    kept = [(w, c - d[min(c, 3) - 1]) for w, c in items]
                    gamma = sum(d[min(c, 3) - 1] for _, c in items) / total
                else:  # Witten-Bell: the mass of "a new type follows h"
                    kept = [(w, float(c)) for w, c in items]
                    total += len(items)
                    gamma = len(items) / total
                for w, c in kept:
                    below = 1.0 / len(vocab) if n == 1 else lower[h[1:] + (w,)]
                    probs[h + (w,)] = c / total + gamma * below
                if n == 1:
                    for w in vocab - {w for w, _ in items}:  # e.g. <unk>: the uniform share only
                        probs[(w,)] = gamma / len(vocab)
                elif gamma > 0:
                    backoffs[h] = math.log(gamma)
            if n == 1 and not by_context:  # no text at all: uniform
                probs = {(w,): 1.0 / len(vocab) for w in vocab}
            logprobs.update((g, math.log(p)) for g, p in probs.items())
            lower = probs
        logprobs[(BOS,)] = BOS_LOG10 * LN10
        lm = cls(order, logprobs, backoffs, discounts=discounts)
        lm.training = TrainingText(sum(seen.values()), len(seen), fallbacks)
        return lm

    # ------------------------------------------------------------------ ARPA files
    @classmethod
    def read_arpa(cls, path: str | os.PathLike, oov_log10: float = -100.0) -> "NgramLM":
        """Read an ARPA file (``.gz`` too). Errors (DataError) name the file and line."""
        order, logprobs, backoffs = arpa.read_arpa(path)
        return cls(order, logprobs, backoffs, oov_log10=oov_log10)

    def write_arpa(self, path: str | os.PathLike) -> Path:
        """Write the model as an ARPA file (``.gz`` compresses), log10 with 7 decimals."""
        return arpa.write_arpa(path, self.order, self._prob, self._bo, self._contexts)

    # ------------------------------------------------------------------ scoring
    def begin(self) -> State:
        """The state after ``<s>``."""
        return self._reduce((BOS,))

    def score(self, state: State, token: str) -> tuple[float, State]:
        """(natural-log probability of ``token`` after ``state``, next state). Cached."""
        try:
            return self._cache[state][token]
        except KeyError:
            return self._score_miss(state, token)

    def end_score(self, state: State) -> float:
        """Natural-log probability of ``</s>`` after ``state``."""
        try:
            return self._cache[state][EOS][0]
        except KeyError:
            return self._score_miss(state, EOS)[0]

    def successors(self, state: State) -> dict[str, tuple[float, State]]:
        """token -> (natural-log probability, next state) for every vocabulary token but ``<s>``.

        Built once per state and cached; a fast path for small vocabularies (characters, phones):
        look tokens up in the returned dict (do not modify it) and call :meth:`score` for tokens
        missing from it (unknown to the model). Costs time and memory proportional to the
        vocabulary size per distinct state, so avoid it for large word vocabularies.
        """
        if state not in self._complete:
            for token in self.vocab:
                if token != BOS:
                    self.score(state, token)
            self._complete.add(state)
        return self._cache[state]

    def _score_miss(self, state: State, token: str) -> tuple[float, State]:
        if not isinstance(state, tuple):
            raise TypeError(f"state must be a tuple from begin()/score(), got {type(state).__name__}")
        context = state[max(0, len(state) - self.order + 1):]
        word = token
        if token not in self.vocab:
            if self.unk is None:
                result = (self.oov_log10 * LN10, ())
                self._store(state, token, result)
                return result
            word = self.unk
        result = (self._logprob(context, word), self._reduce(context + (word,)))
        self._store(state, token, result)
        return result

    def _store(self, state: State, token: str, result: tuple[float, State]) -> None:
        if self._cache_size >= _CACHE_LIMIT:
            self.clear_cache()
        row = self._cache.get(state)
        if row is None:
            row = self._cache[state] = {}
        row[token] = result
        self._cache_size += 1

    def _logprob(self, context: tuple[str, ...], word: str) -> float:
        """Back-off lookup of log p(word | context); ``word`` must be in the vocabulary."""
        bo = 0.0
        for k in range(len(context) + 1):
            h = context[k:]
            lp = self._prob.get(h + (word,))
            if lp is not None:
                return bo + lp
            bo += self._bo.get(h, 0.0)
        raise AssertionError(f"unigram {word!r} missing")  # unreachable: word is in the vocabulary

    def _reduce(self, context: tuple[str, ...]) -> State:
        """Truncate to order-1 tokens, then drop leading tokens that cannot affect any score."""
        if self.order == 1:
            return ()
        context = context[max(0, len(context) - self.order + 1):]
        for k in range(len(context) + 1):
            if context[k:] in self._contexts:
                return context[k:]
        return ()

    def logprob(self, context: Sequence[str], token: str) -> float:
        """Natural-log p(token | context) for any token sequence as context (no ``<s>`` added)."""
        context = tuple(context)
        state = context[max(0, len(context) - self.order + 1):]
        return self.score(state, token)[0]

    def backoff(self, context: Sequence[str]) -> float:
        """Natural-log back-off weight of ``context`` (0.0 when it has none)."""
        return self._bo.get(tuple(context), 0.0)

    def sentence_logprob(self, tokens: Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """Natural-log probability of a token sequence, by default between ``<s>`` and ``</s>``."""
        state = self.begin() if bos else ()
        total = 0.0
        for token in tokens:
            lp, state = self.score(state, token)
            total += lp
        if eos:
            total += self.end_score(state)
        return total

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """exp(-mean log-prob per predicted token), counting one ``</s>`` per sentence.

        Unknown tokens are scored like any other (as ``<unk>`` or the floor), not skipped.
        """
        total, count = 0.0, 0
        for tokens in sentences:
            total += self.sentence_logprob(tokens)
            count += len(tokens) + 1
        if count == 0:
            raise DataError("perplexity of no sentences")
        return math.exp(-total / count)

    # ------------------------------------------------------------------ inspection
    def ngrams(self, n: int) -> list[tuple[str, ...]]:
        """The model's n-grams of order ``n``, sorted."""
        return sorted(g for g in self._prob if len(g) == n)

    @property
    def counts(self) -> dict[int, int]:
        """Number of n-grams per order (as in the ARPA header)."""
        c = Counter(len(g) for g in self._prob)
        return {n: c[n] for n in range(1, self.order + 1)}

    def clear_cache(self) -> None:
        """Forget cached scores (rows handed out by :meth:`successors` stay valid)."""
        self._cache = {}
        self._cache_size = 0
        self._complete = set()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_cache={}, _cache_size=0, _complete=set())
        return state

    def __repr__(self) -> str:
        counts = ", ".join(f"{n}-grams={c}" for n, c in self.counts.items())
        return f"NgramLM(order={self.order}, {counts})"


# ---------------------------------------------------------------------- training helpers
def _check_discount(discount, smoothing: str) -> tuple[float, float, float] | None:
    if discount is None:
        return None
    if smoothing != "kneser_ney":
        raise ConfigError(f"discount applies to kneser_ney only, not {smoothing!r} (got discount={discount!r})")
    if isinstance(discount, (int, float)) and not isinstance(discount, bool):
        d = (float(discount),) * 3
    else:
        d = tuple(float(x) for x in discount)
        if len(d) != 3:
            raise ConfigError(f"discount must be a number or (D1, D2, D3+), got {discount!r}")
    if not all(0 < dk <= k for k, dk in enumerate(d, 1)):
        raise ConfigError(f"discounts must satisfy 0 < D1 <= 1, 0 < D2 <= 2, 0 < D3+ <= 3, got {d}")
    return d


def _count(sentences: Iterable[Sequence[str]], order: int) -> tuple[dict[int, Counter], Counter]:
    """Raw counts of every n-gram (n <= order) ending at a predicted position of ``<s> s </s>``, and
    how often each distinct sentence (by hash) occurs."""
    raw = {n: Counter() for n in range(1, order + 1)}
    seen: Counter[int] = Counter()
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, str):
            raise ConfigError(f"sentence {i} is a string {sentence[:40]!r}: pass token sequences "
                              "(use train_lm() to tokenise text)")
        toks = [BOS]
        for tok in sentence:
            if not isinstance(tok, str) or not tok or any(ch.isspace() for ch in tok):
                raise DataError(f"sentence {i}: bad token {tok!r} (tokens are non-empty strings without whitespace)")
            if tok in (BOS, EOS):
                raise DataError(f"sentence {i}: {tok!r} is added by the model and must not appear in the text")
            toks.append(UNK if tok in _UNK_SPELLINGS else tok)
        toks.append(EOS)
        seen[hash(tuple(toks))] += 1
        for j in range(1, len(toks)):
            for n in range(1, min(order, j + 1) + 1):
                raw[n][tuple(toks[j - n + 1:j + 1])] += 1
    return raw, seen


def _kn_adjusted_counts(raw: dict[int, Counter], order: int) -> dict[int, Counter]:
    """Kneser-Ney counts: raw counts for the highest order and for n-grams starting with ``<s>``;
    otherwise the number of distinct tokens seen before the n-gram."""
    adjusted = {order: raw[order]}
    for n in range(order - 1, 0, -1):
        left = Counter(g[1:] for g in raw[n + 1])
        adjusted[n] = Counter({g: (c if g[0] == BOS else left[g]) for g, c in raw[n].items()})
    return adjusted
