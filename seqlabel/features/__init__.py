"""Feature extractors behind one registry. An extractor maps an Utterance to (T, F) float32.

Each extractor has ``dim`` (F), ``frame_rate`` (frames per second), ``suffixes`` (the file name endings
it reads, lower case: what ``seqlabel transcribe`` picks from a folder) and ``__call__(utt)``.
Extractors with train-time augmentation also have ``augments`` (bool: switched on) and
``augmented(utt, rng)`` (features of a randomly altered input); see ``seqlabel.data.dataset.build_augment``.
Audio extractors have ``from_waveforms(waves, utts)``, which speech augmentation (``features.augment``,
``seqlabel.augment.speech``) calls with perturbed waveforms.
"""
from __future__ import annotations

from typing import Callable, Protocol

import torch

from seqlabel.config import FeatureConfig
from seqlabel.types import Utterance


class FeatureExtractor(Protocol):
    config: FeatureConfig
    frame_rate: float
    suffixes: tuple[str, ...]

    @property
    def dim(self) -> int: ...

    def __call__(self, utt: Utterance) -> torch.Tensor: ...


def _audio(config: FeatureConfig) -> FeatureExtractor:
    from seqlabel.features.audio import AudioFeatures
    return AudioFeatures(config)


def _precomputed(config: FeatureConfig) -> FeatureExtractor:
    from seqlabel.features.precomputed import PrecomputedFeatures
    return PrecomputedFeatures(config)


def _image(config: FeatureConfig) -> FeatureExtractor:
    from seqlabel.features.image import ImageFeatures
    return ImageFeatures(config)


def _strokes(config: FeatureConfig) -> FeatureExtractor:
    from seqlabel.features.strokes import StrokeFeatures
    return StrokeFeatures(config)


EXTRACTORS: dict[str, Callable[[FeatureConfig], FeatureExtractor]] = {
    "fbank": _audio,
    "mfcc": _audio,
    "logmel": _audio,
    "precomputed": _precomputed,
    "strokes": _strokes,
    "image": _image,
}


def build_extractor(config: FeatureConfig) -> FeatureExtractor:
    return EXTRACTORS[config.type](config)
