"""Feature helpers shared by the extractors: deltas and sanity checks."""
from __future__ import annotations

import torch
import torchaudio

from seqlabel.errors import DataError
from seqlabel.types import Utterance


def add_deltas(feats: torch.Tensor, order: int) -> torch.Tensor:
    """(T, F) -> (T, F * (1 + order)): append deltas (and delta-deltas), Kaldi window 2."""
    out = [feats]
    for _ in range(order):
        # compute_deltas works on (..., F, T)
        out.append(torchaudio.functional.compute_deltas(out[-1].transpose(0, 1), win_length=5).transpose(0, 1))
    return torch.cat(out, dim=1) if order else feats


def check_finite(feats: torch.Tensor, utt: Utterance) -> torch.Tensor:
    if not torch.isfinite(feats).all():
        bad = (~torch.isfinite(feats)).any(dim=1).nonzero()[0, 0].item()
        raise DataError(f"utterance {utt.id!r}: non-finite feature values (first at frame {bad}) from {utt.source}")
    return feats
