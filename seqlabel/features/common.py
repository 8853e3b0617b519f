"""Feature helpers shared by the extractors: deltas and sanity checks."""
from __future__ import annotations

from typing import Sequence

import torch

from seqlabel.errors import DataError
from seqlabel.types import Utterance

DELTA_WINDOW = 2  # N of the delta formula: Kaldi's add-deltas default (torchaudio's compute_deltas win_length 5)


def add_deltas(feats: torch.Tensor, order: int, window: int = DELTA_WINDOW) -> torch.Tensor:
    """(T, F) -> (T, F * (1 + order)): append deltas (and delta-deltas) as Kaldi's add-deltas.

    d_t = sum_{n=1..N} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1..N} n^2), edges replicated, N = window.
    """
    return add_deltas_many([feats], order, window)[0]


def add_deltas_many(feats: Sequence[torch.Tensor], order: int, window: int = DELTA_WINDOW) -> list[torch.Tensor]:
    """``add_deltas`` of several (T_i, F) matrices in one pass: each is padded with its own
    replicated edge rows, all are concatenated, the differences are taken once, and the rows
    of each matrix are picked back out (no (T_i = 0) matrix allowed)."""
    if not order:
        return list(feats)
    lengths = [f.shape[0] for f in feats]
    N = window
    # Frame t of matrix i sits at row offset_i + t of the padded concatenation minus its first N rows.
    rows = None
    if len(feats) > 1:
        starts = torch.tensor([0] + lengths[:-1]).cumsum(0) + 2 * N * torch.arange(len(feats))
        rows = torch.cat([torch.arange(n) + s for n, s in zip(lengths, starts.tolist())])  # (sum T,)
    denom = 2.0 * sum(n * n for n in range(1, N + 1))
    out = [torch.cat(list(feats)) if len(feats) > 1 else feats[0]]  # (sum T, F)
    for _ in range(order):
        prev = out[-1].split(lengths)
        padded = torch.cat([part for p in prev for part in (p[:1].expand(N, -1), p, p[-1:].expand(N, -1))])
        L = padded.shape[0] - 2 * N  # rows with N neighbours on both sides
        delta = padded[N + 1 : N + 1 + L] - padded[N - 1 : N - 1 + L]
        for n in range(2, N + 1):
            delta = delta.add(padded[N + n : N + n + L] - padded[N - n : N - n + L], alpha=n)
        delta = delta.div_(denom)
        out.append(delta if rows is None else delta.index_select(0, rows))
    return list(torch.cat(out, dim=1).split(lengths))


def check_finite(feats: torch.Tensor, utt: Utterance) -> torch.Tensor:
    if not torch.isfinite(feats).all():
        bad = (~torch.isfinite(feats)).any(dim=1).nonzero()[0, 0].item()
        raise DataError(f"utterance {utt.id!r}: non-finite feature values (first at frame {bad}) from {utt.source}")
    return feats
