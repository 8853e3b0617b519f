"""Train-time speech augmentation of a training set: waveforms decoded once and kept in memory,
perturbed per item and epoch (``WavePerturb``), turned into features by the run's extractor and
normalised with the training statistics; then SpecAugment (``seqlabel.augment.spec``).

``SpeechAugment`` and ``MaskAugment`` are ``Augment`` callables of ``seqlabel.data.dataset``:
(utterance, its normalised unaugmented features (T, F), generator, copy) -> features (T', F).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from seqlabel.augment.audio import WavePerturb
from seqlabel.augment.spec import SpecAugment
from seqlabel.features.audio import AudioFeatures, load_audio
from seqlabel.features.cmvn import CmvnStats
from seqlabel.types import Utterance


def load_waveforms(utts: Sequence[Utterance], extractor: AudioFeatures, progress: bool = True
                   ) -> dict[str, torch.Tensor]:
    """Utterance id -> (N,) float32 waveform at the extractor's sample rate, every one read once."""
    c = extractor.config
    return {u.id: load_audio(u, c.sample_rate, c.resample)
            for u in tqdm(utts, desc="train audio (augmentation)", disable=not progress, leave=False)}


@dataclass(frozen=True)
class SpeechAugment:
    """Features of a perturbed copy of the utterance's waveform, normalised with ``stats`` (None: as they
    are). An item whose draw changes nothing (speed 1.0, no noise, no gain) keeps its given features."""

    perturb: WavePerturb
    extractor: AudioFeatures
    waveforms: dict[str, torch.Tensor]  # utterance id -> (N,)
    stats: Optional[CmvnStats]

    def length_scale(self, rng: np.random.Generator, copy: int = 0) -> float:
        """Frames after / before, drawn as ``__call__`` draws it from a generator in the same state."""
        return 1.0 / self.perturb.speed_factor(rng, copy)

    def __call__(self, utt: Utterance, feats: torch.Tensor, rng: np.random.Generator, copy: int = 0) -> torch.Tensor:
        wave = self.waveforms.get(utt.id)
        if wave is None:  # not a training utterance: read it (kept out of the cache)
            wave = load_audio(utt, self.extractor.config.sample_rate, self.extractor.config.resample)
        perturbed = self.perturb(wave, rng, copy)
        if perturbed is wave:
            return feats
        raw = self.extractor.from_waveforms([perturbed], [utt])[0]
        return self.stats.apply(raw) if self.stats is not None else raw


@dataclass(frozen=True)
class MaskAugment:
    """SpecAugment after another augmentation (or none): masked values are 0, the mean of normalised
    features; with ``normalised`` false, each utterance's own mean per feature."""

    masks: SpecAugment
    first: Optional[object] = None  # an Augment applied before the masks
    normalised: bool = True

    @property
    def length_scale(self) -> Optional[Callable[[np.random.Generator, int], float]]:
        """The first augmentation's, when it changes lengths (the masks and the warp keep them)."""
        return getattr(self.first, "length_scale", None)

    def __call__(self, utt: Utterance, feats: torch.Tensor, rng: np.random.Generator, copy: int = 0) -> torch.Tensor:
        if self.first is not None:
            feats = self.first(utt, feats, rng, copy)  # type: ignore[operator]
        value = 0.0 if self.normalised else feats.mean(dim=0)
        return self.masks(feats, rng, value)
