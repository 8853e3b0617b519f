"""A rendered line made to look scanned: the ranges (``Look``), one line's draw from them (``Style``),
and the pure functions that typeset, warp, soil and binarise it (``render_line``).

Ink images are (H, W) float32 in [0, 1], 1 = ink; grey images (H, W) float32 in [0, 1], 1 = white.
Lengths are fractions of the output line height unless said otherwise, so a look holds at any height.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Sequence, Union

import numpy as np

from seqlabel.corpora.render.draw import typeset, x_height
from seqlabel.errors import ConfigError

Range = Union[tuple[float, float], Sequence[float], float]


@dataclass(frozen=True)
class Look:
    """Ranges [low, high] each line's style is drawn from, uniformly (a single number fixes it)."""

    x_height: Range = (0.24, 0.32)  # height of an x, of the line height (Caroline lines: about 0.25-0.3)
    baseline: Range = (0.62, 0.72)  # row of the baseline, from the top, of the line height
    tracking: Range = (-0.02, 0.06)  # extra space after each letter, em; each letter adds +-0.02 em
    word_space: Range = (0.5, 1.2)  # width of a space, times the font's space
    stretch: Range = (1.1, 1.6)  # width of the line, times the font's (Caroline letters are broad)
    slant: Range = (-0.08, 0.15)  # horizontal shear, tan of the angle (positive leans right)
    rotate: Range = (-1.0, 1.0)  # degrees
    curl: Range = (0.0, 0.04)  # amplitude of the smooth up-and-down of the baseline along the line
    ink_width: Range = (0.0, 0.025)  # strokes grown (+) or thinned (-) on each side
    fade: Range = (0.0, 0.3)  # depth of the ink's slow fading along the line (0: even ink)
    background: Range = (0.0, 0.25)  # contrast of the parchment texture and of its stains
    stains: Range = (0, 2)  # number of stains
    blur: Range = (0.0, 0.012)  # Gaussian blur, standard deviation
    noise: Range = (0.0, 0.08)  # Gaussian pixel noise, standard deviation (grey levels 0-1)
    binarize: float = 1.0  # probability that a line is thresholded to black and white (Caroline: .bin.png)
    threshold: Range = (0.5, 0.65)  # grey level (0 black, 1 white) below which a pixel turns black
    margin: Range = (0.05, 0.4)  # blank columns at each end

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "binarize":
                if not 0.0 <= float(value) <= 1.0:
                    raise ConfigError(f"render: binarize is a probability in [0, 1], got {value!r}")
                continue
            low, high = as_range(value, f.name)
            if f.name in ("x_height", "baseline") and not 0.0 < low <= high < 1.0:
                raise ConfigError(f"render: {f.name} must lie in (0, 1), got {value!r}")
            if f.name not in ("tracking", "slant", "rotate", "ink_width") and low < 0:
                raise ConfigError(f"render: {f.name} must be >= 0, got {value!r}")
            object.__setattr__(self, f.name, (low, high))


def as_range(value: Range, name: str) -> tuple[float, float]:
    """``value`` as (low, high): a number n gives (n, n); ConfigError names ``name`` otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), float(value)
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"render: {name} must be a number or [low, high], got {value!r}") from None
    if low > high:
        raise ConfigError(f"render: {name} must be [low, high] with low <= high, got {value!r}")
    return low, high


@dataclass(frozen=True)
class Style:
    """One line's draw from a ``Look``: one value per range, plus the coin for binarisation."""

    values: dict[str, float]
    binarize: bool

    def __getattr__(self, name: str) -> float:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def sample(look: Look, rng: np.random.Generator) -> Style:
    values = {f.name: float(rng.uniform(*getattr(look, f.name))) for f in fields(look) if f.name != "binarize"}
    values["stains"] = float(round(values["stains"]))
    return Style(values, bool(rng.random() < look.binarize))


def smooth_noise(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """(H, W) values in [0, 1] varying over about ``cell`` pixels: a coarse random grid, bicubic-upsampled."""
    from PIL import Image

    h, w = shape
    grid = rng.random((max(2, int(h / cell) + 2), max(2, int(w / cell) + 2))).astype(np.float32)
    up = np.asarray(Image.fromarray(grid, mode="F").resize((w, h), Image.Resampling.BICUBIC))
    return np.clip(up, 0.0, 1.0)


def restroke(ink: np.ndarray, grow: float) -> np.ndarray:
    """Strokes grown (``grow`` > 0) or thinned (< 0) by ``grow`` pixels on each side: blur, then
    threshold where the blurred edge of a wide stroke lies ``grow`` pixels out, one-pixel soft edge."""
    from scipy.ndimage import gaussian_filter

    if abs(grow) < 0.05:
        return ink
    sigma = max(0.8, abs(grow))
    blurred = gaussian_filter(ink, sigma, mode="constant")
    level = 0.5 * math.erfc(grow / (sigma * math.sqrt(2)))  # the Gaussian edge profile at distance grow
    slope = math.exp(-0.5 * (grow / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))  # per pixel there
    return np.clip(0.5 + (blurred - level) / slope, 0.0, 1.0).astype(np.float32)


def warp(ink: np.ndarray, baseline: int, stretch: float, slant: float, rotate: float, curl: float,
         wavelength: float, phase: tuple[float, float]) -> np.ndarray:
    """Widen by ``stretch``, shear by ``slant`` about the baseline, then move each column up or down
    by the rotation's tilt plus a smooth curl of amplitude ``curl`` pixels. The output grows to hold
    everything."""
    from scipy.ndimage import map_coordinates

    h, w = ink.shape
    shifts = (slant * baseline, slant * (baseline - h))
    left = -min(0.0, *shifts)
    width = int(math.ceil(w * stretch + abs(slant) * h)) + 1
    xs = np.arange(width, dtype=np.float32) - left
    tilt = math.tan(math.radians(rotate))
    v = tilt * (xs - w * stretch / 2) + curl * (np.sin(2 * math.pi * xs / wavelength + phase[0])
                                     + 0.4 * np.sin(2 * math.pi * xs / (wavelength / 2.7) + phase[1]))
    top = float(v.min())
    height = h + int(math.ceil(float(v.max()) - top))
    rows = np.arange(height, dtype=np.float32)[:, None] + top  # (H', 1)
    src_y = rows - v[None, :]  # (H', W')
    src_x = (xs[None, :] - slant * (baseline - src_y)) / stretch
    return map_coordinates(ink, [src_y, src_x], order=1, mode="constant", cval=0.0, prefilter=False)


def to_height(image: np.ndarray, height: int) -> np.ndarray:
    """(H, W) -> (height, W * height / H), the aspect ratio kept."""
    from PIL import Image

    h, w = image.shape
    if h == height:
        return image
    width = max(1, int(round(w * height / h)))
    method = Image.Resampling.BOX if h > height else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(image, mode="F").resize((width, height), method), dtype=np.float32)


