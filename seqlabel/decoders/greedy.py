"""Best-path (greedy) CTC decoding as a pure function."""
from __future__ import annotations

import torch


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
