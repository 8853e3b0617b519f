"""Train-time augmentation of line images: (H, W) ink images in [0, 1] (ink = 1, paper = 0).

Pure functions take the image and a ``numpy.random.Generator`` and return a new image of the
same height (the width may change); ``ImageAugment`` chains them with the ranges of an
``ImageFeatureConfig``. The same generator state gives the same image.

    random_affine  slant (horizontal shear), ink size, width stretch, small rotation
    elastic        smooth random displacement field (Simard et al. 2003)
    morphology     one 2x2 grey erosion or dilation: thinner or thicker pen
    ink_loss       blotchy holes in the strokes and specks on the paper, as a poor binarisation leaves
    contrast       ink and paper levels drawn closer together
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from seqlabel.config import ImageFeatureConfig


def affine_matrix(shear: float, scale: float, stretch: float, rotate_deg: float) -> np.ndarray:
    """2x2 forward map of (row, col) offsets from the centre: rotation @ shear @ diag(scale, scale * stretch).

    Shear ``k`` moves a pixel ``k`` columns right per row above the centre (a rightward slant for k > 0).
    """
    a = math.radians(rotate_deg)
    rotation = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])  # (row, col)
    shearing = np.array([[1.0, 0.0], [-shear, 1.0]])  # col' = col - k * row (rows grow downwards)
    scaling = np.diag([scale, scale * stretch])
    return rotation @ shearing @ scaling


def apply_affine(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map ``image`` (H, W) by ``matrix`` about its centre onto a canvas of the same height and the
    width the transformed line needs; ink mapped outside the rows is cut off. Bilinear, paper = 0."""
    h, w = image.shape
    centre_in = np.array([(h - 1) / 2, (w - 1) / 2])
    corners = np.array([[0, 0], [0, w - 1], [h - 1, 0], [h - 1, w - 1]], dtype=np.float64) - centre_in
    cols = corners @ matrix.T  # (4, 2) transformed offsets
    width = max(1, int(math.ceil(cols[:, 1].max() - cols[:, 1].min())) + 1)
    centre_out = np.array([(h - 1) / 2, (width - 1) / 2])
    inverse = np.linalg.inv(matrix)
    offset = centre_in - inverse @ centre_out
    out = ndimage.affine_transform(image, inverse, offset=offset, output_shape=(h, width), order=1,
                                   mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def random_affine(image: np.ndarray, rng: np.random.Generator, shear: float = 0.3, scale: float = 0.1,
                  rotate: float = 1.5) -> np.ndarray:
    """Shear in [-shear, shear], ink size and width stretch each in [1 - scale, 1 + scale],
    rotation in [-rotate, rotate] degrees, drawn uniformly."""
    k = rng.uniform(-shear, shear)
    s = rng.uniform(1 - scale, 1 + scale)
    stretch = rng.uniform(1 - scale, 1 + scale)
    r = rng.uniform(-rotate, rotate)
    return apply_affine(image, affine_matrix(k, s, stretch, r))


def elastic(image: np.ndarray, rng: np.random.Generator, alpha: float = 1.0, sigma: float = 0.0) -> np.ndarray:
    """Displace every pixel by a smooth random field with per-axis standard deviation ``alpha`` pixels
    (white noise blurred with a Gaussian of width ``sigma``, default a sixth of the height)."""
    h, w = image.shape
    sigma = sigma or max(h / 6.0, 1.0)
    fields = []
    for _ in range(2):
        field = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma, mode="reflect")
        fields.append(field * (alpha / max(float(field.std()), 1e-8)))
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    out = ndimage.map_coordinates(image, [rows + fields[0], cols + fields[1]], order=1, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def morphology(image: np.ndarray, rng: np.random.Generator, probability: float = 0.5) -> np.ndarray:
    """With ``probability``, one 2x2 grey erosion (thinner strokes) or dilation (thicker), even odds."""
    if rng.uniform() >= probability:
        return image
    op = ndimage.grey_erosion if rng.uniform() < 0.5 else ndimage.grey_dilation
    return op(image, size=(2, 2)).astype(np.float32)


def ink_loss(image: np.ndarray, rng: np.random.Generator, amount: float = 0.3) -> np.ndarray:
    """Erase a fraction drawn from [0, ``amount``] of the ink pixels, in blotches about one to four
    pixels across at a 48-pixel height, and put specks of ink on a twentieth as many paper pixels:
    broken, speckled strokes as a poor binarisation leaves them (ocrodeg's random blotches, Breuel).

    The blotches are where a smooth random field (white noise blurred over 0.5-2 pixels, scaled with
    the height) is lowest among the ink pixels; the specks where it is highest among the paper ones.
    """
    h, w = image.shape
    fraction = rng.uniform(0.0, amount)
    sigma = rng.uniform(0.5, 2.0) * h / 48
    field = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma, mode="reflect")
    ink = image > 0.5
    if fraction <= 0.0 or not ink.any() or ink.all():
        return image
    out = image.copy()
    out[ink & (field < np.quantile(field[ink], fraction))] = 0.0
    paper = ~ink
    speck_share = min(fraction * ink.sum() / paper.sum() / 20, 1.0)
    out[paper & (field > np.quantile(field[paper], 1.0 - speck_share))] = 1.0
    return out.astype(np.float32)


def contrast(image: np.ndarray, rng: np.random.Generator, amount: float = 0.3) -> np.ndarray:
    """Ink level drawn from [1 - amount, 1] and paper level from [0, amount / 2]: ink' = paper + (ink - paper) * x."""
    if amount <= 0:
        return image
    ink = rng.uniform(1.0 - amount, 1.0)
    paper = rng.uniform(0.0, amount / 2)
    return (paper + (ink - paper) * image).astype(np.float32)


@dataclass(frozen=True)
class ImageAugment:
    """affine -> elastic -> morphology -> ink loss -> contrast, with the given maximum strengths (0: off)."""

    shear: float = 0.3
    scale: float = 0.1
    rotate: float = 1.5
    elastic: float = 1.0
    morph: float = 0.5
    contrast: float = 0.3
    degrade: float = 0.0

    @classmethod
    def from_config(cls, config: ImageFeatureConfig) -> "ImageAugment":
        return cls(config.shear, config.scale, config.rotate, config.elastic, config.morph, config.contrast,
                   config.degrade)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(H, W) ink image -> (H, W2) augmented ink image."""
        if self.shear or self.scale or self.rotate:
            image = random_affine(image, rng, self.shear, self.scale, self.rotate)
        if self.elastic:
            image = elastic(image, rng, self.elastic)
        if self.morph:
            image = morphology(image, rng, self.morph)
        if self.degrade:
            image = ink_loss(image, rng, self.degrade)
        return contrast(image, rng, self.contrast)
