"""The catalogue of bad inputs: one row per case, through the public entry points (``seqlabel.api``
and the ``seqlabel`` command line). Each case asserts the error type and that the message names
the culprit (file, line, utterance id or key) and, where there is one, the fix.

A case is a function ``(tmp, base) -> None`` that writes its bad input under ``tmp`` and calls an
entry point; ``fragments`` may hold ``{tmp}`` (the case's folder) and ``{ckpt}`` (a good checkpoint).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click
import numpy as np
import pytest
import soundfile
import torch
import yaml

from seqlabel import api
from seqlabel.cli import main
from seqlabel.errors import CheckpointError, ConfigError, DataError, VocabError
from seqlabel.models.checkpoint import FORMAT

RATE = 8000
DIM = 6
TEXTS = ["ab", "ba", "cab", "a b", "bc", "ca"]


@dataclass(frozen=True)
class Base:
    """Good inputs the cases spoil: a precomputed-feature corpus, its config, a trained run."""

    root: Path
    config: dict  # plain config data for the .npy corpus
    checkpoint: Path
    run: Path


def records(texts: list[str], suffix: str = ".npy") -> list[dict]:
    return [{"id": f"u{i}", "source": f"u{i}{suffix}", "text": t} for i, t in enumerate(texts)]


def write_manifest(path: Path, rows: list[dict | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def write_features(folder: Path, texts: list[str]) -> None:
    rng = np.random.default_rng(0)
    for i, text in enumerate(texts):
        np.save(folder / f"u{i}.npy", rng.standard_normal((4 * len(text) + 2, DIM)).astype(np.float32))


def config_data(train: Path, **sections: dict) -> dict:
    data = {
        "data": {"train": str(train)},
        "features": {"type": "precomputed", "cmvn": "global"},
        "model": {"num_layers": 1, "hidden_size": 4},
        "train": {"max_epochs": 1, "batch_frames": 200, "max_batch_size": 4, "progress": False,
                  "tensorboard": False, "device": "cpu", "amp": "off"},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return data


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    root = tmp_path_factory.mktemp("base")
    write_features(root, TEXTS)
    train = write_manifest(root / "train.jsonl", records(TEXTS))
    config = config_data(train)
    result = api.train(write_yaml(root / "good.yaml", config), root / "run", echo=lambda _: None)
    return Base(root, config, result.best_checkpoint, root / "run")


def train_on(tmp: Path, rows: list[dict | str], features: str | dict = "precomputed", **sections: dict) -> None:
    """Train on a manifest of ``rows`` (sources relative to ``tmp``); ``features``: a type or a section."""
    manifest = write_manifest(tmp / "train.jsonl", rows)
    sections["features"] = features if isinstance(features, dict) else {"type": features}
    api.train(write_yaml(tmp / "c.yaml", config_data(manifest, **sections)), tmp / "exp", echo=lambda _: None)


def npy_corpus(tmp: Path, texts: list[str] = TEXTS) -> list[dict]:
    write_features(tmp, texts)
    return records(texts)


def cli(*args: object) -> None:
    """Run the command line without click's exit handling: its exceptions propagate."""
    main.main([str(a) for a in args], prog_name="seqlabel", standalone_mode=False)


# ----------------------------------------------------------------------------- manifests
def manifest_not_json(tmp: Path, base: Base) -> None:
    train_on(tmp, [npy_corpus(tmp)[0], '{"id": "u1", "source": "u1.npy", "text": "ba"'])


def manifest_duplicate_id(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], rows[1], {**rows[2], "id": "u0"}])


def manifest_missing_key(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], {"id": "u1", "source": "u1.npy"}])


def manifest_unknown_key(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [{**rows[0], "txt": "ab"}, *rows[1:]])


def manifest_empty(tmp: Path, base: Base) -> None:
    train_on(tmp, ["", "  "])


def manifest_not_found(tmp: Path, base: Base) -> None:
    api.decode(base.checkpoint, tmp / "nowhere.jsonl", progress=False, device="cpu")


def manifest_bad_segment(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], {**rows[1], "start": 2.0, "end": 1.0}])


