"""seqlabel.features.cache: hits equal fresh extraction, misses on any change, corrupt entries repaired,
concurrent writers safe."""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from seqlabel.config import FeatureConfig
from seqlabel.data.dataset import extract_features, load_split
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, DataError
from seqlabel.features import build_extractor
from seqlabel.features.cache import FeatureCache, config_key
from seqlabel.types import Utterance

RATE = 8000


def write_wavs(root: Path, n: int = 3) -> list[Utterance]:
    utts = []
    for i in range(n):
        rng = np.random.default_rng(i)
        path = root / f"u{i}.wav"
        soundfile.write(str(path), 0.1 * rng.standard_normal(RATE // 4 + 400 * i), RATE, subtype="PCM_16")
        utts.append(Utterance(f"u{i}", str(path), "ab"))
    return utts


def counting(extractor):
    calls = []

    def extract(utt: Utterance) -> torch.Tensor:
        calls.append(utt.id)
        return extractor(utt)
    return extract, calls


def test_hit_equals_fresh_extraction_and_skips_the_extractor(tmp_path: Path) -> None:
    utts = write_wavs(tmp_path)
    config = FeatureConfig(sample_rate=RATE, num_bins=20, deltas=1)
    extractor = build_extractor(config)
    extract, calls = counting(extractor)
    first = FeatureCache(tmp_path / "cache", config, extractor.dim)
    fresh = [first.get(u, extract) for u in utts]
    assert (first.stats.misses, first.stats.hits, len(calls)) == (3, 0, 3)
    second = FeatureCache(tmp_path / "cache", config, extractor.dim)
    cached = [second.get(u, extract) for u in utts]
    assert (second.stats.misses, second.stats.hits, len(calls)) == (0, 3, 3)
    for a, b in zip(fresh, cached):
        assert b.dtype == torch.float32 and torch.equal(a, b)
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_load_split_uses_the_cache_dir_of_the_config(tmp_path: Path) -> None:
    utts = write_wavs(tmp_path)
    vocab = Vocab.build(["ab"], "char")
    plain = load_split(utts, build_extractor(FeatureConfig(sample_rate=RATE)), vocab, progress=False)
    cached_config = FeatureConfig(sample_rate=RATE, cache_dir=str(tmp_path / "cache"))
    for _ in range(2):  # a miss, then a hit
        split = load_split(utts, build_extractor(cached_config), vocab, progress=False)
        assert all(torch.equal(a, b) for a, b in zip(plain.features, split.features))
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == len(utts)


def test_config_change_misses_but_cmvn_and_cache_dir_do_not(tmp_path: Path) -> None:
    base = FeatureConfig(sample_rate=RATE)
    assert config_key(base) != config_key(dataclasses.replace(base, num_bins=41))
    assert config_key(base) != config_key(dataclasses.replace(base, deltas=2))
    assert config_key(base) == config_key(dataclasses.replace(base, cmvn="speaker", cache_dir="elsewhere"))
    utts = write_wavs(tmp_path, 1)
    extractor = build_extractor(base)
    FeatureCache(tmp_path / "c", base, extractor.dim).get(utts[0], extractor)
    other = dataclasses.replace(base, num_bins=30)
    cache = FeatureCache(tmp_path / "c", other, build_extractor(other).dim)
    assert cache.get(utts[0], build_extractor(other)).shape[1] == 30
    assert cache.stats.misses == 1


def test_edited_source_file_misses(tmp_path: Path) -> None:
    utts = write_wavs(tmp_path, 1)
    config = FeatureConfig(sample_rate=RATE)
    extractor = build_extractor(config)
    before = FeatureCache(tmp_path / "c", config, extractor.dim).get(utts[0], extractor)
    soundfile.write(utts[0].source, 0.2 * np.ones(RATE // 2), RATE, subtype="PCM_16")  # longer, new content
    cache = FeatureCache(tmp_path / "c", config, extractor.dim)
    after = cache.get(utts[0], extractor)
    assert cache.stats.misses == 1 and after.shape[0] != before.shape[0]
    assert torch.equal(after, extractor(utts[0]))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "nan", "wrong_width"])
def test_corrupt_entry_is_re_extracted(tmp_path: Path, damage: str) -> None:
    utts = write_wavs(tmp_path, 1)
    config = FeatureConfig(sample_rate=RATE)
    extractor = build_extractor(config)
    cache = FeatureCache(tmp_path / "c", config, extractor.dim)
    good = cache.get(utts[0], extractor).clone()
    path = cache.path(utts[0])
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a numpy file")
    elif damage == "nan":
        np.save(path, np.full(tuple(good.shape), np.nan, dtype=np.float32))
    else:
        np.save(path, np.zeros((good.shape[0], good.shape[1] + 1), dtype=np.float32))
    again = FeatureCache(tmp_path / "c", config, extractor.dim)
    assert torch.equal(again.get(utts[0], extractor), good)
    assert (again.stats.repaired, again.stats.hits) == (1, 0)
    third = FeatureCache(tmp_path / "c", config, extractor.dim)
    third.get(utts[0], extractor)
    assert third.stats.hits == 1  # the entry was rewritten


def test_missing_source_is_not_cached_and_the_extractor_reports_it(tmp_path: Path) -> None:
    config = FeatureConfig(sample_rate=RATE, cache_dir=str(tmp_path / "c"))
    with pytest.raises(DataError, match="u-gone"):
        extract_features([Utterance("u-gone", str(tmp_path / "gone.wav"), "a")], build_extractor(config),
                         progress=False)


def test_unwritable_cache_dir_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="features.cache_dir"):
        FeatureCache(blocker / "cache", FeatureConfig())


def _fill(args: tuple[str, list[Utterance]]) -> list[np.ndarray]:
    root, utts = args
    torch.set_num_threads(1)
    config = FeatureConfig(sample_rate=RATE)
    cache = FeatureCache(root, config, build_extractor(config).dim)
    return [cache.get(u, build_extractor(config)).numpy().copy() for u in utts]


def test_concurrent_writers_agree(tmp_path: Path) -> None:
    utts = write_wavs(tmp_path, 4)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.map(_fill, [(str(tmp_path / "c"), utts)] * 3)
    extractor = build_extractor(FeatureConfig(sample_rate=RATE))
    for result in results:
        for u, array in zip(utts, result):
            assert np.array_equal(array, extractor(u).numpy())
    cache = FeatureCache(tmp_path / "c", FeatureConfig(sample_rate=RATE), extractor.dim)
    assert all(torch.equal(cache.get(u, extractor), extractor(u)) for u in utts)
    assert cache.stats.hits == 4
    assert not [p for p in os.listdir(cache.dir) if p.endswith(".tmp")]
