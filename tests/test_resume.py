"""Kill and resume: a training run killed with SIGKILL in the middle of an epoch and resumed from
its step checkpoint ends with exactly the weights of an uninterrupted run with the same seed, in
one process and in two (torchrun, gloo; each rank restores its own random state).

The data are tiny precomputed features (.npy) written by the test, so the run is fast and
deterministic on CPU (one thread, no dropout; weight noise on, so the RNG state must be restored).
The same holds with speech augmentation on (tones as WAVs: speed, noise, gain, SpecAugment) and
checkpoint averaging (avg.pt and the epochs' weights kept for it).
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import TONE_RATE, tone_corpus  # noqa: E402  (tests/ is on the path)

from seqlabel import api
from seqlabel.errors import CheckpointError
from seqlabel.models.checkpoint import load_checkpoint, save_checkpoint
from seqlabel.training.state import own_rng_state

ROOT = Path(__file__).resolve().parents[1]
DIM = 6
PATTERNS = {c: np.eye(DIM, dtype=np.float32)[i] * 2.0 for i, c in enumerate("abc")}
TEXTS = ["ab", "ba", "ca", "abc", "cab", "bca", "cc ab", "aa", "bb", "ac", "cb", "abca", "bacb", "ca ab",
         "cba", "acb", "a", "b", "c", "bc"]
# Sleeps before every step, so that the kill lands while the epoch is running.
SLOW_CLI = """
import sys, time
import seqlabel.training.loop as t
step = t.train_step
def slow(*args, **kwargs):
    time.sleep(0.15)
    return step(*args, **kwargs)
t.train_step = slow
from seqlabel.cli import main
main(sys.argv[1:], prog_name="seqlabel")
"""


def write_npy_corpus(root: Path, texts: list[str], prefix: str, seed: int) -> Path:
    """Each character: 3 frames of its one-hot pattern; a space: 2 silent frames; plus noise."""
    rng = np.random.default_rng(seed)
    records = []
    for i, text in enumerate(texts):
        frames = [np.zeros((2, DIM), np.float32) if ch == " " else np.tile(PATTERNS[ch], (3, 1)) for ch in text]
        feats = np.concatenate([np.zeros((1, DIM), np.float32), *frames, np.zeros((1, DIM), np.float32)])
        feats += 0.1 * rng.standard_normal(feats.shape).astype(np.float32)
        np.save(root / f"{prefix}{i}.npy", feats)
        records.append({"id": f"{prefix}{i}", "source": f"{prefix}{i}.npy", "text": text})
    manifest = root / f"{prefix}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("npy")
    data = {
        "data": {"train": str(write_npy_corpus(root, TEXTS, "tr", 0)),
                 "dev": str(write_npy_corpus(root, ["abc", "ba", "c ab"], "dv", 1))},
        "features": {"type": "precomputed", "cmvn": "global"},
        "model": {"num_layers": 1, "hidden_size": 8},
        "train": {"lr": 0.05, "max_epochs": 2, "batch_frames": 40, "max_batch_size": 3, "save_every_steps": 2,
                  "weight_noise": 0.01, "progress": False, "tensorboard": False, "device": "cpu", "amp": "off",
                  "threads": 1, "early_stop_patience": 0, "seed": 5},
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def augmented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Speech with every augmentation on, and the last two epochs averaged into avg.pt."""
    root = tmp_path_factory.mktemp("tones")
    data = {
        "data": {"train": str(tone_corpus(root, [t.replace(" ", "") for t in TEXTS], "tr", ("s1", "s2"))),
                 "dev": str(tone_corpus(root, ["abc", "ba", "cab"], "dv", ("s3",)))},
        "features": {"type": "fbank", "sample_rate": TONE_RATE, "num_bins": 12, "deltas": 1, "cmvn": "global",
                     "augment": {"speed": [0.9, 1.0, 1.1], "noise_prob": 0.5, "gain_db": 6.0, "freq_masks": 1,
                                 "freq_width": 3, "time_masks": 1, "time_width": 4, "time_warp": 2}},
        "model": {"num_layers": 1, "hidden_size": 8},
        "train": {"lr": 0.05, "max_epochs": 2, "batch_frames": 120, "max_batch_size": 3, "save_every_steps": 2,
                  "weight_noise": 0.01, "progress": False, "tensorboard": False, "device": "cpu", "amp": "off",
                  "threads": 1, "early_stop_patience": 0, "seed": 5, "average_last": 2},
    }
    path = root / "augmented.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def assert_same_weights(reference: Path, out: Path, names: tuple[str, ...] = ("last.pt", "best.pt")) -> None:
    for name in names:
        want, got = load_checkpoint(reference / name), load_checkpoint(out / name)
        for key, tensor in want["model"].items():
            assert torch.equal(got["model"][key], tensor), (name, key)  # bit-identical, no tolerance
        assert got["progress"]["step"] == want["progress"]["step"]


