"""A run folder belongs to one training at a time (run.lock), a resumed run goes on with its own
config.yaml, and what a run prints to a log file is plain lines.

Real subprocesses where the behaviour is about processes (two trainings at once, SIGKILL, SIGTERM,
stderr not a terminal); the tiny precomputed-feature corpus of test_resume keeps them fast.
"""
from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import invoke, ok, refused
from test_resume import SLOW_CLI, TEXTS, write_npy_corpus

from seqlabel.training.folder import LOCK as LOCK_NAME

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("npy")
    return {"root": root, "train": write_npy_corpus(root, TEXTS, "tr", 0),
            "dev": write_npy_corpus(root, ["abc", "ba", "c ab"], "dv", 1)}


def write_config(corpus: dict, path: Path, dev: bool = True, **train: object) -> Path:
    data = {"data": {"train": str(corpus["train"]), "dev": str(corpus["dev"]) if dev else None},
            "features": {"type": "precomputed", "cmvn": "global"},
            "model": {"num_layers": 1, "hidden_size": 8},
            "train": {"lr": 0.05, "max_epochs": 2, "batch_frames": 40, "max_batch_size": 3, "progress": False,
                      "tensorboard": False, "device": "cpu", "amp": "off", "threads": 1, "early_stop_patience": 0,
                      "seed": 5, **train}}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def start(*args: object, slow: bool = False, cwd: Path = ROOT, **popen: object) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", SLOW_CLI] if slow else [sys.executable, "-m", "seqlabel"]
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, **popen}
    return subprocess.Popen([*command, *map(str, args)], env=env, cwd=cwd, text=True, **popen)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not path.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert path.exists() and proc.poll() is None, f"{path} never appeared while the run was alive"


