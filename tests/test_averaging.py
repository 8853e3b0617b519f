"""Checkpoint averaging: ``seqlabel average`` and ``train.average_last`` (avg.pt at the end of training)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml
from helpers import invoke, ok, refused
from test_resume import TEXTS, write_npy_corpus

from seqlabel import api
from seqlabel.errors import ConfigError
from seqlabel.models.checkpoint import load_checkpoint, save_checkpoint
from seqlabel.training.averaging import average_states


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("npy")
    return {
        "data": {"train": str(write_npy_corpus(root, TEXTS, "tr", 0)),
                 "dev": str(write_npy_corpus(root, ["abc", "ba", "c ab"], "dv", 1))},
        "features": {"type": "precomputed", "cmvn": "global"},
        "model": {"num_layers": 1, "hidden_size": 8},
        "train": {"lr": 0.05, "max_epochs": 5, "batch_frames": 40, "max_batch_size": 3, "progress": False,
                  "tensorboard": False, "device": "cpu", "amp": "off", "threads": 1, "early_stop_patience": 0,
                  "seed": 5},
    }


def train(settings: dict, out: Path, **train_settings) -> tuple:
    data = {**settings, "train": {**settings["train"], **train_settings}}
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    messages: list[str] = []
    result = api.train(path, out, echo=messages.append)
    return result, messages


@pytest.fixture(scope="module")
def run(settings: dict, tmp_path_factory: pytest.TempPathFactory):
    """A 5-epoch run that keeps every epoch's weights (average_last 5): material for the tests below."""
    return train(settings, tmp_path_factory.mktemp("runs") / "all", average_last=5)


def epoch_weights(out: Path) -> dict[int, dict[str, torch.Tensor]]:
    return {int(p.stem.split("-")[1]): load_checkpoint(p)["model"] for p in sorted((out / "epochs").glob("epoch-*.pt"))}


def dev_errors(out: Path) -> dict[int, float]:
    with (out / "log.csv").open(newline="") as f:
        return {int(r["epoch"]): float(r["dev_error"]) for r in csv.DictReader(f)}


def test_averaging_identical_weights_gives_them_back_and_two_sets_their_mean() -> None:
    a = {"w": torch.randn(4, 3), "b": torch.randn(3), "count": torch.tensor(7)}
    assert all(torch.equal(v, a[k]) for k, v in average_states([a, a, a]).items())
    b = {"w": torch.randn(4, 3), "b": torch.randn(3), "count": torch.tensor(9)}
    mean = average_states([a, b])
    assert torch.allclose(mean["w"], (a["w"] + b["w"]) / 2) and torch.allclose(mean["b"], (a["b"] + b["b"]) / 2)
    assert mean["count"].item() == 9 and mean["w"].dtype == torch.float32  # integer buffers: the last one's


def test_the_average_command_on_checkpoints(settings, run, tmp_path: Path) -> None:
    result, _ = run
    best = result.out_dir / "best.pt"
    ok(invoke("average", best, best, best, "--out", tmp_path / "same.pt"))
    want, got = load_checkpoint(best), load_checkpoint(tmp_path / "same.pt")
    assert all(torch.equal(got["model"][k], v) for k, v in want["model"].items())
    assert got["vocab"] == want["vocab"] and got["config"] == want["config"]
    weights = epoch_weights(result.out_dir)
    paths = []
    for epoch in (1, 4):  # two epochs as full checkpoints: best.pt with another epoch's weights
        state = {k: v for k, v in want.items() if k != "format"}
        state["model"] = weights[epoch]
        paths.append(save_checkpoint(tmp_path / f"e{epoch}.pt", state))
    ok(invoke("average", *paths, "--out", tmp_path / "mean.pt"))
    mean = load_checkpoint(tmp_path / "mean.pt")["model"]
    assert all(torch.allclose(mean[k], (weights[1][k] + weights[4][k]) / 2, atol=1e-7) for k in mean)
    assert not torch.equal(weights[1]["output.weight"], weights[4]["output.weight"])
    epochs = [result.out_dir / "epochs" / f"epoch-000{e}.pt" for e in (1, 4)]  # the epoch files average as they are
    ok(invoke("average", *epochs, "--out", tmp_path / "epochs.pt"))
    assert all(torch.equal(v, mean[k]) for k, v in load_checkpoint(tmp_path / "epochs.pt")["model"].items())
    ok(invoke("evaluate", epochs[0], settings["data"]["dev"]))  # and decode


