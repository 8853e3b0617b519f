"""CTC alignments: token spans of a frame path, and forced alignment of a transcript.

Shape legend: T output frames, C classes (blank = 0), L transcript length.

A frame path (one class per frame) gives each token a span: the run of frames that emit it
(a blank or a different class ends the run; a repeated token needs a blank between). Forced
alignment finds the most probable path that collapses to a given transcript
(``torchaudio.functional.forced_align``, Viterbi over the CTC topology, runs on CPU).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from seqlabel.decoders.beam_frames import check_log_probs

BLANK = 0


@dataclass(frozen=True)
class TokenSpan:
    """One token of an alignment: class id, frames [start, end), peak posterior in the span."""

    token: int
    start: int
    end: int
    confidence: float


@dataclass(frozen=True)
class Alignment:
    spans: tuple[TokenSpan, ...]
    score: float  # log-probability of the path
    confidence: float  # geometric mean of the span confidences (of the blank frames if no token)


def path_alignment(log_probs: Any, path: Sequence[int]) -> Alignment:
    """log_probs (T, C) and a frame path (T,) -> its token spans and score."""
    lp = _as_array(log_probs)
    p = np.asarray(path, dtype=np.int64)
    if p.shape != (lp.shape[0],):
        raise ValueError(f"path must have one class per frame ({lp.shape[0]}), got shape {tuple(p.shape)}")
    T = p.size
    if T == 0:
        return Alignment((), 0.0, 1.0)
    frame_lp = lp[np.arange(T), p]  # (T,)
    starts = np.flatnonzero(np.concatenate([[True], p[1:] != p[:-1]]))  # first frame of each run
    ends = np.append(starts[1:], T)
    peak = np.maximum.reduceat(frame_lp, starts)  # (runs,)
    labels = p[starts]
    tok = labels != BLANK
    spans = tuple(TokenSpan(int(c), int(s), int(e), float(math.exp(v)))
                  for c, s, e, v in zip(labels[tok], starts[tok], ends[tok], peak[tok]))
    if spans:
        confidence = float(np.exp(np.mean(peak[tok])))
    else:
        confidence = float(np.exp(np.mean(lp[:, BLANK])))
    return Alignment(spans, float(frame_lp.sum()), confidence)


def forced_align(log_probs: Any, targets: Sequence[int]) -> Alignment:
    """log_probs (T, C), transcript class ids (L,) -> the best alignment's token spans and score.

    Raises ValueError when the transcript cannot fit: T must be at least L plus the number of
    repeated neighbours (each needs a blank between), or a target is the blank or out of range.
    """
    lp = _as_array(log_probs)
    T, C = lp.shape
    ids = [int(t) for t in targets]
    bad = [t for t in ids if not 0 < t < C]
    if bad:
        raise ValueError(f"targets must be class ids in [1, {C - 1}] (0 is the blank), got {bad[:5]}")
    need = len(ids) + sum(a == b for a, b in zip(ids, ids[1:]))
    if need > T:
        raise ValueError(f"a transcript of {len(ids)} tokens needs at least {need} frames, the log-probs have {T}")
    if not ids:
        return path_alignment(lp, np.zeros(T, dtype=np.int64))
    import torchaudio.functional as AF

    emissions = torch.from_numpy(lp).to(torch.float32).unsqueeze(0)  # (1, T, C)
    target = torch.tensor([ids], dtype=torch.int32)  # (1, L)
    path, _ = AF.forced_align(emissions, target, blank=BLANK)  # (1, T)
    return path_alignment(lp, path[0].numpy())


def align_batch(log_probs: Any, lengths: Any, targets: Sequence[Sequence[int]]) -> list[Alignment]:
    """log_probs (B, T, C), lengths (B,), B transcripts -> one alignment each."""
    arr, lens = check_log_probs(log_probs, lengths)
    if len(targets) != arr.shape[0]:
        raise ValueError(f"{arr.shape[0]} utterances but {len(targets)} transcripts")
    return [forced_align(arr[b, : lens[b]], targets[b]) for b in range(arr.shape[0])]


def _as_array(log_probs: Any) -> np.ndarray:
    if isinstance(log_probs, torch.Tensor):
        log_probs = log_probs.detach().cpu().to(torch.float64).numpy()
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim != 2:
        raise ValueError(f"log_probs of one utterance must be 2D (T, C), got shape {tuple(lp.shape)}")
    return lp
