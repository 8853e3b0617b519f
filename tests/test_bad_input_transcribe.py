"""Bad input to ``seqlabel transcribe`` / ``api.transcribe`` and the in-memory ``Recognizer`` calls, with the
catalogue's precomputed-feature model (it reads ``.npy`` / ``.mfc`` files): paths refused before the model
runs, outputs that cannot be written, unreadable files counted in the exit status, arrays of the wrong
kind. Each case asserts the error type and that the message names the culprit and the fix."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pytest
from bad_input import DIM, Base, Row, check_case, cli, ids

from seqlabel import api
from seqlabel.errors import ConfigError, DataError
from seqlabel.inference.recognizer import Recognizer


def transcribe_missing_path(tmp: Path, base: Base) -> None:
    api.transcribe(base.checkpoint, [base.root / "u0.npy", tmp / "nope.npy"], device="cpu")


def transcribe_folder_without_inputs(tmp: Path, base: Base) -> None:
    (tmp / "in" / "sub").mkdir(parents=True)
    (tmp / "in" / "sub" / "notes.txt").write_text("no features here")
    np.save(tmp / "in" / ".hidden.npy", np.zeros((5, DIM), np.float32))
    api.transcribe(base.checkpoint, [tmp / "in"], device="cpu")


def transcribe_file_of_another_type(tmp: Path, base: Base) -> None:
    (tmp / "a.wav").write_bytes(b"RIFF")
    api.transcribe(base.checkpoint, [tmp / "a.wav"], device="cpu")


def transcribe_given_a_manifest(tmp: Path, base: Base) -> None:
    api.transcribe(base.checkpoint, [base.root / "train.jsonl"], device="cpu")


def transcribe_unreadable_file(tmp: Path, base: Base) -> None:
    np.save(tmp / "nan.npy", np.full((5, DIM), np.nan, np.float32))
    cli("transcribe", base.checkpoint, base.root / "u0.npy", tmp / "nan.npy", base.root / "u1.npy",
        "--out", tmp / "out.txt", "--device", "cpu")


def transcribe_wrong_feature_dimension(tmp: Path, base: Base) -> None:
    np.save(tmp / "five.npy", np.zeros((5, DIM - 1), np.float32))
    cli("transcribe", base.checkpoint, tmp / "five.npy", "--device", "cpu")


def transcribe_out_is_a_folder(tmp: Path, base: Base) -> None:
    api.transcribe(base.checkpoint, [base.root / "u0.npy"], device="cpu", out=tmp)


def transcribe_out_is_an_input(tmp: Path, base: Base) -> None:
    np.save(tmp / "x.npy", np.zeros((5, DIM), np.float32))
    api.transcribe(base.checkpoint, [tmp / "x.npy"], device="cpu", out=tmp / "x.npy")


def transcribe_bad_format(tmp: Path, base: Base) -> None:
    cli("transcribe", base.checkpoint, base.root / "u0.npy", "--format", "csv")


def transcribe_array_to_a_feature_model(tmp: Path, base: Base) -> None:
    Recognizer.from_checkpoint(base.checkpoint, "cpu").transcribe_array(np.zeros(800, np.float32), 8000)


def transcribe_features_wrong_shape(tmp: Path, base: Base) -> None:
    Recognizer.from_checkpoint(base.checkpoint, "cpu").transcribe_features(np.zeros(DIM, np.float32), "one-frame")


# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[Row] = [
    (transcribe_missing_path, DataError, ("not found: {tmp}/nope.npy", "feature files (.npy, .mfc)")),
    (transcribe_folder_without_inputs, DataError, ("{tmp}/in: no feature files (.npy, .mfc) in this folder",)),
    (transcribe_file_of_another_type, DataError, ("{tmp}/a.wav is not one of this checkpoint's inputs",
                                                  "feature files (.npy, .mfc)")),
    (transcribe_given_a_manifest, DataError, ("train.jsonl looks like a manifest", "seqlabel decode CHECKPOINT")),
    (transcribe_unreadable_file, click.ClickException, ("1 of 3 files could not be transcribed",)),
    (transcribe_wrong_feature_dimension, click.ClickException, ("1 of 1 files could not be transcribed",)),
    (transcribe_out_is_a_folder, ConfigError, ("--out {tmp} is a folder", "give a file name")),
    (transcribe_out_is_an_input, ConfigError, ("--out {tmp}/x.npy is one of the inputs",)),
    (transcribe_bad_format, click.BadParameter, ("'csv' is not one of 'text', 'kaldi', 'jsonl'",)),
    (transcribe_array_to_a_feature_model, ConfigError, ("needs a checkpoint with features.type fbank or mfcc",
                                                        "use Recognizer.transcribe_features")),
    (transcribe_features_wrong_shape, DataError, ("'one-frame'", "expected a non-empty (frames, dims) array")),
]


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)


def test_unreadable_files_are_named_on_stderr_and_the_rest_written(bad_input_base: Base, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    np.save(tmp_path / "nan.npy", np.full((5, DIM), np.nan, np.float32))
    np.save(tmp_path / "five.npy", np.zeros((5, DIM - 1), np.float32))
    root = bad_input_base.root
    inputs = [root / "u0.npy", tmp_path / "nan.npy", tmp_path / "five.npy", root / "u1.npy"]
    results = api.transcribe(bad_input_base.checkpoint, inputs, device="cpu", out=tmp_path / "out.txt")
    assert [r.ok for r in results] == [True, False, False, True]
    assert "non-finite feature values" in results[1].error and "5 feature dims, expected 6" in results[2].error
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [f"skipped {tmp_path}/nan.npy",
                                                                       f"skipped {tmp_path}/five.npy"]
    written = [line.split("\t")[0] for line in (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()]
    assert written == [str(inputs[0]), str(inputs[3])]