def test_incompatible_checkpoints_are_refused(run, tmp_path: Path) -> None:
    result, _ = run
    best = load_checkpoint(result.out_dir / "best.pt")
    best.pop("format")
    other_vocab = {**best, "vocab": {**best["vocab"], "tokens": list(best["vocab"]["tokens"])[:-1] + ["z"]}}
    other_model = {**best, "config": {**best["config"], "model": {**best["config"]["model"], "hidden_size": 16}}}
    other_cmvn = {**best, "cmvn": {"mean": best["cmvn"]["mean"] + 1, "std": best["cmvn"]["std"]}}
    for name, state, what in (("vocab", other_vocab, "vocabulary differs"), ("model", other_model, "model section"),
                              ("cmvn", other_cmvn, "CMVN statistics differ")):
        path = save_checkpoint(tmp_path / f"{name}.pt", state)
        refused(invoke("average", result.out_dir / "best.pt", path, "--out", tmp_path / "x.pt"), what,
                "average checkpoints of one")
        assert not (tmp_path / "x.pt").exists()
    refused(invoke("average", result.out_dir / "best.pt", "--out", tmp_path / "x.pt"), "at least two checkpoints")
    bare = save_checkpoint(tmp_path / "bare.pt", {"model": best["model"]})
    refused(invoke("average", result.out_dir / "best.pt", bare, "--out", tmp_path / "x.pt"),
            "holds no 'config': not a checkpoint of a seqlabel training run")


def test_average_last_keeps_the_last_epochs_and_averages_them(settings, run, tmp_path: Path) -> None:
    everything = epoch_weights(run[0].out_dir)
    assert sorted(everything) == [1, 2, 3, 4, 5]
    result, messages = train(settings, tmp_path / "last3", average_last=3)
    kept = epoch_weights(result.out_dir)
    assert sorted(kept) == [3, 4, 5]  # only the N needed stay on disk
    for epoch, weights in kept.items():  # the same run: the same weights as the run that kept them all
        assert all(torch.equal(weights[k], everything[epoch][k]) for k in weights)
    avg = load_checkpoint(result.out_dir / "avg.pt")
    assert avg["averaged"]["epochs"] == [3, 4, 5]
    assert all(torch.allclose(avg["model"][k], sum(kept[e][k] for e in (3, 4, 5)) / 3, atol=1e-7) for k in avg["model"])
    said = next(m for m in messages if m.startswith("averaged the weights of epochs 3, 4, 5"))
    best_error = min(dev_errors(result.out_dir).values())
    uses_avg = avg["averaged"]["dev_error"] < best_error
    assert said.endswith("the test uses avg.pt" if uses_avg else "the test uses best.pt")
    assert result.best_checkpoint.name == ("avg.pt" if uses_avg else "best.pt")
    assert result.best_dev_error == pytest.approx(min(best_error, avg["averaged"]["dev_error"]), abs=1e-5)


def test_average_select_best_keeps_the_epochs_of_lowest_dev_error(settings, tmp_path: Path) -> None:
    result, _ = train(settings, tmp_path / "best2", average_last=2, average_select="best")
    errors = dev_errors(result.out_dir)
    ranked = sorted(errors, key=lambda e: (errors[e], -e))
    assert sorted(epoch_weights(result.out_dir)) == sorted(ranked[:2])
    assert load_checkpoint(result.out_dir / "avg.pt")["averaged"]["epochs"] == sorted(ranked[:2])


def test_average_last_needs_a_dev_set(settings, tmp_path: Path) -> None:
    data = {**settings, "data": {"train": settings["data"]["train"]}}
    with pytest.raises(ConfigError, match="train.average_last \\(2\\) needs data.dev"):
        train(data, tmp_path / "nodev", average_last=2)
    with pytest.raises(ConfigError, match="train.average_select must be one of"):
        train(settings, tmp_path / "typo", average_last=2, average_select="worst")
