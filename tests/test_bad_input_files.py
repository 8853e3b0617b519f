"""Bad inputs to checkpoints and runs, LM and lexicon files, reference and hypothesis files: each case asserts the error type and that the message names the
culprit (file, line, utterance id or key) and, where there is one, the fix (see ``bad_input.py``)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import click
import pytest
import torch
import yaml
from bad_input import Base, Row, check_case, cli, ids, write_yaml

from seqlabel import api
from seqlabel.errors import CheckpointError, ConfigError, DataError
from seqlabel.models.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from seqlabel.training.lock import RunLock


# ----------------------------------------------------------------------------- checkpoints
def spoiled_run(tmp: Path, base: Base, spoil: Callable[[bytes], bytes]) -> Path:
    """A copy of the good run with its last.pt spoiled; best.pt kept."""
    run = tmp / "run"
    run.mkdir()
    for p in base.run.iterdir():
        if p.is_file():
            (run / p.name).write_bytes(p.read_bytes())
    (run / "last.pt").write_bytes(spoil((run / "last.pt").read_bytes()))
    return run


def checkpoint_truncated(tmp: Path, base: Base) -> None:
    run = spoiled_run(tmp, base, lambda b: b[: len(b) * 2 // 3])
    api.decode(run / "last.pt", base.root / "train.jsonl", device="cpu", progress=False)


def checkpoint_bit_flip(tmp: Path, base: Base) -> None:
    run = spoiled_run(tmp, base, lambda b: b[:1000] + bytes([b[1000] ^ 4]) + b[1001:])
    api.decode(run / "last.pt", base.root / "train.jsonl", device="cpu", progress=False)


def checkpoint_foreign(tmp: Path, base: Base) -> None:
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp / "model.pt")
    api.evaluate(tmp / "model.pt", base.root / "train.jsonl", device="cpu", progress=False)


def checkpoint_is_a_torchscript_export(tmp: Path, base: Base) -> None:
    api.export(base.checkpoint, tmp / "model.ts.pt")
    api.decode(tmp / "model.ts.pt", base.root / "train.jsonl", device="cpu", progress=False)


def checkpoint_is_an_arpa_lm(tmp: Path, base: Base) -> None:
    (tmp / "lm.pt").write_text(ARPA, encoding="utf-8")
    api.evaluate(tmp / "lm.pt", base.root / "train.jsonl", device="cpu", progress=False)


def checkpoint_runs_code(tmp: Path, base: Base) -> None:
    torch.save({"format": FORMAT, "config": {}, "hook": math.floor}, tmp / "evil.pt")  # a global: pickled by name
    api.decode(tmp / "evil.pt", base.root / "train.jsonl", device="cpu", progress=False)


def checkpoint_config_of_another_version(tmp: Path, base: Base) -> None:
    state = load_checkpoint(base.checkpoint)
    state["config"]["model"]["hiden_size"] = state["config"]["model"].pop("hidden_size")
    save_checkpoint(tmp / "other.pt", state)
    api.decode(tmp / "other.pt", base.root / "train.jsonl", device="cpu", progress=False)


def finetune_from_a_checkpoint_of_another_version(tmp: Path, base: Base) -> None:
    state = load_checkpoint(base.checkpoint)
    state["config"]["train"]["warmup_step"] = 3
    save_checkpoint(tmp / "other.pt", state)
    api.train(write_yaml(tmp / "c.yaml", base.config), tmp / "ft", [f"train.init_from={tmp / 'other.pt'}"],
              echo=lambda _: None)


def edited_run(tmp: Path, base: Base, section: str, values: dict) -> Path:
    """A copy of the good run whose config.yaml was edited by hand (resume reads it, not a CONFIG)."""
    run = spoiled_run(tmp, base, lambda b: b)
    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    saved[section].update(values)
    write_yaml(run / "config.yaml", saved)
    return run


def checkpoint_other_vocabulary_resume(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("<blank>\n|\na\nb\nc\nd\n")
    run = edited_run(tmp, base, "data", {"vocab": str(tmp / "tokens.txt")})
    api.train(None, run, resume=True, echo=lambda _: None)


def checkpoint_other_model_shape(tmp: Path, base: Base) -> None:
    run = edited_run(tmp, base, "model", {"hidden_size": 8})
    api.train(None, run, resume=True, echo=lambda _: None)


def resume_with_another_config(tmp: Path, base: Base) -> None:
    run = spoiled_run(tmp, base, lambda b: b)
    api.train(write_yaml(tmp / "c.yaml", {**base.config, "model": {"num_layers": 1, "hidden_size": 8}}), run,
              resume=True, echo=lambda _: None)


def resume_unsafe_override(tmp: Path, base: Base) -> None:
    api.train(None, spoiled_run(tmp, base, lambda b: b), ["train.lr=0.5"], resume=True, echo=lambda _: None)


def train_out_empty(tmp: Path, base: Base) -> None:
    api.train(write_yaml(tmp / "c.yaml", base.config), "", echo=lambda _: None)


def train_run_folder_in_use(tmp: Path, base: Base) -> None:
    with RunLock(tmp / "busy"):  # a second open file: its flock conflicts, as another process's
        api.train(write_yaml(tmp / "c.yaml", base.config), tmp / "busy", echo=lambda _: None)


def train_unknown_config_name(tmp: Path, base: Base) -> None:
    api.train("fsd", tmp / "run", echo=lambda _: None)


def resume_without_a_run(tmp: Path, base: Base) -> None:
    api.train(write_yaml(tmp / "c.yaml", base.config), tmp / "fresh", resume=True, echo=lambda _: None)


def train_into_an_existing_run(tmp: Path, base: Base) -> None:
    api.train(write_yaml(tmp / "c.yaml", base.config), base.run, echo=lambda _: None)


def train_over_a_hand_written_config(tmp: Path, base: Base) -> None:
    (tmp / "cfg").mkdir()  # the user's config.yaml in the folder given as --out: a new run would overwrite it
    api.train(write_yaml(tmp / "cfg" / "config.yaml", base.config), tmp / "cfg", echo=lambda _: None)


def train_with_a_test_source_missing(tmp: Path, base: Base) -> None:
    rows = (base.root / "train.jsonl").read_text(encoding="utf-8").splitlines()
    (tmp / "test.jsonl").write_text(rows[0].replace('"u0.npy"', '"gone.npy"') + "\n", encoding="utf-8")
    config = {**base.config, "data": {**base.config["data"], "test": str(tmp / "test.jsonl")},
              "train": {**base.config["train"], "max_epochs": 50}}  # found before 50 epochs, not after them
    api.train(write_yaml(tmp / "c.yaml", config), tmp / "run", echo=lambda _: None)


def resume_after_the_log_was_overwritten(tmp: Path, base: Base) -> None:
    run = spoiled_run(tmp, base, lambda b: b)
    (run / "log.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))  # e.g. plot curves --out log.csv
    api.train(None, run, ["train.max_epochs=50"], resume=True, echo=lambda _: None)


def resume_on_a_rewritten_manifest(tmp: Path, base: Base) -> None:
    rows = (base.root / "train.jsonl").read_text(encoding="utf-8").splitlines()
    source = str(base.root / json.loads(rows[0])["source"])
    (tmp / "train.jsonl").write_text("".join(json.dumps({**json.loads(r), "source": source}) + "\n"
                                             for r in rows[:-1]), encoding="utf-8")  # one utterance fewer
    run = edited_run(tmp, base, "data", {"train": str(tmp / "train.jsonl")})
    api.train(None, run, ["train.max_epochs=50"], resume=True, echo=lambda _: None)


def plot_curves_of_an_overwritten_log(tmp: Path, base: Base) -> None:
    (tmp / "log.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    api.plot_curves(tmp / "log.csv", tmp / "curves.png")


def tune_with_weights_that_are_not_numbers(tmp: Path, base: Base) -> None:
    cli("tune", base.checkpoint, base.root / "train.jsonl", "--weights", "0.5,nan")


# ----------------------------------------------------------------------------- LM and lexicon files
ARPA = "\\data\\\nngram 1=4\n\n\\1-grams:\n-0.6 <s>\n-0.6 </s>\n-0.6 a\n-0.6 b\n\n\\end\\\n"


def decode_with(tmp: Path, base: Base, *overrides: str) -> None:
    api.decode(base.checkpoint, base.root / "train.jsonl", device="cpu", progress=False,
               overrides=["decode.decoder=beam", *overrides])


def arpa_truncated(tmp: Path, base: Base) -> None:
    (tmp / "lm.arpa").write_text(ARPA[: ARPA.index("\\end\\")])
    decode_with(tmp, base, f"decode.lm={tmp / 'lm.arpa'}")


def arpa_bad_probability(tmp: Path, base: Base) -> None:
    (tmp / "lm.arpa").write_text(ARPA.replace("-0.6 a", "0.4 a"))
    decode_with(tmp, base, f"decode.lm={tmp / 'lm.arpa'}")


def arpa_missing(tmp: Path, base: Base) -> None:
    decode_with(tmp, base, f"decode.lm={tmp / 'lm.arpa'}")


def lexicon_word_with_boundary(tmp: Path, base: Base) -> None:
    (tmp / "words.txt").write_text("ab\nc|a\n")
    decode_with(tmp, base, f"decode.lexicon={tmp / 'words.txt'}")


def lexicon_not_utf8(tmp: Path, base: Base) -> None:
    (tmp / "words.txt").write_bytes("ab\ncafé\n".encode("latin-1"))
    decode_with(tmp, base, f"decode.lexicon={tmp / 'words.txt'}")


def lm_train_no_text(tmp: Path, base: Base) -> None:
    (tmp / "empty.txt").write_text("\n\n")
    api.train_lm([tmp / "empty.txt"], tmp / "lm.arpa")


# ----------------------------------------------------------------------------- reference / hypothesis files
def score_duplicate_reference(tmp: Path, base: Base) -> None:
    (tmp / "ref").write_text("u1 a b\nu2 b a\nu1 c\n")
    (tmp / "hyp").write_text("u1 a b\nu2 b a\n")
    api.score_files(tmp / "ref", tmp / "hyp")


def score_missing_hypothesis(tmp: Path, base: Base) -> None:
    (tmp / "ref").write_text("u1 a b\nu2 b a\n")
    (tmp / "hyp").write_text("u1 a b\n")
    api.score_files(tmp / "ref", tmp / "hyp")


def score_hypothesis_without_reference(tmp: Path, base: Base) -> None:
    (tmp / "ref").write_text("u1 a b\n")
    (tmp / "hyp").write_text("u1 a b\nu9 b\n")
    api.score_files(tmp / "ref", tmp / "hyp")


def score_a_manifest_as_references(tmp: Path, base: Base) -> None:
    (tmp / "hyp").write_text("u0 a b\n")
    api.score_files(base.root / "train.jsonl", tmp / "hyp")


def score_folding_characters(tmp: Path, base: Base) -> None:
    (tmp / "ref").write_text("u1 a b\n")
    api.score_files(tmp / "ref", tmp / "ref", unit="char", fold="timit39")


# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[Row] = [
    (checkpoint_truncated, CheckpointError, ("{tmp}/run/last.pt", "truncated", "use {tmp}/run/best.pt instead")),
    (checkpoint_bit_flip, CheckpointError, ("{tmp}/run/last.pt is corrupt", "checksum", "use {tmp}/run/best.pt")),
    (checkpoint_foreign, CheckpointError, ("{tmp}/model.pt", "not a seqlabel checkpoint")),
    (checkpoint_is_a_torchscript_export, CheckpointError, ("{tmp}/model.ts.pt is a TorchScript model",
                                                           "torch.jit.load", "best.pt")),
    (checkpoint_is_an_arpa_lm, CheckpointError, ("{tmp}/lm.pt is an ARPA language model", "decode.lm")),
    (checkpoint_runs_code, CheckpointError, ("{tmp}/evil.pt refused", "math.floor", "written by seqlabel train")),
    (checkpoint_other_vocabulary_resume, CheckpointError, ("{tmp}/run/last.pt", "another vocabulary",
                                                          "{tmp}/tokens.txt", "new --out")),
    (checkpoint_other_model_shape, CheckpointError, ("{tmp}/run/last.pt", "does not match this config")),
    (checkpoint_config_of_another_version, ConfigError, ("{tmp}/other.pt: ", "'model.hiden_size'")),
    (finetune_from_a_checkpoint_of_another_version, ConfigError,
     ("train.init_from {tmp}/other.pt: its stored config", "'train.warmup_step'")),
    (resume_without_a_run, CheckpointError, ("--resume: no {tmp}/fresh/last.pt", "train without --resume")),
    (resume_with_another_config, ConfigError, ("{tmp}/c.yaml sets model.hidden_size=8", "trained with model.hidden_size=4",
                                               "{tmp}/run/config.yaml", "Omit {tmp}/c.yaml", "new --out")),
    (resume_unsafe_override, ConfigError, ("-o train.lr=0.5 is not allowed", "train.max_epochs", "new --out")),
    (train_out_empty, ConfigError, ("run folder (--out) is empty", "--out exp/run1")),
    (train_run_folder_in_use, ConfigError, ("{tmp}/busy is in use by another training (process ", "{tmp}/busy/run.lock",
                                            "another --out")),
    (train_unknown_config_name, ConfigError, ("'fsd'", "did you mean `fsdd`?", "seqlabel configs")),
    (train_into_an_existing_run, ConfigError, ("already holds a training run", "pass --resume")),
    (train_over_a_hand_written_config, ConfigError, ("{tmp}/cfg holds config.yaml that no seqlabel run wrote",
                                                     "choose another --out")),
    (train_with_a_test_source_missing, DataError, ("data.test {tmp}/test.jsonl", "1 of 1 source file(s) not found",
                                                   "'u0'", "checked before")),
    (resume_after_the_log_was_overwritten, DataError, ("{tmp}/run/log.csv is not a seqlabel training log",
                                                       "--resume again")),
    (resume_on_a_rewritten_manifest, CheckpointError, ("--resume: {tmp}/run/last.pt was trained on other data",
                                                       "data.train ({tmp}/train.jsonl) now gives", "new --out")),
    (plot_curves_of_an_overwritten_log, DataError, ("{tmp}/log.csv is not a UTF-8 CSV file",)),
    (tune_with_weights_that_are_not_numbers, click.BadParameter, ("'0.5,nan'", "finite (not nan or inf)")),
    (arpa_truncated, DataError, ("{tmp}/lm.arpa:", "missing \\end\\", "truncated?")),
    (arpa_bad_probability, DataError, ("{tmp}/lm.arpa:7", "bad log10 probability '0.4'")),
    (arpa_missing, DataError, ("LM file not found: {tmp}/lm.arpa",)),
    (lexicon_word_with_boundary, DataError, ("{tmp}/words.txt", "'c|a'", "word-boundary")),
    (lexicon_not_utf8, DataError, ("{tmp}/words.txt", "not UTF-8")),
    (lm_train_no_text, DataError, ("no text to train a language model on",)),
    (score_duplicate_reference, DataError, ("{tmp}/ref:3", "duplicate utterance id 'u1'")),
    (score_missing_hypothesis, DataError, ("{tmp}/hyp against {tmp}/ref", "['u2']", "--allow-missing")),
    (score_hypothesis_without_reference, DataError, ("{tmp}/hyp against {tmp}/ref", "['u9']", "no reference")),
    (score_a_manifest_as_references, DataError, ("train.jsonl:1: a JSON line", "Kaldi text", "seqlabel evaluate")),
    (score_folding_characters, ConfigError, ("'timit39'", "chars")),
]


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)


def test_the_catalogue_covers_every_entry_point() -> None:
    import importlib

    modules = ("config", "data", "decode", "api", "finetune", "ids", "limits", "outputs", "scoring", "text",
               "transcribe")
    names = ids(CASES + [row for m in modules for row in importlib.import_module(f"test_bad_input_{m}").CASES])
    assert len(names) == len(set(names)) >= 100
    kinds = {n.split("_")[0] for n in names}
    assert kinds >= {"manifest", "wav", "npy", "image", "strokes", "transcript", "vocab", "yaml", "cli",
                     "checkpoint", "arpa", "lexicon", "score", "transcribe", "prepare", "output", "api", "decode",
                     "cmvn"}
    every = {p.stem.removeprefix("test_bad_input_") for p in Path(__file__).parent.glob("test_bad_input_*.py")}
    assert every == {*modules, "files"}, "a catalogue file is missing from this list"
