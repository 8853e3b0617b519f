"""Typed records passed between the stages of the pipeline.

Shape legend: B batch, T time (input frames), T' output frames, F feature dims,
C classes (blank = 0), L target length.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch


@dataclass(frozen=True)
class Utterance:
    """One line of a manifest: a recording (or a segment of one) and its transcript.

    ``source`` is a path to audio (wav/flac/sph/raw), precomputed features (.mfc, .npy).
    Relative paths are resolved against the manifest's folder. ``start``/``end`` are
    seconds inside ``source`` (audio only). ``text`` is characters, or space-separated
    phones, depending on the vocabulary's unit.
    """

    id: str
    source: str
    text: str
    speaker: str = ""
    start: Optional[float] = None
    end: Optional[float] = None
    duration: Optional[float] = None
    num_frames: Optional[int] = None


@dataclass
class Batch:
    """A padded batch. Padded feature frames are zero; padded targets are zero (blank)."""

    features: torch.Tensor  # (B, T, F) float
    feature_lengths: torch.Tensor  # (B,) int64
    targets: torch.Tensor  # (B, L) int64, padded with 0
    target_lengths: torch.Tensor  # (B,) int64
    ids: list[str] = field(default_factory=list)

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(
            features=self.features.to(device, non_blocking=True),
            feature_lengths=self.feature_lengths.to(device, non_blocking=True),
            targets=self.targets.to(device, non_blocking=True),
            target_lengths=self.target_lengths.to(device, non_blocking=True),
            ids=self.ids,
        )

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Hypothesis:
    """A decoded label sequence for one utterance."""

    id: str
    tokens: tuple[str, ...]
    score: float = 0.0
    timesteps: tuple[int, ...] = ()  # output frame index of each token


@dataclass(frozen=True)
class ErrorStats:
    """Edit-distance counts summed over a corpus (or one utterance)."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    hits: int = 0
    ref_tokens: int = 0
    utterances: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Errors divided by reference tokens (inf when there are errors but no reference)."""
        if self.ref_tokens == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return self.errors / self.ref_tokens

    def __add__(self, other: "ErrorStats") -> "ErrorStats":
        return ErrorStats(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.hits + other.hits,
            self.ref_tokens + other.ref_tokens,
            self.utterances + other.utterances,
        )
