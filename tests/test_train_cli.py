"""End to end through the command line (click's CliRunner) and the Python API, on a tiny synthetic
corpus: each character is a tone of its own pitch, words are separated by silence."""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml
from helpers import invoke, ok, refused

from seqlabel import api
from seqlabel.cli import main
from seqlabel.data.manifest import read_manifest
from seqlabel.data.transcripts import read_kaldi_text
from seqlabel.inference.recognizer import Recognizer

RATE = 8000
PITCH = {"a": 300.0, "b": 800.0, "c": 1700.0}
TEXTS = ["ab", "ba", "ca", "ab ca", "ba ab", "ca ba", "abc", "cab", "a b", "bc ca", "ac", "cb"]


def speak(text: str, seed: int) -> np.ndarray:
    """80 ms tone per character, 60 ms silence per space, a little noise."""
    rng = np.random.default_rng(seed)
    pieces = []
    for ch in text:
        n = int(0.08 * RATE) if ch != " " else int(0.06 * RATE)
        t = np.arange(n) / RATE
        pieces.append(np.zeros(n) if ch == " " else 0.4 * np.sin(2 * np.pi * PITCH[ch] * t))
    wave = np.concatenate([np.zeros(int(0.03 * RATE)), *pieces, np.zeros(int(0.03 * RATE))])
    return wave + 0.01 * rng.standard_normal(wave.size)


def write_corpus(root: Path, texts: list[str], prefix: str, seed: int) -> Path:
    records = []
    for i, text in enumerate(texts):
        path = root / "wav" / f"{prefix}{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), speak(text, seed + i), RATE, subtype="PCM_16")
        records.append({"id": f"spk{i % 3}-{prefix}{i}", "source": f"wav/{prefix}{i}.wav", "text": text,
                        "speaker": f"spk{i % 3}"})
    manifest = root / f"{prefix}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return manifest


