"""The batched prefix beam search (``beam.py``): utterances decoded in lockstep, every step a
fixed number of numpy calls over flat tables of all their hypotheses.

Shape legend: B utterances, T output frames, C classes (blank = 0), H live hypotheses (of all
utterances together), E candidate (hypothesis, token) pairs of one step.

All live hypotheses sit in two flat tables (floats: log p(prefix, ending in blank) ``p_b``, log
p(prefix, ending in a token) ``p_nb``, LM log-prob, fused offset; ints: utterance, last token,
prefix hash, LM state, lexicon node), grouped by utterance. A step is a fixed number of numpy
calls over those tables and the flat list of (hypothesis, token) extensions, whatever the batch
size; no Python runs per hypothesis or token. Step i handles, for every utterance, the i-th frame
where some token passes the pruning; the frames in between extend no prefix and are applied in
closed form (``beam_frames.Schedule``). Prefixes are identified by 64-bit hashes of their token
sequence, so an extension equal to a prefix already in the beam is merged into it (log-sum-exp).
This module owns the step loop, the prefix hashes, merging and selection; ``beam_nbest`` turns
the final hypotheses into n-best lists.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from seqlabel.decoders.beam_frames import NEG_INF, Schedule, schedule
from seqlabel.decoders.beam_nbest import BeamResult, assemble_nbest

if TYPE_CHECKING:
    from seqlabel.decoders.beam import CTCPrefixBeamSearch

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


def search_lockstep(search: "CTCPrefixBeamSearch", lp: np.ndarray, rid: np.ndarray, lens: np.ndarray,
                    passing: np.ndarray, events: np.ndarray) -> list[list[BeamResult]]:
    """With ``search``'s settings and tables, decode utterances ``rid`` (B,) of lp (*, T, C) and
    passing tokens (*, T, C-1), given their lengths (B,) and frames where some token passes (B, T),
    sorted by their number of such frames, most first -> n-best lists.

    All hypotheses of all utterances live in two flat tables, F (H, 4) floats and I (H, 5) ints
    (columns ``_F_*``, ``_I_*``), grouped by utterance (ascending; finished utterances drop
    off the end); candidates are flat (hypothesis, token) pairs (E,). Step i processes the i-th
    frame of each utterance where some token passes; the frames in between only extend no
    prefix and are applied in closed form (``Schedule``). A step costs the same few numpy calls
    whatever the batch, and only live hypotheses and passing tokens take space.
    """
    B, T = events.shape
    C = lp.shape[2]
    K = search.beam
    w, bonus = search.lm_weight, search.insertion_bonus
    tlm, wlm, trie, lex, closer = search._token_lm, search._word_lm, search._trie, search._lex, search._closer
    implicit, bnd = search._implicit, search.boundary
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
    final_index = np.full((B, K), -1, dtype=np.int64)  # -1: an empty slot
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
        sel = _select(score, srow.astype(row_type), n, K, search.beam_threshold)

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
    return assemble_nbest(search, final, history, sch.steps)

