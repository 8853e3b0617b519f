"""Offline handwriting: image loading, height normalisation, column frames, binarisation, augmentation,
the CNN front end, and a tiny end-to-end run on line images.

Images are drawn in tmp_path with Pillow: bars and boxes whose geometry is known exactly.
"""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seqlabel.augment.image import (
    ImageAugment,
    affine_matrix,
    apply_affine,
    contrast,
    elastic,
    ink_loss,
    morphology,
    random_affine,
)
from seqlabel.config import FeatureConfig, ImageFeatureConfig, config_from_data
from seqlabel.data.dataset import SequenceDataset, Split, build_augment
from seqlabel.errors import ConfigError, DataError
from seqlabel.features import build_extractor
from seqlabel.features.image import (
    binarize,
    column_frames,
    frames_to_image,
    load_image,
    num_frames,
    otsu_threshold,
    scale_to_height,
    to_ink,
)
from seqlabel.types import Utterance


# ----------------------------------------------------------------------------- fixtures
def line_array(height: int = 30, width: int = 90, box: tuple[int, int, int, int] = (10, 20, 20, 50)) -> np.ndarray:
    """Grey uint8 (height, width): white paper, one black box rows [r0, r1) x columns [c0, c1)."""
    grey = np.full((height, width), 255, dtype=np.uint8)
    r0, r1, c0, c1 = box
    grey[r0:r1, c0:c1] = 0
    return grey


