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

from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, DataError
from seqlabel.features import FeatureExtractor
from seqlabel.features.cache import FeatureCache
from seqlabel.features.cmvn import CmvnStats, normalize_per_speaker
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


def normalize(split: Split, cmvn: str, stats: Optional[CmvnStats]) -> list[torch.Tensor]:
    """Normalised features for ``split``: ``global`` uses ``stats``, ``speaker`` per-speaker stats."""
    if cmvn == "none":
        return split.features
    if cmvn == "speaker":
        return normalize_per_speaker(split.utterances, split.features)
    assert stats is not None, "global CMVN needs statistics"
    return [stats.apply(f) for f in split.features]


# Train-time augmentation: (utterance, its normalised features (T, F), a generator seeded by
# (seed, epoch, item)) -> new normalised features (T', F). Deterministic given those three.
Augment = Callable[[Utterance, torch.Tensor, np.random.Generator], torch.Tensor]


class SequenceDataset(Dataset):
    """Items are (index, normalised features (T, F), target ids (L,)).

    With ``augment`` set, each item's features come from ``augment`` called with a generator
    seeded by ``(seed, epoch, index)``; ``set_epoch`` moves to the next epoch's draws.
    """

    def __init__(self, split: Split, features: list[torch.Tensor], augment: Optional[Augment] = None,
                 seed: int = 0) -> None:
        self.split = split
        self.features = features
        self.targets = [torch.tensor(t, dtype=torch.long) for t in split.targets]
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor, torch.Tensor]:
        feats = self.features[i]
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            feats = self.augment(self.split.utterances[i], feats, rng)
        return i, feats, self.targets[i]

    def collate(self, items: list[tuple[int, torch.Tensor, torch.Tensor]]) -> Batch:
        return collate(items, [self.split.utterances[i].id for i, _, _ in items])


@dataclass(frozen=True)
class ExtractorAugment:
    """An ``Augment`` for extractors with ``augmented(utt, rng) -> (T, F)``: features of a randomly
    altered input (strokes, image), normalised with the training statistics as in ``normalize``."""

    extractor: FeatureExtractor
    stats: Optional[CmvnStats]

    def __call__(self, utt: Utterance, feats: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        raw = self.extractor.augmented(utt, rng)  # type: ignore[attr-defined]
        return self.stats.apply(raw) if self.stats is not None else raw


def build_augment(extractor: FeatureExtractor, cmvn: str, stats: Optional[CmvnStats]) -> Optional[Augment]:
    """The extractor's train-time augmentation, or None when it has none or it is switched off
    (an extractor opts in with ``augments`` (bool) and ``augmented(utt, rng)``)."""
    if not getattr(extractor, "augments", False):
        return None
    if cmvn == "speaker":
        raise ConfigError("augmentation needs features.cmvn global or none (per-speaker statistics are "
                          "computed from the unaugmented features)")
    return ExtractorAugment(extractor, stats if cmvn == "global" else None)


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
