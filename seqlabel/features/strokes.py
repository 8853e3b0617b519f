"""Online handwriting: pen trajectories (strokes) and their per-point features.

A trajectory is a list of strokes (pen-down stretches), each an (N, 3) float array of x, y, t:
y grows downward as on a screen, a tablet or a whiteboard (IAM-OnDB), t is seconds (NaN when
the source has no time stamps). Sources, chosen by the file suffix:

    .xml   IAM-OnDB ``lineStrokes``: <StrokeSet><Stroke><Point x= y= time=/>...</Stroke>...
    .json  {"strokes": [[[x, y, t], ...], ...]}        (t optional: [x, y] points)
    .npz   ``points`` (N, 2 or 3): x, y[, t] and ``lengths`` (S,): points per stroke

Features, in the spirit of Graves et al. (2009) and Liwicki & Bunke's IAM-OnDB front end:

1. normalisation: the baseline is fitted to the local minima of the ink and rotated level
   (``deskew``), the slant is the median direction of near-vertical ink and is sheared upright
   (``deslant``); baseline and corpus line are the medians of the local minima and maxima, and
   the line is moved to x = 0, baseline y = 0 and scaled to core height 1;
2. each stroke is resampled to equidistant points about ``step`` core heights apart;
3. per point: ``FEATURES`` below, then (``context`` > 0) ``VICINITY_FEATURES`` computed over the
   ``context`` points on each side.

Every step is equivariant to translation and scale of the input, so the features are invariant
to both. Train-time augmentation (``seqlabel.augment.strokes``) perturbs the normalised strokes
before resampling, so it imitates what normalisation leaves: residual slant, skew, size, wobble.
"""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from seqlabel.config import FeatureConfig, StrokeFeatureConfig
from seqlabel.errors import DataError
from seqlabel.features.common import check_finite
from seqlabel.types import Utterance

Strokes = list[np.ndarray]  # each (N_i, 3): x, y, t

FEATURES = ("pen_up", "dx", "dy", "y", "dir_cos", "dir_sin", "curv_cos", "curv_sin")
VICINITY_FEATURES = ("aspect", "slope_cos", "slope_sin", "curliness", "linearity", "local_y", "local_height")

_MAX_SKEW_DEG = 20.0  # estimated skew beyond this is clipped (a short word gives a poor estimate)
_MAX_SLANT = 1.0  # |tan| of the estimated slant (45 degrees)


# ---- reading ---------------------------------------------------------------------------------


