"""The end of the prefix beam search (``beam.py``): the hypotheses that survive the last frame
become ranked n-best lists of ``BeamResult``.

Shape legend: B utterances, K hypothesis slots per utterance (the beam), N results per utterance
(at most ``nbest``), S search steps.

This module owns what happens once the frames are through: open words closed, the LM's end of
sentence added, words left half-spelled dropped (lexicon), slots ranked, and each result's tokens
and words traced back. Both searches end here: the lockstep one (``beam_lockstep``) through
``assemble_nbest``, the one-utterance one (``beam_single``) through ``end_of_utterance`` and
``nbest_list``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import numpy as np

from seqlabel.decoders.beam_frames import NEG_INF

if TYPE_CHECKING:
    from seqlabel.decoders.beam import CTCPrefixBeamSearch


@dataclass(frozen=True)
class BeamResult:
    """One hypothesis of the search, over class ids (blank never appears)."""

    ids: tuple[int, ...]
    score: float  # the fused score used for ranking (CTC + weighted LM + bonus)
    acoustic_score: float  # log P_ctc of the label sequence (summed over the alignments kept)
    lm_score: Optional[float] = None  # unweighted LM log-probability, end of sentence included (None: no LM)
    words: Optional[tuple[str, ...]] = None  # the words, when a lexicon chose them


def end_of_utterance(search: "CTCPrefixBeamSearch", pb: np.ndarray, pnb: np.ndarray, lms: np.ndarray,
                     fuse: np.ndarray, lsid: np.ndarray, node: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Final hypotheses (..., K) of utterances (the last axis: one utterance's slots): their p_b, p_nb,
    LM log-probs, fused offsets, LM states and trie nodes -> (..., K) fused scores, acoustic scores,
    LM log-probs (end of sentence included), and the word each closes at the end (index into the
    closer's words; -1: none)."""
    tlm, wlm, trie, lex, closer = search._token_lm, search._word_lm, search._trie, search._lex, search._closer
    w, bonus = search.lm_weight, search.insertion_bonus
    acoustic = np.logaddexp(pb, pnb)
    lm_total = lms
    score = acoustic + fuse
    final_word = np.full(pb.shape, -1, dtype=np.int64)
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
        score = np.where(complete | ~complete.any(axis=-1, keepdims=True), score, NEG_INF)
    return score, acoustic, lm_total, final_word


def nbest_list(search: "CTCPrefixBeamSearch", score: np.ndarray, acoustic: np.ndarray, lm_total: np.ndarray,
               ranked: Sequence[int], path: Callable[[int, int], tuple[tuple[int, ...], Optional[tuple[str, ...]]]]
               ) -> list[BeamResult]:
    """One utterance's n-best list: its slots' scores, acoustic scores and LM log-probs (K,), the slots
    ranked best first (N,), and ``path(j, k)``: the ids and words of the j-th ranked slot k. Stops at
    the first -inf score after the best."""
    has_lm = search._token_lm is not None or search._word_lm is not None
    results: list[BeamResult] = []
    for j, k in enumerate(ranked):
        if score[k] == NEG_INF and results:
            break
        ids, words = path(j, k)
        results.append(BeamResult(ids, float(score[k]), float(acoustic[k]), float(lm_total[k]) if has_lm else None,
                                  words))
    return results


def assemble_nbest(search: "CTCPrefixBeamSearch", final: dict[str, np.ndarray], history: list,
                   nev: np.ndarray) -> list[list[BeamResult]]:
    """The lockstep search's end: its final slots (B, K) (``final``: pb, pnb, lms, fuse, lsid, node, and
    index, each slot's row in its utterance's last step, -1 for an empty slot), the steps' history
    (S: the row each hypothesis came from, the token it added or -1, the word it closed or -1) and
    each utterance's number of steps (B,) -> the n-best list of each utterance, best first."""
    score, acoustic, lm_total, final_word = end_of_utterance(
        search, *(final[k] for k in ("pb", "pnb", "lms", "fuse", "lsid", "node")))
    B, K = score.shape
    N = min(search.nbest, K)
    best = np.argsort(-score, axis=1, kind="stable")[:, :N]  # (B, N)
    # trace back all n-best paths of all utterances at once, each from its own last step
    S = len(history)
    toks = np.full((S, B, N), -1, dtype=np.int64)
    closer = search._closer
    words = np.full((S, B, N), -1, dtype=np.int64) if closer is not None else None
    cur = np.take_along_axis(final["index"], best, axis=1)  # (B, N) row in the last step's tables; -1: none
    for t in range(S - 1, -1, -1):
        src, tok, closed = history[t]
        live = (nev > t)[:, None] & (cur >= 0)  # (B, N) slots of utterances that took step t
        c = cur[live]
        toks[t][live] = tok[c]
        if closed is not None:
            words[t][live] = closed[c]
        cur[live] = src[c]

    def path(b: int) -> Callable[[int, int], tuple[tuple[int, ...], Optional[tuple[str, ...]]]]:
        def one(j: int, k: int) -> tuple[tuple[int, ...], Optional[tuple[str, ...]]]:
            column = toks[:, b, j]
            found = None
            if search._lex is not None:
                wcol = words[:, b, j]
                idx = wcol[wcol >= 0].tolist() + ([int(final_word[b, k])] if final_word[b, k] >= 0 else [])
                found = tuple(closer.words[i] for i in idx)
            return tuple(column[column >= 0].tolist()), found
        return one

    return [nbest_list(search, score[b], acoustic[b], lm_total[b], best[b].tolist(), path(b)) for b in range(B)]
