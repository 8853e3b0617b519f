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

import math
from typing import TYPE_CHECKING, Optional

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


# a hypothesis: (p_b, p_nb, last token (-1: none), prefix hash, parent's hash (None: the empty
# prefix), variant, LM log-prob, fused offset, LM state, trie node, path: None or (parent's path,
# token, closed word or -1)); a beam: a list of them, in their order in the lockstep search's tables
_PB, _PNB, _LAST, _KEY, _PARENT, _VAR, _LMS, _FUSE, _LSID, _NODE, _PATH = range(11)


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
    gaps = [None if r == empty_gap else (stay[r], leave[r]) for r in gap_row]  # (S+1,) before each step, and after
    beam = [_empty(search)]
    step = _Step(search)
    for s, row in enumerate(rows.tolist()):
        beam = step(beam, gaps[s], row, tokens[bounds[s]:bounds[s + 1]])
    if gaps[S] is not None:
        pb, pnb = _after_gap(beam, *gaps[S])
        beam = [(b, n, *h[2:]) for b, n, h in zip(pb, pnb, beam)]
    return _finish(search, beam)


def _empty(search: "CTCPrefixBeamSearch", pb: float = 0.0) -> tuple:
    """The empty prefix, where the search begins (and, with p_b -inf, what an empty beam ends as)."""
    lm = search._token_lm if search._token_lm is not None else search._word_lm
    return (pb, NEG_INF, -1, 0, None, 0, 0.0, 0.0, lm.start if lm is not None else 0,
            search._trie.root if search._trie is not None else 0, None)


def _after_gap(beam: list[tuple], stay: list[float], leave: list[float]) -> tuple[list[float], list[float]]:
    """The hypotheses' p_b and p_nb after the frames of a gap (``beam_frames.Schedule``; last
    token -1 reads column C)."""
    sb = stay[0]
    return ([logaddexp(h[_PB] + sb, h[_PNB] + leave[h[_LAST]]) for h in beam],
            [h[_PNB] + stay[h[_LAST]] for h in beam])


