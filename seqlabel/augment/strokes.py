"""Train-time augmentation of pen trajectories: random affine (slant, scale, rotation), elastic
jitter and pen-speed variation. Pure functions of the strokes and a NumPy generator, so a draw is
deterministic given the generator's seed.

Strokes are a list of (N_i, 3) float arrays: x, y, t (seconds; NaN when unknown). Lengths are in
whatever unit the strokes use; the feature extractor calls these on normalised strokes (y up,
baseline at 0, core height 1), so there amounts are in core heights.
"""
from __future__ import annotations

import math

import numpy as np

Strokes = list[np.ndarray]  # each (N_i, 3): x, y, t


def random_affine(strokes: Strokes, rng: np.random.Generator, shear: float, scale: float,
                  rotate: float) -> Strokes:
    """Shear x by a slant in [-shear, shear] (tan), scale size by [1 - scale, 1 + scale] and width
    by as much again, and rotate by [-rotate, rotate] degrees, all about the ink's centroid."""
    s = rng.uniform(-shear, shear)
    size = rng.uniform(1.0 - scale, 1.0 + scale)
    width = rng.uniform(1.0 - scale, 1.0 + scale)
    angle = math.radians(rng.uniform(-rotate, rotate))
    c, n = math.cos(angle), math.sin(angle)
    # p' = R @ diag(size * width, size) @ [[1, s], [0, 1]] @ (p - centre) + centre, on row vectors
    matrix = np.array([[c, -n], [n, c]]) @ np.diag([size * width, size]) @ np.array([[1.0, s], [0.0, 1.0]])
    centre = np.concatenate([st[:, :2] for st in strokes]).mean(axis=0)
    return [np.column_stack([(st[:, :2] - centre) @ matrix.T + centre, st[:, 2]]) for st in strokes]


def elastic_jitter(strokes: Strokes, rng: np.random.Generator, std: float, wavelength: float = 1.5,
                   waves: int = 6) -> Strokes:
    """Move every point by a smooth random displacement field of the plane (a sum of ``waves``
    random plane waves of about ``wavelength``), per-axis standard deviation ``std``: nearby ink
    moves together, so strokes bend without tearing."""
    if std <= 0:
        return [st.copy() for st in strokes]
    k = 2 * math.pi / wavelength * rng.uniform(0.5, 1.5, size=(2, waves))  # (axis, wave) spatial frequency
    theta = rng.uniform(0, 2 * math.pi, size=(2, waves))  # direction of each wave
    phase = rng.uniform(0, 2 * math.pi, size=(2, waves))
    amp = std * math.sqrt(2.0 / waves)  # each sin has variance 1/2
    out = []
    for st in strokes:
        xy = st[:, :2]
        disp = np.empty_like(xy)
        for axis in range(2):
            proj = xy[:, :1] * np.cos(theta[axis]) + xy[:, 1:2] * np.sin(theta[axis])  # (N, waves)
            disp[:, axis] = amp * np.sin(proj * k[axis] + phase[axis]).sum(axis=1)
        out.append(np.column_stack([xy + disp, st[:, 2]]))
    return out


def speed_variation(strokes: Strokes, rng: np.random.Generator, amount: float) -> Strokes:
    """Re-time each stroke with a pen speed scaled by a smoothly varying factor in about
    [1 - amount, 1 + amount], then sample it again at the original (median) sampling interval.

    Faster stretches get fewer points (the sampled polygon cuts corners), slower ones more.
    Without time stamps the points count as equally spaced in time.
    """
    if amount <= 0:
        return [st.copy() for st in strokes]
    base = rng.uniform(1.0 - amount, 1.0 + amount)
    out = []
    for st in strokes:
        n = len(st)
        t = st[:, 2] if np.isfinite(st[:, 2]).all() else np.arange(n, dtype=float)
        if n < 3 or not t[-1] > t[0]:
            out.append(st.copy())
            continue
        dt = np.diff(t)
        interval = float(np.median(dt[dt > 0])) if (dt > 0).any() else 1.0
        # speed factor along the stroke: the base draw times a slow wobble (two random sines)
        u = (t - t[0]) / (t[-1] - t[0])
        wobble = sum(rng.uniform(-0.5, 0.5) * amount * np.sin(2 * math.pi * (f * u + rng.uniform()))
                     for f in (0.5, 1.5))
        speed = np.clip(base + wobble, 0.2, None)
        # new time: integral of dt / speed (trapezoid); sample it at the original interval
        new_t = np.concatenate([[0.0], np.cumsum(dt * 2.0 / (speed[1:] + speed[:-1]))])
        samples = np.arange(0.0, new_t[-1], interval)
        if samples[-1] < new_t[-1]:
            samples = np.append(samples, new_t[-1])  # keep the stroke's end
        x = np.interp(samples, new_t, st[:, 0])
        y = np.interp(samples, new_t, st[:, 1])
        times = t[0] + samples if np.isfinite(st[:, 2]).all() else np.full(len(samples), np.nan)
        out.append(np.column_stack([x, y, times]))
    return out


def augment_strokes(strokes: Strokes, rng: np.random.Generator, shear: float = 0.2, scale: float = 0.15,
                    rotate: float = 3.0, jitter: float = 0.03, speed: float = 0.3) -> Strokes:
    """Speed variation, then elastic jitter, then a random affine (amounts as in each function)."""
    strokes = speed_variation(strokes, rng, speed)
    strokes = elastic_jitter(strokes, rng, jitter)
    return random_affine(strokes, rng, shear, scale, rotate)
