"""CTC prefix beam search with shallow fusion of an n-gram LM and lexicon constraints.

Shape legend: B utterances, T output frames, C classes (blank = 0), H live hypotheses (of all
utterances together), E candidate (hypothesis, token) pairs of one step.

The search decodes a batch of utterances in lockstep. All live hypotheses sit in two flat tables
(floats: log p(prefix, ending in blank) ``p_b``, log p(prefix, ending in a token) ``p_nb``, LM
log-prob, fused offset; ints: utterance, last token, prefix hash, LM state, lexicon node), grouped
by utterance. A step is a fixed number of numpy calls over those tables and
the flat list of (hypothesis, token) extensions, whatever the batch size; no Python runs per
hypothesis or token. Step i handles, for every utterance, the i-th frame where some token passes
the pruning; the frames in between extend no prefix and are applied in closed form
(``beam_frames.Schedule``). Prefixes are identified by 64-bit hashes of their token sequence, so
an extension equal to a prefix already in the beam is merged into it (log-sum-exp): with a wide
enough beam the scores are the log-probabilities of the label sequences summed over every
alignment that the pruning allows (all of them without pruning).

Fusion (Graves et al. 2009 token passing; Hannun et al. 2014 prefix search):

    score = log P_ctc(prefix) + lm_weight * log P_lm(prefix) + insertion_bonus * |prefix|

``|prefix|`` counts tokens for a token LM (or no LM), and words for a word LM. A token LM
(characters or phones) scores every emitted token; a word LM scores a word when it closes
(the boundary token, the end of the utterance, or, with a pronunciation lexicon, the start of
the next word). With a lexicon every hypothesis follows a path in the prefix trie, so only
dictionary words can be produced. LM scores and trie moves are looked up in tables filled on
first use (``beam_tables``: ``TokenLMTable``, ``LexiconTable``, ``ClosureCache``), kept across
utterances.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch

from seqlabel.decoders.beam_frames import NEG_INF, Schedule, check_log_probs, passing_tokens, schedule
from seqlabel.decoders.beam_tables import (
    ClosureCache,
    LexiconTable,
    TokenLMTable,
    WordLMTable,
    check_vocabularies,
    vocabulary_lexicon,
)


@dataclass(frozen=True)
class BeamResult:
    """One hypothesis of the search, over class ids (blank never appears)."""

    ids: tuple[int, ...]
    score: float  # the fused score used for ranking (CTC + weighted LM + bonus)
    acoustic_score: float  # log P_ctc of the label sequence (summed over the alignments kept)
    lm_score: Optional[float] = None  # unweighted LM log-probability, end of sentence included (None: no LM)
    words: Optional[tuple[str, ...]] = None  # the words, when a lexicon chose them


# prefix identity: 64-bit hashes of (parent hash, token, segmentation variant), kept as int64
_ROOT_HASH = np.int64(0x5BD1E9955BD1E995)  # odd; every extended hash is odd too
_SALT = np.int64(0x2545F4914F6CDD1D)  # mixes the utterance into hashes compared across a batch
_M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9)
_S29, _ONE = np.uint64(29), np.uint64(1)

# columns of the hypothesis tables
# log p(ending in blank), log p(ending in a token), LM log-prob, fused offset (lm_weight * LM log-prob +
# insertion_bonus * count): the score is logaddexp(p_b, p_nb) + offset
_F_PB, _F_PNB, _F_LMS, _F_FUSE = range(4)
_I_ROW, _I_LAST, _I_HASH, _I_LSID, _I_NODE = range(5)  # utterance, last token, ...


def _extend_hash(h: np.ndarray, token: np.ndarray, variant: Optional[np.ndarray]) -> np.ndarray:
    """int64 hashes of prefixes extended by a token (multiply-xorshift; uint64 arithmetic wraps)."""
    x = token * 2 + 1 if variant is None else token * 2 + 1 + variant
    x = h.view(np.uint64) * _M1 + x.view(np.uint64) * _M2
    x ^= x >> _S29
    return (x | _ONE).view(np.int64)


def _apply_gap(sch: Schedule, row: np.ndarray, last: np.ndarray, pb: np.ndarray, pnb: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Hypotheses' p_b, p_nb (any shape) after their gaps, rows ``row`` of ``sch``'s tables (same
    shape), given their last tokens ``last`` (-1: the empty prefix)."""
    return np.logaddexp(pb + sch.stay[:, 0][row], pnb + sch.leave[row, last]), pnb + sch.stay[row, last]