class _Step:
    """One step of the search (``__call__``: the beam, the gap before the step's frame (None: none),
    the frame's log-probs (C+1,) and the tokens that pass -> the next beam), taken as
    ``beam_lockstep`` takes it.

    Candidates are the H stays, then the extensions: hypothesis i by token ``toks[t]`` is extension
    i * len(toks) + t (with a pronunciation lexicon the same pairs follow again, closing the word
    first: variant 1). An extension equal to a prefix in the beam (its parent's hash, token and
    variant match) adds into that prefix's p_nb and scores -inf.
    """

    def __init__(self, search: "CTCPrefixBeamSearch") -> None:
        self.K, self.threshold = search.beam, search.beam_threshold
        self.w, self.bonus = search.lm_weight, search.insertion_bonus
        self.tlm, self.wlm, self.trie, self.lex = search._token_lm, search._word_lm, search._trie, search._lex
        self.closer, self.implicit, self.bnd = search._closer, search._implicit, search.boundary
        self.cnt_step = 0.0 if self.wlm is not None else 1.0  # the bonus counts words (word LM) or tokens
        self.has_lm = self.tlm is not None or self.wlm is not None
        self.fused = bool(self.bonus) or (self.w != 0.0 and self.has_lm)  # the offset can move
        self.plain = self.tlm is None and self.trie is None  # no LM state, no trie node: both stay as they began

    def __call__(self, beam: list[tuple], gap: Optional[tuple[list[float], list[float]]], row: list[float],
                 toks: list[int]) -> list[tuple]:
        if gap is None:
            pbs, pnbs = [h[_PB] for h in beam], [h[_PNB] for h in beam]
        else:
            pbs, pnbs = _after_gap(beam, *gap)
        # logaddexp(-inf, y) is y (numpy's sum adds log1p(0.0) = 0.0)
        tots = [n if b == NEG_INF else logaddexp(b, n) for b, n in zip(pbs, pnbs)]
        stay_pnb = [n + row[h[_LAST]] for n, h in zip(pnbs, beam)]
        blank = row[0]
        stay_pb = [t + blank for t in tots]
        children: dict[int, dict[int, int]] = {}  # parent's hash -> {token * 2 + variant: hypothesis}
        for j, h in enumerate(beam):
            if h[_PARENT] is not None:
                children.setdefault(h[_PARENT], {})[h[_LAST] * 2 + h[_VAR]] = j
        # extensions (a repeated token needs a blank in between), merged into the beam where they meet it
        if self.plain:
            ext, extra = [], None
            for i, h in enumerate(beam):
                last, pb, tot = h[_LAST], pbs[i], tots[i]
                out = [(pb if c == last else tot) + row[c] for c in toks]
                kids = children.get(h[_KEY])
                if kids is not None:
                    for t, c in enumerate(toks):
                        j = kids.get(c * 2)
                        if j is not None:
                            stay_pnb[j] = logaddexp(stay_pnb[j], out[t])
                            out[t] = NEG_INF
                ext += out
            offsets = [h[_FUSE] + self.bonus for h in beam for _ in toks] if self.fused else None
        else:
            ext, extra, offsets = self._extensions(beam, row, toks, pbs, tots, children, stay_pnb)
        # every candidate's score: the stays, then the extensions; keep the best K
        if self.fused:
            score = [logaddexp(b, n) + h[_FUSE] for b, n, h in zip(stay_pb, stay_pnb, beam)]
            score += [x + f for x, f in zip(ext, offsets)]
        else:
            score = [logaddexp(b, n) for b, n in zip(stay_pb, stay_pnb)]
            score += ext
        H, n = len(beam), len(toks)
        new = []
        for k in self._select(score):
            if k < H:
                new.append((stay_pb[k], stay_pnb[k], *beam[k][2:]))
                continue
            e = k - H
            h = beam[(e // n) % H]
            c, var = toks[e % n], e // (n * H)
            fuse = offsets[e] if offsets is not None else h[_FUSE]
            if extra is None:
                lms, lsid, node, word = h[_LMS], h[_LSID], h[_NODE], -1
            else:
                inc, lsid, node, word = extra[e]
                lms = h[_LMS] + inc if self.has_lm else h[_LMS]
            new.append((NEG_INF, ext[e], c, hash((h[_KEY], c, var)), h[_KEY], var, lms, fuse, lsid, node,
                        (h[_PATH], c, word)))
        return new

    def _extensions(self, beam: list[tuple], row: list[float], toks: list[int], pbs: list[float],
                    tots: list[float], children: dict[int, dict[int, int]], stay_pnb: list[float]
                    ) -> tuple[list[float], list[tuple], Optional[list[float]]]:
        """With an LM or a trie: the extensions' log-probs (E,), (LM increment, LM state, trie node,
        closed word or -1) of each, and their fused offsets (None: not fused), merging as
        ``__call__`` does."""
        tlm, wlm, trie, lex, closer, bnd = self.tlm, self.wlm, self.trie, self.lex, self.closer, self.bnd
        w, bonus = (self.w if self.has_lm else 0.0), self.bonus
        ext, extra, offsets, counts = [], [], [], []
        closing: list[tuple] = []  # variant 1 (pronunciation lexicon): (log-prob, extra, bonus count)
        root_kids = trie.row(trie.root) if self.implicit else None
        for h, pb, tot in zip(beam, pbs, tots):
            last, lsid, node = h[_LAST], h[_LSID], h[_NODE]
            lm_row = tlm.row(lsid) if tlm is not None else None
            kids = trie.row(node) if trie is not None else None
            close = closer.one(lsid if wlm is not None else 0, node) if self.implicit else None
            for c in toks:
                x = (pb if last == c else tot) + row[c]
                inc, nsid, nnode, word, cnt = 0.0, lsid, node, -1, self.cnt_step
                if lm_row is not None:
                    inc, nsid = lm_row[0][c], lm_row[1][c]
                acoustic = x
                if kids is not None:
                    nnode = kids[c]
                    if lex is not None and nnode < 0:
                        x = NEG_INF
                if close is not None:  # also: close the word, then start the next at the root
                    c_lp, c_sid, c_ok, c_word = close
                    child = root_kids[c]
                    more = (c_lp, c_sid, float(c_ok)) if wlm is not None else (inc, nsid, cnt)
                    closing.append((acoustic if c_ok and child >= 0 else NEG_INF,
                                    (more[0], more[1], child, c_word if c_ok else -1), more[2]))
                elif c == bnd and closer is not None:  # the boundary closes the word (or nothing, after one)
                    c_lp, c_sid, c_ok, c_word = closer.one(lsid if wlm is not None else 0, node)
                    if wlm is not None:
                        inc, nsid, cnt = (c_lp if c_ok else 0.0), c_sid, float(c_ok)
                    if lex is not None:
                        word = c_word if c_ok else -1
                ext.append(x)
                extra.append((inc, nsid, nnode, word))
                counts.append(cnt)
        for x, more, cnt in closing:
            ext.append(x)
            extra.append(more)
            counts.append(cnt)
        n, H = len(toks), len(beam)
        for i, h in enumerate(beam):  # merges
            kids = children.get(h[_KEY])
            if kids is not None:
                for e in [v * n * H + i * n + t for v in range(1 + self.implicit) for t in range(n)]:
                    j = kids.get(toks[e % n] * 2 + e // (n * H))
                    if j is not None:
                        stay_pnb[j] = logaddexp(stay_pnb[j], ext[e])
                        ext[e] = NEG_INF
        if not self.fused:
            return ext, extra, None
        for e, (more, cnt) in enumerate(zip(extra, counts)):
            f = beam[(e // n) % H][_FUSE]
            if w:
                f += w * more[0]
            if bonus:
                f += bonus * cnt
            offsets.append(f)
        return ext, extra, offsets

    def _select(self, score: list[float]) -> list[int]:
        """The candidates kept, in their order: finite, within the threshold of the best, and among the
        best K (ties: the earlier)."""
        least = max(score) - self.threshold if self.threshold is not None and score else NEG_INF
        if least > NEG_INF:
            ok = [k for k, v in enumerate(score) if v >= least]
        else:
            ok = [k for k, v in enumerate(score) if v > NEG_INF]
        if len(ok) > self.K:  # a stable sort, best first: ties keep their order
            ok = sorted(sorted(ok, key=score.__getitem__, reverse=True)[:self.K])
        return ok


def _finish(search: "CTCPrefixBeamSearch", beam: list[tuple]) -> list[BeamResult]:
    """End of utterance (``beam_nbest``): score the final hypotheses, rank them, trace the n-best back.
    A beam left empty ends as the lockstep search's empty slot: one result scored -inf."""
    if not beam:
        beam = [_empty(search, NEG_INF)]
    columns = (np.array([[h[f] for h in beam]]) for f in (_PB, _PNB, _LMS, _FUSE, _LSID, _NODE))  # (1, H) each
    score, acoustic, lm_total, final_word = (a[0].tolist() for a in end_of_utterance(search, *columns))
    ranked = sorted(range(len(score)), key=lambda k: -score[k])[:min(search.nbest, search.beam)]
    words = search._closer.words if search._lex is not None else None

    def path(j: int, k: int) -> tuple[tuple[int, ...], Optional[tuple[str, ...]]]:
        ids, closed, p = [], [final_word[k]] if final_word[k] >= 0 else [], beam[k][_PATH]
        while p is not None:
            p, c, word = p
            ids.append(c)
            if word >= 0:
                closed.append(word)
        return tuple(reversed(ids)), None if words is None else tuple(words[w] for w in reversed(closed))

    return nbest_list(search, score, acoustic, lm_total, ranked, path)