def read_strokes(path: str | Path) -> Strokes:
    """Strokes from an IAM-OnDB ``.xml``, a ``.json`` or an ``.npz`` file; errors name the file.

    Strokes without points are dropped; a file left with no points is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"stroke file not found: {path}")
    if path.suffix.lower() not in _READERS:
        raise DataError(f"{path}: unknown stroke file format {path.suffix!r} (expected .xml, .json or .npz)")
    try:
        raw = _READERS[path.suffix.lower()](path)
    except DataError as e:
        raise DataError(f"{path}: {e}") from None
    except (ValueError, TypeError, OSError, KeyError, ET.ParseError) as e:
        raise DataError(f"{path}: not a valid {path.suffix[1:]} stroke file: {e}") from None
    return check_strokes(raw, str(path))


def check_strokes(raw: Sequence[np.ndarray], what: str) -> Strokes:
    """Strokes (N_i, 2 or 3) -> (N_i, 3) float64 x, y, t (t NaN where missing), strokes without points
    dropped; bad shapes, non-finite coordinates and no points at all raise DataError naming ``what``."""
    strokes = []
    for i, stroke in enumerate(raw):
        try:
            stroke = np.array(stroke, dtype=np.float64)  # a copy: normalisation must not touch the caller's
        except (ValueError, TypeError) as e:
            raise DataError(f"{what}: stroke {i} is not an array of numbers ({e})") from None
        if stroke.ndim != 2 or stroke.shape[1] not in (2, 3):
            raise DataError(f"{what}: stroke {i}: points must be [x, y] or [x, y, t], got shape {stroke.shape}")
        if len(stroke) == 0:
            continue
        if stroke.shape[1] == 2:
            stroke = np.column_stack([stroke, np.full(len(stroke), np.nan)])
        if not np.isfinite(stroke[:, :2]).all():
            raise DataError(f"{what}: stroke {i} has non-finite coordinates")
        strokes.append(stroke)
    if not strokes:
        raise DataError(f"{what}: holds no strokes (no points)")
    return strokes


def _read_xml(path: Path) -> list[np.ndarray]:
    root = ET.parse(path).getroot()
    strokes = []
    for stroke in root.iter("Stroke"):
        points = [(float(p.attrib["x"]), float(p.attrib["y"]), float(p.attrib.get("time", "nan")))
                  for p in stroke.iter("Point")]
        strokes.append(np.array(points, dtype=np.float64).reshape(-1, 3))
    return strokes


def _read_json(path: Path) -> list[np.ndarray]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("strokes"), list):
        raise DataError('expected a JSON object with a "strokes" list')
    strokes = []
    for i, stroke in enumerate(data["strokes"]):
        if not isinstance(stroke, list):
            raise DataError(f"stroke {i} is not a list of points")
        strokes.append(np.array(stroke, dtype=np.float64).reshape(len(stroke), -1) if stroke else np.zeros((0, 3)))
    return strokes


def _read_npz(path: Path) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        if "points" not in data or "lengths" not in data:
            raise DataError(f"expected arrays 'points' and 'lengths', found {sorted(data.files)}")
        points, lengths = np.asarray(data["points"], np.float64), np.asarray(data["lengths"])
    if points.ndim != 2 or lengths.ndim != 1 or lengths.sum() != len(points) or (lengths < 0).any():
        raise DataError(f"'lengths' {lengths.tolist()[:8]} must be non-negative and sum to the "
                        f"{len(points)} rows of 'points' {points.shape}")
    return np.split(points, np.cumsum(lengths)[:-1])


_READERS = {".xml": _read_xml, ".json": _read_json, ".npz": _read_npz}
STROKE_SUFFIXES = tuple(_READERS)  # what `seqlabel transcribe` picks from folders


def write_json(path: str | Path, strokes: Strokes, decimals: int = 3) -> None:
    """Write strokes as ``{"strokes": [[[x, y, t], ...], ...]}`` (``[x, y]`` where t is NaN)."""
    out = []
    for st in strokes:
        timed = np.isfinite(st[:, 2]).all() if st.shape[1] > 2 else False
        cols = st[:, :3] if timed else st[:, :2]
        out.append(np.round(cols, decimals).tolist())
    Path(path).write_text(json.dumps({"strokes": out}, separators=(",", ":")), encoding="utf-8")


def write_npz(path: str | Path, strokes: Strokes) -> None:
    """Write strokes as ``points`` (N, 3) float32 and ``lengths`` (S,) int32."""
    np.savez_compressed(path, points=np.concatenate(strokes).astype(np.float32),
                        lengths=np.array([len(s) for s in strokes], dtype=np.int32))


# ---- normalisation ---------------------------------------------------------------------------


def resample_stroke(points: np.ndarray, step: float) -> np.ndarray:
    """(N, D) polyline -> (M, D) points equally spaced along its arc, both ends kept.

    The spacing is the stroke's length divided by round(length / step) (at least one gap), so
    it lies within [2/3, 2] x ``step``. Columns past the first two (time) are interpolated too.
    A stroke of zero length gives its first point.
    """
    seg = np.hypot(*np.diff(points[:, :2], axis=0).T) if len(points) > 1 else np.zeros(0)
    keep = np.concatenate([[True], seg > 0])
    points, seg = points[keep], seg[seg > 0]
    if len(points) == 1:
        return points.copy()
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(1, int(round(arc[-1] / step)))
    at = np.linspace(0.0, arc[-1], n + 1)
    return np.column_stack([np.interp(at, arc, points[:, d]) for d in range(points.shape[1])])


def _extrema(strokes: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(local minima (M, 2), local maxima (M', 2)) of y: points lowest/highest among the ``k``
    neighbours on each side within their stroke (strokes roughly uniformly sampled)."""
    lows, highs = [], []
    for st in strokes:
        y = st[:, 1]
        padded = np.pad(y, k, mode="edge")
        window = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1)  # (N, 2k+1)
        lows.append(st[y <= window.min(axis=1), :2])
        highs.append(st[y >= window.max(axis=1), :2])
    return np.concatenate(lows), np.concatenate(highs)


