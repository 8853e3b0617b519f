"""Speech augmentation in a training run (features.augment): the training set only, seeded per epoch
and item, off at evaluation and decoding, lengths known to the sampler, the feature cache still serving
the plain features, and the combinations that cannot work refused with the key and the fix."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import TONE_RATE, tone_corpus

from seqlabel import api
from seqlabel.config import config_from_data
from seqlabel.data.dataset import SequenceDataset, build_augment, load_split, normalize
from seqlabel.data.manifest import read_manifest
from seqlabel.data.sampling import BucketBatchSampler
from seqlabel.errors import ConfigError
from seqlabel.features import build_extractor
from seqlabel.features.cache import config_key
from seqlabel.features.cmvn import compute_stats
from seqlabel.inference.recognizer import Recognizer
from seqlabel.training.data import load_data

TEXTS = ["ab", "ba", "ca", "abc", "cab", "bca", "cc ab", "aa", "bb", "ac", "cb", "abca"]
AUGMENT = {"speed": [0.9, 1.0, 1.1], "noise_prob": 0.5, "gain_db": 6.0, "freq_masks": 1, "freq_width": 4,
           "time_masks": 1, "time_width": 5, "time_warp": 2}


def features_config(augment: dict, **extra) -> dict:
    return {"type": "fbank", "sample_rate": TONE_RATE, "num_bins": 20, "deltas": 1, "cmvn": "global",
            "augment": augment, **extra}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tones")
    return {"train": tone_corpus(root, TEXTS, "tr", ("s1", "s2")),
            "dev": tone_corpus(root, ["abc", "ba"], "dv", ("s3",))}


def dataset(corpus: dict[str, Path], augment: dict, seed: int = 1, cmvn: str = "global") -> SequenceDataset:
    config = config_from_data({"features": features_config(augment, cmvn=cmvn)})
    extractor = build_extractor(config.features)
    split = load_split(read_manifest(corpus["train"]), extractor, None, progress=False)
    stats = compute_stats(split.features) if cmvn == "global" else None
    augment = build_augment(extractor, cmvn, stats, split.utterances)
    return SequenceDataset(split, normalize(split, cmvn, stats), augment, seed, config.features.augment.copies)


def items(ds: SequenceDataset, epoch: int) -> list[torch.Tensor]:
    ds.set_epoch(epoch)
    return [ds[i][1] for i in range(len(ds))]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))


def test_augmentation_is_seeded_by_seed_epoch_and_item(corpus) -> None:
    ds = dataset(corpus, AUGMENT)
    first = items(ds, 1)
    assert same(first, items(dataset(corpus, AUGMENT), 1))  # same seed and epoch: the same features
    assert not same(first, items(ds, 2))  # the next epoch draws anew
    assert not same(first, items(dataset(corpus, AUGMENT, seed=2), 1))
    plain = ds.features
    assert sum(not (f.shape == p.shape and torch.equal(f, p)) for f, p in zip(first, plain)) >= len(plain) // 2
    assert all(f.shape[1] == plain[0].shape[1] for f in first)


def test_a_batch_augmented_at_once_equals_its_items_one_by_one(corpus) -> None:
    ds = dataset(corpus, AUGMENT)
    ds.set_epoch(3)
    indices = [5, 0, 7, 2, 11, 3]
    batch = ds.__getitems__(indices)  # what the DataLoader calls
    assert [i for i, _, _ in batch] == indices
    for (i, feats, target), single in zip(batch, (ds[i] for i in indices)):
        assert feats.shape == single[1].shape and torch.allclose(feats, single[1], atol=1e-4)
        assert torch.equal(target, single[2])


def test_lengths_the_sampler_sees_are_those_the_items_have(corpus) -> None:
    ds = dataset(corpus, {"speed": [0.8, 1.0, 1.25]})
    for epoch in (1, 2):
        predicted = ds.lengths_at(epoch)
        actual = [f.shape[0] for f in items(ds, epoch)]
        assert all(abs(p - a) <= 1 for p, a in zip(predicted, actual)), (predicted, actual)
        assert predicted != ds.lengths
    sampler = BucketBatchSampler(ds.lengths, 60, 32, True, 1, ds.lengths_at)
    sampler.set_epoch(2)
    lengths = ds.lengths_at(2)
    assert all(max(lengths[i] for i in b) * len(b) <= 60 or len(b) == 1 for b in sampler.batches())


def test_speed_copies_visit_the_training_set_once_per_factor(corpus) -> None:
    ds = dataset(corpus, {"speed": [0.9, 1.0, 1.1], "speed_copies": True})
    n = len(ds.split.utterances)
    assert len(ds) == 3 * n
    feats = items(ds, 1)
    for k, factor in enumerate([0.9, 1.0, 1.1]):
        for j in range(n):
            assert abs(feats[k * n + j].shape[0] - ds.split.lengths[j] / factor) <= 1
    assert same(feats[n:2 * n], ds.features)  # the 1.0 copy, with nothing else on, is the plain set
    assert ds.collate([ds[n + 2]]).ids == [ds.split.utterances[2].id]


def test_off_at_evaluation_and_decoding(corpus, tmp_path) -> None:
    config = config_from_data({
        "data": {"train": str(corpus["train"]), "dev": str(corpus["dev"])},
        "features": features_config(AUGMENT),
        "model": {"num_layers": 1, "hidden_size": 8},
        "train": {"max_epochs": 1, "progress": False, "tensorboard": False, "device": "cpu", "amp": "off",
                  "batch_frames": 400},
    })
    data = load_data(config, None, tmp_path / "last.pt")
    assert data.train_set.augment is not None
    plain = config_from_data({**{"features": features_config({})}, "data": {"train": str(corpus["train"]),
                                                                          "dev": str(corpus["dev"])}})
    want = load_data(plain, None, tmp_path / "last.pt").dev_feats
    assert same(data.dev_feats, want)  # the dev set is never augmented
    result = api.train(config, tmp_path / "run", echo=lambda _: None)
    recognizer = Recognizer.from_checkpoint(result.best_checkpoint, "cpu")
    utts = read_manifest(corpus["dev"])
    assert same(recognizer.features(utts), want)  # nor what a checkpoint decodes
    assert same(recognizer.features(utts), recognizer.features(utts))


def test_the_feature_cache_serves_the_unaugmented_features(corpus, tmp_path) -> None:
    plain = config_from_data({"features": features_config({}, cache_dir=str(tmp_path / "cache"))}).features
    augmented = config_from_data({"features": features_config(AUGMENT, cache_dir=str(tmp_path / "cache"))}).features
    assert config_key(plain) == config_key(augmented)  # one cache entry per utterance, shared
    utts = read_manifest(corpus["train"])
    first = load_split(utts, build_extractor(augmented), None, progress=False).features
    extractor = build_extractor(plain)
    assert same(first, load_split(utts, extractor, None, progress=False).features)


def test_per_speaker_cmvn_takes_the_masks(corpus) -> None:
    masked = dataset(corpus, {"time_masks": 2, "time_width": 3}, cmvn="speaker")
    feats = items(masked, 1)
    assert any((f == 0).all(dim=1).any() for f in feats)  # masked frames at 0, the speaker's mean


def test_per_speaker_cmvn_normalises_a_speed_perturbed_speaker_by_its_own_statistics(corpus) -> None:
    from seqlabel.augment.audio import speed_perturb_many
    from seqlabel.data.manifest import speaker_of

    ds = dataset(corpus, {"speed": [0.9, 1.0, 1.1], "speed_copies": True}, cmvn="speaker")
    utts = ds.split.utterances
    feats = items(ds, 1)  # copy k of every utterance at speed[k]
    n = len(utts)
    assert all(torch.equal(feats[n + i], ds.features[i]) for i in range(n))  # factor 1.0: as they were
    extractor = ds.augment.extractor
    for k, factor in ((0, 0.9), (2, 1.1)):
        for speaker in ("s1", "s2"):
            rows = [i for i, u in enumerate(utts) if speaker_of(u) == speaker]
            waves = speed_perturb_many([ds.augment.waveforms[utts[i].id] for i in rows], [factor] * len(rows),
                                       TONE_RATE)
            raw = extractor.from_waveforms(waves, [utts[i] for i in rows])
            own = compute_stats(raw)  # the perturbed speaker's statistics, as a test speaker's would be
            joined = torch.cat([feats[k * n + i] for i in rows])
            torch.testing.assert_close(joined.mean(0), torch.zeros(joined.shape[1]), atol=1e-4, rtol=0)
            for i, r in zip(rows, raw):
                torch.testing.assert_close(feats[k * n + i], own.apply(r), atol=1e-4, rtol=1e-4)
    again = items(dataset(corpus, {"speed": [0.9, 1.0, 1.1], "speed_copies": True}, cmvn="speaker"), 1)
    assert same(feats, again)  # deterministic
    noisy = items(dataset(corpus, AUGMENT, cmvn="speaker"), 1)  # noise and gain too: allowed, finite
    assert all(torch.isfinite(f).all() for f in noisy)


def test_per_utterance_cmvn_normalises_each_augmented_item_by_itself(corpus) -> None:
    ds = dataset(corpus, AUGMENT, cmvn="utterance")
    assert ds.augment is not None
    plain = ds.features
    for f in plain:  # unaugmented: each utterance by its own statistics
        torch.testing.assert_close(f.mean(0), torch.zeros(f.shape[1]), atol=1e-4, rtol=0)
    feats = items(ds, 1)
    changed = [i for i, (f, p) in enumerate(zip(feats, plain)) if not (f.shape == p.shape and torch.equal(f, p))]
    assert len(changed) >= len(plain) // 2
    again = dataset(corpus, {k: v for k, v in AUGMENT.items()
                             if k in ("speed", "noise_prob", "gain_db")}, cmvn="utterance")
    for f in items(again, 1):  # waveform changes only: every item is normalised by its own statistics
        torch.testing.assert_close(f.mean(0), torch.zeros(f.shape[1]), atol=1e-4, rtol=0)
        torch.testing.assert_close(f.std(0, unbiased=False), torch.ones(f.shape[1]), atol=1e-3, rtol=0)


@pytest.mark.parametrize("features, fragment", [
    ({"type": "image", "augment": {"noise_prob": 0.5}}, "need features.type fbank | mfcc | logmel, got 'image'"),
    ({"type": "precomputed", "augment": {"gain_db": 3}}, "got 'precomputed'; use the masks"),
    ({"augment": {"speed_copies": True}}, "speed_copies needs speed factors"),
    ({"augment": {"speed": [0.9, 3.0]}}, "speed factors must be in [0.5, 2], got 3.0"),
    ({"augment": {"speed": "0.9"}}, "features.augment.speed must be a list of numbers"),
    ({"augment": {"noise_snr": [20, 5]}}, "noise_snr must be [low, high] with low <= high"),
    ({"augment": {"noise_prob": 1.5}}, "noise_prob must be in [0, 1]"),
    ({"augment": {"noise_dir": "noise/"}}, "noise_dir is set (noise/) but features.augment.noise_prob is 0"),
    ({"augment": {"time_masks": 2}}, "time_masks is 2 but features.augment.time_width is 0"),
    ({"augment": {"time_fraction": 0}}, "time_fraction must be in (0, 1]"),
    ({"augment": {"noise_slop": [0, 1]}}, "did you mean 'features.augment.noise_slope'"),
])
def test_bad_augment_settings_are_refused_with_the_key(features: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_data({"features": features})
    assert fragment in str(error.value)


def test_a_mask_wider_than_the_features_is_refused_before_training(corpus) -> None:
    with pytest.raises(ConfigError, match=r"freq_width \(20\) must be smaller than the 20 feature bins it masks "
                                          r"in each of 2 delta blocks"):
        dataset(corpus, {"freq_masks": 1, "freq_width": 20})
