"""CTC prefix beam search with shallow fusion of an n-gram LM and lexicon constraints.

Shape legend: B utterances, T output frames, C classes (blank = 0), H live hypotheses (of all
utterances together), E candidate (hypothesis, token) pairs of one step.

The search decodes a batch of utterances in lockstep. All live hypotheses sit in two flat tables
(floats: log p(prefix, ending in blank) ``p_b``, log p(prefix, ending in a token) ``p_nb``, LM
log-prob, token/word count; ints: utterance, last token, prefix hash, parent's hash, LM state,
lexicon node), grouped by utterance. A step is a fixed number of numpy calls over those tables and
the flat list of (hypothesis, token) extensions, whatever the batch size; no Python runs per
hypothesis or token. Step i handles, for every utterance, the i-th frame where some token passes
the pruning; the frames in between extend no prefix and are applied in closed form
(``_advance``). Prefixes are identified by 64-bit hashes of their token sequence, so an
extension equal to a prefix already in the beam is merged into it (log-sum-exp): with a wide
enough beam the scores are the log-probabilities of the label sequences summed over every
alignment that the pruning allows (all of them without pruning).

Fusion (Graves et al. 2009 token passing; Hannun et al. 2014 prefix search):

    score = log P_ctc(prefix) + lm_weight * log P_lm(prefix) + insertion_bonus * |prefix|

``|prefix|`` counts tokens for a token LM (or no LM), and words for a word LM. A token LM
(characters or phones) scores every emitted token; a word LM scores a word when it closes
(the boundary token, the end of the utterance, or, with a pronunciation lexicon, the start of
the next word). With a lexicon every hypothesis follows a path in the prefix trie, so only
dictionary words can be produced. LM scores and trie moves are looked up in tables filled on
first use (``TokenLMTable``, ``LexiconTable``, ``_ClosureCache``), kept across utterances.

LMs are used through ``begin() -> state``, ``score(state, token) -> (logprob, state)``,
``end_score(state) -> logprob`` (natural logs; ``successors(state)`` when present) and ``vocab``;
lexicons through ``root``, ``node.child(token)``, ``node.words``, ``node.is_word_end`` and ``tokens``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
import torch

from seqlabel.errors import VocabError
from seqlabel.lm.lexicon import Lexicon, TrieNode

NEG_INF = -np.inf
NORMALISATION_TOLERANCE = 0.05  # |logsumexp over classes| per frame; bf16 softmax stays well inside


@dataclass(frozen=True)
class BeamResult:
    """One hypothesis of the search, over class ids (blank never appears)."""

    ids: tuple[int, ...]
    score: float  # the fused score used for ranking (CTC + weighted LM + bonus)
    acoustic_score: float  # log P_ctc of the label sequence (summed over the alignments kept)
    lm_score: Optional[float] = None  # unweighted LM log-probability, end of sentence included (None: no LM)
    words: Optional[tuple[str, ...]] = None  # the words, when a lexicon chose them


def check_log_probs(log_probs: Any, lengths: Any = None, what: str = "log_probs") -> tuple[np.ndarray, np.ndarray]:
    """(B, T, C) log-probs (tensor or array) and lengths (B,) -> float array (float32 stays float32,
    anything else becomes float64; no copy when none is needed), int64 lengths.

    Refuses other shapes, lengths out of range, NaN or infinite-positive frames, and frames
    that are not normalised (probabilities summing to something other than 1).
    """
    if isinstance(log_probs, torch.Tensor):
        t = log_probs.detach().cpu()
        log_probs = t.numpy() if t.dtype in (torch.float32, torch.float64) else t.to(torch.float64).numpy()
    arr = np.asarray(log_probs)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim != 3:
        raise ValueError(f"{what} must be 3D (B, T, C), got shape {tuple(arr.shape)}")
    B, T, C = arr.shape
    if C < 2:
        raise ValueError(f"{what} must have at least 2 classes (blank + one token), got C={C}")
    if lengths is None:
        lens = np.full(B, T, dtype=np.int64)
    else:
        lens = np.asarray(lengths.cpu() if isinstance(lengths, torch.Tensor) else lengths, dtype=np.int64).reshape(-1)
        if lens.shape != (B,):
            raise ValueError(f"lengths must be (B,) = ({B},), got shape {tuple(lens.shape)}")
        if (lens < 0).any() or (lens > T).any():
            raise ValueError(f"lengths must lie in [0, {T}], got {lens.tolist()}")
    valid = np.arange(T)[None, :] < lens[:, None]  # (B, T)
    frames = arr[valid] if not valid.all() else arr.reshape(B * T, C)  # (frames, C)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        sums = np.log(np.exp(frames).sum(axis=1))  # log-sum-exp of log-probs (|values| small)
    off = ~(np.abs(sums) <= NORMALISATION_TOLERANCE)  # NaN frames too
    if off.any():
        b, t = map(int, np.argwhere(valid)[np.flatnonzero(off)[0]])
        values = arr[b, t]
        if np.isnan(values).any() or np.isposinf(values).any():
            raise ValueError(f"{what}: utterance {b}, frame {t} holds NaN or +inf values: {values.tolist()[:8]}")
        raise ValueError(f"{what} are not normalised: utterance {b}, frame {t} has logsumexp {sums[np.flatnonzero(off)[0]]:.4g} "
                         "(expected 0); pass log_softmax outputs, not logits or probabilities")
    return arr, lens


_SPECIAL = ("<s>", "</s>", "<unk>", "<UNK>")


def check_vocabularies(tokens: Sequence[str], lm: Any = None, lm_unit: str = "token", lexicon: Any = None) -> None:
    """Refuse an LM or lexicon that does not fit the model's classes ``tokens`` (index 0 the blank).

    A token LM must know every token; a word LM must know some word made of the tokens (or of the
    lexicon); a lexicon may only spell words with the tokens.
    """
    known = set(tokens[1:])
    lexicon_tokens = getattr(lexicon, "tokens", None)
    if lexicon is not None and lexicon_tokens is not None:
        foreign = sorted(set(lexicon_tokens) - known)
        if foreign:
            words = [w for w in getattr(lexicon, "words", [])
                     if any(t in foreign for sp in lexicon.spellings(w) for t in sp)][:5]
            raise VocabError(f"the lexicon spells words with {len(foreign)} token(s) the model does not have: "
                             f"{foreign[:10]} (e.g. in {words}); the model's tokens are {sorted(known)[:40]}")
    vocab = getattr(lm, "vocab", None)
    if lm is None or vocab is None:
        return
    lm_words = set(vocab) - set(_SPECIAL)
    if lm_unit == "token":
        missing = sorted(known - set(vocab))
        if missing:
            raise VocabError(f"the token LM does not know {len(missing)} of the model's tokens: {missing[:10]} "
                             f"(its vocabulary: {sorted(lm_words)[:20]}); train it on the same units and case, "
                             "e.g. seqlabel lm train MANIFEST --unit char")
        return
    if lexicon is not None:
        usable = [w for w in getattr(lexicon, "words", []) if w in vocab]
        if not usable and getattr(lexicon, "words", None):
            raise VocabError(f"the word LM knows none of the lexicon's words (LM words e.g. {sorted(lm_words)[:5]}, "
                             f"lexicon words e.g. {lexicon.words[:5]}): check the case")
        return
    if lm_words and not any(all(ch in known for ch in w) for w in lm_words):
        raise VocabError(f"no word of the word LM can be spelled with the model's tokens (LM words e.g. "
                         f"{sorted(lm_words)[:5]}, model tokens {sorted(known)[:40]}): check the case")


class _Grow:
    """A growable int64 or float64 table: rows appended, doubled when full."""

    def __init__(self, width: int, dtype: type, fill: float) -> None:
        self.data = np.full((16, width), fill, dtype=dtype)
        self.fill = fill

    def ensure(self, rows: int) -> None:
        if rows > self.data.shape[0]:
            extra = np.full((max(rows, 2 * self.data.shape[0]) - self.data.shape[0], self.data.shape[1]),
                            self.fill, dtype=self.data.dtype)
            self.data = np.concatenate([self.data, extra])


class _LMStates:
    """LM states as small integer ids, with cached end-of-sentence scores."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm
        self._ids: dict[Any, int] = {}
        self._states: list[Any] = []
        self._end: dict[int, float] = {}

    def state_id(self, state: Any) -> int:
        i = self._ids.get(state)
        if i is None:
            i = self._ids[state] = len(self._states)
            self._states.append(state)
        return i

    def end(self, sids: np.ndarray) -> np.ndarray:
        """log p(</s> | state) for an array of state ids."""
        out = np.empty(sids.shape)
        for idx, s in np.ndenumerate(sids):
            v = self._end.get(int(s))
            if v is None:
                v = self._end[int(s)] = float(self.lm.end_score(self._states[int(s)]))
            out[idx] = v
        return out


