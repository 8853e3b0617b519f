"""``train.weight_noise_phase: restart`` (Graves, Mohamed & Hinton 2013): phase 1 without weight
noise keeps the point of lowest dev loss as phase1.pt and ends when ``early_stop_patience`` runs out
on the dev loss; phase 2 restarts from phase1.pt's weights with noise and a fresh optimizer, keeps
best.pt by the dev error rate, and resumes exactly, also across the switch.

Tiny precomputed features (as in test_resume), one thread: the whole run takes about a second.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import yaml
from test_resume import TEXTS, rows_without_times, write_npy_corpus

import seqlabel.training.loop as t
from seqlabel import api
from seqlabel.errors import ConfigError
from seqlabel.models.checkpoint import load_checkpoint

NOISE, PATIENCE, LR, EPOCHS = 0.1, 2, 0.1, 14
DEV = ["abc", "ba", "c ab", "cab", "bb", "acb", "ca ba", "bac"]


class Crash(Exception):
    """Stands for a kill: raised inside a step, after a step checkpoint was written."""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("npy")
    data = {
        "data": {"train": str(write_npy_corpus(root, TEXTS, "tr", 0)), "dev": str(write_npy_corpus(root, DEV, "dv", 1))},
        "features": {"type": "precomputed", "cmvn": "global"},
        "model": {"num_layers": 1, "hidden_size": 8},
        "train": {"lr": LR, "max_epochs": EPOCHS, "batch_frames": 40, "max_batch_size": 3, "save_every_steps": 2,
                  "weight_noise": NOISE, "weight_noise_phase": "restart", "early_stop_patience": PATIENCE,
                  "lr_patience": 0, "progress": False, "tensorboard": False, "device": "cpu", "amp": "off",
                  "threads": 1, "seed": 4},
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class Recorder:
    """Wraps ``train_step`` and ``evaluate_split``: each step's noise, the weights and optimizer state
    at the first noisy step, and every epoch's unrounded dev loss and error rate."""

    def __init__(self) -> None:
        self.noise: list[float] = []
        self.first_noisy: dict[str, torch.Tensor] = {}
        self.fresh_optimizer = False
        self.dev: list[tuple[float, float]] = []
        self.step, self.evaluate = t.train_step, t.evaluate_split

    def train_step(self, model, batch, optimizer, *args):
        noise = args[2]
        if noise > 0 and not self.first_noisy:
            self.first_noisy = {k: v.clone() for k, v in model.state_dict().items()}
            self.fresh_optimizer = not optimizer.state
        self.noise.append(noise)
        return self.step(model, batch, optimizer, *args)

    def evaluate_split(self, *args):
        loss, result = self.evaluate(*args)
        self.dev.append((loss, result.total.rate))
        return loss, result


@pytest.fixture(scope="module")
def reference(config: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recorder, list[str]]:
    """An uninterrupted run, recorded."""
    out, recorder, said = tmp_path_factory.mktemp("reference") / "exp", Recorder(), []
    with pytest.MonkeyPatch.context() as m:
        m.setattr(t, "train_step", recorder.train_step)
        m.setattr(t, "evaluate_split", recorder.evaluate_split)
        api.train(config, out, echo=said.append)
    return out, recorder, said


def first_min(values: list[float]) -> int:
    """The index of the first strict minimum (what '<' on improvement keeps)."""
    return min(range(len(values)), key=lambda i: (values[i], i))


def phase_ends(out: Path) -> tuple[int, int]:
    rows = rows_without_times(out)
    return sum(r["phase"] == "1" for r in rows), len(rows)


def test_phase1_keeps_lowest_dev_loss_and_ends_when_its_patience_runs_out(reference) -> None:
    out, recorder, said = reference
    end1, end = phase_ends(out)
    assert 0 < end1 < end, "the run must reach phase 2"
    losses = [loss for loss, _ in recorder.dev[:end1]]
    best1 = first_min(losses) + 1
    assert load_checkpoint(out / "phase1.pt")["progress"]["epoch"] == best1
    assert end1 == best1 + PATIENCE  # exactly `patience` epochs without a lower dev loss, then the switch
    errors = [error for _, error in recorder.dev[:end1]]
    assert first_min(errors) + 1 != best1, "the data must tell dev loss and dev error apart in phase 1"
    assert f"phase 1 ended at epoch {end1}" in "\n".join(said)
    assert f"training ended: phase 1 (no weight noise) at epoch {end1}, phase 2 (weight noise {NOISE}, " \
           f"from phase1.pt) at epoch {end}" in said


