"""Centre-line normalisation of line images (OCRopus's ``CenterNormalizer``, Calamari's default).

A line crop's height depends on its neighbours as much as on its letters: tall initials,
descenders of the line above or ascenders of the line below make one manuscript's crops twice
the x-height of another's, so scaling the crop to a fixed height gives the same letters
different sizes. Centre normalisation scales by the text itself instead:

    ink (H, W) -> smoothed heavily -> per column the row of most ink -> smoothed along the line:
      the centre line c (W,) -> d = the ink's mean distance from it (a quarter of the x-height for
      letters without ascenders or descenders, more with them)
      -> the 2r rows c - r .. c + r - 1 around it, column by column (r = 1 + band * d; so the centre
      lies half a row above the band's middle, as the shipped models were trained): the line
      straightened, neighbours' strokes beyond the band cut off -> (2r, W) -> scaled to height

The centre line is found on a copy scaled to ``MEASURE_ROWS`` rows (the smoothing is as wide as the
line is high, so at full resolution it would cost seconds a line); the distance is measured and the
band cut (bilinear interpolation) on the full-resolution image.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from seqlabel.features.image import scale_to_height

MEASURE_ROWS = 32  # rows of the copy the centre line is measured on


def centre_line(ink: np.ndarray) -> np.ndarray:
    """(H, W) ink (1) on paper (0) -> the centre line's row in every column (W,); an image without
    ink gives the middle row."""
    h, w = ink.shape
    if not ink.any():
        return np.full(w, (h - 1) / 2.0)
    smooth = ndimage.gaussian_filter(ink, (0.5 * h, 1.0 * h), mode="constant")
    # columns far from any ink are all zero: their argmax follows the neighbourhood's band instead
    smooth += 1e-3 * ndimage.uniform_filter(smooth, (max(1, h // 2), w), mode="constant")
    return ndimage.gaussian_filter1d(peak_rows(smooth), 0.3 * h, mode="nearest")


def peak_rows(smooth: np.ndarray) -> np.ndarray:
    """(H, W) -> every column's argmax row (W,), refined between rows by a parabola through the
    peak and its two neighbours (the copy the centre is found on has few rows: a row is coarse)."""
    h, w = smooth.shape
    peak = np.argmax(smooth, axis=0)
    if h < 3:
        return peak.astype(np.float64)
    inner = np.clip(peak, 1, h - 2)
    cols = np.arange(w)
    above, mid, below = (smooth[inner - 1, cols], smooth[inner, cols], smooth[inner + 1, cols])
    curve = above - 2.0 * mid + below
    shift = np.where(curve < 0, 0.5 * (above - below) / np.where(curve < 0, curve, -1.0), 0.0)
    return np.where(peak == inner, peak + np.clip(shift, -0.5, 0.5), peak).astype(np.float64)


def ink_distance(ink: np.ndarray, centre: np.ndarray) -> float:
    """The ink-weighted mean distance (rows) of (H, W) ``ink`` from ``centre`` (W,); H / 4 without ink."""
    total = float(ink.sum())
    if total <= 0.0:
        return ink.shape[0] / 4.0
    return float((np.abs(np.arange(ink.shape[0])[:, None] - centre[None, :]) * ink).sum() / total)


def centre_normalize(ink: np.ndarray, height: int, band: float = 4.0) -> np.ndarray:
    """(H, W) ink in [0, 1] -> (height, W') float32: the band of ``band`` mean ink distances either
    side of the centre line, straightened and scaled to ``height`` rows (aspect ratio kept)."""
    h, w = ink.shape
    ink = np.asarray(ink, dtype=np.float32)  # to_ink gives float32: no copy
    factor = min(1.0, MEASURE_ROWS / h)
    small = scale_to_height(ink, MEASURE_ROWS) if factor < 1.0 else ink
    columns_small = np.linspace(0, small.shape[1] - 1, w)  # each full-resolution column's place in the copy
    centre = np.interp(columns_small, np.arange(small.shape[1]), centre_line(small))  # (W,) rows of the copy
    centre = (centre + 0.5) / factor - 0.5  # rows of the full image (pixel centres)
    radius = max(2, int(round(1 + band * ink_distance(ink, centre))))
    rows = centre[None, :] + np.arange(-radius, radius)[:, None]  # (2r, W) source rows c - r .. c + r - 1
    cols = np.broadcast_to(np.arange(w, dtype=np.float64)[None, :], rows.shape)
    straight = ndimage.map_coordinates(ink, [rows, cols], order=1, mode="constant", cval=0.0)
    return scale_to_height(np.clip(straight, 0.0, 1.0), height)