def run_cli(*args: str, slow: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-c", SLOW_CLI] if slow else [sys.executable, "-m", "seqlabel"]
    return subprocess.Popen([*command, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def rows_without_times(out: Path) -> list[dict]:
    with (out / "log.csv").open(newline="") as f:
        return [{k: v for k, v in r.items() if k not in ("epoch_seconds", "frames_per_second")}
                for r in csv.DictReader(f)]


@pytest.mark.parametrize("setting", ["config", "augmented"])
def test_killed_mid_epoch_and_resumed_equals_uninterrupted(setting: str, request: pytest.FixtureRequest,
                                                           tmp_path: Path) -> None:
    config = request.getfixturevalue(setting)
    reference = api.train(config, tmp_path / "reference", echo=lambda _: None)

    out = tmp_path / "killed"
    proc = run_cli("train", str(config), "--out", str(out), slow=True)
    deadline = time.time() + 120
    while not (out / "last.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    output = proc.communicate()[0]
    assert proc.returncode == -signal.SIGKILL, output  # killed, not finished
    progress = load_checkpoint(out / "last.pt")["progress"]
    assert progress["epoch"] == 0 and progress["batch"] >= 2, progress  # a step checkpoint inside epoch 1
    assert not (out / "best.pt").exists()

    resumed = run_cli("train", str(config), "--out", str(out), "--resume")
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert f"after batch {progress['batch']} of epoch 1" in output

    averaged = ("avg.pt", "epochs/epoch-0001.pt", "epochs/epoch-0002.pt") if setting == "augmented" else ()
    assert_same_weights(reference.out_dir, out, ("last.pt", "best.pt"))
    for name in averaged:
        want, got = load_checkpoint(reference.out_dir / name), load_checkpoint(out / name)
        assert all(torch.equal(got["model"][k], v) for k, v in want["model"].items()), name
    assert rows_without_times(out) == rows_without_times(reference.out_dir)


def test_resume_from_an_epoch_checkpoint_matches_too(config: Path, tmp_path: Path) -> None:
    """The same property at an epoch boundary, in-process: stop after epoch 1, resume to epoch 2."""
    reference = api.train(config, tmp_path / "reference", echo=lambda _: None)
    out = tmp_path / "split"
    api.train(config, out, overrides=["train.max_epochs=1"], echo=lambda _: None)
    api.train(config, out, resume=True, echo=lambda _: None)
    want, got = load_checkpoint(reference.last_checkpoint), load_checkpoint(out / "last.pt")
    assert all(torch.equal(got["model"][k], v) for k, v in want["model"].items())
    assert rows_without_times(out) == rows_without_times(reference.out_dir)


def test_augmented_resume_at_epoch_boundaries_keeps_the_averaged_epochs(augmented: Path, tmp_path: Path) -> None:
    """Three epochs averaging the best two, run whole and in three pieces: the same avg.pt and epochs.
    An epoch file from beyond last.pt (left by a killed or a longer run) is deleted on resume, not averaged."""
    overrides = ["train.max_epochs=3", "train.average_select=best", "train.save_every_steps=0"]
    reference = api.train(augmented, tmp_path / "reference", overrides, echo=lambda _: None)
    out = tmp_path / "pieces"
    for epochs in (1, 2):
        api.train(augmented, out, [*overrides[1:], f"train.max_epochs={epochs}"], resume=epochs > 1,
                  echo=lambda _: None)
    stale = load_checkpoint(out / "epochs" / "epoch-0002.pt")
    stale.pop("format")
    stale["dev_error"] = 0.0  # would win the "best" ranking if it were not deleted on resume
    save_checkpoint(out / "epochs" / "epoch-0004.pt", stale)
    api.train(augmented, out, overrides, resume=True, echo=lambda _: None)
    assert_same_weights(reference.out_dir, out)
    want, got = load_checkpoint(reference.out_dir / "avg.pt"), load_checkpoint(out / "avg.pt")
    assert got["averaged"] == want["averaged"]
    assert all(torch.equal(got["model"][k], v) for k, v in want["model"].items())
    assert sorted(p.name for p in (out / "epochs").iterdir()) == sorted(
        p.name for p in (reference.out_dir / "epochs").iterdir())
    assert rows_without_times(out) == rows_without_times(reference.out_dir)


def test_a_mid_epoch_checkpoint_resumes_only_with_the_process_count_that_wrote_it(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    api.train(config, out, overrides=["train.max_epochs=1"], echo=lambda _: None)
    state = load_checkpoint(out / "last.pt")
    state["progress"].update(batch=2, world_size=2)  # as if 2 torchrun processes had stopped mid-epoch
    state.pop("format")
    save_checkpoint(out / "last.pt", state)
    with pytest.raises(CheckpointError, match=r"by 2 process\(es\).*--nproc_per_node=2"):
        api.train(config, out, resume=True, echo=lambda _: None)


# Rank 0 kills its own process group member (SIGKILL) right after writing its first step checkpoint:
# the run stops mid-epoch as at a crash, deterministically.
CRASH_AFTER_FIRST_SAVE = """
import os, signal, sys
import seqlabel.training.loop as t
save = t.save_checkpoint
def save_then_crash(path, state):
    written = save(path, state)
    if os.environ["RANK"] == "0":
        os.kill(os.getpid(), signal.SIGKILL)
    return written
t.save_checkpoint = save_then_crash
from seqlabel.cli import main
main(sys.argv[1:], prog_name="seqlabel")
"""


def test_each_rank_restores_its_own_random_state_and_older_checkpoints_still_load() -> None:
    states = [{"torch": torch.tensor([0])}, {"torch": torch.tensor([1])}]
    assert own_rng_state(states) is states[0]  # rank 0 of one process
    single = {"torch": torch.tensor([2])}  # checkpoints from before the per-rank list
    assert own_rng_state(single) is single
    assert torch.equal(own_rng_state(torch.tensor([3])), torch.tensor([3]))


def torchrun(*args: str, script: Path | None = None) -> subprocess.CompletedProcess:
    from test_distributed import free_port

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    program = [str(script)] if script else ["-m", "seqlabel"]
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           f"--master_port={free_port()}", *program, *args],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_two_processes_killed_mid_epoch_and_resumed_equal_uninterrupted(config: Path, tmp_path: Path) -> None:
    """Each rank draws its own dropout masks (its batches differ in shape), so each must get its
    own random state back: rank 0's on both ranks gives other weights."""
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["model"].update(num_layers=2, dropout=0.3)
    two_layers = tmp_path / "dropout.yaml"
    two_layers.write_text(yaml.safe_dump(settings), encoding="utf-8")
    reference = tmp_path / "reference"
    done = torchrun("train", str(two_layers), "--out", str(reference))
    assert done.returncode == 0, done.stdout + done.stderr

    out = tmp_path / "killed"
    script = tmp_path / "crash.py"
    script.write_text(CRASH_AFTER_FIRST_SAVE, encoding="utf-8")
    crashed = torchrun("train", str(two_layers), "--out", str(out), script=script)
    assert crashed.returncode != 0, crashed.stdout + crashed.stderr
    state = load_checkpoint(out / "last.pt")
    assert state["progress"]["epoch"] == 0 and state["progress"]["batch"] == 2 and len(state["rng"]) == 2
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])  # the ranks did drift apart

    resumed = torchrun("train", str(two_layers), "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "after batch 2 of epoch 1" in resumed.stdout
    for name in ("last.pt", "best.pt"):
        want, got = load_checkpoint(reference / name), load_checkpoint(out / name)
        for key, tensor in want["model"].items():
            assert torch.equal(got["model"][key], tensor), (name, key)  # bit-identical, no tolerance
    assert rows_without_times(out) == rows_without_times(reference)