def log_epochs(out: Path) -> list[int]:
    with (out / "log.csv").open(newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


# ----------------------------------------------------------------------------- the lock
def test_a_second_training_into_the_same_folder_is_refused_at_once(corpus: dict, tmp_path: Path) -> None:
    config = write_config(corpus, tmp_path / "c.yaml", max_epochs=30, save_every_steps=2)
    out = tmp_path / "exp"
    first = start("train", config, "--out", out, slow=True)
    try:
        wait_for(out / LOCK_NAME, first)  # before anything else is written: no "already holds a run" yet
        second = start("train", config, "--out", out)
        output = second.communicate(timeout=120)[0]
        assert second.returncode == 1, output
        assert f"in use by another training (process {first.pid} on " in output and "Traceback" not in output
        assert first.poll() is None  # the first run goes on, alone
        assert (out / LOCK_NAME).read_text().split()[0] == str(first.pid)
        wait_for(out / "last.pt", first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    assert (out / LOCK_NAME).exists()  # SIGKILL runs no clean-up: the lock file stays, its flock is gone
    done = log_epochs(out)[-1] if (out / "log.csv").exists() else 0
    resumed = start("train", config, "--out", out, "--resume", "-o", f"train.max_epochs={done + 1}")
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert f"taking over the lock left by process {first.pid} on " in output
    assert log_epochs(out)[-1] == done + 1 and not (out / LOCK_NAME).exists()


def test_sigterm_releases_the_lock(corpus: dict, tmp_path: Path) -> None:
    config = write_config(corpus, tmp_path / "c.yaml", max_epochs=30, save_every_steps=2)
    out = tmp_path / "exp"
    run = start("train", config, "--out", out, slow=True)
    wait_for(out / "last.pt", run)
    run.send_signal(signal.SIGTERM)
    output = run.communicate(timeout=60)[0]
    assert run.returncode == 128 + signal.SIGTERM, output
    assert not (out / LOCK_NAME).exists()
    ok(invoke("train", config, "--out", out, "--resume", "-o", "train.max_epochs=1"))  # nothing stands in the way


def test_a_refused_training_leaves_no_empty_folder(corpus: dict, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "source": "missing.npy", "text": "ab"}\n', encoding="utf-8")
    config = write_config(corpus, tmp_path / "c.yaml")
    out = tmp_path / "runs" / "new" / "exp"
    refused(invoke("train", config, "--out", out, "-o", f"data.train={bad}"), "missing.npy")
    assert not (tmp_path / "runs").exists()  # the folders the lock made went with it
    kept = tmp_path / "kept"
    kept.mkdir()
    refused(invoke("train", config, "--out", kept, "-o", f"data.train={bad}"), "missing.npy")
    assert kept.is_dir() and not list(kept.iterdir())  # a folder that was there stays


def test_an_empty_out_is_refused(corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(corpus, tmp_path / "c.yaml")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    refused(invoke("train", config, "--out", ""), "the run folder (--out) is empty")
    refused(invoke("train", config, "--out", " ", "--resume"), "the run folder (--out) is empty")
    assert not list(work.iterdir())


def test_without_a_dev_set_the_best_checkpoint_is_called_what_it_is(corpus: dict, tmp_path: Path) -> None:
    config = write_config(corpus, tmp_path / "c.yaml", dev=False)
    output = ok(invoke("train", config, "--out", tmp_path / "exp")).output
    losses = [float(x) for x in re.findall(r"train loss ([0-9.]+), no dev set", output)]
    assert len(losses) == 2 and "dev error" not in output
    assert f"is the epoch of lowest training loss ({min(losses):.3f})" in output


# ----------------------------------------------------------------------------- resume
def test_resume_uses_the_run_config_with_or_without_config_given(corpus: dict, tmp_path: Path) -> None:
    config = write_config(corpus, tmp_path / "c.yaml")
    out = tmp_path / "exp"
    ok(invoke("train", config, "--out", out, "-o", "train.lr=0.02", "-o", "model.hidden_size=6",
              "-o", "train.max_epochs=1"))
    assert (out / "overrides.txt").read_text().split() == ["train.lr=0.02", "model.hidden_size=6", "train.max_epochs=1"]

    output = ok(invoke("train", config, "--out", out, "--resume")).output  # no overrides repeated
    assert "train.max_epochs 1 -> 2" in output and log_epochs(out) == [1, 2]
    output = ok(invoke("train", "--out", out, "--resume", "-o", "train.max_epochs=3")).output  # no config at all
    assert "train.max_epochs 2 -> 3" in output and log_epochs(out) == [1, 2, 3]
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert (saved["train"]["lr"], saved["model"]["hidden_size"], saved["train"]["max_epochs"]) == (0.02, 6, 3)


def test_resume_refuses_what_would_change_the_run(corpus: dict, tmp_path: Path) -> None:
    config = write_config(corpus, tmp_path / "c.yaml", max_epochs=1)
    out = tmp_path / "exp"
    ok(invoke("train", config, "--out", out, "-o", "train.lr=0.02"))
    refused(invoke("train", "--out", out, "--resume", "-o", "train.lr=0.01"),
            "-o train.lr=0.01 is not allowed", "optimizer state", "train.max_epochs")
    ok(invoke("train", "--out", out, "--resume", "-o", "train.lr=0.02", "-o", "train.max_epochs=1"))  # a repeat
    edited = write_config(corpus, tmp_path / "edited.yaml", max_epochs=2, batch_frames=60)
    refused(invoke("train", edited, "--out", out, "--resume"), "sets train.batch_frames=60",
            "trained with train.batch_frames=40", "started with -o train.lr=0.02", "Omit")
    refused(invoke("train", "--out", out, "--resume", "-o", "train.max_epoch=2"), "did you mean 'train.max_epochs'")
    refused(invoke("train", "--out", out), "no config given")
    assert log_epochs(out) == [1]


# ----------------------------------------------------------------------------- logs that are files
def test_a_log_file_gets_plain_lines_one_per_epoch(corpus: dict, tmp_path: Path) -> None:
    config = write_config(corpus, tmp_path / "c.yaml", max_epochs=3, progress=True)
    log = tmp_path / "train.log"
    with log.open("w") as f:
        run = start("train", config, "--out", tmp_path / "exp", stdout=f, stderr=f)
        assert run.wait(timeout=300) == 0, log.read_text()
    raw = log.read_bytes()  # bytes: read_text() would turn the carriage returns into newlines
    assert b"\r" not in raw
    lines = raw.decode().splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 3 and all(re.match(r"epoch \d+: train loss .*, lr .*s", line) for line in epochs), lines
    assert not any(line.startswith(("train features", "dev features", "decode")) for line in lines), lines
