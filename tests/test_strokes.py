"""Online handwriting: stroke files (IAM-OnDB XML, JSON, NPZ), normalisation, resampling,
per-point features, train-time augmentation and its dataset hook, bad input."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from stroke_fixtures import IAM_XML, handwriting, iam_xml

from seqlabel.augment.strokes import augment_strokes, elastic_jitter, random_affine, speed_variation
from seqlabel.config import FeatureConfig, StrokeFeatureConfig, config_from_data, load_config, save_config
from seqlabel.data.dataset import SequenceDataset, Split, build_augment
from seqlabel.errors import ConfigError, DataError
from seqlabel.features import build_extractor
from seqlabel.features.cmvn import compute_stats
from seqlabel.features.strokes import (
    FEATURES,
    VICINITY_FEATURES,
    estimate_skew,
    estimate_slant,
    normalize_strokes,
    point_features,
    read_strokes,
    resample_stroke,
    resample_trajectory,
    stroke_features,
    write_json,
    write_npz,
)
from seqlabel.types import Utterance


def loops(n: int = 12, seed: int = 0) -> list[np.ndarray]:
    """Cursive-like loops with a known geometry: baseline y = 0, core height 1 (y down: -y)."""
    rng = np.random.default_rng(seed)
    strokes = []
    for k in range(3):
        u = np.linspace(0, 2 * math.pi * n / 3, 40 * n // 3)
        x = 4.0 * k * n / 3 + u / (2 * math.pi) * 1.2 + 0.4 * np.sin(u)
        y = -(0.5 - 0.5 * np.cos(u)) + rng.normal(0, 0.005, len(u))
        strokes.append(np.column_stack([x, y, np.arange(len(u)) * 0.01 + k]))
    return strokes


def transform(strokes: list[np.ndarray], scale: float = 1.0, shift=(0.0, 0.0), rotate_deg: float = 0.0,
              shear: float = 0.0) -> list[np.ndarray]:
    """y-down strokes rotated (counter-clockwise as seen), sheared (leaning right), scaled, shifted."""
    a = math.radians(rotate_deg)
    out = []
    for st in strokes:
        x, y = st[:, 0], -st[:, 1]  # y up
        x = x + shear * y
        x, y = math.cos(a) * x - math.sin(a) * y, math.sin(a) * x + math.cos(a) * y
        out.append(np.column_stack([x * scale + shift[0], -y * scale + shift[1], st[:, 2]]))
    return out


def utt(path: Path, utt_id: str = "u1") -> Utterance:
    return Utterance(utt_id, str(path), "ab", "w1")


# ----------------------------------------------------------------------------- reading


def test_json_npz_and_iam_xml_read_back_the_same_strokes(tmp_path: Path) -> None:
    strokes = [np.round(s) for s in handwriting()]
    write_json(tmp_path / "a.json", strokes)
    write_npz(tmp_path / "a.npz", strokes)
    (tmp_path / "a.xml").write_text(iam_xml(strokes), encoding="latin-1")
    for name in ("a.json", "a.npz", "a.xml"):
        back = read_strokes(tmp_path / name)
        assert len(back) == len(strokes)
        for a, b in zip(back, strokes):
            np.testing.assert_allclose(a, b, atol=1e-2, err_msg=name)


def test_json_points_without_time_read_as_nan_and_still_give_features(tmp_path: Path) -> None:
    path = tmp_path / "xy.json"
    path.write_text(json.dumps({"strokes": [[[0, 0], [10, 5], [20, 0]], [[30, 0], [30, -20]]]}))
    strokes = read_strokes(path)
    assert [s.shape for s in strokes] == [(3, 3), (2, 3)]
    assert np.isnan(strokes[0][:, 2]).all()
    feats = build_extractor(FeatureConfig(type="strokes"))(utt(path))
    assert torch.isfinite(feats).all() and feats.shape[1] == 15


@pytest.mark.parametrize("name, content, message", [
    ("bad.json", "{not json", "not a valid json stroke file"),
    ("list.json", "[1, 2]", '"strokes" list'),
    ("empty.json", '{"strokes": [[], []]}', "holds no strokes"),
    ("shape.json", '{"strokes": [[[1, 2, 3, 4]]]}', "[x, y] or [x, y, t]"),
    ("nan.json", '{"strokes": [[[1, NaN], [2, 3]]]}', "non-finite"),
    ("empty.xml", IAM_XML.format(strokes=""), "holds no strokes"),
    ("broken.xml", "<WhiteboardCaptureSession><StrokeSet><Stroke>", "not a valid xml stroke file"),
    ("nox.xml", IAM_XML.format(strokes='<Stroke><Point y="1" time="0"/></Stroke>'), "not a valid xml"),
    ("strokes.txt", "1 2 3", "unknown stroke file format"),
])
def test_bad_stroke_files_are_refused_naming_the_file(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=None) as err:
        read_strokes(path)
    assert message in str(err.value) and name in str(err.value)


def test_bad_npz_files_are_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "keys.npz", xy=np.zeros((3, 2)))
    np.savez(tmp_path / "lengths.npz", points=np.zeros((3, 2)), lengths=np.array([2, 2]))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    for name, message in (("keys.npz", "'points' and 'lengths'"), ("lengths.npz", "sum to the 3 rows"),
                          ("junk.npz", "not a valid npz")):
        with pytest.raises(DataError, match=name) as err:
            read_strokes(tmp_path / name)
        assert message in str(err.value)


def test_extractor_errors_name_the_utterance_and_the_file(tmp_path: Path) -> None:
    extractor = build_extractor(FeatureConfig(type="strokes"))
    with pytest.raises(DataError, match=r"utterance 'gone'.*stroke file not found.*missing\.json"):
        extractor(utt(tmp_path / "missing.json", "gone"))
    (tmp_path / "empty.xml").write_text(IAM_XML.format(strokes="<Stroke/>"))
    with pytest.raises(DataError, match=r"utterance 'blank'.*empty\.xml.*no strokes"):
        extractor(utt(tmp_path / "empty.xml", "blank"))


# ----------------------------------------------------------------------------- resampling


def test_resampled_points_are_equidistant_along_a_straight_stroke_with_uneven_samples() -> None:
    x = np.cumsum(np.random.default_rng(0).uniform(0.01, 1.0, 50))
    line = np.column_stack([x, 0.5 * x, np.arange(50.0)])
    res = resample_stroke(line, step=0.7)
    gaps = np.hypot(*np.diff(res[:, :2], axis=0).T)
    np.testing.assert_allclose(gaps, gaps[0], rtol=1e-9)
    assert 0.7 * 2 / 3 <= gaps[0] <= 0.7 * 2
    np.testing.assert_allclose(res[[0, -1], :2], line[[0, -1], :2])  # both ends kept
    assert (np.diff(res[:, 2]) > 0).all()  # time interpolated along


def test_resampled_points_are_equidistant_along_a_curve() -> None:
    u = np.linspace(0, 1.5 * math.pi, 2000) ** 1.5  # uneven sampling of a circle arc
    arc = np.column_stack([np.cos(u), np.sin(u)])
    res = resample_stroke(arc, step=0.1)
    chords = np.hypot(*np.diff(res, axis=0).T)
    np.testing.assert_allclose(chords, chords.mean(), rtol=2e-3)  # equal arcs give equal chords
    assert abs(chords.mean() - 0.1) < 0.01


def test_zero_length_and_duplicate_points() -> None:
    dot = np.array([[3.0, 4.0, 0.0], [3.0, 4.0, 0.1]])
    assert resample_stroke(dot, 0.1).shape == (1, 3)
    dup = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    np.testing.assert_allclose(resample_stroke(dup, 0.5)[:, 0], [0, 0.5, 1, 1.5, 2])


def test_pen_up_points_jump_or_fill_the_gaps() -> None:
    strokes = [np.array([[0.0, 0, 0], [1, 0, 0]]), np.array([[3.0, 0, 0], [4, 0, 0]])]
    pts, up = resample_trajectory(strokes, 0.5, "jump")
    assert len(pts) == 6 and up.tolist() == [1, 0, 0, 1, 0, 0]
    pts, up = resample_trajectory(strokes, 0.5, "fill")
    assert up.tolist() == [1, 0, 0, 1, 1, 1, 1, 0, 0]  # 3 points in the air across the 2-unit gap
    np.testing.assert_allclose(np.diff(pts[:, 0]), 0.5)


# ----------------------------------------------------------------------------- normalisation and features


@pytest.mark.parametrize("context", [0, 4])
def test_feature_dims_names_and_finiteness(tmp_path: Path, context: int) -> None:
    write_json(tmp_path / "a.json", handwriting())
    extractor = build_extractor(FeatureConfig(type="strokes", strokes=StrokeFeatureConfig(context=context)))
    feats = extractor(utt(tmp_path / "a.json"))
    assert feats.dtype == torch.float32 and torch.isfinite(feats).all()
    assert feats.shape[1] == extractor.dim == len(FEATURES) + (len(VICINITY_FEATURES) if context else 0)
    assert feats[0, 0] == 1 and set(feats[:, 0].tolist()) == {0.0, 1.0}  # pen_up
    direction = feats[:, 4:6].norm(dim=1)
    assert ((direction - 1).abs() < 1e-5).float().mean() > 0.99  # unit writing directions
    assert feats[:, 6:8].norm(dim=1).max() <= 1 + 1e-5  # curvature cos/sin


@pytest.mark.parametrize("scale, shift", [(3.7, (123.4, -55.0)), (0.013, (0.0, 1e3)), (250.0, (-7e4, 2e4))])
def test_features_are_invariant_to_translation_and_scale(scale: float, shift: tuple[float, float]) -> None:
    config = StrokeFeatureConfig(step=0.2, gaps="fill")
    strokes = handwriting()
    reference = stroke_features(strokes, config)
    moved = stroke_features(transform(strokes, scale, shift), config)
    assert moved.shape == reference.shape
    np.testing.assert_allclose(moved, reference, atol=1e-4)


def test_normalisation_finds_baseline_and_core_height() -> None:
    for scale, shift in ((1.0, (0.0, 0.0)), (40.0, (500.0, 300.0))):
        norm = normalize_strokes(transform(loops(), scale, shift))
        ys = np.concatenate(norm)[:, 1]
        assert abs(np.percentile(ys, 1)) < 0.05 and abs(np.percentile(ys, 99) - 1) < 0.05
        assert min(s[:, 0].min() for s in norm) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("degrees", [-6.0, 4.0])
def test_skew_is_estimated_and_removed(degrees: float) -> None:
    flat = loops()
    tilted = transform(flat, rotate_deg=degrees)
    up = [np.column_stack([s[:, 0], -s[:, 1]]) for s in tilted]
    assert math.degrees(estimate_skew(up)) == pytest.approx(degrees, abs=0.5)
    a = stroke_features(flat, StrokeFeatureConfig(deslant=False))
    b = stroke_features(tilted, StrokeFeatureConfig(deslant=False))
    assert abs(len(a) - len(b)) <= 3
    n = min(len(a), len(b))
    assert np.abs(a[:n, 3] - b[:n, 3]).mean() < 0.05  # heights above the baseline agree


def test_slant_is_estimated_and_removed() -> None:
    upright = [np.column_stack([np.r_[np.zeros(20), np.linspace(0, 0.5, 10)] + k,
                                -np.r_[np.linspace(0, 1, 20), np.ones(10)], np.arange(30.0)]) for k in range(6)]
    leaning = transform(upright, shear=0.4)
    up = [np.column_stack([s[:, 0], -s[:, 1]]) for s in leaning]
    assert estimate_slant(up) == pytest.approx(0.4, abs=0.02)
    norm = normalize_strokes(leaning, deskew=False)
    up_norm = [s[:, :2] for s in norm]
    assert abs(estimate_slant(up_norm)) < 0.02


def test_point_features_of_a_straight_line() -> None:
    pts = np.column_stack([np.arange(10) * 0.1, np.full(10, 0.5)])
    feats = point_features(pts, np.r_[1.0, np.zeros(9)], context=2)
    np.testing.assert_allclose(feats[1:, 1:3], [[0.1, 0.0]] * 9, atol=1e-6)  # dx, dy
    np.testing.assert_allclose(feats[:, 3], 0.5)  # height above the baseline
    np.testing.assert_allclose(feats[:, 4:8], [[1, 0, 1, 0]] * 10, atol=1e-6)  # direction, no curvature
    np.testing.assert_allclose(feats[:, 8], -1.0)  # aspect: flat
    np.testing.assert_allclose(feats[:, 11], -1.0, atol=1e-6)  # curliness: length = width
    np.testing.assert_allclose(feats[:, 12], 0.0, atol=1e-12)  # linearity: on the line


# ----------------------------------------------------------------------------- augmentation


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))


def test_augmentation_is_deterministic_given_the_seed_and_changes_the_input() -> None:
    strokes = normalize_strokes(handwriting())
    a = augment_strokes(strokes, np.random.default_rng(5))
    b = augment_strokes(strokes, np.random.default_rng(5))
    c = augment_strokes(strokes, np.random.default_rng(6))
    assert _same(a, b)
    assert not _same(a, c) and not _same(a, strokes)
    assert len(a) == len(strokes) and all(np.isfinite(s[:, :2]).all() for s in a)
    for fn, amount in ((random_affine, (0.2, 0.1, 3.0)), (elastic_jitter, (0.05,)), (speed_variation, (0.3,))):
        first = fn(strokes, np.random.default_rng(1), *amount)
        assert _same(first, fn(strokes, np.random.default_rng(1), *amount)), fn.__name__
        assert not _same(first, strokes), fn.__name__


def test_zero_amounts_leave_the_strokes_unchanged() -> None:
    strokes = normalize_strokes(handwriting())
    same = augment_strokes(strokes, np.random.default_rng(0), shear=0, scale=0, rotate=0, jitter=0, speed=0)
    for a, b in zip(same, strokes):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_speed_variation_changes_the_sampling_not_the_shape() -> None:
    stroke = np.column_stack([np.linspace(0, 10, 200), np.sin(np.linspace(0, 10, 200)), np.linspace(0, 2, 200)])
    faster = speed_variation([stroke], np.random.default_rng(0), 0.5)[0]
    assert len(faster) != len(stroke)
    np.testing.assert_allclose(faster[[0, -1], :2], stroke[[0, -1], :2], atol=1e-9)  # same start and end
    np.testing.assert_allclose(np.interp(faster[:, 0], stroke[:, 0], stroke[:, 1]), faster[:, 1], atol=1e-3)


def test_augmentation_scales_with_the_config() -> None:
    strokes = normalize_strokes(handwriting())
    calm = augment_strokes(strokes, np.random.default_rng(3), shear=0.01, scale=0.01, rotate=0.1, jitter=0.001, speed=0)
    wild = augment_strokes(strokes, np.random.default_rng(3), shear=0.5, scale=0.3, rotate=10, jitter=0.1, speed=0)
    move = [np.abs(np.concatenate(x)[:, :2] - np.concatenate(strokes)[:, :2]).mean() for x in (calm, wild)]
    assert move[0] < 0.1 * move[1]


def test_dataset_hook_gives_the_same_draw_for_the_same_seed_epoch_and_item(tmp_path: Path) -> None:
    utts = []
    for i in range(3):
        write_json(tmp_path / f"{i}.json", handwriting(seed=i))
        utts.append(Utterance(f"w-{i}", str(tmp_path / f"{i}.json"), "ab", "w"))
    config = FeatureConfig(type="strokes", strokes=StrokeFeatureConfig(augment=True))
    extractor = build_extractor(config)
    feats = [extractor(u) for u in utts]
    stats = compute_stats(feats)
    split = Split(utts, feats, [[1, 2]] * 3)
    dataset = SequenceDataset(split, [stats.apply(f) for f in feats], build_augment(extractor, "global", stats), seed=7)
    dataset.set_epoch(1)
    first = dataset[1][1]
    assert torch.equal(first, dataset[1][1])  # same seed, epoch and item: same draw
    other = SequenceDataset(split, dataset.features, build_augment(extractor, "global", stats), seed=7)
    other.set_epoch(1)
    assert torch.equal(first, other[1][1])  # a fresh dataset draws the same
    dataset.set_epoch(2)
    second = dataset[1][1]
    assert _differ(first, second)  # the next epoch draws anew
    assert _differ(first, dataset.features[1])  # and the draw is not the unaugmented item
    assert first.shape[1] == second.shape[1] == extractor.dim


def _differ(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape != b.shape or not torch.equal(a, b)


def test_build_augment_is_off_unless_asked_and_refuses_speaker_cmvn() -> None:
    assert build_augment(build_extractor(FeatureConfig(type="strokes")), "global", None) is None
    on = build_extractor(FeatureConfig(type="strokes", strokes=StrokeFeatureConfig(augment=True)))
    assert build_augment(on, "none", None) is not None
    with pytest.raises(ConfigError, match="cmvn global, utterance or none"):
        build_augment(on, "speaker", None)


# ----------------------------------------------------------------------------- config


def test_stroke_config_round_trips_through_yaml_and_refuses_bad_values(tmp_path: Path) -> None:
    config = config_from_data({"features": {"type": "strokes", "strokes": {"step": 0.25, "gaps": "fill",
                                                                            "augment": True, "jitter": 0.05}}})
    save_config(config, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == config
    with pytest.raises(ConfigError, match="did you mean 'features.strokes.step'"):
        config_from_data({"features": {"strokes": {"stepp": 0.2}}})
    with pytest.raises(ConfigError, match="features.strokes.gaps"):
        config_from_data({"features": {"strokes": {"gaps": "skip"}}})
    with pytest.raises(ConfigError, match="features.strokes.scale"):
        config_from_data({"features": {"strokes": {"scale": 1.5}}})