class TokenLMTable(_LMStates):
    """A token LM seen as tables: state id -> log-probs of every class and the next state ids.

    States get small integer ids; a state's row (C LM calls) is filled on first use and kept,
    across utterances too, so the search looks LM scores up with array indexing.
    """

    def __init__(self, lm: Any, tokens: Sequence[str]) -> None:
        super().__init__(lm)
        self.tokens = list(tokens)
        C = len(self.tokens)
        self.logp = _Grow(C, np.float64, 0.0)
        self.next = _Grow(C, np.int64, -1)
        self.filled = np.zeros(16, dtype=bool)
        self.start = self.state_id(lm.begin())

    def state_id(self, state: Any) -> int:
        known = len(self._states)
        i = super().state_id(state)
        if i == known:  # a new state: grow the tables
            self.logp.ensure(i + 1)
            self.next.ensure(i + 1)
            if i >= self.filled.size:
                self.filled = np.concatenate([self.filled, np.zeros(self.filled.size, dtype=bool)])
        return i

    def ensure(self, sids: np.ndarray) -> None:
        missing = sids[~self.filled[sids]]
        successors = getattr(self.lm, "successors", None)  # NgramLM's whole-row fast path
        for s in np.unique(missing).tolist():
            state = self._states[s]
            row = successors(state) if successors is not None else {}
            for c in range(1, len(self.tokens)):
                hit = row.get(self.tokens[c])
                lp, nxt = hit if hit is not None else self.lm.score(state, self.tokens[c])
                self.logp.data[s, c] = lp
                self.next.data[s, c] = self.state_id(nxt)
            self.filled[s] = True


class WordLMTable(_LMStates):
    """A word LM with states as small integers and cached word scores."""

    def __init__(self, lm: Any) -> None:
        super().__init__(lm)
        self._cache: dict[tuple[int, str], tuple[float, int]] = {}
        self._best: dict[tuple[int, int], tuple[float, int, str]] = {}
        self.start = self.state_id(lm.begin())

    def score(self, sid: int, word: str) -> tuple[float, int]:
        key = (sid, word)
        hit = self._cache.get(key)
        if hit is None:
            lp, nxt = self.lm.score(self._states[sid], word)
            hit = self._cache[key] = (float(lp), self.state_id(nxt))
        return hit

    def best(self, sid: int, node_id: int, words: Sequence[str]) -> tuple[float, int, str]:
        """The most probable of a trie node's words (homophones) after state ``sid``."""
        key = (sid, node_id)
        hit = self._best.get(key)
        if hit is None:
            hit = max(((*self.score(sid, w), w) for w in words), key=lambda x: x[0])
            self._best[key] = hit
        return hit


