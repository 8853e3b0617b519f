"""Frame-count arithmetic of the model and of CTC: output lengths after subsampling and pooling, the
frames a label sequence needs, and seconds per output frame."""
from __future__ import annotations

import torch

from seqlabel.config import Config


def output_lengths(lengths: torch.Tensor, subsampling: int) -> torch.Tensor:
    """Output frames for input lengths: ceil(T / subsampling)."""
    return torch.div(lengths + subsampling - 1, subsampling, rounding_mode="floor")


def pooled_size(size: int, pool: int, layers: int) -> int:
    """Size of an axis after ``layers`` ceil-mode max-pools of ``pool``: ceil(size / pool ** layers)."""
    return -(-size // pool ** layers)


def ctc_min_frames(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """targets (B, L) padded, lengths (B,) -> (B,) frames CTC needs: L + number of repeated neighbours."""
    if targets.shape[1] < 2:
        return target_lengths.clone()
    positions = torch.arange(1, targets.shape[1], device=targets.device)  # (L-1,)
    repeats = (targets[:, 1:] == targets[:, :-1]) & (positions.unsqueeze(0) < target_lengths.unsqueeze(1))
    return target_lengths + repeats.sum(dim=1)


def frame_seconds(config: Config) -> float:
    """Seconds per output frame: the feature frame shift times the model's time reduction
    (CNN time pooling x subsampling)."""
    return config.features.frame_shift_ms / 1000.0 * config.model.time_reduction
