"""Best-path (greedy) CTC decoding: ``greedy_search`` (a pure function over padded tensors, used in
training's dev evaluation) and ``GreedyDecoder`` (the same as a ``Decoder``, beside the beam search)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seqlabel.decoders.align import BLANK, Alignment, path_alignment
from seqlabel.decoders.beam_frames import check_log_probs
from seqlabel.decoders.beam_nbest import BeamResult


def greedy_search(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> list[tuple[list[int], list[int]]]:
    """log_probs (B, T, C), lengths (B,) -> per utterance (label ids, output frame of each label).

    Takes the most probable class per frame, merges repeats, drops blanks.
    """
    if log_probs.dim() != 3:
        raise ValueError(f"log_probs must be (B, T, C), got {tuple(log_probs.shape)}")
    best = log_probs.argmax(dim=-1).cpu()  # (B, T)
    lengths = lengths.cpu()
    T = best.shape[1]
    valid = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
    prev = torch.nn.functional.pad(best[:, :-1], (1, 0), value=blank)  # (B, T) class of frame t-1
    keep = valid & (best != blank) & (best != prev)
    out = []
    for b in range(best.shape[0]):
        frames = keep[b].nonzero().squeeze(1)
        out.append((best[b, frames].tolist(), frames.tolist()))
    return out


class GreedyDecoder:
    """Best-path decoding as a ``Decoder``: the most probable class per frame, repeats merged, blanks
    dropped; one result per utterance, scored by its path's log-probability."""

    name = "greedy"

    def __init__(self, batch_size: int = 256) -> None:
        self.batch_size = batch_size

    def batch(self, log_probs: Any, lengths: Any = None) -> list[list[BeamResult]]:
        """log_probs (B, T, C), lengths (B,) -> [[best path's labelling]] per utterance."""
        arr, lens = check_log_probs(log_probs, lengths)
        out = []
        for b in range(arr.shape[0]):
            lp = arr[b, : lens[b]]  # (T_b, C)
            best = lp.argmax(axis=1)  # (T_b,)
            score = float(lp[np.arange(best.size), best].sum())
            keep = (best != BLANK) & np.concatenate([[True], best[1:] != best[:-1]])
            out.append([BeamResult(tuple(int(c) for c in best[keep]), score, score)])
        return out

    def __call__(self, log_probs: Any) -> list[BeamResult]:
        """log_probs (T, C) of one utterance -> [its best path's labelling]."""
        return self.batch(np.asarray(log_probs)[None])[0]

    def align(self, log_probs: np.ndarray, result: BeamResult) -> Alignment:
        """The best path's token spans (the path the labelling came from)."""
        return path_alignment(log_probs, np.asarray(log_probs).argmax(axis=1))