def _merge(keys: np.ndarray, child: np.ndarray, ext: np.ndarray, stay_pnb: np.ndarray) -> None:
    """An extension equal to a prefix already in the beam adds into that prefix's p_nb, in place:
    hashes of the beam (H,) and of the extensions (E'), their log-probs ext (E',) (-inf once
    merged) and the beam's p_nb (H,). Hashes differ across utterances (their roots do)."""
    order = np.argsort(keys)
    sorted_keys = keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, child), keys.size - 1)
    e = np.flatnonzero(sorted_keys[pos] == child)
    if e.size:
        j = order[pos[e]]
        stay_pnb[j] = np.logaddexp(stay_pnb[j], ext[e])
        ext[e] = NEG_INF


def _select(score: np.ndarray, row: np.ndarray, n: int, K: int, threshold: Optional[float]) -> np.ndarray:
    """The candidates kept: scores (H + E',) of utterances ``row`` (H + E',) among n -> their indices,
    grouped by utterance and in their order within it: finite, within ``threshold`` of their
    utterance's best, and among its best K (ties: the earlier). Only utterances with more than K
    such candidates are sorted by score."""
    if threshold is None:
        ok = score > NEG_INF
    else:
        best = np.full(n, NEG_INF)
        np.maximum.at(best, row, score)
        ok = (score >= best[row] - threshold) & (score > NEG_INF)
    cand = np.flatnonzero(ok)
    rows = row[cand]
    count = np.bincount(rows, minlength=n)
    if count.max(initial=0) > K:
        crowded = np.flatnonzero(count[rows] > K)  # (c,) candidates of utterances with too many
        order = crowded[np.lexsort((-score[cand[crowded]], rows[crowded]))]  # by utterance, best first
        by_row = rows[order]
        keep = np.ones(cand.size, dtype=bool)
        keep[order[np.arange(order.size) - np.searchsorted(by_row, by_row) >= K]] = False
        cand, rows = cand[keep], rows[keep]
    return cand[np.argsort(rows, kind="stable")]  # row: 16-bit ints, sorted stably in linear time


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
            self._trie = LexiconTable(vocabulary_lexicon(words, self.tokens, self.boundary), self.tokens, self.boundary,
                                      open_vocabulary=True)
        self._closer = ClosureCache(self._close) if self._trie is not None else None
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
        arr = np.ascontiguousarray(arr)  # the search reads frames as rows of arr.reshape(-1, C)
        self._check_classes(arr.shape[2])
        B, T, _ = arr.shape
        passing = passing_tokens(arr, self.token_min_logp, self.log_blank_threshold, self.token_topk)  # (B, T, C-1)
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

        All hypotheses of all utterances live in two flat tables, F (H, 4) floats and I (H, 5) ints
        (columns ``_F_*``, ``_I_*``), grouped by utterance (ascending; finished utterances drop
        off the end); candidates are flat (hypothesis, token) pairs (E,). Step i processes the i-th
        frame of each utterance where some token passes; the frames in between only extend no
        prefix and are applied in closed form (``Schedule``). A step costs the same few numpy calls
        whatever the batch, and only live hypotheses and passing tokens take space.
        """
        B, T = events.shape
        C = lp.shape[2]
        K = self.beam
        w, bonus = self.lm_weight, self.insertion_bonus
        tlm, wlm, trie, lex, closer = self._token_lm, self._word_lm, self._trie, self._lex, self._closer
        implicit, bnd = self._implicit, self.boundary
        cnt_step = 0.0 if wlm is not None else 1.0  # the bonus counts words (word LM) or tokens
        fused = bool(bonus) or (w != 0.0 and (tlm is not None or wlm is not None))  # the offset can move
        start = tlm.start if tlm is not None else (wlm.start if wlm is not None else 0)
        root = trie.root if trie is not None else 0

        # one hypothesis per utterance to begin with: the empty prefix
        F = np.zeros((B, 4))
        F[:, _F_PNB] = NEG_INF
        I = np.zeros((B, 5), dtype=np.int64)
        I[:, _I_ROW] = np.arange(B)
        I[:, _I_LAST] = -1  # the empty prefix has no last token
        I[:, _I_HASH] = _ROOT_HASH ^ (np.arange(B) * _SALT)  # per utterance: hashes never meet across
        I[:, _I_LSID] = start
        I[:, _I_NODE] = root
        # each utterance's final hypotheses (at most K) and their index in the last frame's tables
        final_f = np.zeros((B, K, 4))
        final_f[:, :, _F_PB] = final_f[:, :, _F_PNB] = NEG_INF
        final_i = np.zeros((B, K, 5), dtype=np.int64)
        final_i[:, :, _I_LSID] = start
        final_i[:, :, _I_NODE] = root
        final_index = np.zeros((B, K), dtype=np.int64)
        history: list[Optional[tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]]] = []
        rowp = np.empty((B, C + 1))
        rowp[:, C] = NEG_INF  # class -1 (the empty prefix's last token) reads -inf
        sch = schedule(lp, rid, lens, events)
        row_type = np.int16 if B < 2 ** 15 else np.int64  # numpy sorts 16-bit ints stably in linear time
        frames, active, gap_row = sch.frames, sch.active, sch.gap_row
        lp_rows, passing_rows = lp.reshape(-1, C), passing.reshape(-1, C - 1)  # (*T, C), (*T, C-1): views
        frame_rows = rid[:, None] * T + frames  # (B, S) the rows of lp_rows the steps read
        n = B

        def stash(cut: int) -> None:  # hypotheses cut.. belong to utterances that have ended
            rows = I[cut:, _I_ROW]
            rank = np.arange(cut, rows.size + cut) - np.searchsorted(I[:, _I_ROW], rows)
            final_f[rows, rank] = F[cut:]
            final_i[rows, rank] = I[cut:]
            final_index[rows, rank] = np.arange(cut, rows.size + cut)

        for step in range(len(active)):
            if active[step] < n:  # utterances active[step]..n-1 are through (their last gap comes at the end)
                n = int(active[step])
                cut = int(np.searchsorted(I[:, _I_ROW], n))
                stash(cut)
                F, I = F[:cut], I[:cut]
            H = F.shape[0]
            hrow, last, lsid, node = I[:, _I_ROW], I[:, _I_LAST], I[:, _I_LSID], I[:, _I_NODE]
            pb, pnb = F[:, _F_PB], F[:, _F_PNB]
            if sch.any_gap[step]:  # the frames in between
                pb, pnb = _apply_gap(sch, gap_row[:, step][hrow], last, pb, pnb)
            at = frame_rows[:n, step]  # (n,) this step's frame of each utterance, as a row of lp_rows
            rowp[:n, :C] = lp_rows.take(at, axis=0)
            tot = np.logaddexp(pb, pnb)  # (H,)
            stay_pnb = pnb + rowp[hrow, last]
            stay_pb = tot + rowp[:, 0][hrow]
            okh = passing_rows.take(at, axis=0).take(hrow, axis=0)  # (H, C-1) tokens that may extend each
            hi, tok = np.divmod(np.flatnonzero(okh), C - 1)  # (E,) pairs: hypothesis, token (by hypothesis)
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
                at_b = np.flatnonzero(tok == bnd)  # (E_b,) the boundary closes the word (or nothing, after one)
                if at_b.size:
                    h_b = hi[at_b]
                    c_lp, c_sid, c_ok, c_word = closer.lookup(lsid[h_b] if wlm is not None else np.zeros_like(h_b),
                                                              node[h_b])
                    if wlm is not None:
                        lm_inc = np.zeros(E)
                        lm_inc[at_b] = np.where(c_ok, c_lp, 0.0)
                        nsid = lsid[hi]
                        nsid[at_b] = c_sid
                        cnt_inc = np.zeros(E)
                        cnt_inc[at_b] = c_ok
                    if lex is not None:  # the words are reported
                        closed = np.full(E, -1)
                        closed[at_b] = np.where(c_ok, c_word, -1)

            child = _extend_hash(I[:, _I_HASH][hi], tok, var)  # (E',) the extended prefixes' hashes
            _merge(I[:, _I_HASH], child, ext, stay_pnb)

            # every candidate's score: H stays, then the extensions; keep the best K per utterance
            stay_score = np.logaddexp(stay_pb, stay_pnb)
            ext_score = ext
            if fused:
                fuse = F[:, _F_FUSE][hi]  # (E',) the extensions' offsets
                if w and lm_inc is not None:
                    fuse += w * lm_inc
                if bonus:
                    fuse += bonus * cnt_inc
                stay_score = stay_score + F[:, _F_FUSE]
                ext_score = ext + fuse
            score = np.concatenate([stay_score, ext_score])  # (H + E',)
            srow = np.concatenate([hrow, erow])
            sel = _select(score, srow.astype(row_type), n, K, self.beam_threshold)

            grown = np.flatnonzero(sel >= H)  # new hypotheses that extend a prefix
            eg = sel[grown] - H  # their pairs
            src = sel.copy()
            src[grown] = hi[eg]  # the hypothesis each new one comes from
            F[:, _F_PB] = stay_pb
            F[:, _F_PNB] = stay_pnb
            F, I = F.take(src, axis=0), I.take(src, axis=0)
            F[:, _F_PB][grown] = NEG_INF
            F[:, _F_PNB][grown] = ext[eg]
            gtok = tok[eg]
            I[:, _I_HASH][grown] = child[eg]
            I[:, _I_LAST][grown] = gtok
            if lm_inc is not None:
                F[:, _F_LMS][grown] += lm_inc[eg]
            if fused:
                F[:, _F_FUSE][grown] = fuse[eg]
            if nsid is not None:
                I[:, _I_LSID][grown] = nsid[eg]
            if nnode is not None:
                I[:, _I_NODE][grown] = nnode[eg]
            new_tok = np.full(sel.size, -1, dtype=np.int64)
            new_tok[grown] = gtok
            new_closed = None
            if closed is not None:
                new_closed = np.full(sel.size, -1, dtype=np.int64)
                new_closed[grown] = closed[eg]
            history.append((src, new_tok, new_closed))
        if n:
            stash(0)
        last_gap = gap_row[np.arange(B), sch.steps][:, None]  # (B, 1) the frames after each utterance's last step
        final_f[:, :, _F_PB], final_f[:, :, _F_PNB] = _apply_gap(sch, last_gap, final_i[:, :, _I_LAST],
                                                                 final_f[:, :, _F_PB], final_f[:, :, _F_PNB])
        final = {"pb": final_f[:, :, _F_PB], "pnb": final_f[:, :, _F_PNB], "lms": final_f[:, :, _F_LMS],
                 "fuse": final_f[:, :, _F_FUSE], "lsid": final_i[:, :, _I_LSID], "node": final_i[:, :, _I_NODE],
                 "index": final_index}
        return self._finish(final, history, sch.steps)

    def _finish(self, final: dict[str, np.ndarray], history: list, nev: np.ndarray) -> list[list[BeamResult]]:
        """End of utterance: close open words, add the LM's end of sentence, rank, trace back the n-best."""
        pb, pnb, lms, fuse, lsid, node = (final[k] for k in ("pb", "pnb", "lms", "fuse", "lsid", "node"))
        B, K = pb.shape
        tlm, wlm, trie, lex, closer = self._token_lm, self._word_lm, self._trie, self._lex, self._closer
        w, bonus = self.lm_weight, self.insertion_bonus
        acoustic = np.logaddexp(pb, pnb)  # (B, K)
        lm_total = lms
        score = acoustic + fuse
        final_word = np.full((B, K), -1, dtype=np.int64)
        if closer is not None:
            c_lp, c_sid, c_ok, c_word = closer.lookup(lsid if wlm is not None else np.zeros_like(lsid), node)
            open_word = c_ok & (node != trie.root)
            if wlm is not None:
                closing = np.where(open_word, c_lp, 0.0)
                lm_total = lm_total + closing
                score = score + w * closing + bonus * open_word
                lsid = np.where(open_word, c_sid, lsid)
            final_word = np.where(open_word, c_word, -1)
        if tlm is not None or wlm is not None:
            end = (tlm if tlm is not None else wlm).end(lsid)
            lm_total = lm_total + end
            score = score + w * end
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
