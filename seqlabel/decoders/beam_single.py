"""One utterance on its own: the prefix beam search of ``beam_lockstep`` run over Python lists.

Shape legend: T output frames, C classes (blank = 0), S search steps, H live hypotheses, E
candidate (hypothesis, token) pairs of one step.

An utterance alone has at most ``beam`` live hypotheses and few tokens that pass the pruning at
a frame, so a numpy call (a microsecond or more each, some sixty a step) costs more than the
work it does. Here a step is plain Python over floats, taking the same steps as the lockstep
search: the same frames and the gaps between them in closed form (``schedule_one``), the
same extensions, merges, fused offsets and selection (ties included), in the same order with
the same float operations (``logaddexp`` as numpy computes it, with the C library's exp and
log1p), and the same end (``beam_nbest``), so the results are the same. A prefix is known by a
hash chained over (parent's hash, token, variant: 1 when a pronunciation lexicon closes a word
before the token), and an extension meets a prefix in the beam when that prefix's parent,
last token and variant are the extension's; each hypothesis keeps a linked path (parent's
path, token, closed word) for the traceback.

This module owns the one-utterance step loop and ``single_is_cheaper``, which ``beam.py`` asks
before choosing it.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

import numpy as np

from seqlabel.decoders.beam_frames import NEG_INF, schedule_one
from seqlabel.decoders.beam_nbest import BeamResult, end_of_utterance, nbest_list

if TYPE_CHECKING:
    from seqlabel.decoders.beam import CTCPrefixBeamSearch

_LOG2 = math.log(2.0)
_exp, _log1p = math.exp, math.log1p
_NO_WORD = (0.0, 0, False, -1)  # what closing gives where nothing closes
# the most (beam x tokens passing at an average step) for which Python beats the lockstep search:
# measured break-even 500-600 with full beams (synthetic AN4 log-probs, beams 4-64, pruning on and off)
SINGLE_MAX_WORK = 500


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


def logaddexps(xs: list[float], ys: list[float]) -> list[float]:
    """``logaddexp`` of two lists, pair by pair (one Python call for all)."""
    out = []
    for x, y in zip(xs, ys):
        if x == y:
            out.append(x + _LOG2)
            continue
        d = x - y
        out.append(x + _log1p(_exp(-d)) if d > 0 else (y + _log1p(_exp(d)) if d <= 0 else d))
    return out


def _fused(fuse: float, w: float, inc: float, bonus: float, count: float) -> float:
    """An extension's fused offset from its source's: + w x LM increment, + bonus x count (each only
    when its factor is set, as the lockstep search adds them)."""
    if w:
        fuse += w * inc
    if bonus:
        fuse += bonus * count
    return fuse


def single_is_cheaper(beam: int, passing_count: int, steps: int) -> bool:
    """Whether Python lists beat numpy tables for one utterance: a ``beam``, ``passing_count``
    (frame, token) pairs that pass the pruning over its ``steps`` steps."""
    return beam * passing_count <= SINGLE_MAX_WORK * max(steps, 1)


# A beam: four parallel lists, the hypotheses in their order in the lockstep search's tables:
# p_b, p_nb, last token (-1: none), and what the step does not change, a tuple (prefix hash,
# parent's hash (None: the empty prefix), variant, LM log-prob, fused offset, LM state, trie node,
# path: None or (parent's path, token, closed word or -1)).
_KEY, _PARENT, _VAR, _LMS, _FUSE, _LSID, _NODE, _PATH = range(8)
Beam = tuple[list[float], list[float], list[int], list[tuple]]


def search_single(search: "CTCPrefixBeamSearch", lp: np.ndarray, length: int, passing: np.ndarray,
                  events: np.ndarray) -> list[BeamResult]:
    """With ``search``'s settings and tables, decode one utterance: log-probs (T, C), its length, the
    tokens that pass the pruning (T, C-1) and the frames where some token passes (T,) -> its n-best
    list, best first."""
    C = lp.shape[1]
    frames, gaps = schedule_one(lp, length, events)  # (S,), (S+1,) before each step, and after the last
    S = frames.size
    rows = np.full((S, C + 1), NEG_INF)  # (S, C+1) each step's frame; class -1 (the empty prefix) reads -inf
    rows[:, :C] = lp[frames]
    step_of, token = np.nonzero(passing[frames])  # (P,) the passing (step, token - 1) pairs, step by step
    bounds = np.searchsorted(step_of, np.arange(S + 1)).tolist()
    tokens = (token + 1).tolist()
    beam = _empty(search, 0.0)
    step = _Step(search)
    for s, row in enumerate(rows.tolist()):
        beam = step(beam, gaps[s], row, tokens[bounds[s]:bounds[s + 1]])
    if gaps[S] is not None:
        beam = (*_after_gap(beam, *gaps[S]), beam[2], beam[3])
    return _finish(search, beam if beam[0] else _empty(search, NEG_INF))


def _empty(search: "CTCPrefixBeamSearch", pb: float) -> Beam:
    """The empty prefix alone: where the search begins (p_b 0) and what an emptied beam ends as (-inf:
    the lockstep search's empty slot)."""
    lm = search._token_lm if search._token_lm is not None else search._word_lm
    info = (0, None, 0, 0.0, 0.0, lm.start if lm is not None else 0,
            search._trie.root if search._trie is not None else 0, None)
    return [pb], [NEG_INF], [-1], [info]


def _after_gap(beam: Beam, stay: list[float], leave: list[float]) -> tuple[list[float], list[float]]:
    """The hypotheses' p_b and p_nb after the frames of a gap (``beam_frames.Schedule``; last
    token -1 reads column C)."""
    pbs, pnbs, lasts, _ = beam
    sb = stay[0]
    return (logaddexps([b + sb for b in pbs], [x + leave[c] for x, c in zip(pnbs, lasts)]),
            [x + stay[c] for x, c in zip(pnbs, lasts)])


class _Step:
    """One step of the search (``__call__``: the beam, the gap before the step's frame (None: none),
    the frame's log-probs (C+1,) and the n tokens that pass -> the next beam), taken as
    ``beam_lockstep`` takes it.

    Candidates are the H stays, then the extensions: hypothesis i by token ``toks[t]`` is extension
    i * n + t (with a pronunciation lexicon the same pairs follow again, closing the word first:
    variant 1, extension (H + i) * n + t). An extension that meets a prefix in the beam adds into
    that prefix's p_nb and scores -inf.
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

    def __call__(self, beam: Beam, gap: Optional[tuple[list[float], list[float]]], row: list[float],
                 toks: list[int]) -> Beam:
        pbs, pnbs, lasts, infos = beam
        H, n = len(pbs), len(toks)
        blank = row[0]
        stay_pb, stay_pnb, ext = [], [], []
        stay, leave = gap if gap is not None else (None, None)
        for pb, pnb, last in zip(pbs, pnbs, lasts):
            if stay is not None:  # the frames before this step's (``beam_frames.Schedule``)
                pb, pnb = logaddexp(pb + stay[0], pnb + leave[last]), pnb + stay[last]
            tot = logaddexp(pb, pnb)
            stay_pb.append(tot + blank)
            stay_pnb.append(pnb + row[last])
            for c in toks:  # a repeated token needs a blank in between
                ext.append((pb if c == last else tot) + row[c])
        if self.plain:
            offsets = [info[_FUSE] + self.bonus for info in infos for _ in toks] if self.fused else None
        else:
            offsets = self._constrain(infos, toks, ext)
        # merges: hypothesis j is its parent i extended by its last token (and variant)
        at = {c: t for t, c in enumerate(toks)}
        where = None
        for j, c in enumerate(lasts):
            t = at.get(c)
            if t is not None:
                if where is None:
                    where = {info[_KEY]: i for i, info in enumerate(infos)}
                info = infos[j]
                i = where.get(info[_PARENT])
                if i is not None:
                    e = (info[_VAR] * H + i) * n + t
                    stay_pnb[j] = logaddexp(stay_pnb[j], ext[e])
                    ext[e] = NEG_INF
        # every candidate's score: the stays, then the extensions; keep the best K
        score = logaddexps(stay_pb, stay_pnb)
        if offsets is not None:
            score = [v + info[_FUSE] for v, info in zip(score, infos)]
            score += [x + f for x, f in zip(ext, offsets)]
        else:
            score += ext
        new_pb, new_pnb, new_last, new_info = [], [], [], []
        for k in self._select(score):
            if k < H:
                new_pb.append(stay_pb[k])
                new_pnb.append(stay_pnb[k])
                new_last.append(lasts[k])
                new_info.append(infos[k])
                continue
            e = k - H
            q, t = divmod(e, n)
            var, i = divmod(q, H)
            c, info = toks[t], infos[i]
            key = info[_KEY]
            fuse = offsets[e] if offsets is not None else info[_FUSE]
            if self.plain:
                lms, lsid, node, word = info[_LMS], info[_LSID], info[_NODE], -1
            else:
                inc, lsid, node, word = self._grown(info, c, var)
                lms = info[_LMS] + inc if self.has_lm else info[_LMS]
            new_pb.append(NEG_INF)
            new_pnb.append(ext[e])
            new_last.append(c)
            new_info.append((hash((key, c, var)), key, var, lms, fuse, lsid, node, (info[_PATH], c, word)))
        return new_pb, new_pnb, new_last, new_info

    def _constrain(self, infos: list[tuple], toks: list[int], ext: list[float]) -> Optional[list[float]]:
        """With an LM or a trie: the extensions' log-probs (E,), in place: -inf where the lexicon
        forbids the token, and with a pronunciation lexicon the pairs again, closing the word first
        -> their fused offsets (E,; None: not fused). ``_grown`` gives the rest of a kept extension."""
        tlm, wlm, lex, bnd = self.tlm, self.wlm, self.lex, self.bnd
        acoustic = ext[:] if self.implicit else ext
        if lex is not None:  # only a lexicon forbids tokens
            n = len(toks)
            for i, info in enumerate(infos):
                kids = lex.row(info[_NODE])
                for t, c in enumerate(toks):
                    if kids[c] < 0:
                        ext[i * n + t] = NEG_INF
        # each extension's fused offset: its source's, plus the weighted LM increment and the bonus per
        # token (a word LM: per word, where one closes), added up as the lockstep search adds them
        w, bonus, cnt_step, n = (self.w if self.has_lm else 0.0), self.bonus, self.cnt_step, len(toks)
        at_bnd = toks.index(bnd) if wlm is not None and not self.implicit and bnd in toks else None
        offsets: list[float] = []
        closing: list[float] = []  # variant 1 (pronunciation lexicon)
        for info in infos if self.fused else ():
            f0 = info[_FUSE]
            if tlm is not None:
                lm_lp = tlm.row(info[_LSID])[0]
                fuse = [_fused(f0, w, lm_lp[c], bonus, cnt_step) for c in toks]
            else:  # no LM increment but where a word LM closes a word
                fuse = [_fused(f0, w, 0.0, bonus, cnt_step)] * n
            if wlm is not None and (at_bnd is not None or self.implicit):
                c_lp, _, c_ok, _ = self.closer.one(info[_LSID], info[_NODE])
                if at_bnd is not None:  # the boundary closes the word (or nothing, after one)
                    fuse[at_bnd] = _fused(f0, w, c_lp if c_ok else 0.0, bonus, float(c_ok))
                else:  # the next word's first token closes it
                    closing += [_fused(f0, w, c_lp, bonus, float(c_ok))] * n
            elif self.implicit:
                closing += fuse
            offsets += fuse
        if self.implicit:
            root_kids = self.trie.row(self.trie.root)
            n = len(toks)
            for i, info in enumerate(infos):
                c_ok = self.closer.one(info[_LSID] if wlm is not None else 0, info[_NODE])[2]
                ext += [acoustic[i * n + t] if c_ok and root_kids[c] >= 0 else NEG_INF for t, c in enumerate(toks)]
        return offsets + closing if self.fused else None

    def _grown(self, info: tuple, c: int, var: int) -> tuple[float, int, int, int]:
        """A kept extension of a hypothesis (``info``) by token c (variant ``var``): its LM increment,
        LM state, trie node and the word it closes (-1: none)."""
        tlm, wlm, trie, closer = self.tlm, self.wlm, self.trie, self.closer
        lsid, node = info[_LSID], info[_NODE]
        inc, nsid, nnode, word = 0.0, lsid, node, -1
        if tlm is not None:
            lm_lp, lm_next = tlm.row(lsid)
            inc, nsid = lm_lp[c], lm_next[c]
        if var:  # the word closes first, the token starts the next at the root
            c_lp, c_sid, c_ok, c_word = closer.one(lsid if wlm is not None else 0, node)
            nnode, word = trie.row(trie.root)[c], c_word if c_ok else -1
            if wlm is not None:
                inc, nsid = c_lp, c_sid
            return inc, nsid, nnode, word
        if trie is not None:
            nnode = trie.row(node)[c]
        if c == self.bnd and closer is not None and not self.implicit:  # the boundary closes the word
            c_lp, c_sid, c_ok, c_word = closer.one(lsid if wlm is not None else 0, node)
            if wlm is not None:
                inc, nsid = (c_lp if c_ok else 0.0), c_sid
            if self.lex is not None:
                word = c_word if c_ok else -1
        return inc, nsid, nnode, word

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


def _finish(search: "CTCPrefixBeamSearch", beam: Beam) -> list[BeamResult]:
    """End of utterance (``beam_nbest``): score the final hypotheses, rank them, trace the n-best back."""
    pbs, pnbs, _, infos = beam
    columns = [np.array([pbs]), np.array([pnbs])] + [np.array([[info[f] for info in infos]])
                                                      for f in (_LMS, _FUSE, _LSID, _NODE)]  # (1, H) each
    score, acoustic, lm_total, final_word = (a[0].tolist() for a in end_of_utterance(search, *columns))
    ranked = sorted(range(len(score)), key=lambda k: -score[k])[:min(search.nbest, search.beam)]
    words = search._closer.words if search._lex is not None else None

    def path(j: int, k: int) -> tuple[tuple[int, ...], Optional[tuple[str, ...]]]:
        ids, closed, p = [], [final_word[k]] if final_word[k] >= 0 else [], infos[k][_PATH]
        while p is not None:
            p, c, word = p
            ids.append(c)
            if word >= 0:
                closed.append(word)
        return tuple(reversed(ids)), None if words is None else tuple(words[w] for w in reversed(closed))

    return nbest_list(search, score, acoustic, lm_total, ranked, path)
