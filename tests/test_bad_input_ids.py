"""Manifest lines that would give silently wrong results (issue 13): utterance ids that Kaldi text, CTM and
score files cannot hold (a space made evaluate say CER 112.50% where scoring its own files said 90.00%),
ids that are not strings (null became "None"), and fields of the wrong JSON type. Each is refused when the
manifest is read, naming file:line, the id or field, and the fix (see ``bad_input.py``)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from bad_input import Base, Row, check_case, ids, npy_corpus, train_on, write_manifest

from seqlabel import api
from seqlabel.errors import DataError


def with_line(tmp: Path, line: str, index: int = 1) -> Path:
    """A manifest of the catalogue's .npy corpus with line ``index`` (from 0) replaced by ``line``."""
    rows: list = npy_corpus(tmp)
    rows[index] = line
    return write_manifest(tmp / "test.jsonl", rows)


def spoiled(tmp: Path, index: int = 1, **fields: object) -> Path:
    rows = npy_corpus(tmp)
    return with_line(tmp, json.dumps({**rows[index], **fields}), index)


def decode(base: Base, manifest: Path) -> None:
    api.decode(base.checkpoint, manifest, device="cpu", progress=False)


# ----------------------------------------------------------------------------- utterance ids
def manifest_id_with_space(tmp: Path, base: Base) -> None:
    api.evaluate(base.checkpoint, spoiled(tmp, id="u1 take2"), tmp / "eval", device="cpu", progress=False)


def manifest_id_with_newline(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, id="u1\nu9"))


def manifest_id_with_tab(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [*rows[:2], {**rows[2], "id": "u2\tb"}])


def manifest_id_empty(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, id=""))


def manifest_id_null(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, id=None))


def manifest_id_list(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, id=["u1", "u2"]))


def manifest_id_float(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, id=1.0))


# ----------------------------------------------------------------------------- fields of the wrong type
def manifest_start_not_a_number(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, start="abc"))


def manifest_duration_not_a_number(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], {**rows[1], "duration": "long"}, *rows[2:]])


def manifest_duration_negative(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, duration=-2.5))


def manifest_num_frames_fraction(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, num_frames=12.5))


def manifest_source_not_a_string(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, source=["u1.npy"]))


def manifest_speaker_not_a_string(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, speaker={"name": "ann"}))


def manifest_end_true(tmp: Path, base: Base) -> None:
    decode(base, spoiled(tmp, end=True))


# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[Row] = [
    (manifest_id_with_space, DataError, ("{tmp}/test.jsonl:2", "utterance id 'u1 take2'", "SPACE (U+0020)",
                                         "scored as the wrong words", "'u1_take2'")),
    (manifest_id_with_newline, DataError, ("{tmp}/test.jsonl:2", "'u1\\nu9'", "U+000A", "without white space")),
    (manifest_id_with_tab, DataError, ("{tmp}/train.jsonl:3", "'u2\\tb'", "U+0009", "'u2_b'")),
    (manifest_id_empty, DataError, ("{tmp}/test.jsonl:2", "'id' is empty", "non-empty id")),
    (manifest_id_null, DataError, ("{tmp}/test.jsonl:2", "'id' must be a string, got null", '"id": "spk1-utt001"')),
    (manifest_id_list, DataError, ("{tmp}/test.jsonl:2", "'id' must be a string, got list [\"u1\", \"u2\"]")),
    (manifest_id_float, DataError, ("{tmp}/test.jsonl:2", "'id' must be a string, got float 1.0")),
    (manifest_start_not_a_number, DataError, ("{tmp}/test.jsonl:2", "utterance 'u1'", "'start' must be seconds",
                                              'got "abc"')),
    (manifest_duration_not_a_number, DataError, ("{tmp}/train.jsonl:2", "utterance 'u1'", "'duration' must be seconds",
                                                 'got "long"', "or left out")),
    (manifest_duration_negative, DataError, ("{tmp}/test.jsonl:2", "'duration' must be seconds, a number >= 0",
                                             "got -2.5")),
    (manifest_num_frames_fraction, DataError, ("{tmp}/test.jsonl:2", "'num_frames' must be a whole number", "12.5")),
    (manifest_source_not_a_string, DataError, ("{tmp}/test.jsonl:2", "'source' must be a non-empty string")),
    (manifest_speaker_not_a_string, DataError, ("{tmp}/test.jsonl:2", "'speaker' must be a string",
                                                '"name": "ann"')),
    (manifest_end_true, DataError, ("{tmp}/test.jsonl:2", "'end' must be seconds", "got true")),
]


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)


def test_refused_ids_leave_no_output(bad_input_base: Base, tmp_path: Path) -> None:
    """The evaluation that used to say CER 112.50% writes nothing now: no folder, no ref.txt."""
    with pytest.raises(DataError):
        manifest_id_with_space(tmp_path, bad_input_base)
    assert not (tmp_path / "eval").exists()

