"""Feature helpers shared by the extractors: deltas and sanity checks."""
from __future__ import annotations

import torch

from seqlabel.errors import DataError
from seqlabel.types import Utterance


def add_deltas(feats: torch.Tensor, order: int, window: int = 2) -> torch.Tensor:
    """(T, F) -> (T, F * (1 + order)): append deltas (and delta-deltas) as Kaldi's add-deltas.

    d_t = sum_{n=1..N} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1..N} n^2), edges replicated, N = window.
    """
    out = [feats]
    denom = 2.0 * sum(n * n for n in range(1, window + 1))
    for _ in range(order):
        prev = out[-1]
        T = prev.shape[0]
        padded = torch.cat([prev[:1].expand(window, -1), prev, prev[-1:].expand(window, -1)])  # (T + 2N, F)
        delta = torch.zeros_like(prev)
        for n in range(1, window + 1):
            delta += n * (padded[window + n : window + n + T] - padded[window - n : window - n + T])
        out.append(delta / denom)
    return torch.cat(out, dim=1) if order else feats


def check_finite(feats: torch.Tensor, utt: Utterance) -> torch.Tensor:
    if not torch.isfinite(feats).all():
        bad = (~torch.isfinite(feats)).any(dim=1).nonzero()[0, 0].item()
        raise DataError(f"utterance {utt.id!r}: non-finite feature values (first at frame {bad}) from {utt.source}")
    return feats
