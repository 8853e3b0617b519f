"""The in-memory line-image cache of seqlabel/features/image.py: with augmentation on, each line's file is
read and decoded once (at extraction), and every epoch's altered copy equals the one made from the file."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import seqlabel.features.image as image_module
from seqlabel.config import FeatureConfig, ImageFeatureConfig
from seqlabel.features import build_extractor
from seqlabel.types import Utterance


def lines(root: Path, count: int = 3) -> list[Utterance]:
    utts = []
    for i in range(count):
        grey = np.full((30, 70 + 9 * i), 255, dtype=np.uint8)
        grey[8:22, 10 + i : 30 + 2 * i] = 0
        grey[12:18, 40:60] = 40
        Image.fromarray(grey).save(root / f"{i}.png")
        utts.append(Utterance(f"u{i}", str(root / f"{i}.png"), "ab"))
    return utts


def extractor(augment: bool = True):
    image = ImageFeatureConfig(height=16, augment=augment)
    return build_extractor(FeatureConfig(type="image", cmvn="none", image=image))


def counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = image_module.load_image

    def load(path, what=""):
        reads.append(str(path))
        return real(path, what)

    monkeypatch.setattr(image_module, "load_image", load)
    return reads


def test_each_file_is_read_once_and_augmented_copies_do_not_change(tmp_path: Path, monkeypatch) -> None:
    utts = lines(tmp_path)
    uncached = extractor()
    monkeypatch.setattr(image_module, "IMAGE_CACHE_BYTES", 0)
    want = [[uncached.augmented(u, np.random.default_rng([1, epoch, i])) for i, u in enumerate(utts)]
            for epoch in (1, 2)]
    monkeypatch.undo()
    reads = counting_reads(monkeypatch)
    cached = extractor()
    plain = [cached(u) for u in utts]  # extraction, as load_split does
    got = [[cached.augmented(u, np.random.default_rng([1, epoch, i])) for i, u in enumerate(utts)] for epoch in (1, 2)]
    assert sorted(reads) == sorted(u.source for u in utts)  # once each, at extraction
    for a, b in zip(sum(want, []), sum(got, [])):
        assert torch.equal(a, b)
    assert all(torch.equal(p, extractor(augment=False)(u)) for p, u in zip(plain, utts))


def test_nothing_is_kept_without_augmentation_or_beyond_the_budget(tmp_path: Path, monkeypatch) -> None:
    utts = lines(tmp_path)
    reads = counting_reads(monkeypatch)
    plain = extractor(augment=False)
    for u in utts:
        plain(u)
        plain(u)
    assert len(reads) == 2 * len(utts)
    one_line = 16 * 8 * 4  # a scaled line (16 rows, 37 or more columns) holds more bytes: none fits
    monkeypatch.setattr(image_module, "IMAGE_CACHE_BYTES", one_line)
    reads.clear()
    small = extractor()
    for u in utts:
        small(u)
        small.augmented(u, np.random.default_rng(0))
    assert len(reads) == 2 * len(utts)


def test_pickled_extractors_leave_the_images_behind(tmp_path: Path) -> None:
    """Spawned DataLoader workers get the extractor pickled: without the kept images (they read the files)."""
    utts = lines(tmp_path)
    kept = extractor()
    for u in utts:
        kept(u)
    assert kept._image_bytes > 0
    copy = pickle.loads(pickle.dumps(kept))
    assert copy._images == {} and copy._image_bytes == 0
    assert torch.equal(copy(utts[0]), kept(utts[0]))