def _vocabulary_lexicon(words: Iterable[str], tokens: Sequence[str], boundary: Optional[int]) -> Lexicon:
    """The words of a word LM spelled with the model's tokens (characters): what a search without
    lexicon uses to know which word it is spelling (others are ``<unk>``)."""
    word_boundary = tokens[boundary] if boundary is not None else "|"
    known = set(tokens[1:]) - {word_boundary}
    spellable = sorted(w for w in words if w and w not in _SPECIAL and all(ch in known for ch in w))
    return Lexicon.from_words(spellable, "char", word_boundary)


class LexiconTable:
    """A trie seen as a table: node id x class -> child node id.

    Constrained (a lexicon): a missing child is -1 (not allowed); with a word-boundary class
    (character units) the boundary leads from a word-end node back to the root (node 0); without
    one (pronunciation lexicons over phones) words end implicitly. Open (``open_vocabulary``, the
    words of a word LM): a missing child is the sink node 1 (an unknown word), and the boundary
    leads back to the root from anywhere.
    """

    def __init__(self, lexicon: Any, tokens: Sequence[str], boundary: Optional[int],
                 open_vocabulary: bool = False) -> None:
        self.tokens = list(tokens)
        self.boundary = boundary
        self.open = open_vocabulary
        self._nodes: list[Any] = []
        self._ids: dict[int, int] = {}
        self.child = _Grow(len(self.tokens), np.int64, -1)
        self.filled = np.zeros(16, dtype=bool)
        self.is_end = np.zeros(16, dtype=bool)
        self.root = self.node_id(lexicon.root)
        self.sink = self.node_id(TrieNode()) if open_vocabulary else -1

    def node_id(self, node: Any) -> int:
        i = self._ids.get(id(node))
        if i is None:
            i = self._ids[id(node)] = len(self._nodes)
            self._nodes.append(node)
            self.child.ensure(i + 1)
            if i >= self.filled.size:
                self.filled = np.concatenate([self.filled, np.zeros(self.filled.size, dtype=bool)])
                self.is_end = np.concatenate([self.is_end, np.zeros(self.is_end.size, dtype=bool)])
            self.is_end[i] = bool(node.is_word_end)
        return i

    def ensure(self, nids: np.ndarray) -> None:
        missing = nids[~self.filled[nids]]
        if not missing.size:
            return
        missing_child = self.sink if self.open else -1
        for n in np.unique(missing).tolist():
            node = self._nodes[n]
            for c in range(1, len(self.tokens)):
                if c == self.boundary:
                    self.child.data[n, c] = self.root if (self.open or self.is_end[n]) else -1
                    continue
                nxt = node.child(self.tokens[c])
                self.child.data[n, c] = missing_child if nxt is None else self.node_id(nxt)
            self.filled[n] = True

    def words(self, nid: int) -> list[str]:
        return list(self._nodes[nid].words)


class _ClosureCache:
    """(LM state id, trie node id) -> what closing the word spelled so far gives: LM log-prob,
    next LM state, whether a word closes, the word (index into ``words``). Looked up for arrays
    of pairs at once (sorted keys, ``searchsorted``); misses are computed in Python once."""

    def __init__(self, compute: Callable[[int, int], tuple[float, int, bool, Optional[str]]]) -> None:
        self.compute = compute
        self.keys = np.empty(0, dtype=np.int64)
        self.lp = np.empty(0)
        self.sid = np.empty(0, dtype=np.int64)
        self.ok = np.empty(0, dtype=bool)
        self.word = np.empty(0, dtype=np.int64)
        self.words: list[str] = []
        self._word_ids: dict[str, int] = {}

    def lookup(self, sids: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        keys = (sids.astype(np.int64) << 32) | nodes.astype(np.int64)
        idx = np.searchsorted(self.keys, keys)
        hit = self.keys[np.minimum(idx, self.keys.size - 1)] == keys if self.keys.size else np.zeros(keys.shape, bool)
        if not hit.all():
            self._add(np.unique(keys[~hit]))
            idx = np.searchsorted(self.keys, keys)
        return self.lp[idx], self.sid[idx], self.ok[idx], self.word[idx]

    def _add(self, keys: np.ndarray) -> None:
        lp, sid, ok, word = [], [], [], []
        for key in keys.tolist():
            a, b, c, w = self.compute(key >> 32, key & 0xFFFFFFFF)
            lp.append(a)
            sid.append(b)
            ok.append(c)
            if w is not None and w not in self._word_ids:
                self._word_ids[w] = len(self.words)
                self.words.append(w)
            word.append(-1 if w is None else self._word_ids[w])
        all_keys = np.concatenate([self.keys, keys])
        order = np.argsort(all_keys, kind="stable")
        self.keys = all_keys[order]
        self.lp = np.concatenate([self.lp, lp])[order]
        self.sid = np.concatenate([self.sid, np.asarray(sid, dtype=np.int64)])[order]
        self.ok = np.concatenate([self.ok, np.asarray(ok, dtype=bool)])[order]
        self.word = np.concatenate([self.word, np.asarray(word, dtype=np.int64)])[order]


# prefix identity: 64-bit hashes of (parent hash, token, segmentation variant), kept as int64
_ROOT_HASH = np.int64(0x5BD1E9955BD1E995)  # odd; every extended hash is odd too
_NO_PARENT = np.int64(2)  # the parent "hash" of the empty prefix: matches nothing
_SALT = np.int64(0x2545F4914F6CDD1D)  # mixes the utterance into hashes compared across a batch
_M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9)
_S29, _ONE = np.uint64(29), np.uint64(1)

