"""Length-bucketed batches under a total-frames budget.

Each epoch the utterances are shuffled, sorted by length (ties in random order), packed
greedily into batches whose padded size ``max_len * batch_size`` stays within
``batch_frames`` (and at most ``max_batch_size`` utterances), and the batch order is
shuffled. The same seed and epoch give the same batches. Lengths that change from epoch to
epoch (speed perturbation) come from ``lengths_at(epoch)``.
"""
from __future__ import annotations

import random
from typing import Callable, Iterator, Optional, Sequence

from torch.utils.data import Sampler


def pack_batches(lengths: Sequence[int], order: Sequence[int], batch_frames: int, max_batch_size: int) -> list[list[int]]:
    """Pack indices, visited in ``order`` (sorted by length), into frame-budgeted batches."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = lengths[i]
        new_longest = max(longest, n)
        if current and (new_longest * (len(current) + 1) > batch_frames or len(current) >= max_batch_size):
            batches.append(current)
            current, new_longest = [], n
        current.append(i)
        longest = new_longest
    if current:
        batches.append(current)
    return batches


class BucketBatchSampler(Sampler[list[int]]):
    """Yields lists of dataset indices; call ``set_epoch`` before each epoch."""

    def __init__(self, lengths: Sequence[int], batch_frames: int, max_batch_size: int = 32,
                 shuffle: bool = True, seed: int = 0,
                 lengths_at: Optional[Callable[[int], Sequence[int]]] = None) -> None:
        self.lengths = list(lengths)
        self.lengths_at = lengths_at  # epoch -> lengths, when they change with the epoch (speed perturbation)
        self.batch_frames = batch_frames
        self.max_batch_size = max_batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        lengths = self.lengths if self.lengths_at is None else list(self.lengths_at(self.epoch))
        order = list(range(len(lengths)))
        if self.shuffle:
            rng.shuffle(order)
        order.sort(key=lambda i: lengths[i])  # stable: ties keep the shuffled order
        batches = pack_batches(lengths, order, self.batch_frames, self.max_batch_size)
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())


def padding_ratio(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Padded frames / real frames of a batching (0.0 means no padding)."""
    real = sum(lengths[i] for b in batches for i in b)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return padded / real - 1.0
