"""One utterance on its own: the prefix beam search of ``beam_lockstep`` run over Python lists.

Shape legend: T output frames, C classes (blank = 0), S search steps, H live hypotheses, E
candidate (hypothesis, token) pairs of one step.

An utterance alone has at most ``beam`` live hypotheses and few tokens that pass the pruning at
a frame, so a numpy call (a microsecond or more each, some sixty a step) costs more than the
work it does. Here a step is plain Python over floats, taking the same steps as the lockstep
search: the same frames and the gaps between them in closed form (the same ``Schedule``), the
same extensions, merges, fused offsets and selection (ties included), in the same order with
the same float operations (``logaddexp`` as numpy computes it, with the C library's exp and
log1p), and the same end (``beam_nbest``), so the results are the same. A prefix is known by a
hash chained over (parent's hash, token, variant: 1 when a pronunciation lexicon closes a word
before the token); each hypothesis keeps a linked path (parent's path, token, closed word) for
the traceback.

This module owns the one-utterance step loop and ``single_is_cheaper``, which ``beam.py`` asks
before choosing it.
"""
from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from seqlabel.decoders.beam_frames import NEG_INF, schedule
from seqlabel.decoders.beam_nbest import BeamResult, end_of_utterance, nbest_list

if TYPE_CHECKING:
    from seqlabel.decoders.beam import CTCPrefixBeamSearch

_LOG2 = math.log(2.0)
_exp, _log1p = math.exp, math.log1p
_ONE_UTTERANCE = np.zeros(1, dtype=np.int64)
# the most (beam x tokens passing at an average step) for which Python beats the lockstep search
SINGLE_MAX_WORK = 160


def logaddexp(x: float, y: float) -> float:
    """numpy's ``logaddexp`` for two floats, by the same operations (so to the same bit)."""
    if x == y:
        return x + _LOG2
    d = x - y
    if d > 0:
        return x + _log1p(_exp(-d))
    if d <= 0:
        return y + _log1p(_exp(d))
    return d  # NaN


def single_is_cheaper(beam: int, passing_count: int, steps: int) -> bool:
    """Whether Python lists beat numpy tables for one utterance: a ``beam``, ``passing_count``
    (frame, token) pairs that pass the pruning over its ``steps`` steps."""
    return beam * passing_count <= SINGLE_MAX_WORK * max(steps, 1)


class _Beam:
    """The live hypotheses of one utterance as parallel lists (in their order in the lockstep
    search's tables): p_b, p_nb, LM log-prob, fused offset, last token (-1: none), prefix hash,
    LM state, trie node, path (None, or (parent's path, token, closed word or -1))."""

    __slots__ = ("pb", "pnb", "lms", "fuse", "last", "key", "lsid", "node", "path")

    def __init__(self, start: int, root: int) -> None:
        self.pb, self.pnb, self.lms, self.fuse = [0.0], [NEG_INF], [0.0], [0.0]
        self.last, self.key, self.lsid, self.node, self.path = [-1], [0], [start], [root], [None]

    def apply_gap(self, stay: list[float], leave: list[float]) -> None:
        """The frames between two steps in closed form (``beam_frames.Schedule``; -1 reads column C)."""
        sb, pb, pnb = stay[0], self.pb, self.pnb
        for i, c in enumerate(self.last):
            p = pnb[i]
            pb[i] = logaddexp(pb[i] + sb, p + leave[c])
            pnb[i] = p + stay[c]


def search_single(search: "CTCPrefixBeamSearch", lp: np.ndarray, length: int, passing: np.ndarray,
                  events: np.ndarray) -> list[BeamResult]:
    """With ``search``'s settings and tables, decode one utterance: log-probs (T, C), its length, the
    tokens that pass the pruning (T, C-1) and the frames where some token passes (T,) -> its n-best
    list, best first."""
    C = lp.shape[1]
    sch = schedule(lp[None], _ONE_UTTERANCE, np.array([length]), events[None])
    S = int(sch.steps[0])
    frames = sch.frames[0, :S]
    rows = np.full((S, C + 1), NEG_INF)  # (S, C+1) each step's frame; class -1 (the empty prefix) reads -inf
    rows[:, :C] = lp[frames]
    step_of, token = np.nonzero(passing[frames])  # (P,) the passing (step, token - 1) pairs, step by step
    bounds = np.searchsorted(step_of, np.arange(S + 1)).tolist()
    tokens = (token + 1).tolist()
    gap_row, empty_gap = sch.gap_row[0].tolist(), sch.stay.shape[0] - 1
    stay, leave = sch.stay.tolist(), sch.leave.tolist()
    beam = _Beam(_start(search), _root(search))
    step = _Step(search)
    for s, row in enumerate(rows.tolist()):
        if gap_row[s] != empty_gap:
            beam.apply_gap(stay[gap_row[s]], leave[gap_row[s]])
        beam = step(beam, row, tokens[bounds[s]:bounds[s + 1]])
    if gap_row[S] != empty_gap:
        beam.apply_gap(stay[gap_row[S]], leave[gap_row[S]])
    return _finish(search, beam)