def crop_columns(ink: np.ndarray, left: int, right: int) -> np.ndarray | None:
    """The columns holding ink plus ``left``/``right`` blank ones; None when there is no ink."""
    cols = np.flatnonzero(ink.max(axis=0) > 0.1)
    if cols.size == 0:
        return None
    part = ink[:, max(0, cols[0] - left) : cols[-1] + 1 + right]
    pad_left = max(0, left - cols[0])
    pad_right = max(0, cols[-1] + 1 + right - ink.shape[1])
    return np.pad(part, ((0, 0), (pad_left, pad_right))) if pad_left or pad_right else part


def parchment(shape: tuple[int, int], contrast: float, stains: int, rng: np.random.Generator) -> np.ndarray:
    """Grey paper (H, W): a light tone, slow blotchy texture of ``contrast`` and ``stains`` soft stains."""
    h, w = shape
    paper = 0.95 - contrast * (0.7 * smooth_noise(shape, h / 2, rng) + 0.3 * smooth_noise(shape, h / 8, rng))
    for _ in range(stains):
        cx, cy = rng.uniform(0, w), rng.uniform(-0.2 * h, 1.2 * h)
        rx, ry = rng.uniform(0.2, 1.5) * h, rng.uniform(0.15, 0.7) * h
        x0, x1 = int(max(0, cx - 2 * rx)), int(min(w, cx + 2 * rx + 1))
        if x1 <= x0:
            continue
        ys = (np.arange(h, dtype=np.float32)[:, None] - cy) / ry
        xs = (np.arange(x0, x1, dtype=np.float32)[None, :] - cx) / rx
        edge = 0.6 + 0.8 * smooth_noise((h, x1 - x0), h / 4, rng)  # ragged rim
        paper[:, x0:x1] -= rng.uniform(0.3, 1.0) * contrast * np.exp(-(xs ** 2 + ys ** 2) * edge)
    return paper.astype(np.float32)


def render_line(text: str, font: str, height: int, look: Look, rng: np.random.Generator) -> np.ndarray | None:
    """``text`` drawn in ``font`` as a scanned line: (height, W) uint8 grey, 0 = black; None if no ink."""
    from scipy.ndimage import gaussian_filter

    s = sample(look, rng)
    size = max(6, int(round(s.x_height * height / x_height(font))))
    ink, baseline = typeset(text, font, size, (s.tracking, 0.02), s.word_space, rng)
    canvas = np.zeros((height, ink.shape[1]), dtype=np.float32)
    offset = int(round(s.baseline * height)) - baseline
    top, bottom = max(0, offset), min(height, offset + ink.shape[0])
    canvas[top:bottom] = ink[top - offset : bottom - offset]
    canvas = restroke(canvas, s.ink_width * height)
    wavelength = float(rng.uniform(3.0, 10.0)) * height
    canvas = warp(canvas, int(round(s.baseline * height)), s.stretch, s.slant, s.rotate, s.curl * height, wavelength,
                  (float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, 2 * math.pi))))
    right = float(rng.uniform(*look.margin))
    canvas = crop_columns(to_height(canvas, height), int(round(s.margin * height)), int(round(right * height)))
    if canvas is None:
        return None
    canvas = canvas * (1.0 - s.fade * smooth_noise(canvas.shape, height / 2, rng))
    paper = parchment(canvas.shape, s.background, int(s.stains), rng)
    grey = paper * (1.0 - canvas) + float(rng.uniform(0.05, 0.25)) * canvas
    if s.blur * height > 0.3:
        grey = gaussian_filter(grey, s.blur * height)
    if s.noise > 0:
        grey = grey + rng.normal(0.0, s.noise, grey.shape).astype(np.float32)
    if s.binarize:
        grey = (grey > s.threshold).astype(np.float32)
    return np.round(np.clip(grey, 0.0, 1.0) * 255).astype(np.uint8)