def _robust_extent(strokes: list[np.ndarray]) -> float:
    """A size of the ink that scales with it: the 5-95% range of y (or of x, or 1)."""
    pts = np.concatenate(strokes)[:, :2]
    for axis in (1, 0):
        lo, hi = np.percentile(pts[:, axis], [5, 95])
        if hi > lo:
            return float(hi - lo)
    return 1.0


def _uniform(strokes: list[np.ndarray], extent: float) -> list[np.ndarray]:
    return [resample_stroke(st[:, :2], extent / 50) for st in strokes]


def estimate_skew(strokes: list[np.ndarray]) -> float:
    """Baseline angle (radians, y up): a trimmed least-squares line through the local minima."""
    extent = _robust_extent(strokes)
    return _skew(_uniform(strokes, extent), extent)


def _skew(uniform: list[np.ndarray], extent: float) -> float:
    lows, _ = _extrema(uniform, k=6)
    if len(lows) < 2 or np.ptp(lows[:, 0]) <= 0:
        return 0.0
    keep = np.ones(len(lows), bool)
    slope = 0.0
    for _ in range(3):  # refit without minima far above the line (loops of ascenders, dots)
        if keep.sum() < 2 or np.ptp(lows[keep, 0]) <= 0:
            break
        slope, icpt = np.polyfit(lows[keep, 0], lows[keep, 1], 1)
        resid = lows[:, 1] - (slope * lows[:, 0] + icpt)
        keep = np.abs(resid) <= 0.15 * extent
    limit = math.radians(_MAX_SKEW_DEG)
    return float(np.clip(math.atan(slope), -limit, limit))


def estimate_slant(strokes: list[np.ndarray]) -> float:
    """Slant as tan(angle from vertical), positive leaning right (y up): the median dx/dy of the
    near-vertical pieces of ink (steeper than 45 degrees), sampled uniformly along the ink."""
    return _slant(_uniform(strokes, _robust_extent(strokes)))


def _slant(uniform: list[np.ndarray]) -> float:
    d = np.concatenate([np.diff(st, axis=0) for st in uniform])
    steep = np.abs(d[:, 1]) > np.abs(d[:, 0])
    if not steep.any():
        return 0.0
    return float(np.clip(np.median(d[steep, 0] / d[steep, 1]), -_MAX_SLANT, _MAX_SLANT))


