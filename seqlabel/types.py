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
    """A decoded (or force-aligned) label sequence for one utterance.

    Frame fields count output frames (T'); ``frame_seconds`` (feature frame shift x subsampling)
    turns them into seconds, see ``token_times``. Confidences are probabilities in [0, 1].
    """

    id: str
    tokens: tuple[str, ...]
    score: float = 0.0  # best path (greedy), fused search score (beam) or alignment log-prob
    timesteps: tuple[int, ...] = ()  # output frame where each token is first emitted
    words: tuple[str, ...] = ()  # words: split at the word boundary (char units) or from the lexicon
    durations: tuple[int, ...] = ()  # output frames each token spans in its alignment
    token_confidences: tuple[float, ...] = ()  # peak posterior of each token within its span
    confidence: Optional[float] = None  # utterance: geometric mean of the token confidences
    acoustic_score: Optional[float] = None  # log P_ctc(tokens), beam search only
    lm_score: Optional[float] = None  # unweighted LM log-prob, beam search with an LM only
    frame_seconds: Optional[float] = None  # seconds per output frame

    def token_times(self) -> tuple[tuple[float, float], ...]:
        """(start, duration) in seconds of each token; needs ``frame_seconds`` and ``durations``."""
        if self.frame_seconds is None or len(self.durations) != len(self.timesteps):
            raise ValueError(f"hypothesis {self.id!r} has no frame timing (frame_seconds={self.frame_seconds}, "
                             f"{len(self.timesteps)} timesteps, {len(self.durations)} durations)")
        fs = self.frame_seconds
        return tuple((t * fs, d * fs) for t, d in zip(self.timesteps, self.durations))


@dataclass(frozen=True)
class Transcription:
    """One input file given to ``seqlabel transcribe``: its best hypothesis, or why it could not be read.

    ``path`` is the file as given (joined with its place below a folder that was given); ``id`` is
    ``path`` with ``%``, whitespace and unprintable characters percent-encoded (``%20`` for a space):
    unique, stable, and a single token, as Kaldi text and CTM files need.
    """

    path: str
    id: str
    hypothesis: Optional[Hypothesis] = None  # None when the file could not be read
    text: str = ""  # the hypothesis as a transcript (characters with spaces, or space-separated phones)
    error: Optional[str] = None  # why the file could not be transcribed

    @property
    def ok(self) -> bool:
        return self.error is None


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
