"""SpecAugment (Park et al. 2019) on normalised features (T, F): time warping, frequency masks and
time masks, each a pure function of the features and a ``numpy.random.Generator``.

Features may hold several blocks of the same bins side by side (statics, deltas, delta-deltas:
F = blocks * bins); a frequency mask covers the same bins in every block, as masking the
spectrogram before the deltas would. Masked values are ``value``: 0, the mean after CMVN, or the
utterance's own mean per feature (F,) for features that are not normalised.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np
import torch

from seqlabel.config import AudioAugmentConfig
from seqlabel.errors import ConfigError

Fill = Union[float, torch.Tensor]  # a number, or one value per feature (F,)


def time_warp(feats: torch.Tensor, max_shift: int, rng: np.random.Generator) -> torch.Tensor:
    """(T, F) -> (T, F): a point ``w0`` drawn in [max_shift, T - max_shift) moves by ``w`` in
    [-max_shift, max_shift]; the frames before it are stretched (linearly interpolated) onto
    ``w0 + w`` frames, those after onto the rest. Utterances of T <= 2 * max_shift are left as they are."""
    T = feats.shape[0]
    if max_shift <= 0 or T <= 2 * max_shift:
        return feats
    centre = int(rng.integers(max_shift, T - max_shift))
    shift = int(rng.integers(-max_shift, max_shift + 1))
    split = min(max(centre + shift, 1), T - 1)  # output frame where input frame ``centre`` lands
    t = np.arange(T, dtype=np.float64)
    source = np.where(t < split, t * centre / split, centre + (t - split) * (T - 1 - centre) / max(T - 1 - split, 1))
    low = np.minimum(source.astype(np.int64), T - 1)  # (T,) left neighbour of each source position
    high = np.minimum(low + 1, T - 1)
    w = torch.from_numpy((source - low).astype(np.float32)).unsqueeze(1)  # (T, 1)
    left = feats[torch.from_numpy(low)]
    return left + (feats[torch.from_numpy(high)] - left) * w


def mask_spans(n_positions: int, count: int, max_width: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``count`` spans [start, start + width) of widths drawn uniformly in [0, max_width] (at most
    ``n_positions``), starts uniform in [0, n_positions - width]."""
    spans = []
    for _ in range(count):
        width = int(rng.integers(0, min(max_width, n_positions) + 1))
        start = int(rng.integers(0, n_positions - width + 1))
        spans.append((start, start + width))
    return spans


def freq_mask(feats: torch.Tensor, count: int, max_width: int, rng: np.random.Generator, blocks: int = 1,
              value: Fill = 0.0) -> torch.Tensor:
    """(T, F) with ``count`` bands of bins set to ``value`` in each of ``blocks`` blocks of F / blocks bins."""
    return _fill_bins(feats.clone(), count, max_width, rng, blocks, value)


def time_mask(feats: torch.Tensor, count: int, max_width: int, rng: np.random.Generator, fraction: float = 1.0,
              value: Fill = 0.0) -> torch.Tensor:
    """(T, F) with ``count`` runs of frames set to ``value``, each at most ``max_width`` frames and
    ``fraction`` of T (Park et al.'s upper bound p)."""
    return _fill_frames(feats.clone(), count, max_width, rng, fraction, value)


def _fill_bins(out: torch.Tensor, count: int, max_width: int, rng: np.random.Generator, blocks: int,
               value: Fill) -> torch.Tensor:
    """``freq_mask`` in place, all bands in one indexed write."""
    bins = out.shape[1] // blocks
    masked = np.zeros(bins, dtype=bool)
    for start, end in mask_spans(bins, count, max_width, rng):
        masked[start:end] = True
    if masked.any():
        columns = torch.from_numpy(np.flatnonzero(np.tile(masked, blocks)))  # the same bins in every block
        out[:, columns] = value[columns] if isinstance(value, torch.Tensor) else value
    return out


def _fill_frames(out: torch.Tensor, count: int, max_width: int, rng: np.random.Generator, fraction: float,
                 value: Fill) -> torch.Tensor:
    """``time_mask`` in place, all runs in one indexed write."""
    masked = np.zeros(out.shape[0], dtype=bool)
    for start, end in mask_spans(out.shape[0], count, min(max_width, int(fraction * out.shape[0])), rng):
        masked[start:end] = True
    if masked.any():
        out[torch.from_numpy(np.flatnonzero(masked))] = value
    return out


@dataclass(frozen=True)
class SpecAugment:
    """time warp -> frequency masks -> time masks, with the settings of ``features.augment``.
    ``blocks``: how many copies of the bins the features hold (1 + deltas for audio)."""

    config: AudioAugmentConfig
    blocks: int = 1

    @classmethod
    def from_config(cls, config: AudioAugmentConfig, dim: int, blocks: int = 1) -> "SpecAugment":
        """Checks the mask width against the ``dim`` features it masks."""
        if dim % blocks:
            blocks = 1
        if config.freq_masks and config.freq_width >= dim // blocks:
            raise ConfigError(f"features.augment.freq_width ({config.freq_width}) must be smaller than the "
                              f"{dim // blocks} feature bins it masks" + (f" in each of {blocks} delta blocks"
                                                                          if blocks > 1 else ""))
        return cls(config, blocks)

    def __call__(self, feats: torch.Tensor, rng: np.random.Generator, value: Fill = 0.0) -> torch.Tensor:
        """(T, F) -> (T, F)."""
        c = self.config
        out = time_warp(feats, c.time_warp, rng) if c.time_warp else feats
        if not (c.freq_masks or c.time_masks):
            return out
        out = out.clone() if out is feats else out  # the masks write into it
        if c.freq_masks:
            _fill_bins(out, c.freq_masks, c.freq_width, rng, self.blocks, value)
        if c.time_masks:
            _fill_frames(out, c.time_masks, c.time_width, rng, c.time_fraction, value)
        return out
