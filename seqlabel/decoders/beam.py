"""CTC prefix beam search with shallow fusion of an n-gram LM and lexicon constraints.

Shape legend: B utterances, T output frames, C classes (blank = 0).

Fusion (Graves et al. 2009 token passing; Hannun et al. 2014 prefix search):

    score = log P_ctc(prefix) + lm_weight * log P_lm(prefix) + insertion_bonus * |prefix|

``|prefix|`` counts tokens for a token LM (or no LM), and words for a word LM. A token LM
(characters or phones) scores every emitted token; a word LM scores a word when it closes
(the boundary token, the end of the utterance, or, with a pronunciation lexicon, the start of
the next word). With a lexicon every hypothesis follows a path in the prefix trie, so only
dictionary words can be produced. LM scores and trie moves are looked up in tables filled on
first use (``beam_tables``: ``TokenLMTable``, ``LexiconTable``, ``ClosureCache``), kept across
utterances. Prefixes equal in their tokens (and word segmentation) are merged, so with a wide
enough beam the scores are the log-probabilities of the label sequences summed over every
alignment that the pruning allows (all of them without pruning).

This module owns the search's settings, its LM and lexicon tables, and the way in: input checks,
the frames where a token may start (``beam_frames``), and the choice of search loop. Utterances
decoded together run in lockstep over numpy tables (``beam_lockstep``); one utterance on its own
runs the same steps over Python lists (``beam_single``), where numpy's cost per call would
dominate. Both give the same results; ``beam_nbest`` assembles them into n-best lists.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np
import torch

from seqlabel.decoders.align import Alignment, forced_align
from seqlabel.decoders.beam_frames import check_log_probs, passing_tokens
from seqlabel.decoders.beam_lockstep import search_lockstep
from seqlabel.decoders.beam_nbest import BeamResult
from seqlabel.decoders.beam_single import search_single, single_is_cheaper
from seqlabel.decoders.beam_tables import (
    ClosureCache,
    LexiconTable,
    TokenLMTable,
    WordLMTable,
    check_vocabularies,
    vocabulary_lexicon,
)
from seqlabel.decoders.protocols import LanguageModel

__all__ = ["BeamResult", "CTCPrefixBeamSearch", "check_log_probs", "ctc_prefix_beam_search"]


class CTCPrefixBeamSearch:
    """CTC prefix beam search over log-probs; see the module docstring.

    Pruning only restricts where a token may start: at a frame, the tokens with log-prob
    >= ``token_min_logp`` (None: all), the ``token_topk`` best of them (0: no limit; ties kept),
    none if the blank's probability is >= ``blank_threshold``. Each utterance keeps at most
    ``beam`` hypotheses, none more than ``beam_threshold`` below its best. ``tokens`` are the
    class names (index 0 the blank) that the LM and lexicon see; ``word_boundary`` the token
    that separates words (None or absent from ``tokens``: words end implicitly, lexicon only).
    ``batch`` decodes utterances in lockstep, ``batch_size`` at a time (similar numbers of active
    frames together); ``__call__`` decodes one, as does ``batch`` given one (or ``batch_size`` 1):
    over Python lists unless the beam times the tokens passing at a frame is large
    (``beam_single.single_is_cheaper``). Either way the results are the same.
    """

    name = "beam"

    def __init__(self, tokens: Sequence[str], beam: int = 16, nbest: int = 1, token_topk: int = 0,
                 token_min_logp: Optional[float] = None, blank_threshold: Optional[float] = None,
                 beam_threshold: Optional[float] = None, lm: Optional[LanguageModel] = None, lm_unit: str = "token",
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
            if idx.size == 1:  # alone: Python lists beat numpy tables unless the beam and the frames are wide
                i = int(idx[0])
                if single_is_cheaper(self.beam, int(passing[i][events[i]].sum()), int(nev[i])):
                    results[i] = search_single(self, arr[i], int(lens[i]), passing[i], events[i])
                    continue
            found = search_lockstep(self, arr, idx, lens[idx], passing, events[idx])
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

    def align(self, log_probs: np.ndarray, result: BeamResult) -> Alignment:
        """log_probs (T, C) and one of their results -> the labelling's forced alignment (token spans)."""
        return forced_align(log_probs, result.ids)

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


def ctc_prefix_beam_search(log_probs: Any, lengths: Any = None, tokens: Optional[Sequence[str]] = None,
                           **options: Any) -> list[list[BeamResult]]:
    """log_probs (B, T, C), lengths (B,) -> n-best lists; ``options`` as for ``CTCPrefixBeamSearch``.

    Without ``tokens`` the classes are named by their ids (only an LM or lexicon needs names).
    """
    C = int(log_probs.shape[-1])
    names = list(tokens) if tokens is not None else ["<blank>"] + [str(i) for i in range(1, C)]
    return CTCPrefixBeamSearch(names, **options).batch(log_probs, lengths)
