"""Precomputed features: Sphinx ``.mfc`` cepstra and NumPy ``.npy`` arrays (T, F).

Sphinx ``.mfc``: a big-endian int32 holding the number of float32 values, then that many
big-endian float32 values, ``dim`` (13 by default) per frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seqlabel.config import FeatureConfig
from seqlabel.errors import DataError
from seqlabel.features.common import add_deltas, check_finite
from seqlabel.types import Utterance

SPHINX_DIM = 13


def read_sphinx_mfc(path: str | Path, dim: int = SPHINX_DIM) -> np.ndarray:
    """(T, dim) float32 array from a Sphinx feature file; errors name the file."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 4:
        raise DataError(f"{path}: too short for a Sphinx feature header")
    count = int(np.frombuffer(raw[:4], dtype=">i4")[0])
    values = np.frombuffer(raw[4:], dtype=">f4")
    if count != values.size:
        raise DataError(f"{path}: header says {count} values but the file holds {values.size} (truncated?)")
    if count % dim:
        raise DataError(f"{path}: {count} values is not a multiple of the feature dimension {dim}")
    return values.reshape(-1, dim).astype(np.float32)


class PrecomputedFeatures:
    """Reads ``.mfc`` or ``.npy`` features from the manifest's ``source`` and adds deltas."""

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self.frame_rate = 1000.0 / config.frame_shift_ms
        self._base_dim = config.dim

    @property
    def dim(self) -> int:
        if self._base_dim is None:
            raise DataError("precomputed features: dimension unknown until a file is read (set features.dim)")
        return self._base_dim * (1 + self.config.deltas)

    def __call__(self, utt: Utterance) -> torch.Tensor:
        path = Path(utt.source)
        if not path.is_file():
            raise DataError(f"utterance {utt.id!r}: feature file not found: {path}")
        if path.suffix not in (".mfc", ".npy"):
            raise DataError(f"utterance {utt.id!r}: unknown precomputed feature format {path.suffix!r} "
                            "(expected .mfc or .npy)")
        try:
            if path.suffix == ".mfc":
                array = read_sphinx_mfc(path, self.config.dim or SPHINX_DIM)
            else:
                array = np.load(path, allow_pickle=False)
        except DataError as e:
            raise DataError(f"utterance {utt.id!r}: {e}") from None
        except (ValueError, OSError) as e:
            raise DataError(f"utterance {utt.id!r}: cannot read features from {path}: {e}") from None
        if array.ndim != 2 or array.shape[0] == 0:
            raise DataError(f"utterance {utt.id!r}: expected a non-empty (frames, dims) array in {path}, "
                            f"got shape {array.shape}")
        if self._base_dim is None:
            self._base_dim = array.shape[1]
        elif array.shape[1] != self._base_dim:
            raise DataError(f"utterance {utt.id!r}: {path} has {array.shape[1]} feature dims, expected "
                            f"{self._base_dim} (features.dim)")
        feats = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        return check_finite(add_deltas(check_finite(feats, utt), self.config.deltas), utt)
