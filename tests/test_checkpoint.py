"""seqlabel.checkpoint: round trip, truncated and foreign files, atomic writes."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from seqlabel.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from seqlabel.errors import CheckpointError


def sample_state() -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "model": {"w": torch.randn(4, 3, generator=g), "b": torch.zeros(3)},
        "config": {"train": {"lr": 0.001, "optimizer": "adam"}, "data": {"vocab": None}},
        "vocab": {"tokens": ["|", "a", "b"], "unit": "char", "word_boundary": "|"},
        "progress": {"epoch": 3, "best": 0.25},
        "rng": torch.get_rng_state(),
    }


def assert_same(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            assert_same(a[k], b[k])
    else:
        assert a == b


def test_round_trip(tmp_path: Path) -> None:
    state = sample_state()
    path = save_checkpoint(tmp_path / "best.pt", state)
    loaded = load_checkpoint(path)
    assert loaded["format"] == FORMAT
    assert_same({k: v for k, v in loaded.items() if k != "format"}, state)


def test_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "last.pt", sample_state())
    save_checkpoint(tmp_path / "last.pt", {"model": {}})  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    assert load_checkpoint(tmp_path / "last.pt")["model"] == {}


def test_failed_save_keeps_the_old_checkpoint_and_no_temp(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "last.pt", sample_state())
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_checkpoint(path, {"model": lambda: None})  # lambdas cannot be pickled
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, 0.9])
def test_truncated_file(tmp_path: Path, keep: float) -> None:
    full = save_checkpoint(tmp_path / "full.pt", sample_state()).read_bytes()
    n = int(len(full) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "cut.pt"
    path.write_bytes(full[:n])
    with pytest.raises(CheckpointError, match="cut.pt"):
        load_checkpoint(path)


def test_non_checkpoint_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("hello, I am not a checkpoint\n")
    with pytest.raises(CheckpointError, match="notes.pt"):
        load_checkpoint(text)
    plain = tmp_path / "plain.pt"
    torch.save({"w": torch.zeros(2)}, plain)  # a torch file, but not ours
    with pytest.raises(CheckpointError, match="not a seqlabel checkpoint"):
        load_checkpoint(plain)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(2), tensor)
    with pytest.raises(CheckpointError, match="not a seqlabel checkpoint"):
        load_checkpoint(tensor)


class Payload:
    def __reduce__(self):
        return (print, ("code ran at load time",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickles_that_run_code_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(pickle.dumps({"format": FORMAT, "x": Payload()}))
    zipped = tmp_path / "zipped.pt"
    torch.save({"format": FORMAT, "x": Payload()}, zipped)
    for path in (legacy, zipped):
        with pytest.raises(CheckpointError, match=path.name):
            load_checkpoint(path)
    assert "code ran" not in capsys.readouterr().out


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="best.pt"):
        load_checkpoint(tmp_path)
