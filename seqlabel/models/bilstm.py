"""Deep bidirectional LSTM stack for CTC.

    features (B, T, F), lengths (B,)
      -> optional CNN front end         (B, T1, K * F1), T1 = ceil(T / p), F1 = ceil(F / q)
                                        (conv blocks, see models.frontend: K the last block's channels,
                                         p, q the products of their time and height pools; T1 = T without CNN)
      -> frame stacking / subsampling  (B, T', F' * frame_stacking), T' = ceil(T1 / subsampling)
      -> [input dropout]
      -> BiLSTM x num_layers            (B, T', 2 * H)   (H = projection_size or hidden_size; on CPU on
                                        padded frames, see ``bilstm``: packed sequences are ~5x slower
                                        there; on CUDA packed, which cuDNN runs natively)
      -> [output dropout] -> linear     (B, T', C)
      -> log-softmax (float32)          (B, T', C), output lengths (B,)

The forward pass is the same in training and evaluation (dropout aside).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlabel.config import ModelConfig
from seqlabel.models.frontend import ConvFrontEnd, mask_frames
from seqlabel.models.lengths import output_lengths


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


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, D) -> (B, T, D): frames 0 .. len-1 of each item in reverse order, later frames in place."""
    b, t, d = x.shape
    steps = torch.arange(t, device=x.device).unsqueeze(0)  # (1, T)
    index = lengths.to(x.device).unsqueeze(1) - 1 - steps  # (B, T)
    index = torch.where(index >= 0, index, steps.expand_as(index))
    rows = (index + t * torch.arange(b, device=x.device).unsqueeze(1)).reshape(-1)  # (B * T,)
    return x.reshape(b * t, d).index_select(0, rows).view(b, t, d)  # whole rows: faster than gather


def bilstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """A bidirectional, batch-first ``nn.LSTM`` over padded (B, T, D) inputs -> (B, T, 2H), layer by
    layer and direction by direction, with its own weights and dropout between layers.

    The forward direction reads the frames as they are; the backward one reads each item reversed
    within its length (padding after the real frames), so no output at a real frame depends on
    padding: the same outputs as with packed sequences, at the speed of one padded LSTM call
    (packed sequences leave oneDNN's fused kernels on CPU). Outputs past a length are junk.
    """
    for k in range(lstm.num_layers):
        if k > 0 and lstm.training and lstm.dropout > 0:
            x = nn.functional.dropout(x, lstm.dropout, training=True)
        ahead = _one_direction(lstm, k, "", x)
        back = reverse_within(_one_direction(lstm, k, "_reverse", reverse_within(x, lengths)), lengths)
        x = torch.cat([ahead, back], dim=2)  # (B, T, 2H)
    return x


def packed_bilstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The same as ``bilstm`` (zeros past each length) through packed sequences: (B, T, D) -> (B, T, 2H)."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    y, _ = pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=x.shape[1])
    return y


def _one_direction(lstm: nn.LSTM, layer: int, suffix: str, x: torch.Tensor) -> torch.Tensor:
    """(B, T, D) -> (B, T, H): one direction of one layer of ``lstm``, from zero states."""
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if lstm.bias else []) + (
        ["weight_hr"] if lstm.proj_size else [])
    params = [getattr(lstm, f"{n}_l{layer}{suffix}") for n in names]
    h0 = x.new_zeros(1, x.shape[0], lstm.proj_size or lstm.hidden_size)
    c0 = x.new_zeros(1, x.shape[0], lstm.hidden_size)
    y, _, _ = torch.lstm(x, (h0, c0), params, lstm.bias, 1, 0.0, lstm.training, False, True)
    return y


class BiLSTMCTC(nn.Module):
    def __init__(self, input_dim: int, num_classes: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.input_dim = input_dim
        self.num_classes = num_classes
        self.cnn = None
        lstm_input = input_dim
        if config.conv_blocks:
            self.cnn = ConvFrontEnd(input_dim, config.conv_blocks, config.cnn_output_norm)
            lstm_input = self.cnn.output_dim
        self.lstm = nn.LSTM(
            input_size=lstm_input * config.frame_stacking,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            proj_size=config.projection_size,
        )
        out_units = config.projection_size or config.hidden_size
        self.output = nn.Linear(2 * out_units, num_classes)
        self.frozen: tuple[str, ...] = ()  # parts held fixed (see models.parts.freeze) ...
        self.frozen_modules: tuple[nn.Module, ...] = ()  # ... and their modules, kept in evaluation mode

    def train(self, mode: bool = True) -> "BiLSTMCTC":
        """Training or evaluation mode; frozen parts stay in evaluation mode (their batch norm statistics fixed)."""
        super().train(mode)
        for module in self.frozen_modules:
            module.eval()
        return self

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, T, F), lengths (B,) -> log-probs (B, T', C) float32, out lengths (B,)."""
        if features.dim() != 3 or features.shape[2] != self.input_dim:
            raise ValueError(f"features must be (B, T, {self.input_dim}), got {tuple(features.shape)}")
        x = features
        if self.cnn is not None:
            x, lengths = self.cnn(x, lengths)  # (B, T1, F1)
        x = stack_frames(x, self.config.frame_stacking, self.config.subsampling)  # (B, T', F')
        out_lengths = output_lengths(lengths, self.config.subsampling)
        if self.config.input_dropout > 0:
            x = nn.functional.dropout(x, self.config.input_dropout, self.training)
        if x.is_cuda:  # cuDNN runs packed sequences natively, all layers and directions in one call
            y = packed_bilstm(self.lstm, x, out_lengths)  # (B, T', 2H)
        else:
            y = mask_frames(bilstm(self.lstm, x, out_lengths), out_lengths, dim=1)  # (B, T', 2H), zero past lengths
        if self.config.output_dropout > 0:
            y = nn.functional.dropout(y, self.config.output_dropout, self.training)
        logits = self.output(y)  # (B, T', C)
        return logits.float().log_softmax(dim=-1), out_lengths


def build_model(input_dim: int, num_classes: int, config: ModelConfig) -> BiLSTMCTC:
    return BiLSTMCTC(input_dim, num_classes, config)