# columns of the hypothesis tables
_F_PB, _F_PNB, _F_LMS, _F_CNT = range(4)  # log p(ending in blank), log p(ending in a token), LM log-prob, count
_I_ROW, _I_LAST, _I_HASH, _I_PHASH, _I_PVAR, _I_LSID, _I_NODE = range(7)  # utterance, last token, ...


def _extend_hash(h: np.ndarray, token: np.ndarray, variant: Optional[np.ndarray]) -> np.ndarray:
    """int64 hashes of prefixes extended by a token (multiply-xorshift; uint64 arithmetic wraps)."""
    x = token * 2 + 1 if variant is None else token * 2 + 1 + variant
    x = h.view(np.uint64) * _M1 + x.view(np.uint64) * _M2
    x ^= x >> _S29
    return (x | _ONE).view(np.int64)


_FLOOR = -1e4  # log-probs below this are taken as this (exp underflows long before)


def _advance(lp: np.ndarray, rid: np.ndarray, F: np.ndarray, I: np.ndarray, start: np.ndarray,
             stop: np.ndarray) -> None:
    """Apply frames start..stop-1 (per hypothesis) that extend no prefix, in place on F's p_b, p_nb.
    ``rid`` maps the tables' utterance numbers to rows of lp (*, T, C).

    Frame by frame: p_nb += log p(last token); p_b = logaddexp(p_b, p_nb) + log p(blank). Over R
    frames, in closed form: p_nb gains the sum of its token's log-probs; p_b keeps its blanks or
    leaves p_nb at some frame s (token up to s-1, blank at s, blank after), all s summed.
    """
    R = stop - start  # (H,)
    nz = np.flatnonzero(R > 0)
    if not nz.size:
        return
    Rn = R[nz]
    last = I[nz, _I_LAST]
    pb, pnb = F[nz, _F_PB], F[nz, _F_PNB]
    if Rn.max() == 1:  # one frame each: the frame-by-frame rule
        row, frame = rid[I[nz, _I_ROW]], start[nz]
        F[nz, _F_PB] = np.logaddexp(pb, pnb) + lp[row, frame, 0]
        F[nz, _F_PNB] = pnb + np.where(last >= 0, lp[row, frame, last], NEG_INF)
        return
    seg_start = np.cumsum(Rn) - Rn  # (h,) where each hypothesis's frames begin in the flat arrays
    seg_end = seg_start + Rn - 1
    seg = np.repeat(np.arange(nz.size), Rn)  # (S,) the hypothesis of each flat frame
    frame = np.repeat(start[nz] - seg_start, Rn) + np.arange(seg.size)
    row = rid[I[nz, _I_ROW]][seg]
    tok_lp = np.where(last[seg] >= 0, np.maximum(lp[row, frame, np.maximum(last[seg], 0)], _FLOOR), 0.0)  # (S,)
    blank_lp = np.maximum(lp[row, frame, 0], _FLOOR)
    cx = np.cumsum(tok_lp, dtype=np.float64)
    cb = np.cumsum(blank_lp, dtype=np.float64)
    x0 = cx[seg_start] - tok_lp[seg_start]  # (h,) sums before each segment
    b0 = cb[seg_start] - blank_lp[seg_start]
    sum_x = cx[seg_end] - x0
    sum_b = cb[seg_end] - b0
    leave = (cx - tok_lp - x0[seg]) + blank_lp + (cb[seg_end][seg] - cb)  # (S,) token before s, blank at s, blank after
    F[nz, _F_PB] = np.logaddexp(pb + sum_b, pnb + np.logaddexp.reduceat(leave, seg_start))
    F[nz, _F_PNB] = pnb + sum_x  # the empty prefix's p_nb stays -inf