class _Step:
    """One step of the search (``__call__``: the beam, the frame's log-probs (C+1,) and the tokens that
    pass -> the next beam), taken as ``beam_lockstep`` takes it. A candidate extension is a tuple
    (source hypothesis, token, log-prob, hash, LM increment, LM state, trie node, closed word or -1,
    bonus count)."""

    def __init__(self, search: "CTCPrefixBeamSearch") -> None:
        self.K, self.threshold = search.beam, search.beam_threshold
        self.w, self.bonus = search.lm_weight, search.insertion_bonus
        self.tlm, self.wlm, self.trie, self.lex = search._token_lm, search._word_lm, search._trie, search._lex
        self.closer, self.implicit, self.bnd = search._closer, search._implicit, search.boundary
        self.cnt_step = 0.0 if self.wlm is not None else 1.0  # the bonus counts words (word LM) or tokens
        self.has_lm = self.tlm is not None or self.wlm is not None
        self.fused = bool(self.bonus) or (self.w != 0.0 and self.has_lm)  # the offset can move
        self.plain = self.tlm is None and self.trie is None  # no LM state, no trie node: both stay 0

    def __call__(self, beam: _Beam, row: list[float], toks: list[int]) -> _Beam:
        pb, pnb, last = beam.pb, beam.pnb, beam.last
        tot = [logaddexp(b, n) for b, n in zip(pb, pnb)]
        stay_pnb = [n + row[c] for n, c in zip(pnb, last)]
        stay_pb = [t + row[0] for t in tot]
        if self.plain:  # a repeated token needs a blank in between
            cnt = self.cnt_step
            cand = [(i, c, (pb[i] if last[i] == c else tot[i]) + row[c], hash((k, c, 0)), 0.0, 0, 0, -1, cnt)
                    for i, k in enumerate(beam.key) for c in toks]
        else:
            cand = self._extensions(beam, row, toks, tot)
        # an extension equal to a prefix in the beam adds into that prefix's p_nb, and is dropped
        where = {k: i for i, k in enumerate(beam.key)}
        for e, x in enumerate(cand):
            j = where.get(x[3])
            if j is not None:
                stay_pnb[j] = logaddexp(stay_pnb[j], x[2])
                cand[e] = (x[0], x[1], NEG_INF, *x[3:])
        # every candidate's score: the stays, then the extensions; keep the best K
        score = [logaddexp(b, n) for b, n in zip(stay_pb, stay_pnb)]
        offsets = None
        if self.fused:
            fuse, w, bonus = beam.fuse, self.w if self.has_lm else 0.0, self.bonus
            score = [v + f for v, f in zip(score, fuse)]
            offsets = []
            for x in cand:
                f = fuse[x[0]]
                if w:
                    f += w * x[4]
                if bonus:
                    f += bonus * x[8]
                offsets.append(f)
            score += [x[2] + f for x, f in zip(cand, offsets)]
        else:
            score += [x[2] for x in cand]
        return self._next(beam, self._select(score), stay_pb, stay_pnb, cand, offsets)

    def _extensions(self, beam: _Beam, row: list[float], toks: list[int], tot: list[float]) -> list[tuple]:
        """The candidate extensions with an LM or a trie: by hypothesis, then token; with a
        pronunciation lexicon, then the same pairs again closing the word first."""
        tlm, wlm, trie, lex, closer, bnd = self.tlm, self.wlm, self.trie, self.lex, self.closer, self.bnd
        pb, last, key, lsids, nodes = beam.pb, beam.last, beam.key, beam.lsid, beam.node
        out, closing = [], []
        root_kids = trie.row(trie.root) if self.implicit else None
        for i, p in enumerate(pb):
            lsid, node = lsids[i], nodes[i]
            lm_row = tlm.row(lsid) if tlm is not None else None
            kids = trie.row(node) if trie is not None else None
            close = closer.one(lsid if wlm is not None else 0, node) if self.implicit else None
            for c in toks:
                ext = (p if last[i] == c else tot[i]) + row[c]
                inc, nsid, nnode, word, cnt = 0.0, lsid, node, -1, self.cnt_step
                if lm_row is not None:
                    inc, nsid = lm_row[0][c], lm_row[1][c]
                acoustic = ext
                if kids is not None:
                    nnode = kids[c]
                    if lex is not None and nnode < 0:
                        ext = NEG_INF
                if close is not None:  # also: close the word, then start the next at the root
                    c_lp, c_sid, c_ok, c_word = close
                    child = root_kids[c]
                    ext2 = acoustic if c_ok and child >= 0 else NEG_INF
                    inc2, nsid2, cnt2 = (c_lp, c_sid, float(c_ok)) if wlm is not None else (inc, nsid, cnt)
                    closing.append((i, c, ext2, hash((key[i], c, 1)), inc2, nsid2, child, c_word if c_ok else -1,
                                    cnt2))
                elif c == bnd and closer is not None:  # the boundary closes the word (or nothing, after one)
                    c_lp, c_sid, c_ok, c_word = closer.one(lsid if wlm is not None else 0, node)
                    if wlm is not None:
                        inc, nsid, cnt = (c_lp if c_ok else 0.0), c_sid, float(c_ok)
                    if lex is not None:
                        word = c_word if c_ok else -1
                out.append((i, c, ext, hash((key[i], c, 0)), inc, nsid, nnode, word, cnt))
        return out + closing

    def _select(self, score: list[float]) -> list[int]:
        """The candidates kept, in their order: finite, within the threshold of the best, and among the
        best K (ties: the earlier)."""
        if self.threshold is None or not score:
            ok = [k for k, v in enumerate(score) if v > NEG_INF]
        else:
            least = max(score) - self.threshold
            ok = [k for k, v in enumerate(score) if v >= least and v > NEG_INF]
        if len(ok) > self.K:
            ok = sorted(heapq.nlargest(self.K, ok, key=score.__getitem__))
        return ok

    def _next(self, beam: _Beam, keep: list[int], stay_pb: list[float], stay_pnb: list[float], cand: list[tuple],
              offsets: Optional[list[float]]) -> _Beam:
        """The beam of the kept candidates (indices into the stays, then the extensions)."""
        H = len(stay_pb)
        new = _Beam.__new__(_Beam)
        new.pb, new.pnb, new.lms, new.fuse, new.last = [], [], [], [], []
        new.key, new.lsid, new.node, new.path = [], [], [], []
        for k in keep:
            if k < H:
                new.pb.append(stay_pb[k])
                new.pnb.append(stay_pnb[k])
                new.lms.append(beam.lms[k])
                new.fuse.append(beam.fuse[k])
                new.last.append(beam.last[k])
                new.key.append(beam.key[k])
                new.lsid.append(beam.lsid[k])
                new.node.append(beam.node[k])
                new.path.append(beam.path[k])
            else:
                i, c, ext, key, inc, lsid, node, word, _ = cand[k - H]
                new.pb.append(NEG_INF)
                new.pnb.append(ext)
                new.lms.append(beam.lms[i] + inc if self.has_lm else beam.lms[i])
                new.fuse.append(offsets[k - H] if offsets is not None else beam.fuse[i])
                new.last.append(c)
                new.key.append(key)
                new.lsid.append(lsid)
                new.node.append(node)
                new.path.append((beam.path[i], c, word))
        return new