def normalize_strokes(strokes: Strokes, deskew: bool = True, deslant: bool = True) -> Strokes:
    """Strokes (y down, any unit) -> strokes with y up, deskewed and deslanted, x starting at 0,
    baseline at y = 0 and core height 1. Time stamps are kept."""
    pts = np.concatenate(strokes)[:, :2]
    centre = pts.mean(axis=0)
    xy = [(st[:, :2] - centre) * np.array([1.0, -1.0]) for st in strokes]  # y up, centred
    extent = _robust_extent(xy)
    uniform = _uniform(xy, extent)  # the estimates' sample of the ink, moved along with it
    transform = np.eye(2)
    if deskew:
        a = -_skew(uniform, extent)
        transform = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        uniform = [p @ transform.T for p in uniform]
    if deslant:
        shear = np.array([[1.0, -_slant(uniform)], [0.0, 1.0]])
        transform = shear @ transform
        uniform = [p @ shear.T for p in uniform]
    xy = [p @ transform.T for p in xy]
    extent = _robust_extent(xy)
    lows, highs = _extrema(uniform, k=6)
    base = float(np.median(lows[:, 1])) if len(lows) else 0.0
    core = (float(np.median(highs[:, 1])) if len(highs) else 0.0) - base
    if not core >= 0.25 * extent:  # too few extrema, or a line of capitals / ascenders only
        ys = np.concatenate(xy)[:, 1]
        lo, hi = np.percentile(ys, [25, 75])
        base, core = float(lo), max(float(hi - lo), 0.25 * extent)
    x0 = min(float(p[:, 0].min()) for p in xy)
    return [np.column_stack([(p[:, 0] - x0) / core, (p[:, 1] - base) / core, st[:, 2]]) for p, st in zip(xy, strokes)]


# ---- per-point features ----------------------------------------------------------------------


def resample_trajectory(strokes: Strokes, step: float, gaps: str = "jump") -> tuple[np.ndarray, np.ndarray]:
    """Concatenated equidistant points (T, 2) of all strokes and pen_up flags (T,).

    pen_up is 1 where the pen reached the point through the air: the first point of every stroke,
    and with ``gaps="fill"`` the points interpolated every ``step`` across each pen-up gap.
    """
    points, pen_up = [], []
    previous: Optional[np.ndarray] = None
    for st in strokes:
        res = resample_stroke(st[:, :2], step)
        if gaps == "fill" and previous is not None:
            gap = np.vstack([previous, res[0]])
            filled = resample_stroke(gap, step)[1:-1]
            points.append(filled)
            pen_up.append(np.ones(len(filled)))
        points.append(res)
        pen_up.append(np.concatenate([[1.0], np.zeros(len(res) - 1)]))
        previous = res[-1]
    return np.concatenate(points), np.concatenate(pen_up)


def _unit(v: np.ndarray) -> np.ndarray:
    """Rows of (N, 2) scaled to length 1 (zero rows stay zero)."""
    norm = np.hypot(v[:, 0], v[:, 1])[:, None]
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 1e-12)


