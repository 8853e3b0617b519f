"""seqlabel.models.checkpoint: round trip, truncated, corrupted and foreign files, atomic writes, full disks."""
from __future__ import annotations

import errno
import hashlib
import os
import pickle
import tracemalloc
from pathlib import Path

import pytest
import torch

from seqlabel import api
from seqlabel.config import config_from_data
from seqlabel.errors import CheckpointError
from seqlabel.models.checkpoint import (
    FOOTER_MAGIC,
    FOOTER_SIZE,
    FORMAT,
    copy_checkpoint,
    load_checkpoint,
    save_checkpoint,
)


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


# ----------------------------------------------------------------------------- checksum
@pytest.mark.parametrize("offset", [0.1, 0.5, 0.9, -FOOTER_SIZE - 1])
def test_flipped_bit_is_caught_by_the_checksum(tmp_path: Path, offset: float) -> None:
    save_checkpoint(tmp_path / "best.pt", sample_state())
    data = bytearray(save_checkpoint(tmp_path / "last.pt", sample_state()).read_bytes())
    i = int(len(data) * offset) if isinstance(offset, float) else len(data) + offset
    data[i] ^= 0x01
    (tmp_path / "last.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="last.pt is corrupt") as e:
        load_checkpoint(tmp_path / "last.pt")
    assert str(tmp_path / "best.pt") in str(e.value)  # the fix: the run's other checkpoint


def test_truncated_file_suggests_the_other_checkpoint(tmp_path: Path) -> None:
    full = save_checkpoint(tmp_path / "best.pt", sample_state()).read_bytes()
    (tmp_path / "last.pt").write_bytes(full[: len(full) // 2])
    with pytest.raises(CheckpointError, match="corrupt, truncated") as e:
        load_checkpoint(tmp_path / "last.pt")
    assert "last.pt" in str(e.value) and str(tmp_path / "best.pt") in str(e.value)


def test_file_ends_with_the_checksum_of_its_payload(tmp_path: Path) -> None:
    data = save_checkpoint(tmp_path / "a.pt", sample_state()).read_bytes()
    payload, tail = data[:-FOOTER_SIZE], data[-FOOTER_SIZE:]
    assert tail == FOOTER_MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n"


def test_checkpoint_without_footer_still_loads(tmp_path: Path) -> None:
    """Files written before the checksum footer existed: a plain torch.save of the tagged state."""
    old = tmp_path / "old.pt"
    torch.save({"format": FORMAT, **sample_state()}, old)
    assert_same(load_checkpoint(old)["model"], sample_state()["model"])


# ----------------------------------------------------------------------------- copies and memory
def test_copy_is_byte_for_byte_and_refuses_a_corrupt_source(tmp_path: Path) -> None:
    source = save_checkpoint(tmp_path / "phase1.pt", sample_state())
    assert copy_checkpoint(source, tmp_path / "best.pt").read_bytes() == source.read_bytes()
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0x01
    source.write_bytes(bytes(data))
    before = (tmp_path / "best.pt").read_bytes()
    with pytest.raises(CheckpointError, match="phase1.pt is corrupt"):
        copy_checkpoint(source, tmp_path / "best.pt")
    assert (tmp_path / "best.pt").read_bytes() == before


def test_loading_holds_the_file_once(tmp_path: Path) -> None:
    """The payload is read through a view of the file's bytes, not a copy of them (Python's own
    allocations; the tensors' storage is torch's and not traced)."""
    path = save_checkpoint(tmp_path / "big.pt", {"model": {"w": torch.zeros(2_000_000)}})  # 8 MB
    tracemalloc.start()
    try:
        load_checkpoint(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * path.stat().st_size, peak


def test_an_improved_epoch_is_serialised_once_and_phase1_copied_as_is(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A restart schedule stopped in phase 1: phase1.pt and last.pt take one serialisation's bytes,
    and best.pt is phase1.pt copied, not loaded and saved again."""
    from test_resume import TEXTS, write_npy_corpus

    config = {"data": {"train": str(write_npy_corpus(tmp_path, TEXTS[:6], "tr", 0)),
                       "dev": str(write_npy_corpus(tmp_path, ["abc", "ba"], "dv", 1))},
              "features": {"type": "precomputed"}, "model": {"num_layers": 1, "hidden_size": 4},
              "train": {"max_epochs": 1, "weight_noise_phase": "restart", "weight_noise": 0.01, "progress": False,
                        "tensorboard": False, "device": "cpu", "amp": "off", "threads": 1}}
    saves = []
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: (saves.append(f), real_save(obj, f, *a, **k))[1])
    out = tmp_path / "exp"
    api.train(config_from_data(config), out, echo=lambda _: None)
    assert len(saves) == 1
    assert (out / "best.pt").read_bytes() == (out / "phase1.pt").read_bytes() == (out / "last.pt").read_bytes()


# ----------------------------------------------------------------------------- disk full
def test_disk_full_during_save_keeps_the_old_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_checkpoint(tmp_path / "last.pt", sample_state())
    before = path.read_bytes()
    real_open = open

    class FullDisk:
        """A file that takes 1000 bytes, then fails like a full disk."""

        def __init__(self, f) -> None:
            self.f = f

        def write(self, data: bytes) -> int:
            self.f.write(data[:1000])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name: str):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.f.close()

    monkeypatch.setattr("builtins.open", lambda p, mode="r", *a, **k: FullDisk(real_open(p, mode, *a, **k))
                        if "w" in mode else real_open(p, mode, *a, **k))
    with pytest.raises(CheckpointError, match="No space left on device") as e:
        save_checkpoint(path, {"model": {"w": torch.ones(100)}})
    monkeypatch.undo()
    assert "previous last.pt is intact" in str(e.value) and "free disk space" in str(e.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_failed_rename_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rename(src, dst) -> None:
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(CheckpointError, match="no best.pt was written"):
        save_checkpoint(tmp_path / "best.pt", sample_state())
    assert list(tmp_path.iterdir()) == []
