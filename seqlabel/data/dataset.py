"""From manifests to padded batches: feature extraction (once, in memory; optionally cached on
disk, see ``seqlabel.features.cache``), normalisation, target encoding, and collation.

``load_split`` validates everything up front (audio readable, transcripts encodable), so a
bad file stops the run before training starts, with its name in the message.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

from seqlabel.config.features import AUDIO_TYPES
from seqlabel.data.manifest import speaker_of
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, DataError
from seqlabel.features import FeatureExtractor
from seqlabel.features.cache import FeatureCache
from seqlabel.features.cmvn import CmvnStats, normalize_per_speaker, normalize_per_utterance
from seqlabel.progress import progress as progress_bar
from seqlabel.types import Batch, Utterance

EXTRACT_CHUNK = 64  # utterances per call of an extractor's batched ``many`` (frames of a chunk processed together)


@dataclass
class Split:
    """One manifest's utterances with their features (T, F) and target ids."""

    utterances: list[Utterance]
    features: list[torch.Tensor]  # raw (unnormalised) (T, F) each
    targets: list[list[int]]

    @property
    def lengths(self) -> list[int]:
        return [f.shape[0] for f in self.features]


def extract_features(utts: Sequence[Utterance], extractor: FeatureExtractor, desc: str = "features",
                     progress: bool = True) -> list[torch.Tensor]:
    """(T, F) float32 features of every utterance, in order; read from (and added to) the feature
    cache when ``features.cache_dir`` is set."""
    many: Callable[[Sequence[Utterance]], list[torch.Tensor]] = getattr(
        extractor, "many", lambda chunk: [extractor(u) for u in chunk])
    cache_dir = getattr(extractor.config, "cache_dir", None)
    if cache_dir:
        many = functools.partial(FeatureCache(cache_dir, extractor.config, _known_dim(extractor)).get_many,
                                 extract_many=many)
    feats: list[torch.Tensor] = []
    with progress_bar(desc=desc, total=len(utts), unit="utterances", enabled=progress) as bar:
        for i in range(0, len(utts), EXTRACT_CHUNK):
            chunk = utts[i : i + EXTRACT_CHUNK]
            feats.extend(many(chunk))
            bar.update(len(chunk))
    return feats


def _known_dim(extractor: FeatureExtractor) -> Optional[int]:
    """F, or None when it shows only once a file is read (precomputed features without features.dim)."""
    try:
        return extractor.dim
    except DataError:
        return None


def encode_targets(utts: Sequence[Utterance], vocab: Vocab, lowercase: bool = False,
                   allow_empty: bool = False) -> list[list[int]]:
    targets = []
    for u in utts:
        text = u.text.lower() if lowercase else u.text
        ids = vocab.encode(text, u.id)
        if not ids and not allow_empty:
            raise DataError(f"utterance {u.id!r}: empty transcript (source {u.source})")
        targets.append(ids)
    return targets


def load_split(utts: Sequence[Utterance], extractor: FeatureExtractor, vocab: Optional[Vocab],
               lowercase: bool = False, desc: str = "features", progress: bool = True) -> Split:
    """Extract features and encode targets (empty targets when ``vocab`` is None)."""
    utts = list(utts)
    targets = encode_targets(utts, vocab, lowercase) if vocab is not None else [[] for _ in utts]
    feats = extract_features(utts, extractor, desc, progress)
    return Split(utts, feats, targets)


def normalize(split: Split, cmvn: str, stats: Optional[CmvnStats], speaker_from_id: bool = False) -> list[torch.Tensor]:
    """Normalised features for ``split``: ``global`` uses ``stats``, ``speaker`` per-speaker stats
    (utterances without a speaker refused unless ``speaker_from_id``: see ``speaker_groups``),
    ``utterance`` each utterance's own."""
    if cmvn == "none":
        return split.features
    if cmvn == "speaker":
        return normalize_per_speaker(split.utterances, split.features, speaker_from_id)
    if cmvn == "utterance":
        return normalize_per_utterance(split.features)
    assert stats is not None, "global CMVN needs statistics"
    return [stats.apply(f) for f in split.features]


# Train-time augmentation: (utterance, its normalised features (T, F), a generator seeded by
# (seed, epoch, item), the item's copy of the training set (0 unless features.augment.speed_copies))
# -> new normalised features (T', F). Deterministic given those four.
Augment = Callable[[Utterance, torch.Tensor, np.random.Generator, int], torch.Tensor]


