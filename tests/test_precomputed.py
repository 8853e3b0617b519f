"""Precomputed features (seqlabel/features/precomputed.py): .npy matrices and Sphinx .mfc cepstra, read,
checked (non-finite values, dimensions, shapes) and refused with the file named."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import utt

from seqlabel.config import FeatureConfig
from seqlabel.errors import DataError
from seqlabel.features import build_extractor
from seqlabel.features.precomputed import read_sphinx_mfc


# ----------------------------------------------------------------------------- precomputed
def precomputed(**kw) -> object:
    return build_extractor(FeatureConfig(type="precomputed", **kw))


def test_npy_read(tmp_path: Path) -> None:
    array = np.random.default_rng(0).standard_normal((11, 7)).astype(np.float32)
    np.save(tmp_path / "a.npy", array)
    extractor = precomputed()
    feats = extractor(utt(tmp_path / "a.npy"))
    assert torch.equal(feats, torch.from_numpy(array))
    assert extractor.dim == 7
    np.save(tmp_path / "b.npy", array.astype(np.float64))
    assert torch.equal(precomputed(deltas=1)(utt(tmp_path / "b.npy"))[:, :7], torch.from_numpy(array))


def write_mfc(path: Path, array: np.ndarray, count: int | None = None) -> Path:
    values = array.astype(">f4").ravel()
    path.write_bytes(struct.pack(">i", values.size if count is None else count) + values.tobytes())
    return path


def test_sphinx_mfc_read(tmp_path: Path) -> None:
    array = np.random.default_rng(1).standard_normal((9, 13)).astype(np.float32)
    path = write_mfc(tmp_path / "a.mfc", array)
    np.testing.assert_array_equal(read_sphinx_mfc(path), array)
    feats = precomputed(dim=13, deltas=2)(utt(path))
    assert feats.shape == (9, 39)
    np.testing.assert_array_equal(feats[:, :13].numpy(), array)
    # a little-endian reading would give garbage: make sure we did not just round-trip native order
    assert not np.array_equal(np.frombuffer(path.read_bytes()[4:], dtype="<f4").reshape(9, 13), array)


def test_sphinx_mfc_errors(tmp_path: Path) -> None:
    array = np.ones((4, 13), dtype=np.float32)
    with pytest.raises(DataError, match="t.mfc.*truncated"):
        precomputed()(utt(write_mfc(tmp_path / "t.mfc", array, count=13 * 5)))
    with pytest.raises(DataError, match="multiple"):
        precomputed(dim=13)(utt(write_mfc(tmp_path / "m.mfc", np.ones((1, 20), dtype=np.float32))))
    (tmp_path / "h.mfc").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="header"):
        precomputed()(utt(tmp_path / "h.mfc"))


def test_npy_nan_and_wrong_dim(tmp_path: Path) -> None:
    bad = np.zeros((5, 4), dtype=np.float32)
    bad[3, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(DataError, match="'u-nan'.*frame 3"):
        precomputed()(utt(tmp_path / "nan.npy", "u-nan"))
    np.save(tmp_path / "four.npy", np.zeros((5, 4), dtype=np.float32))
    np.save(tmp_path / "six.npy", np.zeros((5, 6), dtype=np.float32))
    with pytest.raises(DataError, match="'u-dim'.*6 feature dims, expected 4"):
        precomputed(dim=4)(utt(tmp_path / "six.npy", "u-dim"))
    extractor = precomputed()  # dim learnt from the first file, then enforced
    extractor(utt(tmp_path / "four.npy"))
    with pytest.raises(DataError, match="'u-dim'"):
        extractor(utt(tmp_path / "six.npy", "u-dim"))


@pytest.mark.parametrize("array", [np.zeros(5, dtype=np.float32), np.zeros((0, 4), dtype=np.float32)])
def test_npy_wrong_shape(tmp_path: Path, array: np.ndarray) -> None:
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(DataError, match="'u1'.*shape"):
        precomputed()(utt(tmp_path / "x.npy"))


def test_precomputed_missing_corrupt_and_unknown(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="'u1'.*not found"):
        precomputed()(utt(tmp_path / "gone.npy"))
    (tmp_path / "junk.npy").write_bytes(b"this is not numpy")
    with pytest.raises(DataError, match="'u1'.*junk.npy"):
        precomputed()(utt(tmp_path / "junk.npy"))
    (tmp_path / "x.htk").write_bytes(b"1234")
    with pytest.raises(DataError, match="'.htk'"):
        precomputed()(utt(tmp_path / "x.htk"))
