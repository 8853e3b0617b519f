"""The optional convolutional front end: conv layers over the (feature, time) plane of (B, T, F)
inputs before the BiLSTM stack, and the frame masking that keeps an item's outputs independent of
its batch."""
from __future__ import annotations

import torch
from torch import nn

from seqlabel.models.lengths import output_lengths, pooled_size


def mask_frames(x: torch.Tensor, lengths: torch.Tensor, dim: int) -> torch.Tensor:
    """Zero the positions of axis ``dim`` at or past each item's length (the batch axis is 0)."""
    steps = torch.arange(x.shape[dim], device=x.device)
    keep = steps.unsqueeze(0) < lengths.to(x.device).unsqueeze(1)  # (B, T)
    shape = [x.shape[0]] + [1] * (x.dim() - 1)
    shape[dim] = x.shape[dim]
    return x * keep.view(shape).to(x.dtype)


class ConvFrontEnd(nn.Module):
    """Conv -> ReLU -> max-pool layers over the (feature, time) plane of (B, T, F) inputs.

    Frames past each item's length are zeroed before the first convolution and after every ReLU,
    and pooling is ceil-mode over non-negative values, so an item's outputs do not depend on the
    batch it is in (nor on what its padding holds).
    """

    def __init__(self, input_dim: int, channels: list[int], kernel: int, height_pool: int, time_pool: int) -> None:
        super().__init__()
        self.time_pool = time_pool
        blocks, previous = [], 1
        for c in channels:
            blocks.append(nn.Conv2d(previous, c, kernel, padding=kernel // 2))
            previous = c
        self.convs = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d((height_pool, time_pool), ceil_mode=True)
        self.output_dim = previous * pooled_size(input_dim, height_pool, len(channels))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, F), lengths (B,) -> (B, T1, output_dim), lengths (B,) with T1 = ceil(T / time_pool ** layers)."""
        y = x.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): one channel, features as image rows
        y = mask_frames(y, lengths, dim=3)
        for conv in self.convs:
            y = mask_frames(torch.relu(conv(y)), lengths, dim=3)  # (B, K, F, T)
            y = self.pool(y)  # (B, K, ceil(F / q), ceil(T / p))
            lengths = output_lengths(lengths, self.time_pool)
        b, k, f, t = y.shape
        return y.permute(0, 3, 1, 2).reshape(b, t, k * f), lengths  # (B, K, F1, T1) -> (B, T1, K * F1)
