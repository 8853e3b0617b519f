"""Python API calls with arguments of the wrong kind (issue 13): a list where a manifest path is expected,
None for a checkpoint, a number where speakers are expected. Each is refused naming the function (or
recipe), the argument and what it expects, never a TypeError traceback from inside pathlib or torch."""
from __future__ import annotations

from pathlib import Path

import pytest
from bad_input import Base, Row, check_case, ids

from seqlabel import api
from seqlabel.errors import ConfigError


def api_decode_list_for_manifest(tmp: Path, base: Base) -> None:
    api.decode(base.checkpoint, [str(base.root / "u0.npy")], device="cpu", progress=False)


def api_evaluate_none_checkpoint(tmp: Path, base: Base) -> None:
    api.evaluate(None, base.root / "train.jsonl", device="cpu", progress=False)


def api_prepare_int_speakers(tmp: Path, base: Base) -> None:
    api.prepare("fsdd", tmp, tmp / "out", test_speakers=5)


def api_prepare_corpus_not_a_name(tmp: Path, base: Base) -> None:
    api.prepare(Path("fsdd"), tmp, tmp / "out")


def api_transcribe_none_inputs(tmp: Path, base: Base) -> None:
    api.transcribe(base.checkpoint, None, device="cpu")


def api_align_manifest_as_dict(tmp: Path, base: Base) -> None:
    api.align(base.checkpoint, {"id": "u0", "source": "u0.npy", "text": "ab"}, device="cpu", progress=False)


def api_score_files_lines_for_a_file(tmp: Path, base: Base) -> None:
    api.score_files(["u1 a b"], ["u1 a b"])


def api_train_lm_number(tmp: Path, base: Base) -> None:
    api.train_lm(3, tmp / "lm.arpa")


# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[Row] = [
    (api_decode_list_for_manifest, ConfigError, ("api.decode: manifest must be the path of a JSONL manifest",
                                                 "got list", "u0.npy", "use api.transcribe(checkpoint, files)")),
    (api_evaluate_none_checkpoint, ConfigError, ("api.evaluate: checkpoint must be the path of a checkpoint",
                                                 "got None")),
    (api_prepare_int_speakers, ConfigError, ("corpus 'fsdd'", "option test_speakers must be a string or a list of "
                                             "strings", "got 5 (int)")),
    (api_prepare_corpus_not_a_name, ConfigError, ("api.prepare: corpus must be a recipe name", "PosixPath")),
    (api_transcribe_none_inputs, ConfigError, ("api.transcribe: inputs must be", "a path or a list of paths",
                                               "got None")),
    (api_align_manifest_as_dict, ConfigError, ("api.align: manifest must be the path of a JSONL manifest",
                                               "got dict")),
    (api_score_files_lines_for_a_file, ConfigError, ("score_files: ref must be the path of a Kaldi text file",
                                                     "got list ['u1 a b']")),
    (api_train_lm_number, ConfigError, ("api.train_lm: manifests must be", "got int 3")),
]


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)