class CTCPrefixBeamSearch:
    """CTC prefix beam search over log-probs; see the module docstring.

    Pruning only restricts where a token may start: at a frame, the tokens with log-prob
    >= ``token_min_logp`` (None: all), the ``token_topk`` best of them (0: no limit; ties kept),
    none if the blank's probability is >= ``blank_threshold``. Each utterance keeps at most
    ``beam`` hypotheses, none more than ``beam_threshold`` below its best. ``tokens`` are the
    class names (index 0 the blank) that the LM and lexicon see; ``word_boundary`` the token
    that separates words (None or absent from ``tokens``: words end implicitly, lexicon only).
    ``batch`` decodes utterances in lockstep, ``batch_size`` at a time (similar numbers of active
    frames together); ``__call__`` decodes one.
    """

    def __init__(self, tokens: Sequence[str], beam: int = 16, nbest: int = 1, token_topk: int = 0,
                 token_min_logp: Optional[float] = None, blank_threshold: Optional[float] = None,
                 beam_threshold: Optional[float] = None, lm: Any = None, lm_unit: str = "token",
                 lm_weight: float = 0.0, insertion_bonus: float = 0.0, lexicon: Any = None,
                 word_boundary: Optional[str] = "|", batch_size: int = 256) -> None:
        if beam < 1:
            raise ValueError(f"beam must be >= 1, got {beam}")
        if nbest < 1:
            raise ValueError(f"nbest must be >= 1, got {nbest}")
        if token_topk < 0:
            raise ValueError(f"token_topk must be >= 0 (0: no limit), got {token_topk}")
        if blank_threshold is not None and not 0.0 < blank_threshold <= 1.0:
            raise ValueError(f"blank_threshold must be in (0, 1], got {blank_threshold}")
        if beam_threshold is not None and not beam_threshold > 0:
            raise ValueError(f"beam_threshold must be > 0, got {beam_threshold}")
        if lm_unit not in ("token", "word"):
            raise ValueError(f"lm_unit must be 'token' or 'word', got {lm_unit!r}")
        if not math.isfinite(lm_weight) or not math.isfinite(insertion_bonus):
            raise ValueError(f"lm_weight and insertion_bonus must be finite, got {lm_weight}, {insertion_bonus}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.tokens = list(tokens)
        if len(self.tokens) < 2:
            raise ValueError(f"tokens must name the blank and at least one token, got {self.tokens}")
        check_vocabularies(self.tokens, lm, lm_unit, lexicon)
        self.beam, self.nbest, self.token_topk, self.batch_size = beam, nbest, token_topk, batch_size
        self.token_min_logp, self.beam_threshold = token_min_logp, beam_threshold
        self.log_blank_threshold = None if blank_threshold is None else math.log(blank_threshold)
        self.lm_weight, self.insertion_bonus = float(lm_weight), float(insertion_bonus)
        self.boundary = self.tokens.index(word_boundary) if word_boundary in self.tokens[1:] else None
        self.lm_unit = lm_unit
        self._lm, self._lexicon = lm, lexicon
        if lm is not None and lm_unit == "word" and lexicon is None and self.boundary is None:
            raise ValueError("a word LM needs word boundaries: a word-boundary token in the vocabulary "
                             f"({word_boundary!r} is not one of its tokens) or a lexicon")
        self._setup()

    def _setup(self) -> None:
        """Tables for the LM and the lexicon (or the word LM's vocabulary) as the weight asks."""
        lm, lexicon = self._lm, self._lexicon
        use_lm = lm is not None and self.lm_weight != 0.0
        self._token_lm = TokenLMTable(lm, self.tokens) if use_lm and self.lm_unit == "token" else None
        self._word_lm = WordLMTable(lm) if use_lm and self.lm_unit == "word" else None
        self._lex = LexiconTable(lexicon, self.tokens, self.boundary) if lexicon is not None else None
        self._trie = self._lex
        if self._word_lm is not None and self._lex is None:
            words = getattr(lm, "vocab", None) or ()
            self._trie = LexiconTable(_vocabulary_lexicon(words, self.tokens, self.boundary), self.tokens, self.boundary,
                                      open_vocabulary=True)
        self._closer = _ClosureCache(self._close) if self._trie is not None else None
        self._implicit = self._lex is not None and self.boundary is None  # words end without a token

    def replace(self, **changes: Any) -> "CTCPrefixBeamSearch":
        """A copy with other settings, sharing the LM and lexicon tables (and their caches)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for key, value in changes.items():
            if key == "blank_threshold":
                new.log_blank_threshold = None if value is None else math.log(value)
            elif key in ("lm_weight", "insertion_bonus"):
                setattr(new, key, float(value))
            elif key in ("beam", "nbest", "token_topk", "token_min_logp", "beam_threshold", "batch_size"):
                setattr(new, key, value)
            else:
                raise ValueError(f"cannot replace {key!r} (build a new search instead)")
        if (new.lm_weight != 0.0) != (self.lm_weight != 0.0):
            new._setup()
        return new

    # ------------------------------------------------------------------------------------------
    def batch(self, log_probs: Any, lengths: Any = None) -> list[list[BeamResult]]:
        """log_probs (B, T, C), lengths (B,) -> the n-best list of each utterance, best first."""
        arr, lens = check_log_probs(log_probs, lengths)
        self._check_classes(arr.shape[2])
        B, T, _ = arr.shape
        passing = self._passing(arr)  # (B, T, C-1)
        events = passing.any(axis=2) & (np.arange(T)[None, :] < lens[:, None])  # (B, T) frames that extend
        nev = events.sum(axis=1)
        order = np.argsort(-nev, kind="stable")  # the busiest first: the others drop off the end
        results: list[Optional[list[BeamResult]]] = [None] * B
        for start in range(0, B, self.batch_size):
            idx = order[start:start + self.batch_size]
            found = self._search(arr, idx, lens[idx], passing, events[idx])
            for i, res in zip(idx.tolist(), found):
                results[i] = res
        return results  # type: ignore[return-value]

    def __call__(self, log_probs: Any) -> list[BeamResult]:
        """log_probs (T, C) of one utterance -> its n-best list, best first."""
        if isinstance(log_probs, torch.Tensor):
            log_probs = log_probs.detach().cpu().to(torch.float64).numpy()
        arr = np.asarray(log_probs, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"log_probs of one utterance must be 2D (T, C), got shape {tuple(arr.shape)}")
        return self.batch(arr[None])[0]

    def _check_classes(self, C: int) -> None:
        if C != len(self.tokens):
            raise ValueError(f"log_probs have {C} classes but the decoder's vocabulary has {len(self.tokens)} "
                             "(blank included)")

    def _passing(self, lp: np.ndarray) -> np.ndarray:
        """Tokens worth extending with: log-probs (..., C) -> mask (..., C-1) over tokens 1..C-1."""
        toks = lp[..., 1:]
        ok = np.ones(toks.shape, dtype=bool) if self.token_min_logp is None else toks >= self.token_min_logp
        if self.log_blank_threshold is not None:
            ok &= lp[..., :1] < self.log_blank_threshold
        k = self.token_topk
        if k and k < toks.shape[-1]:
            ok &= toks >= -np.partition(-toks, k - 1, axis=-1)[..., k - 1:k]  # the k best (ties kept)
        return ok

    def _close(self, sid: int, nid: int) -> tuple[float, int, bool, Optional[str]]:
        """Closing the word at trie node ``nid`` after LM state ``sid``: (LM log-prob, next state,
        whether a word closes, the word)."""
        trie, wlm = self._trie, self._word_lm
        if self._lex is not None:
            if not trie.is_end[nid]:
                return 0.0, sid, False, None
            words = trie.words(nid)
            if wlm is not None:
                lp, nxt, word = wlm.best(sid, nid, words)
                return lp, nxt, True, word
            return 0.0, sid, True, words[0]
        if nid == trie.root:  # an empty word (a boundary after a boundary): nothing to score
            return 0.0, sid, False, None
        word = trie.words(nid)[0] if trie.is_end[nid] else "<unk>"
        lp, nxt = wlm.score(sid, word)
        return lp, nxt, True, word

    # ------------------------------------------------------------------------------------------
    def _search(self, lp: np.ndarray, rid: np.ndarray, lens: np.ndarray, passing: np.ndarray,
                events: np.ndarray) -> list[list[BeamResult]]:
        """Decode utterances ``rid`` (B,) of lp (*, T, C) and passing tokens (*, T, C-1), given their
        lengths (B,) and frames where some token passes (B, T), sorted by their number of such
        frames, most first -> n-best lists.

        All hypotheses of all utterances live in two flat tables, F (H, 4) floats and I (H, 7) ints
        (columns ``_F_*``, ``_I_*``), grouped by utterance (ascending; finished utterances drop
        off the end); candidates are flat (hypothesis, token) pairs (E,). Step i processes the i-th
        frame of each utterance where some token passes; the frames in between only extend no
        prefix, and ``_advance`` applies them in closed form. A step costs the same few numpy calls
        whatever the batch, and only live hypotheses and passing tokens take space.
        """
        B, T = events.shape
        C = lp.shape[2]
        K = self.beam
        w, bonus = self.lm_weight, self.insertion_bonus
        tlm, wlm, trie, lex, closer = self._token_lm, self._word_lm, self._trie, self._lex, self._closer
        implicit, bnd = self._implicit, self.boundary
        cnt_step = 0.0 if wlm is not None else 1.0  # the bonus counts words (word LM) or tokens
        start = tlm.start if tlm is not None else (wlm.start if wlm is not None else 0)
        root = trie.root if trie is not None else 0

        # one hypothesis per utterance to begin with: the empty prefix
        F = np.zeros((B, 4))
        F[:, _F_PNB] = NEG_INF
        I = np.zeros((B, 7), dtype=np.int64)
        I[:, _I_ROW] = np.arange(B)
        I[:, _I_LAST] = -1  # the empty prefix has no last token
        I[:, _I_HASH] = _ROOT_HASH ^ (np.arange(B) * _SALT)  # per utterance: hashes never meet across
        I[:, _I_PHASH] = _NO_PARENT
        I[:, _I_LSID] = start
        I[:, _I_NODE] = root
        # each utterance's final hypotheses (at most K) and their index in the last frame's tables
        final_f = np.zeros((B, K, 4))
        final_f[:, :, _F_PB] = final_f[:, :, _F_PNB] = NEG_INF
        final_i = np.zeros((B, K, 7), dtype=np.int64)
        final_i[:, :, _I_LSID] = start
        final_i[:, :, _I_NODE] = root
        final_index = np.zeros((B, K), dtype=np.int64)
        history: list[Optional[tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]]] = []
        rowp = np.empty((B, C + 1))
        rowp[:, C] = NEG_INF  # class -1 (the empty prefix's last token) reads -inf
        nev = events.sum(axis=1)  # (B,) descending
        steps = int(nev.max()) if B else 0
        ev_r, ev_t = np.nonzero(events)
        frames = np.zeros((B, max(steps, 1)), dtype=np.int64)  # (B, steps) the frames each utterance extends at
        frames[ev_r, np.arange(ev_r.size) - np.searchsorted(ev_r, ev_r)] = ev_t
        active = (nev[None, :] > np.arange(steps)[:, None]).sum(axis=1)  # (steps,) utterances with a step left
        done = np.full(B, -1, dtype=np.int64)  # the last frame applied, per utterance
        n = B

        def stash(cut: int) -> None:  # hypotheses cut.. belong to utterances that have ended
            rows = I[cut:, _I_ROW]
            rank = np.arange(cut, rows.size + cut) - np.searchsorted(I[:, _I_ROW], rows)
            final_f[rows, rank] = F[cut:]
            final_i[rows, rank] = I[cut:]
            final_index[rows, rank] = np.arange(cut, rows.size + cut)

        for step in range(steps):
            if active[step] < n:  # utterances active[step]..n-1 are through: their last frames, then out
                n = int(active[step])
                cut = int(np.searchsorted(I[:, _I_ROW], n))
                tail = I[cut:, _I_ROW]
                _advance(lp, rid, F[cut:], I[cut:], done[tail] + 1, lens[tail])
                stash(cut)
                F, I = F[:cut], I[:cut]
            H = F.shape[0]
            at = frames[:n, step]  # (n,) this step's frame of each utterance
            _advance(lp, rid, F, I, done[I[:, _I_ROW]] + 1, at[I[:, _I_ROW]])  # the frames in between
            done[:n] = at
            hrow, last, lsid, node = I[:, _I_ROW], I[:, _I_LAST], I[:, _I_LSID], I[:, _I_NODE]
            rows_n = rid[:n]
            rowp[:n, :C] = lp[rows_n, at]
            pb, pnb = F[:, _F_PB], F[:, _F_PNB]
            tot = np.logaddexp(pb, pnb)  # (H,)
            stay_pnb = pnb + rowp[hrow, last]
            stay_pb = tot + rowp[hrow, 0]
            ok = passing[rows_n, at]  # (n, C-1) tokens that may extend, per utterance
            okh = ok[hrow]  # (H, C-1)
            hi, tok = np.nonzero(okh)  # (E,) pairs: hypothesis, token (by hypothesis)
            tok += 1
            E = hi.size
            erow = hrow[hi]
            # extensions: a repeated token needs a blank in between
            ext = np.where(last[hi] == tok, pb[hi], tot[hi]) + rowp[erow, tok]  # (E,)
            var = None  # (E',) 1: the pair closes a word implicitly first

            lm_inc = None  # (E',) unweighted LM increments
            cnt_inc: Any = cnt_step  # (E',) or a scalar
            nsid = None  # (E',) next LM states
            nnode = None  # (E',) next trie nodes
            closed = None  # (E',) word closed by the extension (index into closer.words)
            if tlm is not None:
                tlm.ensure(lsid)
                lm_inc = tlm.logp.data[lsid[hi], tok]
                nsid = tlm.next.data[lsid[hi], tok]
            if trie is not None:
                trie.ensure(node)
                nnode = trie.child.data[node[hi], tok]
                if lex is not None:
                    acoustic = ext
                    ext = np.where(nnode >= 0, ext, NEG_INF)
            if implicit:  # a second block of pairs closes the word first and restarts at the root
                c_lp, c_sid, c_ok, c_word = closer.lookup(lsid if wlm is not None else np.zeros_like(lsid), node)
                root_child = trie.child.data[root, tok]  # (E,)
                ext = np.concatenate([ext, np.where(c_ok[hi] & (root_child >= 0), acoustic, NEG_INF)])
                nnode = np.concatenate([nnode, root_child])
                if wlm is not None:
                    lm_inc = np.concatenate([np.zeros(E), c_lp[hi]])
                    nsid = np.concatenate([lsid[hi], c_sid[hi]])
                    cnt_inc = np.concatenate([np.zeros(E), c_ok[hi].astype(np.float64)])
                elif tlm is not None:
                    lm_inc = np.concatenate([lm_inc, lm_inc])
                    nsid = np.concatenate([nsid, nsid])
                closed = np.concatenate([np.full(E, -1), np.where(c_ok, c_word, -1)[hi]])
                var = np.repeat(np.array([0, 1]), E)
                hi, tok, erow = np.concatenate([hi, hi]), np.concatenate([tok, tok]), np.concatenate([erow, erow])
            elif closer is not None:
                is_b = tok == bnd  # (E,)
                if is_b.any():  # the boundary closes the word (or nothing, after a boundary)
                    c_lp, c_sid, c_ok, c_word = closer.lookup(
                        lsid[hi] if wlm is not None else np.zeros(E, dtype=np.int64), node[hi])
                    ok_b = is_b & c_ok
                    if wlm is not None:
                        lm_inc = np.where(ok_b, c_lp, 0.0)
                        nsid = np.where(is_b, c_sid, lsid[hi])
                        cnt_inc = ok_b.astype(np.float64)
                    closed = np.where(ok_b, c_word, -1)

            # merge: an extension equal to a prefix already in the beam adds into that prefix's p_nb
            rank = np.cumsum(ok, axis=1)  # (n, C-1) passing tokens up to each token, per utterance
            last_col = np.maximum(last - 1, 0)  # (H,) column of the last token (the empty prefix: masked)
            j = np.flatnonzero(okh[np.arange(H), last_col] & (last > 0))  # last token extends now
            if j.size:
                keys = I[:, _I_HASH]  # per-utterance hashes (the roots differ)
                order = np.argsort(keys)
                sorted_keys = keys[order]
                want = I[j, _I_PHASH]
                pos = np.minimum(np.searchsorted(sorted_keys, want), H - 1)
                found = sorted_keys[pos] == want
                j, parent = j[found], order[pos[found]]
                if j.size:  # the parent's pair with j's last token (same utterance: same token list)
                    count = rank[hrow, -1]  # (H,) pairs per hypothesis
                    e = (np.cumsum(count) - count)[parent] + rank[hrow[j], last_col[j]] - 1
                    if var is not None:
                        e = e + I[j, _I_PVAR] * E
                    stay_pnb[j] = np.logaddexp(stay_pnb[j], ext[e])
                    ext[e] = NEG_INF

            # every candidate's score: H stays, then the extensions; keep the best K per utterance
            stay_score = np.logaddexp(stay_pb, stay_pnb)
            ext_score = ext
            if w and lm_inc is not None:
                ext_score = ext_score + w * lm_inc
            if bonus:
                ext_score = ext_score + bonus * cnt_inc
            if w or bonus:
                base = w * F[:, _F_LMS] + bonus * F[:, _F_CNT]
                stay_score = stay_score + base
                ext_score = ext_score + base[hi]
            score = np.concatenate([stay_score, ext_score])  # (H + E',)
            srow = np.concatenate([hrow, erow])
            if self.beam_threshold is not None:  # drop the hopeless before sorting
                best = np.full(n, NEG_INF)
                np.maximum.at(best, srow, score)
                cand = np.flatnonzero((score >= best[srow] - self.beam_threshold) & (score > NEG_INF))
            else:
                cand = np.flatnonzero(score > NEG_INF)
            order = cand[np.lexsort((-score[cand], srow[cand]))]  # by utterance, best first
            r_sorted = srow[order]
            first = np.searchsorted(r_sorted, r_sorted)  # where each utterance's best is
            keep = np.arange(order.size) - first < K
            sel = order[keep]

            grown = np.flatnonzero(sel >= H)  # new hypotheses that extend a prefix
            eg = sel[grown] - H  # their pairs
            src = sel.copy()
            src[grown] = hi[eg]  # the hypothesis each new one comes from
            F[:, _F_PB] = stay_pb
            F[:, _F_PNB] = stay_pnb
            F, I = F[src], I[src]
            F[grown, _F_PB] = NEG_INF
            F[grown, _F_PNB] = ext[eg]
            gtok = tok[eg]
            parent_hash = I[grown, _I_HASH]
            I[grown, _I_PHASH] = parent_hash
            I[grown, _I_HASH] = _extend_hash(parent_hash, gtok, None if var is None else var[eg])
            I[grown, _I_LAST] = gtok
            if var is not None:
                I[grown, _I_PVAR] = var[eg]
            if lm_inc is not None:
                F[grown, _F_LMS] += lm_inc[eg]
            if isinstance(cnt_inc, np.ndarray):
                F[grown, _F_CNT] += cnt_inc[eg]
            elif cnt_inc:
                F[grown, _F_CNT] += cnt_inc
            if nsid is not None:
                I[grown, _I_LSID] = nsid[eg]
            if nnode is not None:
                I[grown, _I_NODE] = nnode[eg]
            new_tok = np.full(sel.size, -1, dtype=np.int64)
            new_tok[grown] = gtok
            new_closed = None
            if closed is not None:
                new_closed = np.full(sel.size, -1, dtype=np.int64)
                new_closed[grown] = closed[eg]
            history.append((src, new_tok, new_closed))
        if n:
            tail = I[:, _I_ROW]
            _advance(lp, rid, F, I, done[tail] + 1, lens[tail])
            stash(0)
        final = {"pb": final_f[:, :, _F_PB], "pnb": final_f[:, :, _F_PNB], "lms": final_f[:, :, _F_LMS],
                 "cnt": final_f[:, :, _F_CNT], "lsid": final_i[:, :, _I_LSID], "node": final_i[:, :, _I_NODE],
                 "index": final_index}
        return self._finish(final, history, nev)

    def _finish(self, final: dict[str, np.ndarray], history: list, nev: np.ndarray) -> list[list[BeamResult]]:
        """End of utterance: close open words, add the LM's end of sentence, rank, trace back the n-best."""
        pb, pnb, lms, cnt, lsid, node = (final[k] for k in ("pb", "pnb", "lms", "cnt", "lsid", "node"))
        B, K = pb.shape
        tlm, wlm, trie, lex, closer = self._token_lm, self._word_lm, self._trie, self._lex, self._closer
        acoustic = np.logaddexp(pb, pnb)  # (B, K)
        lm_total = lms.copy()
        count = cnt.copy()
        final_word = np.full((B, K), -1, dtype=np.int64)
        if closer is not None:
            c_lp, c_sid, c_ok, c_word = closer.lookup(lsid if wlm is not None else np.zeros_like(lsid), node)
            open_word = c_ok & (node != trie.root)
            if wlm is not None:
                lm_total = lm_total + np.where(open_word, c_lp, 0.0)
                count = count + open_word
                lsid = np.where(open_word, c_sid, lsid)
            final_word = np.where(open_word, c_word, -1)
        if tlm is not None:
            lm_total = lm_total + tlm.end(lsid)
        elif wlm is not None:
            lm_total = lm_total + wlm.end(lsid)
        score = acoustic.copy()
        if self.lm_weight and (tlm is not None or wlm is not None):
            score = score + self.lm_weight * lm_total
        if self.insertion_bonus:
            score = score + self.insertion_bonus * count
        score = np.where(np.isfinite(acoustic), score, NEG_INF)
        if lex is not None:  # a word left half-spelled is not a dictionary word (unless nothing else is left)
            complete = ((node == lex.root) | lex.is_end[node]) & np.isfinite(score)
            score = np.where(complete | ~complete.any(axis=1, keepdims=True), score, NEG_INF)

        N = min(self.nbest, K)
        best = np.argsort(-score, axis=1, kind="stable")[:, :N]  # (B, N)
        # trace back all n-best paths of all utterances at once, each from its own last step
        T = len(history)
        toks = np.full((T, B, N), -1, dtype=np.int64)
        words = np.full((T, B, N), -1, dtype=np.int64) if closer is not None else None
        cur = np.take_along_axis(final["index"], best, axis=1)  # (B, N) index in the last frame's arrays
        for t in range(T - 1, -1, -1):
            step = history[t]
            if step is None:
                continue
            src, tok, closed = step
            live = nev > t  # (B,) utterances that took step t
            c = cur[live]
            toks[t, live] = tok[c]
            if closed is not None:
                words[t, live] = closed[c]
            cur[live] = src[c]
        has_lm = tlm is not None or wlm is not None
        out = []
        for b in range(B):
            results = []
            for j in range(N):
                k = int(best[b, j])
                if score[b, k] == NEG_INF and results:
                    break
                column = toks[:, b, j]
                ids = tuple(column[column >= 0].tolist())
                found = None
                if lex is not None:
                    wcol = words[:, b, j]
                    idx = wcol[wcol >= 0].tolist() + ([int(final_word[b, k])] if final_word[b, k] >= 0 else [])
                    found = tuple(closer.words[i] for i in idx)
                results.append(BeamResult(ids, float(score[b, k]), float(acoustic[b, k]),
                                          float(lm_total[b, k]) if has_lm else None, found))
            out.append(results)
        return out


def ctc_prefix_beam_search(log_probs: Any, lengths: Any = None, tokens: Optional[Sequence[str]] = None,
                           **options: Any) -> list[list[BeamResult]]:
    """log_probs (B, T, C), lengths (B,) -> n-best lists; ``options`` as for ``CTCPrefixBeamSearch``.

    Without ``tokens`` the classes are named by their ids (only an LM or lexicon needs names).
    """
    C = int(log_probs.shape[-1])
    names = list(tokens) if tokens is not None else ["<blank>"] + [str(i) for i in range(1, C)]
    return CTCPrefixBeamSearch(names, **options).batch(log_probs, lengths)
