"""Centre-line normalisation of line images (features.image.normalize: centre).

Lines are drawn as numpy arrays: a row of "letters" (blocks of known x-height) along a known
centre line, in crops with or without blank space and a neighbour's strokes above.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seqlabel.config import FeatureConfig, ImageFeatureConfig
from seqlabel.errors import ConfigError
from seqlabel.features import build_extractor
from seqlabel.features.image import scale_to_height
from seqlabel.features.line_norm import centre_line, centre_normalize, ink_distance
from seqlabel.types import Utterance


def letters(width: int, x_height: int, centre: np.ndarray, height: int, seed: int = 0) -> np.ndarray:
    """(height, width) ink: blocks x_height high, 3-8 columns wide with 2-5 column gaps, each
    centred on ``centre`` (W,) at its first column."""
    rng = np.random.default_rng(seed)
    ink = np.zeros((height, width), np.float32)
    col = 2
    while col < width - 8:
        w = int(rng.integers(3, 9))
        top = int(round(centre[col] - x_height / 2))
        ink[top:top + x_height, col:col + w] = 1.0
        col += w + int(rng.integers(2, 6))
    return ink


def ink_rows(image: np.ndarray) -> tuple[float, float]:
    """(the ink's mean row, the ink's mean absolute distance from it)."""
    rows = np.arange(image.shape[0])[:, None] * np.ones_like(image)
    mean = float((rows * image).sum() / image.sum())
    return mean, float((np.abs(rows - mean) * image).sum() / image.sum())


def test_centre_line_and_distance_of_a_straight_line() -> None:
    ink = letters(300, 10, np.full(300, 30.0), 60)
    centre = centre_line(ink)
    assert centre.shape == (300,)
    assert np.all(np.abs(centre[20:-20] - 29.5) <= 1.0)  # blocks cover rows 25..34
    assert ink_distance(ink, np.full(300, 29.5)) == pytest.approx(2.5)  # mean |row - 29.5| over rows 25..34


def test_output_has_the_height_and_the_text_in_the_middle() -> None:
    ink = letters(400, 12, np.full(400, 70.0), 100)  # text low in a tall crop
    out = centre_normalize(ink, 48)
    assert out.shape[0] == 48 and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    mean, _ = ink_rows(out)
    assert abs(mean - 23.5) <= 1.5


def test_blank_space_and_a_neighbours_strokes_barely_change_the_scale() -> None:
    """The same letters in a tight crop and in one twice as tall (with a neighbour's descenders at
    the top): scaling the crop halves their size, centre normalisation keeps it (a fragment far
    from the centre line widens the band a little: the mean ink distance includes it)."""
    tight = letters(400, 12, np.full(400, 20.0), 40)
    tall = np.zeros((80, 400), np.float32)
    tall[30:70] = tight
    a, b = centre_normalize(tight, 48), centre_normalize(tall, 48)
    assert abs(a.shape[1] - b.shape[1]) <= 0.05 * a.shape[1]
    assert ink_rows(b)[1] == pytest.approx(ink_rows(a)[1], rel=0.05)
    tall[0:4, 50:60] = 1.0
    c = centre_normalize(tall, 48)
    assert scale_to_height(tall, 48).shape[1] < 0.55 * scale_to_height(tight, 48).shape[1]
    assert abs(c.shape[1] - a.shape[1]) <= 0.25 * a.shape[1]
    assert not c[:, :c.shape[1] * 60 // 400].any(axis=1)[:2].any()  # the fragment's rows are cut off


def test_a_curved_line_is_straightened() -> None:
    cols = np.arange(1200)
    ink = letters(1200, 10, 40.0 + 10.0 * np.sin(cols / 1200 * 2 * np.pi), 80)

    def spread(image: np.ndarray) -> float:  # std of the ink's mean row over 40-column stretches
        step = image.shape[1] // 30
        return float(np.std([ink_rows(image[:, c:c + step])[0] for c in range(0, image.shape[1] - step, step)
                             if image[:, c:c + step].sum()]))

    out = centre_normalize(ink, 48)
    crop = scale_to_height(ink, 48)
    out_rows, crop_rows = spread(out) * 1200 / out.shape[1], spread(crop) * 1200 / crop.shape[1]  # input rows
    assert crop_rows > 6.5  # 10 / sqrt(2)
    assert out_rows < 0.25 * crop_rows
    assert abs(ink_rows(out)[0] - 23.5) < 2.0


def test_blank_image_gives_a_blank_line() -> None:
    out = centre_normalize(np.zeros((30, 90), np.float32), 48)
    assert out.shape[0] == 48 and not out.any()


def test_extractor_uses_the_setting(tmp_path: Path) -> None:
    ink = np.zeros((100, 300), np.float32)
    ink[60:75] = letters(300, 15, np.full(300, 7.0), 15)
    path = tmp_path / "line.png"
    Image.fromarray(((1.0 - ink) * 255).astype(np.uint8)).save(path)
    utt = Utterance(id="u", source=path, text="x")
    crop = build_extractor(FeatureConfig(type="image", image=ImageFeatureConfig(height=32, pad=0)))(utt)
    centre = build_extractor(FeatureConfig(type="image", image=ImageFeatureConfig(
        height=32, pad=0, normalize="centre")))(utt)
    assert crop.shape[1] == centre.shape[1] == 32  # (T, height)
    assert centre.shape[0] > 1.5 * crop.shape[0]  # the letters fill the band instead of a fifth of the crop


def test_config_names_the_key() -> None:
    with pytest.raises(ConfigError, match="features.image.normalize"):
        ImageFeatureConfig(normalize="center-line")
    with pytest.raises(ConfigError, match="features.image.band"):
        ImageFeatureConfig(normalize="centre", band=0)
