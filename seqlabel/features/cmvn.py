"""Cepstral mean and variance normalisation: global (training-set statistics, stored in the
checkpoint), per speaker (statistics of each speaker's utterances in the set at hand) or per
utterance (each utterance's own statistics)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

from seqlabel.data.manifest import speaker_of
from seqlabel.errors import DataError
from seqlabel.types import Utterance

_FLOOR = 1e-5
_RELATIVE_FLOOR = 0.05  # of the mean standard deviation over dimensions


@dataclass(frozen=True)
class CmvnStats:
    mean: torch.Tensor  # (F,)
    std: torch.Tensor  # (F,)

    def apply(self, feats: torch.Tensor) -> torch.Tensor:
        """(T, F) -> (T, F) normalised."""
        return (feats - self.mean) / self.std

    def state(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> "CmvnStats":
        return cls(state["mean"], state["std"])


def compute_stats(feats: Iterable[torch.Tensor]) -> CmvnStats:
    """Mean and standard deviation over all frames of all (T, F) arrays (float64 sums)."""
    total = sq = None
    count = 0
    for x in feats:
        x64 = x.double()
        total = x64.sum(0) if total is None else total + x64.sum(0)
        sq = (x64 * x64).sum(0) if sq is None else sq + (x64 * x64).sum(0)
        count += x.shape[0]
    if total is None or count == 0:
        raise ValueError("cannot compute CMVN statistics of no frames")
    mean = total / count
    std = (sq / count - mean * mean).clamp_min(_FLOOR**2).sqrt()
    # Relative floor: a dimension that barely varies in training (an image row never inked) must not
    # blow up inputs that do vary there at test time or under augmentation.
    std = std.clamp_min(_RELATIVE_FLOOR * float(std.mean()))
    return CmvnStats(mean.float(), std.float())


def speaker_groups(utts: Sequence[Utterance], from_id: bool = False) -> dict[str, list[int]]:
    """The indices of each speaker's utterances, for per-speaker CMVN. Utterances without a speaker
    (no ``speaker`` field) are refused, naming them and the speaker they would otherwise get (their
    id's prefix, see ``speaker_of``), unless ``from_id`` (``data.speaker_from_id``) allows that."""
    lacking = [u for u in utts if not u.speaker]
    if lacking and not from_id:
        fallback = ", ".join(f"{u.id!r} -> {speaker_of(u)!r}" for u in lacking[:3])
        raise DataError(
            f"features.cmvn is 'speaker', but {len(lacking)} of {len(utts)} utterances have no speaker (no `speaker` "
            f"field in the manifest; e.g. {', '.join(repr(u.id) for u in lacking[:3])}): each would be normalised "
            f"with the utterances whose ids share its prefix before the first '-' or '_' ({fallback}), which is rarely "
            "the speaker (an FSDD id '0_jackson_0' gives '0', the digit). Add a `speaker` field to every line of the "
            "manifest (`seqlabel prepare` writes it), use features.cmvn: global, or set data.speaker_from_id: true "
            "to take the id prefixes as speakers")
    groups: dict[str, list[int]] = {}
    for i, utt in enumerate(utts):
        groups.setdefault(speaker_of(utt), []).append(i)
    return groups


def normalize_per_speaker(utts: Sequence[Utterance], feats: list[torch.Tensor],
                          from_id: bool = False) -> list[torch.Tensor]:
    """Normalise each utterance with the statistics of all utterances of its speaker (``speaker_groups``)."""
    out = list(feats)
    for indices in speaker_groups(utts, from_id).values():
        stats = compute_stats(feats[i] for i in indices)
        for i in indices:
            out[i] = stats.apply(feats[i])
    return out


def normalize_per_utterance(feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Normalise each (T, F) array with its own mean and standard deviation (floored as ``compute_stats``)."""
    return [compute_stats([f]).apply(f) for f in feats]