def config_data(train_manifest: Path, dev_manifest: Path | None, **sections: dict) -> dict:
    data = {
        "data": {"train": str(train_manifest), "dev": str(dev_manifest) if dev_manifest else None, "unit": "char"},
        "features": {"type": "fbank", "sample_rate": RATE, "num_bins": 20, "cmvn": "global"},
        "model": {"num_layers": 1, "hidden_size": 16},
        "train": {"lr": 0.05, "max_epochs": 3, "batch_frames": 400, "max_batch_size": 2, "progress": False,
                  "tensorboard": False, "device": "cpu", "amp": "off", "early_stop_patience": 0, "seed": 7},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return data


def write_config(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path



def log_rows(out: Path) -> list[dict]:
    with (out / "log.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    train = write_corpus(root, TEXTS, "tr", seed=0)
    dev = write_corpus(root, ["ba cb", "ab", "ca"], "dv", seed=100)  # longest first: not in length order
    config = write_config(root / "tiny.yaml", config_data(train, dev))
    return {"root": root, "train": train, "dev": dev, "config": config}


@pytest.fixture(scope="module")
def trained(corpus: dict[str, Path]) -> Path:
    out = corpus["root"] / "exp"
    result = ok(invoke("train", corpus["config"], "--out", out))
    assert "best checkpoint" in result.output
    return out


# ----------------------------------------------------------------------------- train
def test_train_writes_run_folder(trained: Path) -> None:
    for name in ("best.pt", "last.pt", "log.csv", "config.yaml", "tokens.txt"):
        assert (trained / name).is_file(), name
    rows = log_rows(trained)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert all(math.isfinite(float(r["train_loss"])) and math.isfinite(float(r["dev_loss"])) for r in rows)
    assert all(0.0 <= float(r["dev_error"]) for r in rows)
    assert not list(trained.glob("*.tmp")) and not list(trained.glob(".*.tmp"))
    assert (trained / "tokens.txt").read_text().splitlines() == ["<blank>", "|", "a", "b", "c"]
    saved = yaml.safe_load((trained / "config.yaml").read_text())
    assert saved["model"]["hidden_size"] == 16 and saved["train"]["max_epochs"] == 3


def test_training_twice_into_the_same_folder_is_refused(corpus: dict[str, Path], trained: Path) -> None:
    before = (trained / "log.csv").read_text()
    refused(invoke("train", corpus["config"], "--out", trained), "already holds a training run", "--resume")
    assert (trained / "log.csv").read_text() == before


def test_resume_continues_and_log_grows(corpus: dict[str, Path], trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    shutil.copytree(trained, out)
    result = ok(invoke("train", corpus["config"], "--out", out, "--resume", "-o", "train.max_epochs=5"))
    assert "resumed" in result.output
    rows = log_rows(out)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    assert rows[:3] == log_rows(trained)  # the old rows are kept as they were
    assert int(rows[3]["step"]) > int(rows[2]["step"])  # the step counter carries on


def test_resume_with_another_model_shape_is_refused(corpus: dict[str, Path], trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    shutil.copytree(trained, out)
    refused(invoke("train", corpus["config"], "--out", out, "--resume", "-o", "model.hidden_size=8",
                   "-o", "train.max_epochs=4"), "-o model.hidden_size=8 is not allowed", "weights have the shape")
    assert len(log_rows(out)) == 3


def test_resume_without_a_run_is_refused(corpus: dict[str, Path], tmp_path: Path) -> None:
    refused(invoke("train", corpus["config"], "--out", tmp_path / "fresh", "--resume"), "last.pt")


# ----------------------------------------------------------------------------- decode / evaluate / score
def test_decode_writes_one_line_per_utterance(corpus: dict[str, Path], trained: Path, tmp_path: Path) -> None:
    hyp = tmp_path / "hyp.txt"
    result = ok(invoke("decode", trained / "best.pt", corpus["dev"], "--out", hyp, "--device", "cpu"))
    assert "wrote 3 hypotheses" in result.output
    lines = hyp.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["spk0-dv0", "spk1-dv1", "spk2-dv2"]
    tokens = set((trained / "tokens.txt").read_text().split()) - {"<blank>"}
    assert all(set(line.split()[1:]) <= tokens for line in lines)


def test_evaluate_prints_cer_and_wer(corpus: dict[str, Path], trained: Path, tmp_path: Path) -> None:
    result = ok(invoke("evaluate", trained / "best.pt", corpus["dev"], "--out", tmp_path / "eval", "--device", "cpu"))
    lines = result.stdout.splitlines()  # progress bars go to stderr
    assert any(line.startswith("CER ") for line in lines) and any(line.startswith("WER ") for line in lines)
    assert "over 3 utterances" in result.output
    for name in ("hyp.txt", "ref.txt", "cer_utterances.tsv", "wer_utterances.tsv", "summary.txt"):
        assert (tmp_path / "eval" / name).is_file(), name
    refs = read_kaldi_text(tmp_path / "eval" / "ref.txt")
    assert refs["spk0-dv0"] == ["b", "a", "|", "c", "b"]


def test_score_prints_cer_and_wer(tmp_path: Path) -> None:
    (tmp_path / "ref").write_text("u1 a b | c\nu2 c a\n")
    (tmp_path / "hyp").write_text("u1 a x | c\nu2 c a\n")
    result = ok(invoke("score", tmp_path / "ref", tmp_path / "hyp", "--report", tmp_path / "r.tsv"))
    # 1 substitution in 6 characters; 1 of 3 words wrong
    assert "CER 16.67% [95% CI 0.00-25.00] [1 / 6, 1 sub, 0 del, 0 ins]" in result.output
    assert "WER 33.33% [95% CI 0.00-50.00] [1 / 3" in result.output
    assert len((tmp_path / "r.tsv").read_text().splitlines()) == 3
    (tmp_path / "short").write_text("u1 a b | c\n")
    refused(invoke("score", tmp_path / "ref", tmp_path / "short"), "u2")
    ok(invoke("score", tmp_path / "ref", tmp_path / "short", "--allow-missing"))


def test_decode_with_a_bad_checkpoint_is_refused(corpus: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    refused(invoke("decode", tmp_path / "bad.pt", corpus["dev"], "--out", tmp_path / "h.txt"), "bad.pt")


# ----------------------------------------------------------------------------- API == CLI
def test_api_gives_the_same_hypotheses_as_the_cli(corpus: dict[str, Path], trained: Path, tmp_path: Path) -> None:
    cli_hyp = tmp_path / "cli.txt"
    ok(invoke("decode", trained / "best.pt", corpus["dev"], "--out", cli_hyp, "--device", "cpu"))
    cli = read_kaldi_text(cli_hyp)
    # the API on the CLI's checkpoint
    hyps = api.decode(trained / "best.pt", corpus["dev"], device="cpu", progress=False)
    assert {h.id: list(h.tokens) for h in hyps} == cli
    assert any(cli.values())  # the tiny model has learnt enough to say something: the comparison has teeth
    # a batch decodes as its utterances one by one
    recognizer = Recognizer.from_checkpoint(trained / "best.pt", device="cpu")
    utts = read_manifest(corpus["train"])
    together = recognizer.transcribe(utts)
    assert [h.id for h in together] == [u.id for u in utts]
    for utt, hyp in zip(utts, together):
        (alone,) = recognizer.transcribe([utt])
        assert (alone.tokens, alone.timesteps) == (hyp.tokens, hyp.timesteps)
        assert alone.score == pytest.approx(hyp.score, abs=1e-4)
    report = api.evaluate(trained / "best.pt", corpus["dev"], out_dir=tmp_path / "eval", device="cpu", progress=False)
    assert read_kaldi_text(tmp_path / "eval" / "hyp.txt") == cli
    assert report.tokens.name == "CER" and report.words is not None and report.tokens.total.utterances == 3
    # an API training run with the same config and seed reproduces the CLI's model
    result = api.train(corpus["config"], tmp_path / "api_exp", echo=lambda _: None)
    assert result.best_checkpoint.is_file() and result.epochs == 3
    assert log_rows(tmp_path / "api_exp")[-1]["train_loss"] == log_rows(trained)[-1]["train_loss"]
    again = api.decode(result.best_checkpoint, corpus["dev"], device="cpu", progress=False)
    assert [(h.id, h.tokens, h.timesteps) for h in again] == [(h.id, h.tokens, h.timesteps) for h in hyps]


# ----------------------------------------------------------------------------- refusals
def test_unknown_config_key_is_refused_without_traceback(corpus: dict[str, Path], tmp_path: Path) -> None:
    data = config_data(corpus["train"], corpus["dev"], train={"lrr": 0.1})
    config = write_config(tmp_path / "typo.yaml", data)
    refused(invoke("train", config, "--out", tmp_path / "exp"), "train.lrr", "did you mean 'train.lr'")
    refused(invoke("train", corpus["config"], "--out", tmp_path / "exp2", "-o", "modle.num_layers=2"),
            "modle", "'model'")
    assert not (tmp_path / "exp" / "last.pt").exists()


def test_label_missing_from_vocabulary_names_the_utterance(corpus: dict[str, Path], tmp_path: Path) -> None:
    vocab = tmp_path / "tokens.txt"
    vocab.write_text("<blank>\n|\na\nb\n")  # no 'c'
    config = write_config(tmp_path / "v.yaml", config_data(corpus["train"], corpus["dev"], data={"vocab": str(vocab)}))
    result = refused(invoke("train", config, "--out", tmp_path / "exp"), "'c'")
    first_with_c = next(f"spk{i % 3}-tr{i}" for i, t in enumerate(TEXTS) if "c" in t)
    assert first_with_c in result.output


def test_ctc_infeasible_transcript_is_skipped_and_counted(corpus: dict[str, Path], tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    records = [json.loads(line) for line in corpus["train"].read_text().splitlines()]
    for r in records:
        r["source"] = str(corpus["root"] / r["source"])
    short = tmp_path / "short.wav"
    soundfile.write(str(short), speak("a", 99)[: int(0.06 * RATE)], RATE, subtype="PCM_16")  # 4 frames
    records.append({"id": "spk9-long", "source": str(short), "text": "abcabcabcab"})  # 11 labels
    train.write_text("".join(json.dumps(r) + "\n" for r in records))
    config = write_config(tmp_path / "c.yaml", config_data(train, None, train={"max_epochs": 1}))
    result = ok(invoke("train", config, "--out", tmp_path / "exp"))
    assert "skipped 1 utterance(s)" in result.output and "CTC-infeasible" in result.output
    (row,) = log_rows(tmp_path / "exp")
    assert int(row["skipped_infeasible"]) == 1
    assert math.isfinite(float(row["train_loss"]))


def test_bad_audio_in_a_manifest_is_refused(corpus: dict[str, Path], tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text(corpus["train"].read_text().replace('"wav/tr0.wav"', '"missing.wav"'))
    shutil.copytree(corpus["root"] / "wav", tmp_path / "wav")
    config = write_config(tmp_path / "c.yaml", config_data(train, None))
    refused(invoke("train", config, "--out", tmp_path / "exp"), "spk0-tr0", "missing.wav")


# ----------------------------------------------------------------------------- help
def test_help_works_for_every_command() -> None:
    top = ok(invoke("--help"))
    assert set(main.commands) >= {"prepare", "train", "decode", "evaluate", "score"}
    for name in main.commands:
        assert name in top.output
        result = ok(invoke(name, "--help"))
        assert result.output.startswith(f"Usage: main {name}") or f"{name} [OPTIONS]" in result.output
    ok(invoke("train", "-h"))


# ----------------------------------------------------------------------------- numerical faults, disk
def poison(monkeypatch: pytest.MonkeyPatch, bad_ids: set[str] | None) -> None:
    """Make the features of ``bad_ids`` (every utterance when None) NaN as the loader serves them,
    as a numerical fault deep in a run would (bad files are refused before training starts)."""
    from seqlabel.data.dataset import SequenceDataset

    serve = SequenceDataset.__getitem__

    def nan_item(self, i: int):
        index, feats, target = serve(self, i)
        if bad_ids is None or self.split.utterances[i].id in bad_ids:
            feats = torch.full_like(feats, math.nan)
        return index, feats, target

    monkeypatch.setattr(SequenceDataset, "__getitem__", nan_item)


def test_nonfinite_batch_is_skipped_counted_and_its_ids_logged(corpus: dict[str, Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    poison(monkeypatch, {"spk0-tr0"})
    out = tmp_path / "exp"
    result = ok(invoke("train", corpus["config"], "--out", out, "-o", "train.max_epochs=2"))
    assert "nonfinite loss, step skipped" in result.output and "spk0-tr0" in result.output
    assert [int(r["skipped_nonfinite"]) for r in log_rows(out)] == [1, 1]  # its batch, once per epoch
    with (out / "skipped.tsv").open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [(r["epoch"], r["reason"]) for r in rows] == [("1", "nonfinite_loss"), ("2", "nonfinite_loss")]
    assert all("spk0-tr0" in r["ids"].split(",") for r in rows)
    assert all(math.isfinite(float(r["train_loss"])) for r in log_rows(out))


@pytest.mark.parametrize("options, reason", [
    (["-o", "train.max_nonfinite_steps=3"], "3 consecutive batches (train.max_nonfinite_steps=3)"),
    (["-o", "train.max_nonfinite_steps=0"], "train.max_nonfinite_fraction=0.5"),
])
def test_persistent_nonfinite_losses_stop_training(corpus: dict[str, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, options: list[str],
                                                   reason: str) -> None:
    poison(monkeypatch, None)
    out = tmp_path / "exp"
    result = refused(invoke("train", corpus["config"], "--out", out, *options), "training stopped at epoch 1",
                     reason, "Lower train.lr", str(out / "skipped.tsv"))
    assert "spk" in result.output  # the last batch's utterance ids
    assert not (out / "log.csv").exists()


def test_full_disk_is_refused_before_training(corpus: dict[str, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import seqlabel.training.checks

    monkeypatch.setattr(seqlabel.training.checks.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**9, 10**9, 5000))
    out = tmp_path / "exp"
    refused(invoke("train", corpus["config"], "--out", out), f"not enough free disk space in {out}", "0.0 MB free",
            "choose another --out")
    assert not (out / "last.pt").exists() and not (out / "log.csv").exists()


def test_unwritable_output_directory_is_refused(corpus: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file, not a folder")
    refused(invoke("train", corpus["config"], "--out", tmp_path / "file" / "exp"),
            f"output directory {tmp_path / 'file' / 'exp'} is not writable")