def _finish(search: "CTCPrefixBeamSearch", beam: _Beam) -> list[BeamResult]:
    """End of utterance (``beam_nbest``): score the final hypotheses, rank them, trace the n-best back.
    A beam left empty ends as the lockstep search's empty slot: one result scored -inf."""
    if not beam.pb:
        beam = _Beam(_start(search), _root(search))
        beam.pb = [NEG_INF]
    columns = (beam.pb, beam.pnb, beam.lms, beam.fuse, beam.lsid, beam.node)
    score, acoustic, lm_total, final_word = (a[0].tolist() for a in end_of_utterance(
        search, *(np.array([c]) for c in columns)))
    ranked = sorted(range(len(score)), key=lambda k: -score[k])[:min(search.nbest, search.beam)]
    words = search._closer.words if search._lex is not None else None

    def path(j: int, k: int) -> tuple[tuple[int, ...], Optional[tuple[str, ...]]]:
        ids, closed, p = [], [final_word[k]] if final_word[k] >= 0 else [], beam.path[k]
        while p is not None:
            p, c, word = p
            ids.append(c)
            if word >= 0:
                closed.append(word)
        return tuple(reversed(ids)), None if words is None else tuple(words[w] for w in reversed(closed))

    return nbest_list(search, score, acoustic, lm_total, ranked, path)


def _start(search: "CTCPrefixBeamSearch") -> int:
    lm = search._token_lm if search._token_lm is not None else search._word_lm
    return lm.start if lm is not None else 0


def _root(search: "CTCPrefixBeamSearch") -> int:
    return search._trie.root if search._trie is not None else 0
