"""Deep bidirectional LSTM stack for CTC.

    features (B, T, F), lengths (B,)
      -> frame stacking / subsampling  (B, T', F * frame_stacking), T' = ceil(T / subsampling)
      -> BiLSTM x num_layers            (B, T', 2 * H)   (H = projection_size or hidden_size)
      -> linear                         (B, T', C)
      -> log-softmax (float32)          (B, T', C), output lengths (B,)

The forward pass is the same in training and evaluation (dropout aside).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlabel.config import ModelConfig


def output_lengths(lengths: torch.Tensor, subsampling: int) -> torch.Tensor:
    """Output frames for input lengths: ceil(T / subsampling)."""
    return torch.div(lengths + subsampling - 1, subsampling, rounding_mode="floor")


def stack_frames(x: torch.Tensor, stacking: int, subsampling: int) -> torch.Tensor:
    """(B, T, F) -> (B, ceil(T / subsampling), F * stacking).

    Output frame t concatenates input frames t*s .. t*s + stacking - 1 (zeros past the end).
    """
    if stacking == 1 and subsampling == 1:
        return x
    if stacking > 1:
        padded = nn.functional.pad(x, (0, 0, 0, stacking - 1))  # (B, T + k - 1, F)
        x = torch.cat([padded[:, k : k + x.shape[1]] for k in range(stacking)], dim=2)  # (B, T, F*k)
    return x[:, ::subsampling]


class BiLSTMCTC(nn.Module):
    def __init__(self, input_dim: int, num_classes: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.input_dim = input_dim
        self.num_classes = num_classes
        self.lstm = nn.LSTM(
            input_size=input_dim * config.frame_stacking,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            proj_size=config.projection_size,
        )
        out_units = config.projection_size or config.hidden_size
        self.output = nn.Linear(2 * out_units, num_classes)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, T, F), lengths (B,) -> log-probs (B, T', C) float32, out lengths (B,)."""
        if features.dim() != 3 or features.shape[2] != self.input_dim:
            raise ValueError(f"features must be (B, T, {self.input_dim}), got {tuple(features.shape)}")
        x = stack_frames(features, self.config.frame_stacking, self.config.subsampling)  # (B, T', F')
        out_lengths = output_lengths(lengths, self.config.subsampling)
        packed = pack_padded_sequence(x, out_lengths.cpu(), batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])  # (B, T', 2H)
        logits = self.output(y)  # (B, T', C)
        return logits.float().log_softmax(dim=-1), out_lengths


def build_model(input_dim: int, num_classes: int, config: ModelConfig) -> BiLSTMCTC:
    return BiLSTMCTC(input_dim, num_classes, config)