class SequenceDataset(Dataset):
    """Items are (index, normalised features (T, F), target ids (L,)).

    With ``augment`` set, each item's features come from ``augment`` called with a generator
    seeded by ``(seed, epoch, index)``; ``set_epoch`` moves to the next epoch's draws. With
    ``copies`` > 1 the set is visited that many times per epoch: item ``i`` is utterance
    ``i % n``, copy ``i // n`` (speed-perturbed copies, ``features.augment.speed_copies``).
    """

    def __init__(self, split: Split, features: list[torch.Tensor], augment: Optional[Augment] = None,
                 seed: int = 0, copies: int = 1) -> None:
        self.split = split
        self.features = features
        self.targets = [torch.tensor(t, dtype=torch.long) for t in split.targets]
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.copies = copies

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def lengths(self) -> list[int]:
        """Frames of every item before augmentation."""
        return self.split.lengths * self.copies

    def lengths_at(self, epoch: int) -> list[int]:
        """Frames of every item in ``epoch``, for the length-bucketed sampler: an augmentation that
        changes lengths says by how much (``length_scale(rng, copy)``, the first draws of the item's
        generator), so speed-perturbed items are batched with items of their new length."""
        scale = getattr(self.augment, "length_scale", None)
        if scale is None:
            return self.lengths
        n = len(self.features)
        return [max(1, round(length * scale(np.random.default_rng([self.seed, epoch, i]), i // n)))
                for i, length in enumerate(self.lengths)]

    def __len__(self) -> int:
        return len(self.features) * self.copies

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor, torch.Tensor]:
        copy, j = divmod(i, len(self.features))
        feats = self.features[j]
        if self.augment is not None:
            feats = self.augment(self.split.utterances[j], feats, self._rng(i), copy)
        return i, feats, self.targets[j]

    def __getitems__(self, indices: list[int]) -> list[tuple[int, torch.Tensor, torch.Tensor]]:
        """A batch of items (the DataLoader calls this when it exists): an augmentation with ``many``
        processes the batch at once, each item still drawing from its own generator (results equal the
        items one by one's up to float rounding)."""
        many = getattr(self.augment, "many", None)
        if many is None:
            return [self[i] for i in indices]
        n = len(self.features)
        js = [i % n for i in indices]
        feats = many([self.split.utterances[j] for j in js], [self.features[j] for j in js],
                     [self._rng(i) for i in indices], [i // n for i in indices])
        return [(i, f, self.targets[j]) for i, j, f in zip(indices, js, feats)]

    def _rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, i])

    def collate(self, items: list[tuple[int, torch.Tensor, torch.Tensor]]) -> Batch:
        n = len(self.features)
        return collate(items, [self.split.utterances[i % n].id for i, _, _ in items])


@dataclass(frozen=True)
class ExtractorAugment:
    """An ``Augment`` for extractors with ``augmented(utt, rng) -> (T, F)``: features of a randomly
    altered input (strokes, image), normalised with the training statistics as in ``normalize``."""

    extractor: FeatureExtractor
    stats: Optional[CmvnStats]
    per_utterance: bool = False  # features.cmvn: utterance (the altered input's own statistics)

    def __call__(self, utt: Utterance, feats: torch.Tensor, rng: np.random.Generator, copy: int = 0) -> torch.Tensor:
        raw = self.extractor.augmented(utt, rng)  # type: ignore[attr-defined]
        if self.per_utterance:
            return normalize_per_utterance([raw])[0]
        return self.stats.apply(raw) if self.stats is not None else raw


def build_augment(extractor: FeatureExtractor, cmvn: str, stats: Optional[CmvnStats],
                  utts: Sequence[Utterance] = (), progress: bool = False) -> Optional[Augment]:
    """The train-time augmentation of ``utts`` (the training set), or None when it is switched off:
    the extractor's own (``augments`` and ``augmented(utt, rng)``: images, strokes), or for audio
    ``features.augment``'s waveform perturbation (whose waveforms are read here, once), then its
    SpecAugment masks."""
    config = extractor.config.augment
    first: Optional[Augment] = None
    if getattr(extractor, "augments", False) or config.waveform:
        if cmvn == "speaker" and not config.waveform:
            raise ConfigError("image and stroke augmentation needs features.cmvn global, utterance or none "
                              "(per-speaker statistics are computed from the unaugmented features)")
        norm = stats if cmvn == "global" else None
        per_utt = cmvn == "utterance"
        first = (ExtractorAugment(extractor, norm, per_utt) if not config.waveform
                 else _speech_augment(extractor, norm, utts, progress, per_utt, cmvn == "speaker"))
    if not config.masks:
        return first
    from seqlabel.augment.spec import SpecAugment
    from seqlabel.augment.speech import MaskAugment

    blocks = 1 + extractor.config.deltas if extractor.config.type in AUDIO_TYPES else 1
    return MaskAugment(SpecAugment.from_config(config, extractor.dim, blocks), first, normalised=cmvn != "none")


def _speech_augment(extractor: FeatureExtractor, stats: Optional[CmvnStats], utts: Sequence[Utterance],
                    progress: bool, per_utterance: bool = False, per_speaker: bool = False) -> Augment:
    from seqlabel.augment.audio import WavePerturb
    from seqlabel.augment.speech import SpeechAugment, load_waveforms

    audio = extractor  # features.augment's waveform settings are refused for other types by the config
    perturb = WavePerturb.from_config(audio.config.augment, audio.config.sample_rate)
    by_speaker: Optional[dict[str, list[Utterance]]] = None
    if per_speaker:
        by_speaker = {}
        for u in utts:
            by_speaker.setdefault(speaker_of(u), []).append(u)
    return SpeechAugment(perturb, audio, load_waveforms(utts, audio, progress), stats,  # type: ignore[arg-type]
                         per_utterance, by_speaker)


def collate(items: list[tuple[int, torch.Tensor, torch.Tensor]], ids: list[str]) -> Batch:
    """Pad features and targets with zeros; keep lengths and ids."""
    feats = [f for _, f, _ in items]
    targets = [t for _, _, t in items]
    return Batch(
        features=pad_sequence(feats, batch_first=True),  # (B, T, F)
        feature_lengths=torch.tensor([f.shape[0] for f in feats], dtype=torch.long),
        targets=pad_sequence(targets, batch_first=True) if any(t.numel() for t in targets)
        else torch.zeros(len(items), 0, dtype=torch.long),  # (B, L)
        target_lengths=torch.tensor([t.numel() for t in targets], dtype=torch.long),
        ids=ids,
    )
