"""The optional convolutional front end: blocks of conv -> [batch norm] -> activation -> max-pool ->
[channel dropout] over the (feature, time) plane of (B, T, F) inputs (for line images: height x width)
before the BiLSTM stack, and the frame masking that keeps an item's outputs independent of its batch.

An item's outputs do not depend on the batch it is in nor on what its padding holds, in evaluation:

- frames at or past each item's length are zeroed before every convolution, so a kernel reaching
  past the end sees zeros, as the same-padding of the item alone does;
- batch norm computes its training statistics over real frames only (``MaskedBatchNorm2d``), so
  padding does not pull the running statistics that evaluation uses;
- before each max-pool the padded frames are set to -inf (activations such as LeakyReLU go below
  zero), and pooling is ceil-mode: an item's last window holds its own frames only, as when alone.

Output lengths follow the pooling arithmetic: ceil(T / time_pool) per block (``models.lengths``).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlabel.config import ConvBlockConfig
from seqlabel.models.lengths import output_lengths, pooled_size


def mask_frames(x: torch.Tensor, lengths: torch.Tensor, dim: int) -> torch.Tensor:
    """Zero the positions of axis ``dim`` at or past each item's length (the batch axis is 0)."""
    steps = torch.arange(x.shape[dim], device=x.device)
    keep = steps.unsqueeze(0) < lengths.to(x.device).unsqueeze(1)  # (B, T)
    shape = [x.shape[0]] + [1] * (x.dim() - 1)
    shape[dim] = x.shape[dim]
    return x * keep.view(shape).to(x.dtype)


def frame_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(B,) lengths -> (B, 1, 1, frames) bool: True at each item's real frames (the last axis is time)."""
    steps = torch.arange(frames, device=lengths.device)
    return (steps.unsqueeze(0) < lengths.unsqueeze(1)).view(lengths.shape[0], 1, 1, frames)


class MaskedBatchNorm2d(nn.BatchNorm2d):
    """Batch norm of (B, K, H, T) maps whose training statistics (and so the running ones) come from
    each item's real frames only. Parameters and buffers are those of ``nn.BatchNorm2d``."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """x (B, K, H, T), mask (B, 1, 1, T) bool -> (B, K, H, T); eval mode uses the running statistics."""
        if not self.training:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                            False, 0.0, self.eps)
        xf = x.float()  # statistics in float32 also under mixed precision
        weights = mask.to(torch.float32)
        count = weights.sum() * x.shape[2]  # real positions per channel
        mean = (xf * weights).sum(dim=(0, 2, 3)) / count  # (K,)
        centred = (xf - mean.view(1, -1, 1, 1)) * weights
        var = (centred * centred).sum(dim=(0, 2, 3)) / count  # (K,) biased, as batch norm normalises
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            unbiased = var * count / torch.clamp(count - 1, min=1.0)
            self.running_mean.mul_(1 - self.momentum).add_(mean.detach() * self.momentum)
            self.running_var.mul_(1 - self.momentum).add_(unbiased.detach() * self.momentum)
        scale = self.weight / torch.sqrt(var + self.eps)  # (K,)
        y = (xf - mean.view(1, -1, 1, 1)) * scale.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y.to(x.dtype)


def activation(name: str) -> nn.Module:
    """The module of a ``ConvBlockConfig.activation`` name."""
    return {"relu": nn.ReLU(), "leakyrelu": nn.LeakyReLU(0.01), "elu": nn.ELU(), "gelu": nn.GELU(),
            "tanh": nn.Tanh(), "linear": nn.Identity()}[name]


class ConvBlock(nn.Module):
    """conv -> [masked batch norm] -> activation -> max-pool -> [channel dropout] on (B, K, H, T) maps."""

    def __init__(self, in_channels: int, config: ConvBlockConfig) -> None:
        super().__init__()
        kh, kt = config.kernel
        self.conv = nn.Conv2d(in_channels, config.channels, (kh, kt), padding=(kh // 2, kt // 2),
                              bias=not config.batch_norm)  # batch norm's shift replaces the bias (as PyLaia)
        self.norm = MaskedBatchNorm2d(config.channels) if config.batch_norm else None
        self.act = activation(config.activation)
        self.pool = nn.MaxPool2d((config.height_pool, config.time_pool), ceil_mode=True)
        self.time_pool = config.time_pool
        self.dropout = nn.Dropout2d(config.dropout) if config.dropout > 0 else None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, K0, H, T) zero past lengths, lengths (B,) -> (B, K, ceil(H / q), ceil(T / p)) zero past the
        new lengths ceil(lengths / p)."""
        mask = frame_mask(lengths, x.shape[3])  # (B, 1, 1, T)
        y = self.conv(x)  # (B, K, H, T)
        if self.norm is not None:
            y = self.norm(y, mask)
        y = self.act(y).masked_fill(~mask, float("-inf"))  # padding never wins a max
        y = self.pool(y)  # (B, K, H1, T1)
        lengths = output_lengths(lengths, self.time_pool)
        y = torch.where(frame_mask(lengths, y.shape[3]), y, torch.zeros_like(y))  # all-padding windows: -inf -> 0
        if self.dropout is not None:
            y = self.dropout(y)
        return y, lengths


class ConvFrontEnd(nn.Module):
    """Conv blocks over the (feature, time) plane of (B, T, F) inputs: (B, T, F) -> (B, T1, K * F1), zero past
    each item's length; optionally each output frame layer-normalised (``model.cnn_output_norm: layer``).

    Checkpoints of the older layer list (``convs.N.weight`` / ``convs.N.bias``, from ``model.cnn_channels``)
    load into the same blocks (``blocks.N.conv.*``): the computation is the same.
    """

    def __init__(self, input_dim: int, blocks: list[ConvBlockConfig], output_norm: str = "none") -> None:
        super().__init__()
        modules, previous, height = [], 1, input_dim
        for config in blocks:
            modules.append(ConvBlock(previous, config))
            previous, height = config.channels, pooled_size(height, config.height_pool, 1)
        self.blocks = nn.ModuleList(modules)
        self.output_dim = previous * height
        # "layer": each output frame normalised to zero mean, unit variance (then scaled and shifted)
        self.output_norm = nn.LayerNorm(self.output_dim) if output_norm == "layer" else None
        self._register_load_state_dict_pre_hook(_rename_old_layers)

    @staticmethod
    def input_maps(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, 1, F, T): one channel, features as image rows, zero past each item's length."""
        return mask_frames(x.transpose(1, 2).unsqueeze(1), lengths, dim=3)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, F), lengths (B,) -> (B, T1, output_dim), lengths (B,); T1 = ceil(T / product of time pools)."""
        y = self.input_maps(x, lengths)
        for block in self.blocks:
            y, lengths = block(y, lengths)  # (B, K, F1, T1)
        b, k, f, t = y.shape
        y = y.permute(0, 3, 1, 2).reshape(b, t, k * f)  # (B, K, F1, T1) -> (B, T1, K * F1)
        if self.output_norm is not None:  # per frame: padding stays out of real frames; zeroed again after
            y = mask_frames(self.output_norm(y), lengths, dim=1)
        return y, lengths


def _rename_old_layers(state: dict[str, Any], prefix: str, *_: Any) -> None:
    """``convs.N.weight`` (the front end before conv blocks) -> ``blocks.N.conv.weight``, in place."""
    old = prefix + "convs."
    for key in [k for k in state if k.startswith(old)]:
        index, name = key[len(old):].split(".", 1)
        state[f"{prefix}blocks.{index}.conv.{name}"] = state.pop(key)
