"""Train-time speech augmentation of a training set: waveforms decoded once and kept in memory,
perturbed per item and epoch (``WavePerturb``), turned into features by the run's extractor and
normalised with the training statistics; then SpecAugment (``seqlabel.augment.spec``).

``SpeechAugment`` and ``MaskAugment`` are ``Augment`` callables of ``seqlabel.data.dataset``:
(utterance, its normalised unaugmented features (T, F), generator, copy) -> features (T', F).
"""
from __future__ import annotations

import copy as _copy
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from seqlabel.augment.audio import WavePerturb, speed_perturb_many
from seqlabel.augment.spec import SpecAugment
from seqlabel.features.audio import AudioFeatures, load_audio
from seqlabel.data.manifest import speaker_of
from seqlabel.features.cmvn import CmvnStats, compute_stats, normalize_per_utterance
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
    are). An item whose draw changes nothing (speed 1.0, no noise, no gain) keeps its given features.
    ``many`` does a batch at once: the waveforms of a batch go through the perturbation and the
    filterbank together (per-call costs dominate short utterances otherwise)."""

    perturb: WavePerturb
    extractor: AudioFeatures
    waveforms: dict[str, torch.Tensor]  # utterance id -> (N,)
    stats: Optional[CmvnStats]
    per_utterance: bool = False  # features.cmvn: utterance: each perturbed item by its own statistics
    # features.cmvn: speaker: the training utterances of each speaker; a perturbed item is normalised with the
    # statistics of its speaker's utterances at its speed factor (a speed-perturbed speaker is normalised as a
    # new speaker would be at test time: by its own statistics), computed once per (speaker, factor)
    by_speaker: Optional[dict[str, list[Utterance]]] = None
    _speaker_stats: dict[tuple[str, float], CmvnStats] = field(default_factory=dict, compare=False, repr=False)

    def length_scale(self, rng: np.random.Generator, copy: int = 0) -> float:
        """Frames after / before, drawn as ``__call__`` draws it from a generator in the same state."""
        return 1.0 / self.perturb.speed_factor(rng, copy)

    def __call__(self, utt: Utterance, feats: torch.Tensor, rng: np.random.Generator, copy: int = 0) -> torch.Tensor:
        return self.many([utt], [feats], [rng], [copy])[0]

    def many(self, utts: Sequence[Utterance], feats: Sequence[torch.Tensor], rngs: Sequence[np.random.Generator],
             copies: Sequence[int]) -> list[torch.Tensor]:
        """(T_i, F) normalised features of several items, each drawn from its own generator."""
        c = self.extractor.config
        waves = [self.waveforms[u.id] if u.id in self.waveforms else load_audio(u, c.sample_rate, c.resample)
                 for u in utts]
        factors = ([self.perturb.speed_factor(_copy.deepcopy(r), k) for r, k in zip(rngs, copies)]
                   if self.by_speaker is not None else [])  # drawn from copies: the same first draw as perturb's
        perturbed = self.perturb.many(waves, rngs, copies)
        out = list(feats)
        changed = [i for i, (w, p) in enumerate(zip(waves, perturbed)) if p is not w]
        if changed:
            raw = self.extractor.from_waveforms([perturbed[i] for i in changed], [utts[i] for i in changed])
            if self.by_speaker is not None:
                raw = [self.speaker_stats(speaker_of(utts[i]), factors[i]).apply(r) for i, r in zip(changed, raw)]
            elif self.per_utterance:
                raw = normalize_per_utterance(raw)
            elif self.stats is not None:
                raw = list(self.stats.apply(torch.cat(raw)).split([r.shape[0] for r in raw]))
            for i, r in zip(changed, raw):
                out[i] = r
        return out

    def speaker_stats(self, speaker: str, factor: float) -> CmvnStats:
        """CMVN statistics of ``speaker``'s training utterances played at ``factor`` (no noise, no gain)."""
        key = (speaker, factor)
        if key not in self._speaker_stats:
            assert self.by_speaker is not None
            utts = self.by_speaker[speaker]
            waves = [self.waveforms[u.id] for u in utts]
            if factor != 1.0:
                rate = self.perturb.sample_rate
                waves = speed_perturb_many(waves, [factor] * len(waves), rate)
            self._speaker_stats[key] = compute_stats(self.extractor.from_waveforms(waves, utts))
        return self._speaker_stats[key]


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
        return self.many([utt], [feats], [rng], [copy])[0]

    def many(self, utts: Sequence[Utterance], feats: Sequence[torch.Tensor], rngs: Sequence[np.random.Generator],
             copies: Sequence[int]) -> list[torch.Tensor]:
        if self.first is not None:
            many = getattr(self.first, "many", None)
            feats = many(utts, feats, rngs, copies) if many is not None else [
                self.first(u, f, r, c) for u, f, r, c in zip(utts, feats, rngs, copies)]  # type: ignore[operator]
        return [self.masks(f, r, 0.0 if self.normalised else f.mean(dim=0)) for f, r in zip(feats, rngs)]
