"""seqlabel.data.sampling: each index once per epoch, frame budgets, reproducible shuffling, little padding."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from seqlabel.data.sampling import BucketBatchSampler, pack_batches, padding_ratio
from seqlabel.inference.batch import sorted_batches


def random_lengths(n: int = 300, seed: int = 0, low: int = 50, high: int = 1500) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(low, high) for _ in range(n)]


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("epoch", [0, 1, 7])
def test_every_index_once_per_epoch(shuffle: bool, epoch: int) -> None:
    lengths = random_lengths()
    sampler = BucketBatchSampler(lengths, batch_frames=6000, max_batch_size=16, shuffle=shuffle, seed=3)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert len(sampler) == len(batches)
    assert all(batches)


@pytest.mark.parametrize("batch_frames, max_batch_size", [(3000, 64), (6000, 4), (1000, 64), (20000, 10)])
def test_batches_respect_budgets(batch_frames: int, max_batch_size: int) -> None:
    lengths = random_lengths(seed=1) + [2500, 4000]  # two utterances longer than the smallest budget
    sampler = BucketBatchSampler(lengths, batch_frames, max_batch_size, seed=0)
    for batch in sampler:
        assert len(batch) <= max_batch_size
        longest = max(lengths[i] for i in batch)
        assert longest * len(batch) <= batch_frames or len(batch) == 1


def test_oversized_utterance_gets_a_batch_of_its_own() -> None:
    lengths = [10, 10, 500, 10]
    batches = pack_batches(lengths, sorted(range(4), key=lengths.__getitem__), batch_frames=100, max_batch_size=8)
    assert [2] in batches
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3]


def test_budget_is_filled_greedily() -> None:
    """Sorted equal lengths pack as many as fit: a batching that is merely valid is not enough."""
    lengths = [100] * 10
    assert [len(b) for b in pack_batches(lengths, range(10), 300, 64)] == [3, 3, 3, 1]
    assert [len(b) for b in pack_batches(lengths, range(10), 10_000, 4)] == [4, 4, 2]


def test_same_seed_and_epoch_same_batches_other_epoch_other_order() -> None:
    lengths = random_lengths(seed=2)
    a = BucketBatchSampler(lengths, 6000, 16, seed=5)
    b = BucketBatchSampler(lengths, 6000, 16, seed=5)
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b)
    assert list(a) == list(a)  # iterating twice gives the same epoch
    b.set_epoch(4)
    assert list(a) != list(b)
    c = BucketBatchSampler(lengths, 6000, 16, seed=6)
    c.set_epoch(3)
    assert list(a) != list(c)


def test_unshuffled_batches_are_in_length_order() -> None:
    lengths = random_lengths(seed=4)
    batches = list(BucketBatchSampler(lengths, 6000, 16, shuffle=False))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)
    assert batches == sorted_batches(lengths, 6000, 16)


def test_sorted_batching_has_little_padding() -> None:
    lengths = random_lengths(n=1000, seed=5)
    bucketed = list(BucketBatchSampler(lengths, 20000, 64, seed=1))
    assert padding_ratio(lengths, bucketed) < 0.05
    # the same batch sizes filled at random waste far more
    rng = random.Random(0)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    shuffled, k = [], 0
    for b in bucketed:
        shuffled.append(order[k : k + len(b)])
        k += len(b)
    assert padding_ratio(lengths, shuffled) > 5 * padding_ratio(lengths, bucketed)


def test_padding_ratio_by_hand() -> None:
    lengths = [2, 4, 4, 6]
    assert padding_ratio(lengths, [[0, 1], [2, 3]]) == pytest.approx((8 + 12) / 16 - 1)
    assert padding_ratio(lengths, [[0], [1, 2], [3]]) == 0.0


@pytest.mark.parametrize("corpus, folder", [("an4", "an4_wav"), ("fsdd", "fsdd")])
def test_real_corpus_padding_waste_at_its_config_budget_is_at_most_5_percent(
        shared_data: Path, tmp_path: Path, corpus: str, folder: str) -> None:
    """The target of benchmarks/bench_data.py, on frame counts from the manifests' durations."""
    from seqlabel.config import load_config
    from seqlabel.corpora import run_recipe
    from seqlabel.data.manifest import read_manifest

    if not (shared_data / folder).is_dir():
        pytest.skip(f"real corpus {folder!r} not found at {shared_data / folder} (set SEQLABEL_SHARED_DATA)")
    train = read_manifest(run_recipe(corpus, shared_data / folder, tmp_path, {})["train"])
    config = load_config(Path(__file__).resolve().parents[1] / "configs" / f"{corpus}.yaml").train
    lengths = [round(u.duration * 100) for u in train]  # 10 ms frames
    for epoch in range(3):
        sampler = BucketBatchSampler(lengths, config.batch_frames, config.max_batch_size, seed=1)
        sampler.set_epoch(epoch)
        assert padding_ratio(lengths, list(sampler)) <= 0.05
