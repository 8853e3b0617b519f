"""Bad inputs to scoring (score, compare, evaluate), to the vocabulary's characters and to LM training:
each case asserts the error type and that the message names the culprit (file, utterance, option) and,
where there is one, the fix (see ``bad_input.py``)."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pytest
from bad_input import DIM, Base, Row, check_case, cli, ids, npy_corpus, train_on, write_manifest

from seqlabel import api
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, DataError, VocabError


def texts(tmp: Path, **files: str) -> list[Path]:
    paths = []
    for name, content in files.items():
        (tmp / name).write_text(content, encoding="utf-8")
        paths.append(tmp / name)
    return paths


# ----------------------------------------------------------------------------- nothing to score
def score_two_empty_files(tmp: Path, base: Base) -> None:
    cli("score", *texts(tmp, ref="", hyp=""))


def score_references_without_tokens(tmp: Path, base: Base) -> None:
    api.score_files(*texts(tmp, ref="u1\nu2\n", hyp="u1 a\nu2\n"))


def compare_empty_reference_file(tmp: Path, base: Base) -> None:
    cli("compare", *texts(tmp, ref="", a="u1 a\n", b="u1 b\n"))


def evaluate_empty_references(tmp: Path, base: Base) -> None:
    np.save(tmp / "x.npy", np.zeros((12, DIM), np.float32))
    manifest = write_manifest(tmp / "test.jsonl", [{"id": "x0", "source": "x.npy", "text": ""},
                                                   {"id": "x1", "source": "x.npy", "text": "  "}])
    api.evaluate(base.checkpoint, manifest, device="cpu", progress=False)


# ----------------------------------------------------------------------------- options
def score_unknown_unit(tmp: Path, base: Base) -> None:
    api.score_files(*texts(tmp, ref="u1 a\n", hyp="u1 a\n"), unit="letters")


def compare_unknown_unit(tmp: Path, base: Base) -> None:
    api.compare_files(*texts(tmp, ref="u1 a\n", a="u1 a\n", b="u1 b\n"), unit="letters")


def score_empty_word_boundary(tmp: Path, base: Base) -> None:  # each utterance one word: a wrong WER, silently
    cli("score", *texts(tmp, ref="u1 a | b\n", hyp="u1 a | c\n"), "--word-boundary", "")


def compare_space_word_boundary(tmp: Path, base: Base) -> None:
    ref, hyp = texts(tmp, ref="u1 a | b\n", hyp="u1 a | c\n")
    cli("compare", ref, hyp, hyp, "--word-boundary", " ")


def score_unknown_normal_form(tmp: Path, base: Base) -> None:
    api.score_files(*texts(tmp, ref="u1 a\n", hyp="u1 a\n"), normalize="nfkc")


# ----------------------------------------------------------------------------- characters that are not tokens
def vocab_bell_in_a_transcript(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], {**rows[1], "text": "a\x07b"}])


def vocab_next_line_in_a_transcript(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], rows[1], {**rows[2], "text": "ca\x85b"}], data={"unit": "char"})


def vocab_file_with_a_control_character(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("<blank>\n|\na\n\x1c\nb\n", encoding="utf-8")
    Vocab.load(tmp / "tokens.txt")


# ----------------------------------------------------------------------------- LM training
def lm_train_one_missing_path(tmp: Path, base: Base) -> None:
    api.train_lm(str(tmp / "missing.txt"))  # one path as a str: not its characters


# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[Row] = [
    (score_two_empty_files, click.ClickException, ("nothing to score", "{tmp}/ref holds no utterances",
                                                   "{tmp}/hyp none either")),
    (score_references_without_tokens, DataError, ("{tmp}/ref", "all 2 references are empty",
                                                   "references that hold tokens")),
    (compare_empty_reference_file, click.ClickException, ("nothing to score", "{tmp}/ref holds no utterances")),
    (evaluate_empty_references, DataError, ("references of {tmp}/test.jsonl", "all 2 references are empty")),
    (score_unknown_unit, ConfigError, ("'letters'", "char, phone, word")),
    (compare_unknown_unit, ConfigError, ("'letters'", "char, phone, word")),
    (score_empty_word_boundary, click.BadParameter, ("one non-space character", "''")),
    (compare_space_word_boundary, click.BadParameter, ("one non-space character", "' '")),
    (score_unknown_normal_form, ConfigError, ("'nfkc'", "nfc, nfd, none")),
    (vocab_bell_in_a_transcript, VocabError, ("utterance 'u1'", "U+0007 (BELL)", "remove them from the manifest")),
    (vocab_next_line_in_a_transcript, VocabError, ("utterance 'u2'", "U+0085 (NEXT LINE)")),
    (vocab_file_with_a_control_character, VocabError, ("{tmp}/tokens.txt:4", "U+001C", "remove that line")),
    (lm_train_one_missing_path, DataError, ("text file not found: {tmp}/missing.txt",)),
]


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)