def save(path: Path, array: np.ndarray, mode: str | None = None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    image.save(path, **kwargs)
    return path


def image_features(**image: object) -> FeatureConfig:
    return FeatureConfig(type="image", cmvn="none", image=ImageFeatureConfig(**image))


def png_with_size(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` (Pillow refuses to write a zero-width image)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
                     + chunk(b"IEND", b""))
    return path


# ----------------------------------------------------------------------------- loading
@pytest.mark.parametrize("suffix, mode", [(".png", "L"), (".png", "RGB"), (".jpg", "L"), (".tif", "L"),
                                          (".tiff", "RGB"), (".bmp", "L"), (".png", "1")])
def test_load_image_formats_give_grey_h_by_w(tmp_path: Path, suffix: str, mode: str) -> None:
    path = save(tmp_path / f"line{suffix}", line_array(), mode)
    grey = load_image(path)
    assert grey.shape == (30, 90) and grey.dtype == np.float32
    assert 0.0 <= grey.min() and grey.max() <= 1.0
    assert grey[15, 30] < 0.1 and grey[2, 2] > 0.9  # box dark, paper white (JPEG: nearly)


def test_load_image_16_bit_and_transparency(tmp_path: Path) -> None:
    deep = (line_array().astype(np.uint16) * 257)
    path16 = tmp_path / "deep.png"
    Image.fromarray(deep).save(path16)
    grey = load_image(path16)
    assert grey.shape == (30, 90) and grey[2, 2] == pytest.approx(1.0) and grey[15, 30] == 0.0
    rgba = np.zeros((30, 90, 4), dtype=np.uint8)  # transparent everywhere but an opaque black box
    rgba[10:20, 20:50, 3] = 255
    grey = load_image(save(tmp_path / "alpha.png", rgba))
    assert grey[2, 2] == pytest.approx(1.0) and grey[15, 30] == 0.0


def test_bad_images_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found.*missing.png"):
        load_image(tmp_path / "missing.png")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(DataError, match="cannot read image.*corrupt.png"):
        load_image(corrupt, "utterance 'u1'")
    with pytest.raises(DataError, match=r"utterance 'u2'.*zero\.png"):
        load_image(png_with_size(tmp_path / "zero.png", 0, 5), "utterance 'u2'")
    extractor = build_extractor(image_features())
    with pytest.raises(DataError, match=r"utterance 'bad'.*corrupt\.png"):
        extractor(Utterance("bad", str(corrupt), "x"))


def test_to_ink_polarity() -> None:
    grey = np.array([[1.0, 1.0, 0.0], [1.0, 0.2, 1.0]], dtype=np.float32)  # mostly white paper
    np.testing.assert_allclose(to_ink(grey, "dark"), [[0, 0, 1], [0, 0.8, 0]], atol=1e-6)
    np.testing.assert_allclose(to_ink(grey, "auto"), to_ink(grey, "dark"))
    np.testing.assert_allclose(to_ink(1 - grey, "auto"), to_ink(grey, "dark"), atol=1e-6)  # white on black
    np.testing.assert_allclose(to_ink(grey, "light"), grey)


# ----------------------------------------------------------------------------- geometry
@pytest.mark.parametrize("size, height", [((30, 90), 15), ((17, 100), 48), ((40, 41), 40), ((64, 7), 32)])
def test_scale_to_height_keeps_aspect_ratio(size: tuple[int, int], height: int) -> None:
    h, w = size
    out = scale_to_height(np.zeros(size, dtype=np.float32), height)
    assert out.shape == (height, max(1, round(w * height / h)))
    assert abs(out.shape[1] / out.shape[0] - w / h) <= 0.5 / out.shape[0] + 1e-9


def test_scaled_box_keeps_its_proportions() -> None:
    ink = to_ink(line_array(60, 240, (20, 40, 40, 120)).astype(np.float32) / 255)  # a 20 x 80 box
    out = scale_to_height(ink, 30)  # halve everything
    rows, cols = np.nonzero(out > 0.5)
    assert out.shape == (30, 120)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (10, 20, 20, 60)


def test_column_frames_are_the_transposed_image() -> None:
    image = np.arange(12, dtype=np.float32).reshape(3, 4)  # (H, W)
    assert np.array_equal(column_frames(image), image.T)


@pytest.mark.parametrize("width, window, stride", [(10, 1, 1), (10, 3, 1), (10, 3, 2), (10, 4, 4), (2, 5, 3),
                                                   (11, 3, 3)])
def test_column_window_layout_and_inverse(width: int, window: int, stride: int) -> None:
    image = np.random.default_rng(0).random((4, width)).astype(np.float32)
    frames = column_frames(image, window, stride)
    t = num_frames(width, window, stride)
    assert frames.shape == (t, 4 * window)
    assert t == math.ceil((max(width, window) - window) / stride) + 1
    padded = np.pad(image, ((0, 0), (0, (t - 1) * stride + window - width)))
    for k in range(t):  # frame k: columns k*stride .. k*stride + window - 1, column after column
        assert np.array_equal(frames[k], padded[:, k * stride : k * stride + window].T.reshape(-1))
    assert np.array_equal(frames_to_image(frames, 4, window, stride), padded)


def test_extractor_frames_dims_and_ink(tmp_path: Path) -> None:
    path = save(tmp_path / "line.png", line_array(60, 180, (20, 40, 40, 100)))
    extractor = build_extractor(image_features(height=30, pad=3))
    feats = extractor(Utterance("u", str(path), "ab"))
    assert extractor.dim == 30
    assert feats.shape == (90 + 6, 30) and feats.dtype == torch.float32
    assert feats[:3].abs().max() == 0 and feats[-3:].abs().max() == 0  # padding columns are blank
    assert feats[3 + 20 : 3 + 50, 10:20].min() > 0.99  # the box: ink = 1, in columns 20..49 of the scaled line
    assert feats[3:3 + 20].max() < 0.01
    windowed = build_extractor(image_features(height=30, pad=0, window=4, stride=2))
    assert windowed(Utterance("u", str(path), "ab")).shape == (num_frames(90, 4, 2), 120)


# ----------------------------------------------------------------------------- binarisation
def test_otsu_splits_two_modes() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0.15, 0.03, 500), rng.normal(0.8, 0.05, 200)]).clip(0, 1)
    t = otsu_threshold(values)
    assert 0.4 < t < 0.55  # the middle of the gap between the modes (about 0.25 to 0.65)
    binary = binarize(values.reshape(20, 35).astype(np.float32))
    assert set(np.unique(binary)) == {0.0, 1.0}
    assert binary.sum() == (values > t).sum()


def test_binarize_constant_and_extractor(tmp_path: Path) -> None:
    assert binarize(np.zeros((3, 4), dtype=np.float32)).max() == 0
    grey = line_array(40, 80, (10, 30, 20, 60)).astype(np.float32)
    grey[10:30, 20:60] = 100  # grey ink on grey-ish paper
    grey[grey == 255] = 200
    path = save(tmp_path / "grey.png", grey.astype(np.uint8))
    feats = build_extractor(image_features(height=40, pad=0, binarize=True))(Utterance("u", str(path), "a"))
    assert set(torch.unique(feats).tolist()) == {0.0, 1.0}
    assert feats[20:60, 10:30].min() == 1 and feats[:20].max() == 0


# ----------------------------------------------------------------------------- augmentation
def bar_line() -> np.ndarray:
    """(32, 80) ink image with three vertical bars."""
    ink = np.zeros((32, 80), dtype=np.float32)
    for c in (15, 40, 65):
        ink[6:26, c : c + 4] = 1.0
    return ink


def test_augment_is_deterministic_given_the_generator() -> None:
    augment = ImageAugment()
    a = augment(bar_line(), np.random.default_rng([1, 2, 3]))
    b = augment(bar_line(), np.random.default_rng([1, 2, 3]))
    c = augment(bar_line(), np.random.default_rng([1, 2, 4]))
    assert np.array_equal(a, b)
    assert a.shape[0] == 32 and (a.shape != c.shape or not np.allclose(a, c))
    assert a.min() >= 0 and a.max() <= 1


def test_identity_affine_and_shear_slants_bars() -> None:
    line = bar_line()
    np.testing.assert_allclose(apply_affine(line, affine_matrix(0.0, 1.0, 1.0, 0.0)), line, atol=1e-5)
    sheared = apply_affine(line, affine_matrix(0.5, 1.0, 1.0, 0.0))
    assert sheared.shape[0] == 32 and sheared.shape[1] == 80 + 16  # 0.5 columns per row over 31 rows, rounded up
    top, bottom = sheared[7], sheared[24]
    assert np.argmax(top) > np.argmax(bottom)  # positive shear leans the bars to the right
    assert sheared.sum() == pytest.approx(line.sum(), rel=0.05)  # ink is moved, not lost


def test_stretch_changes_the_width_only() -> None:
    wide = apply_affine(bar_line(), affine_matrix(0.0, 1.0, 1.2, 0.0))
    assert wide.shape == (32, math.ceil(79 * 1.2) + 1)  # the outer pixel centres 79 apart, stretched
    assert wide[:, :40].sum() == pytest.approx(bar_line()[:, :40].sum(), rel=0.3)


def test_each_augmentation_has_an_effect() -> None:
    line = bar_line()
    rng = np.random.default_rng
    moved = random_affine(line, rng(0))
    assert moved.shape[0] == line.shape[0]
    assert moved.shape != line.shape or not np.allclose(moved, line)
    jittered = elastic(line, rng(0), alpha=1.5)
    assert jittered.shape == line.shape and not np.allclose(jittered, line)
    thick = [morphology(line, rng(s), probability=1.0) for s in range(8)]
    sums = {round(float(t.sum())) for t in thick}
    assert any(s > line.sum() for s in sums) and any(s < line.sum() for s in sums)  # dilation and erosion
    assert np.array_equal(morphology(line, rng(0), probability=0.0), line)
    faded = contrast(line, rng(0), amount=0.5)
    assert faded.max() <= 1.0 and faded.min() >= 0.0
    assert faded.max() - faded.min() < 1.0 and faded.max() >= 0.5


def test_ink_loss_erases_at_most_its_share_and_specks_the_paper() -> None:
    line = bar_line()  # 240 ink pixels of 2560
    rng = np.random.default_rng
    assert np.array_equal(ink_loss(line, rng(0), amount=0.0), line)
    for seed in range(6):
        out = ink_loss(line, rng(seed), amount=0.5)
        assert out.shape == line.shape and set(np.unique(out)) <= {0.0, 1.0}
        erased = int(((line == 1) & (out == 0)).sum())
        specks = int(((line == 0) & (out == 1)).sum())
        assert erased <= 0.5 * 240 + 1 and specks <= erased / 20 + 1
        assert np.array_equal(out, ink_loss(line, rng(seed), amount=0.5))  # the generator decides
    heavy = [int(((line == 1) & (ink_loss(line, rng(s), amount=0.9) == 0)).sum()) for s in range(6)]
    assert max(heavy) > 0.3 * 240  # blotches grow with the amount
    unchanged = ImageAugment(shear=0, scale=0, rotate=0, elastic=0, morph=0, contrast=0)
    assert np.array_equal(unchanged(line, rng(1)), line)
    degraded = ImageAugment(shear=0, scale=0, rotate=0, elastic=0, morph=0, contrast=0, degrade=0.9)
    assert degraded(line, rng(1)).sum() < line.sum()


def test_dataset_augments_per_epoch_deterministically(tmp_path: Path) -> None:
    utts = [Utterance(f"u{i}", str(save(tmp_path / f"{i}.png", line_array(30, 60 + 10 * i))), "ab")
            for i in range(3)]
    extractor = build_extractor(image_features(height=16, augment=True))
    feats = [extractor(u) for u in utts]
    split = Split(utts, feats, [[1, 2]] * 3)
    augment = build_augment(extractor, "none", None)
    assert augment is not None
    assert build_augment(build_extractor(image_features(height=16)), "none", None) is None  # off by default

    def items(epoch: int, seed: int = 7) -> list[torch.Tensor]:
        dataset = SequenceDataset(split, feats, augment, seed)
        dataset.set_epoch(epoch)
        return [dataset[i][1] for i in (2, 0, 1)]

    first, again, later, other_seed = items(1), items(1), items(2), items(1, seed=8)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(first, later))
    assert not all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(first, other_seed))
    assert all(a.shape[1] == 16 for a in first)
    plain = SequenceDataset(split, feats)
    assert torch.equal(plain[1][1], feats[1])


def test_image_config_validation() -> None:
    with pytest.raises(ConfigError, match="features.image.stride"):
        ImageFeatureConfig(window=2, stride=3)
    with pytest.raises(ConfigError, match="features.image.ink"):
        ImageFeatureConfig(ink="black")
    with pytest.raises(ConfigError, match="features.image.contrast"):
        ImageFeatureConfig(contrast=1.5)
    with pytest.raises(ConfigError, match="features.image.degrade"):
        ImageFeatureConfig(degrade=-0.1)
    with pytest.raises(ConfigError, match="did you mean 'features.image.height'"):
        config_from_data({"features": {"type": "image", "image": {"hieght": 32}}})
    config = config_from_data({"features": {"type": "image", "image": {"height": 40, "augment": True}}},
                              ["features.image.shear=0.1"])
    assert config.features.image.height == 40 and config.features.image.shear == 0.1


# ----------------------------------------------------------------------------- end to end
def bars_corpus(root: Path, texts: list[str], prefix: str) -> Path:
    """Line images where 'a' is one thick bar and 'b' two thin bars, with a manifest."""
    import json

    records = []
    for i, text in enumerate(texts):
        grey = np.full((24, 8 + 14 * len(text)), 255, dtype=np.uint8)
        for k, ch in enumerate(text):
            x = 4 + 14 * k
            if ch == "a":
                grey[4:20, x + 3 : x + 9] = 0
            else:
                grey[4:20, x + 1 : x + 3] = 0
                grey[4:20, x + 8 : x + 10] = 0
        save(root / "img" / f"{prefix}{i}.png", grey)
        records.append({"id": f"{prefix}{i}", "source": f"img/{prefix}{i}.png", "text": text})
    manifest = root / f"{prefix}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return manifest


def test_train_and_evaluate_on_line_images(tmp_path: Path) -> None:
    """The same train/evaluate API on images, with augmentation and the CNN on; a line whose transcript
    needs more output frames than it has is skipped and reported, not fatal."""
    from seqlabel import api

    train = bars_corpus(tmp_path, ["ab", "ba", "aab", "bba", "abab", "b", "a", "bab"], "tr")
    narrow = tmp_path / "img" / "narrow.png"
    save(narrow, np.full((24, 3), 255, dtype=np.uint8))
    with train.open("a", encoding="utf-8") as f:
        f.write('{"id": "narrow", "source": "img/narrow.png", "text": "abababab"}\n')
    dev = bars_corpus(tmp_path, ["aba", "bb"], "dv")
    config = config_from_data({
        "data": {"train": str(train), "dev": str(dev), "test": str(dev)},
        "features": {"type": "image", "cmvn": "none", "image": {"height": 12, "augment": True, "pad": 2}},
        "model": {"num_layers": 1, "hidden_size": 8, "cnn_channels": [4], "cnn_time_pool": 2},
        "train": {"lr": 0.02, "max_epochs": 2, "batch_frames": 400, "max_batch_size": 4, "progress": False,
                  "tensorboard": False, "device": "cpu", "amp": "off", "early_stop_patience": 0},
    })
    messages: list[str] = []
    result = api.train(config, tmp_path / "exp", echo=messages.append)
    assert result.best_checkpoint.is_file()
    assert any("12-dim features" in m for m in messages)
    assert any("skipped 1 utterance(s) whose transcript is too long" in m for m in messages)
    report = api.evaluate(result.best_checkpoint, dev, progress=False, device="cpu")
    assert report.tokens.total.utterances == 2
