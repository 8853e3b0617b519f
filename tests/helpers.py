"""Helpers shared by test modules (import as ``from helpers import ...``; pytest puts tests/ on the path)."""
from __future__ import annotations

import numpy as np
import torch


def collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    """A CTC frame path -> its labelling: repeats merged, blanks (0) dropped."""
    out, prev = [], None
    for c in path:
        if c != prev and c != 0:
            out.append(c)
        prev = c
    return tuple(out)


def random_log_probs(T: int, C: int, seed: int, scale: float = 2.0) -> np.ndarray:
    """(T, C) float64 log-probs of random logits (``scale``: how peaky)."""
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(T, C, generator=g, dtype=torch.float64)).log_softmax(-1).numpy()