def point_features(points: np.ndarray, pen_up: np.ndarray, context: int = 4) -> np.ndarray:
    """(T, 2) normalised points, (T,) pen_up -> (T, F): ``FEATURES`` then, when ``context`` > 0,
    ``VICINITY_FEATURES`` over points i - context .. i + context (clipped at the ends).

    dx, dy: offset from the previous point; y: height above the baseline; dir: direction from
    the previous to the next point; curv: turn between the directions at the previous and next
    points (cos, sin); aspect: (h - w) / (h + w) of the vicinity's box; slope: direction from its
    first to its last point; curliness: its path length / max(w, h) - 2; linearity: mean squared
    distance of its points to the line from first to last; local_y: position in the box's height;
    local_height: the box's height.
    """
    T = len(points)
    d = np.diff(points, axis=0, prepend=points[:1])  # (T, 2), zero first row
    ahead = np.vstack([points[1:], points[-1:]])
    behind = np.vstack([points[:1], points[:-1]])
    direction = _unit(ahead - behind)  # (T, 2)
    dir_prev = np.vstack([direction[:1], direction[:-1]])
    dir_next = np.vstack([direction[1:], direction[-1:]])
    curv_cos = (dir_prev * dir_next).sum(axis=1)
    curv_sin = dir_prev[:, 0] * dir_next[:, 1] - dir_prev[:, 1] * dir_next[:, 0]
    cols = [pen_up, d[:, 0], d[:, 1], points[:, 1], direction[:, 0], direction[:, 1], curv_cos, curv_sin]
    if context > 0:
        k = context
        padded = np.pad(points, ((k, k), (0, 0)), mode="edge")
        win = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1, axis=0)  # (T, 2, 2k+1)
        lo, hi = win.min(axis=2), win.max(axis=2)  # (T, 2)
        w, h = hi[:, 0] - lo[:, 0], hi[:, 1] - lo[:, 1]
        aspect = np.divide(h - w, h + w, out=np.zeros(T), where=(h + w) > 1e-12)
        idx = np.arange(T)
        first, last = points[np.maximum(idx - k, 0)], points[np.minimum(idx + k, T - 1)]
        chord = last - first
        slope = _unit(chord)
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(d[1:, 0], d[1:, 1]))])
        length = arc[np.minimum(idx + k, T - 1)] - arc[np.maximum(idx - k, 0)]
        span = np.maximum(w, h)
        curliness = np.divide(length, span, out=np.full(T, 2.0), where=span > 1e-12) - 2.0
        rel = win - first[:, :, None]  # (T, 2, 2k+1) relative to the first point
        cross = rel[:, 0] * slope[:, 1:2] - rel[:, 1] * slope[:, 0:1]  # signed distance to the chord line
        dist2 = np.where(np.hypot(chord[:, 0], chord[:, 1])[:, None] > 1e-12, cross**2, (rel**2).sum(axis=1))
        linearity = dist2.mean(axis=1)
        local_y = np.divide(points[:, 1] - lo[:, 1], h, out=np.full(T, 0.5), where=h > 1e-12)
        cols += [aspect, slope[:, 0], slope[:, 1], np.minimum(curliness, 10.0), linearity, local_y, h]
    return np.column_stack(cols).astype(np.float32)


def stroke_features(strokes: Strokes, config: StrokeFeatureConfig,
                    rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Raw strokes -> (T, F) features; with ``rng``, the normalised strokes are augmented first."""
    norm = normalize_strokes(strokes, config.deskew, config.deslant)
    if rng is not None:
        from seqlabel.augment.strokes import augment_strokes

        norm = augment_strokes(norm, rng, config.shear, config.scale, config.rotate, config.jitter, config.speed)
    points, pen_up = resample_trajectory(norm, config.step, config.gaps)
    return point_features(points, pen_up, config.context)


def feature_dim(config: StrokeFeatureConfig) -> int:
    return len(FEATURES) + (len(VICINITY_FEATURES) if config.context > 0 else 0)


class StrokeFeatures:
    """features.type ``strokes``: an utterance's stroke file -> (T, F) per-point features.

    ``frame_rate`` is 1000 / ``features.frame_shift_ms``, as for audio, so times in CTMs count
    points x frame_shift_ms rather than real seconds.
    """

    suffixes = STROKE_SUFFIXES

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self.frame_rate = 1000.0 / config.frame_shift_ms
        self.augments = config.strokes.augment

    @property
    def dim(self) -> int:
        return feature_dim(self.config.strokes)

    def __call__(self, utt: Utterance) -> torch.Tensor:
        return self._extract(utt, None)

    def augmented(self, utt: Utterance, rng: np.random.Generator) -> torch.Tensor:
        """Features of a random variant of the utterance's strokes (training only)."""
        return self._extract(utt, rng)

    def _extract(self, utt: Utterance, rng: Optional[np.random.Generator]) -> torch.Tensor:
        try:
            strokes = read_strokes(utt.source)
        except DataError as e:
            raise DataError(f"utterance {utt.id!r}: {e}") from None
        return self.features_of_strokes(strokes, utt, rng)

    def features_of_strokes(self, strokes: Strokes, utt: Utterance,
                            rng: Optional[np.random.Generator] = None) -> torch.Tensor:
        """Checked strokes (``check_strokes``) -> (T, F) features; ``utt`` names them in errors."""
        return check_finite(torch.from_numpy(stroke_features(strokes, self.config.strokes, rng)), utt)