def test_noise_only_in_phase2_which_starts_from_phase1_weights_with_a_fresh_optimizer(reference) -> None:
    out, recorder, _ = reference
    end1, end = phase_ends(out)
    per_epoch = len(recorder.noise) // end
    assert recorder.noise == [0.0] * (per_epoch * end1) + [NOISE] * (per_epoch * (end - end1))
    phase1 = load_checkpoint(out / "phase1.pt")["model"]
    assert recorder.first_noisy.keys() == phase1.keys()
    assert all(torch.equal(recorder.first_noisy[k], v) for k, v in phase1.items())  # bit-identical
    assert recorder.fresh_optimizer
    rows = rows_without_times(out)
    assert float(rows[end1 - 1]["lr"]) < LR  # phase 1's plateau schedule lowered the learning rate ...
    assert float(rows[end1]["lr"]) == LR  # ... phase 2 starts afresh at train.lr


def test_best_is_chosen_by_dev_error_in_phase2(reference) -> None:
    out, recorder, _ = reference
    end1, _ = phase_ends(out)
    phase2 = recorder.dev[end1:]
    by_error = end1 + first_min([error for _, error in phase2]) + 1
    assert load_checkpoint(out / "best.pt")["progress"]["epoch"] == by_error
    by_loss = end1 + first_min([loss for loss, _ in phase2]) + 1
    overall = first_min([error for _, error in recorder.dev]) + 1
    assert by_loss != by_error and overall != by_error, "the data must tell the choices apart"
    assert load_checkpoint(out / "best.pt")["progress"]["phase"] == 2


def assert_same_run(out: Path, reference: Path) -> None:
    for name in ("last.pt", "best.pt", "phase1.pt"):
        want, got = load_checkpoint(reference / name), load_checkpoint(out / name)
        assert all(torch.equal(got["model"][k], v) for k, v in want["model"].items()), name
        assert got["progress"]["step"] == want["progress"]["step"], name
    assert rows_without_times(out) == rows_without_times(reference)


def test_stopped_at_the_switch_and_resumed_equals_uninterrupted(config: Path, reference, tmp_path: Path) -> None:
    """max_epochs ends the run where phase 1's patience ran out (best.pt is then phase1.pt); the
    resumed run makes the switch."""
    end1, _ = phase_ends(reference[0])
    out, said = tmp_path / "split", []
    result = api.train(config, out, overrides=[f"train.max_epochs={end1}"], echo=said.append)
    assert any(f"training ended at epoch {end1} in phase 1" in s for s in said)
    best, phase1 = load_checkpoint(out / "best.pt")["model"], load_checkpoint(out / "phase1.pt")["model"]
    assert all(torch.equal(best[k], v) for k, v in phase1.items())
    assert math.isfinite(result.best_dev_error)
    api.train(config, out, resume=True, echo=said.append)
    assert f"resumed from {out / 'last.pt'} after epoch {end1} (phase 1)" in said
    assert_same_run(out, reference[0])


@pytest.mark.parametrize("phase", [1, 2])
def test_crashed_mid_epoch_and_resumed_equals_uninterrupted(config: Path, reference, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch, phase: int) -> None:
    """A crash inside epoch 3 (phase 1) or inside the first epoch of phase 2, after a step checkpoint."""
    end1, _ = phase_ends(reference[0])
    per_epoch = len(reference[1].noise) // phase_ends(reference[0])[1]
    crash_at = (2 if phase == 1 else end1) * per_epoch + 5  # the 5th step of the epoch: last.pt after step 4
    calls, step = [0], t.train_step

    def crashing(*args, **kwargs):
        calls[0] += 1
        if calls[0] == crash_at:
            raise Crash()
        return step(*args, **kwargs)

    out = tmp_path / "crashed"
    monkeypatch.setattr(t, "train_step", crashing)
    with pytest.raises(Crash):
        api.train(config, out, echo=lambda _: None)
    monkeypatch.undo()
    progress = load_checkpoint(out / "last.pt")["progress"]
    assert (progress["phase"], progress["batch"]) == (phase, 4), progress
    said: list[str] = []
    api.train(config, out, resume=True, echo=said.append)
    assert f"after batch 4 of epoch {progress['epoch'] + 1} (phase {phase})" in "\n".join(said)
    assert_same_run(out, reference[0])


@pytest.mark.parametrize("override, words", [
    ("train.weight_noise=0", ["train.weight_noise_phase: restart", "train.weight_noise is 0", "set it > 0"]),
    ("train.early_stop_patience=0", ["train.early_stop_patience", "set it > 0"]),
    ("train.weight_noise_start_epoch=3", ["train.weight_noise_start_epoch (3)", "epoch only"]),
    ("train.weight_noise_phase=twice", ["train.weight_noise_phase must be one of", "'twice'"]),
    ("data.dev=null", ["train.weight_noise_phase: restart needs data.dev", "set data.dev"]),
])
def test_bad_restart_configs_are_refused(config: Path, tmp_path: Path, override: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        api.train(config, tmp_path / "exp", overrides=[override], echo=lambda _: None)
    assert all(w in str(error.value) for w in words), str(error.value)
    assert not (tmp_path / "exp" / "last.pt").exists()