# ----------------------------------------------------------------------------- audio
def wav_rows(tmp: Path, spoil: Callable[[Path], None] | None = None, seconds: float = 0.3) -> list[dict]:
    rows = []
    for i, text in enumerate(TEXTS[:3]):
        path = tmp / f"u{i}.wav"
        t = np.arange(int(seconds * RATE)) / RATE
        soundfile.write(str(path), 0.3 * np.sin(2 * np.pi * (300 + 200 * i) * t), RATE, subtype="PCM_16")
        rows.append({"id": f"u{i}", "source": path.name, "text": text})
    if spoil is not None:
        spoil(tmp / "u1.wav")
    return rows


AUDIO = {"type": "fbank", "sample_rate": RATE, "num_bins": 10}


def wav_truncated(tmp: Path, base: Base) -> None:
    def cut(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    train_on(tmp, wav_rows(tmp, cut), features=AUDIO)


def wav_zero_length(tmp: Path, base: Base) -> None:
    def empty(path: Path) -> None:
        soundfile.write(str(path), np.zeros(0), RATE, subtype="PCM_16")
    train_on(tmp, wav_rows(tmp, empty), features=AUDIO)


def wav_shorter_than_a_frame(tmp: Path, base: Base) -> None:
    def short(path: Path) -> None:
        soundfile.write(str(path), np.zeros(80), RATE, subtype="PCM_16")  # 10 ms < 25 ms
    train_on(tmp, wav_rows(tmp, short), features=AUDIO)


def wav_missing(tmp: Path, base: Base) -> None:
    train_on(tmp, wav_rows(tmp, Path.unlink), features=AUDIO)


def wav_not_audio(tmp: Path, base: Base) -> None:
    train_on(tmp, wav_rows(tmp, lambda p: p.write_text("RIFF? no, a text file")), features=AUDIO)


def wav_wrong_rate(tmp: Path, base: Base) -> None:
    train_on(tmp, wav_rows(tmp), features={**AUDIO, "sample_rate": 16000, "resample": False})


def wav_segment_past_end(tmp: Path, base: Base) -> None:
    rows = wav_rows(tmp)
    train_on(tmp, [rows[0], {**rows[1], "start": 0.1, "end": 5.0}, rows[2]], features=AUDIO)


# ----------------------------------------------------------------------------- precomputed features
def npy_nan(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    feats = np.load(tmp / "u2.npy")
    feats[3, 1] = np.nan
    np.save(tmp / "u2.npy", feats)
    train_on(tmp, rows)


def npy_wrong_dimension(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    np.save(tmp / "u2.npy", np.zeros((10, DIM - 1), np.float32))
    train_on(tmp, rows, features={"type": "precomputed", "dim": DIM})


def npy_not_a_matrix(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    np.save(tmp / "u1.npy", np.zeros(10, np.float32))
    train_on(tmp, rows)


def mfc_truncated(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    values = np.zeros(13 * 10, ">f4")
    (tmp / "u1.mfc").write_bytes(np.array([values.size], ">i4").tobytes() + values.tobytes()[:-40])
    train_on(tmp, [rows[0], {**rows[1], "source": "u1.mfc"}])


# ----------------------------------------------------------------------------- images, strokes
def image_not_an_image(tmp: Path, base: Base) -> None:
    (tmp / "u0.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
    train_on(tmp, [{"id": "line0", "source": "u0.png", "text": "ab"}], features="image")


def image_missing(tmp: Path, base: Base) -> None:
    train_on(tmp, [{"id": "line0", "source": "gone.png", "text": "ab"}], features="image")


def strokes_bad_json(tmp: Path, base: Base) -> None:
    (tmp / "u0.json").write_text('{"strokes": [[[0, 0], [1, 1]], [[2, 2], [3')
    train_on(tmp, [{"id": "pen0", "source": "u0.json", "text": "ab"}], features="strokes")


def strokes_nan(tmp: Path, base: Base) -> None:
    np.savez(tmp / "u0.npz", points=np.array([[0, 0], [1, np.nan], [2, 1]]), lengths=np.array([3]))
    train_on(tmp, [{"id": "pen0", "source": "u0.npz", "text": "ab"}], features="strokes")


# ----------------------------------------------------------------------------- transcripts, vocabularies
def transcript_unknown_token(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("<blank>\n|\na\nb\n")  # no 'c'
    train_on(tmp, npy_corpus(tmp), data={"vocab": str(tmp / "tokens.txt")})


def transcript_empty(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], {**rows[1], "text": "   "}])


def transcript_holds_word_boundary(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], {**rows[1], "text": "a|b"}])


def transcript_ctc_infeasible(tmp: Path, base: Base) -> None:
    """Every transcript longer than its output frames: nothing to train on."""
    np.save(tmp / "u0.npy", np.zeros((3, DIM), np.float32))
    train_on(tmp, [{"id": "u0", "source": "u0.npy", "text": "abcabc"}])


def vocab_without_blank(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("|\na\nb\nc\n")
    train_on(tmp, npy_corpus(tmp), data={"vocab": str(tmp / "tokens.txt")})


def vocab_duplicate_token(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("<blank>\n|\na\nb\na\nc\n")
    train_on(tmp, npy_corpus(tmp), data={"vocab": str(tmp / "tokens.txt")})


def vocab_empty_line(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("<blank>\n|\n\na\nb\nc\n")
    train_on(tmp, npy_corpus(tmp), data={"vocab": str(tmp / "tokens.txt")})


# ----------------------------------------------------------------------------- YAML configs
def config_file(tmp: Path, base: Base, text: str) -> None:
    (tmp / "c.yaml").write_text(text)
    api.train(tmp / "c.yaml", tmp / "exp", echo=lambda _: None)


def yaml_typo(tmp: Path, base: Base) -> None:
    config_file(tmp, base, yaml.safe_dump({**base.config, "train": {"lrr": 0.1}}))


def yaml_negative_lr(tmp: Path, base: Base) -> None:
    config_file(tmp, base, yaml.safe_dump({**base.config, "train": {"lr": -0.1}}))


def yaml_syntax_error(tmp: Path, base: Base) -> None:
    config_file(tmp, base, "model:\n  num_layers: 1\n hidden_size: 4\n")


def yaml_wrong_type(tmp: Path, base: Base) -> None:
    config_file(tmp, base, yaml.safe_dump({**base.config, "model": {"hidden_size": "big"}}))


def yaml_python_tag(tmp: Path, base: Base) -> None:
    config_file(tmp, base, "train: !!python/object/apply:os.system ['echo pwned']\n")


def yaml_not_a_mapping(tmp: Path, base: Base) -> None:
    config_file(tmp, base, "- data\n- model\n")


# ----------------------------------------------------------------------------- command-line options
def cli_override_without_value(tmp: Path, base: Base) -> None:
    cli("train", write_yaml(tmp / "c.yaml", base.config), "--out", tmp / "exp", "-o", "train.lr")


def cli_unknown_device(tmp: Path, base: Base) -> None:
    cli("train", write_yaml(tmp / "c.yaml", base.config), "--out", tmp / "exp", "-o", "train.device=gpu")


def cli_bad_choice(tmp: Path, base: Base) -> None:
    cli("score", base.root / "train.jsonl", base.root / "train.jsonl", "--unit", "letters")


def cli_weights_not_numbers(tmp: Path, base: Base) -> None:
    cli("tune", base.checkpoint, base.root / "train.jsonl", "--weights", "0.2,high")


def cli_decode_override_outside_decode(tmp: Path, base: Base) -> None:
    cli("decode", base.checkpoint, base.root / "train.jsonl", "--out", tmp / "h.txt", "-o", "train.lr=1")


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


def checkpoint_runs_code(tmp: Path, base: Base) -> None:
    torch.save({"format": FORMAT, "config": {}, "hook": math.floor}, tmp / "evil.pt")  # a global: pickled by name
    api.decode(tmp / "evil.pt", base.root / "train.jsonl", device="cpu", progress=False)


def checkpoint_other_vocabulary_resume(tmp: Path, base: Base) -> None:
    run = spoiled_run(tmp, base, lambda b: b)
    (tmp / "tokens.txt").write_text("<blank>\n|\na\nb\nc\nd\n")
    data = {**base.config, "data": {**base.config["data"], "vocab": str(tmp / "tokens.txt")}}
    api.train(write_yaml(tmp / "c.yaml", data), run, resume=True, echo=lambda _: None)


def checkpoint_other_vocabulary_evaluate(tmp: Path, base: Base) -> None:
    np.save(tmp / "x.npy", np.zeros((20, DIM), np.float32))
    manifest = write_manifest(tmp / "dev.jsonl", [{"id": "x0", "source": "x.npy", "text": "abz"}])
    api.evaluate(base.checkpoint, manifest, device="cpu", progress=False)


def checkpoint_other_model_shape(tmp: Path, base: Base) -> None:
    run = spoiled_run(tmp, base, lambda b: b)
    api.train(write_yaml(tmp / "c.yaml", {**base.config, "model": {"num_layers": 1, "hidden_size": 8}}), run,
              resume=True, echo=lambda _: None)


def resume_without_a_run(tmp: Path, base: Base) -> None:
    api.train(write_yaml(tmp / "c.yaml", base.config), tmp / "fresh", resume=True, echo=lambda _: None)


def train_into_an_existing_run(tmp: Path, base: Base) -> None:
    api.train(write_yaml(tmp / "c.yaml", base.config), base.run, echo=lambda _: None)


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


def score_folding_characters(tmp: Path, base: Base) -> None:
    (tmp / "ref").write_text("u1 a b\n")
    api.score_files(tmp / "ref", tmp / "ref", unit="char", fold="timit39")


# ----------------------------------------------------------------------------- the catalogue
# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[tuple[Callable[[Path, Base], None], type[Exception], tuple[str, ...]]] = [
    (manifest_not_json, DataError, ("{tmp}/train.jsonl:2", "not valid JSON")),
    (manifest_duplicate_id, DataError, ("{tmp}/train.jsonl:3", "duplicate utterance id 'u0'", "first on line 1")),
    (manifest_missing_key, DataError, ("{tmp}/train.jsonl:2", "missing key(s) ['text']")),
    (manifest_unknown_key, DataError, ("{tmp}/train.jsonl:1", "unknown key(s) ['txt']", "valid keys")),
    (manifest_empty, DataError, ("{tmp}/train.jsonl", "holds no utterances")),
    (manifest_not_found, DataError, ("{tmp}/nowhere.jsonl", "seqlabel prepare")),
    (manifest_bad_segment, DataError, ("{tmp}/train.jsonl:2", "'u1'", "need 0 <= start < end")),
    (wav_truncated, DataError, ("'u1'", "{tmp}/u1.wav", "truncated", "copy or convert it again")),
    (wav_zero_length, DataError, ("'u1'", "{tmp}/u1.wav", "audio is empty")),
    (wav_shorter_than_a_frame, DataError, ("'u1'", "{tmp}/u1.wav", "too short for one 25.0 ms frame")),
    (wav_missing, DataError, ("'u1'", "{tmp}/u1.wav", "not found")),
    (wav_not_audio, DataError, ("'u1'", "{tmp}/u1.wav", "cannot read audio")),
    (wav_wrong_rate, DataError, ("'u0'", "8000 Hz", "features.sample_rate", "set features.resample: true")),
    (wav_segment_past_end, DataError, ("'u1'", "{tmp}/u1.wav", "segment end 5.0s is past the end")),
    (npy_nan, DataError, ("'u2'", "{tmp}/u2.npy", "non-finite feature values (first at frame 3)")),
    (npy_wrong_dimension, DataError, ("'u2'", "{tmp}/u2.npy", "5 feature dims, expected 6", "features.dim")),
    (npy_not_a_matrix, DataError, ("'u1'", "{tmp}/u1.npy", "(frames, dims)")),
    (mfc_truncated, DataError, ("'u1'", "{tmp}/u1.mfc", "header says 130 values", "truncated?")),
    (image_not_an_image, DataError, ("line0", "{tmp}/u0.png", "cannot read image")),
    (image_missing, DataError, ("line0", "{tmp}/gone.png", "not found")),
    (strokes_bad_json, DataError, ("pen0", "{tmp}/u0.json", "not a valid json stroke file")),
    (strokes_nan, DataError, ("pen0", "{tmp}/u0.npz", "non-finite coordinates")),
    (transcript_unknown_token, VocabError, ("'u2'", "token 'c' is not in the vocabulary")),
    (transcript_empty, DataError, ("'u1'", "empty transcript")),
    (transcript_holds_word_boundary, VocabError, ("'u1'", "'|'", "choose another data.word_boundary")),
    (transcript_ctc_infeasible, DataError, ("CTC-infeasible", "{tmp}/exp/skipped.tsv", "reduce model.subsampling")),
    (vocab_without_blank, VocabError, ("{tmp}/tokens.txt", "line 1 must be <blank>")),
    (vocab_duplicate_token, VocabError, ("{tmp}/tokens.txt", "duplicate tokens in vocabulary: ['a']")),
    (vocab_empty_line, VocabError, ("{tmp}/tokens.txt:3", "empty token")),
    (yaml_typo, ConfigError, ("{tmp}/c.yaml", "'train.lrr'", "did you mean 'train.lr'")),
    (yaml_negative_lr, ConfigError, ("{tmp}/c.yaml", "train.lr must be > 0, got -0.1")),
    (yaml_syntax_error, ConfigError, ("{tmp}/c.yaml", "not valid YAML", "line 3")),
    (yaml_wrong_type, ConfigError, ("{tmp}/c.yaml", "model.hidden_size must be a number", "'big'")),
    (yaml_python_tag, ConfigError, ("{tmp}/c.yaml", "not valid YAML", "python/object")),
    (yaml_not_a_mapping, ConfigError, ("{tmp}/c.yaml", "must be a mapping of sections")),
    (cli_override_without_value, click.ClickException, ("'train.lr'", "section.key=value")),
    (cli_unknown_device, click.ClickException, ("unknown device 'gpu'", "auto, cpu, cuda")),
    (cli_bad_choice, click.BadParameter, ("'letters' is not one of",)),
    (cli_weights_not_numbers, click.BadParameter, ("'0.2,high'", "comma-separated numbers")),
    (cli_decode_override_outside_decode, click.ClickException, ("train.lr=1", "only decode.* settings")),
    (checkpoint_truncated, CheckpointError, ("{tmp}/run/last.pt", "truncated", "use {tmp}/run/best.pt instead")),
    (checkpoint_bit_flip, CheckpointError, ("{tmp}/run/last.pt is corrupt", "checksum", "use {tmp}/run/best.pt")),
    (checkpoint_foreign, CheckpointError, ("{tmp}/model.pt", "not a seqlabel checkpoint")),
    (checkpoint_runs_code, CheckpointError, ("{tmp}/evil.pt refused", "math.floor", "written by seqlabel train")),
    (checkpoint_other_vocabulary_resume, CheckpointError, ("{tmp}/run/last.pt", "another vocabulary",
                                                          "{tmp}/tokens.txt", "new --out")),
    (checkpoint_other_vocabulary_evaluate, VocabError, ("{tmp}/dev.jsonl", "'x0'", "token 'z'", "{ckpt}",
                                                        "another corpus")),
    (checkpoint_other_model_shape, CheckpointError, ("{tmp}/run/last.pt", "does not match this config")),
    (resume_without_a_run, CheckpointError, ("--resume: no {tmp}/fresh/last.pt", "train without --resume")),
    (train_into_an_existing_run, ConfigError, ("already holds a training run", "pass --resume")),
    (arpa_truncated, DataError, ("{tmp}/lm.arpa:", "missing \\end\\", "truncated?")),
    (arpa_bad_probability, DataError, ("{tmp}/lm.arpa:7", "bad log10 probability '0.4'")),
    (arpa_missing, DataError, ("LM file not found: {tmp}/lm.arpa",)),
    (lexicon_word_with_boundary, DataError, ("{tmp}/words.txt", "'c|a'", "word-boundary")),
    (lexicon_not_utf8, DataError, ("{tmp}/words.txt", "not UTF-8")),
    (lm_train_no_text, DataError, ("no text to train a language model on",)),
    (score_duplicate_reference, DataError, ("{tmp}/ref:3", "duplicate utterance id 'u1'")),
    (score_missing_hypothesis, DataError, ("{tmp}/hyp against {tmp}/ref", "['u2']", "--allow-missing")),
    (score_hypothesis_without_reference, DataError, ("{tmp}/hyp against {tmp}/ref", "['u9']", "no reference")),
    (score_folding_characters, ConfigError, ("'timit39'", "chars")),
]


def test_the_catalogue_covers_every_entry_point() -> None:
    names = [case.__name__ for case, _, _ in CASES]
    assert len(names) == len(set(names)) >= 25
    kinds = {n.split("_")[0] for n in names}
    assert kinds >= {"manifest", "wav", "npy", "image", "strokes", "transcript", "vocab", "yaml", "cli",
                     "checkpoint", "arpa", "lexicon", "score"}


@pytest.mark.parametrize("case, error, fragments", CASES, ids=[c.__name__ for c, _, _ in CASES])
def test_bad_input(case: Callable[[Path, Base], None], error: type[Exception], fragments: tuple[str, ...],
                   base: Base, tmp_path: Path) -> None:
    with pytest.raises(error) as caught:
        case(tmp_path, base)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment.format(tmp=tmp_path, ckpt=base.checkpoint) in message, (fragment, message)
    assert "Traceback" not in message
