"""Pseudo-labels for self-training: which utterances the systems agree on, their text, the files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import invoke, ok, refused

from seqlabel.data.manifest import read_manifest
from seqlabel.data.pseudo import SystemOutput, read_system, select
from seqlabel.data.transcripts import write_kaldi_text
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, DataError
from seqlabel.types import Utterance

CHARS = Vocab([], "char", "|")


def chars(text: str) -> list[str]:
    """'two four' -> t w o | f o u r (a character model's tokens)."""
    return list(text.replace(" ", "|"))


def utts(*ids: str, speaker: str = "ann") -> list[Utterance]:
    return [Utterance(i, f"/audio/{i}.wav", "reference never read", speaker, duration=1.5) for i in ids]


def system(hyps: dict[str, str], sure: dict[str, float] | None = None) -> SystemOutput:
    return SystemOutput({u: chars(t) for u, t in hyps.items()}, sure)


def test_an_utterance_is_kept_when_enough_systems_agree() -> None:
    a = system({"u1": "two", "u2": "four five", "u3": "nine"})
    b = system({"u1": "two", "u2": "for five", "u3": "nine"})
    c = system({"u1": "to", "u2": "four five", "u3": "nine"})
    every = select(utts("u1", "u2", "u3"), [a, b, c], CHARS)
    assert [(u.id, u.text) for u in every.kept] == [("u3", "nine")]
    assert every.dropped["disagree"] == 2 and every.total == 3
    two = select(utts("u1", "u2", "u3"), [a, b, c], CHARS, min_agree=2)
    assert [(u.id, u.text) for u in two.kept] == [("u1", "two"), ("u2", "four five"), ("u3", "nine")]


def test_kept_utterances_keep_every_field_but_the_text() -> None:
    (kept,) = select(utts("u1", speaker="bob"), [system({"u1": "two"})], CHARS).kept
    assert kept == Utterance("u1", "/audio/u1.wav", "two", "bob", duration=1.5)


def test_ties_go_to_the_earliest_system() -> None:
    a, b = system({"u1": "two"}), system({"u1": "to"})
    assert select(utts("u1"), [a, b], CHARS, min_agree=1).kept[0].text == "two"
    assert select(utts("u1"), [b, a], CHARS, min_agree=1).kept[0].text == "to"


def test_empty_and_missing_hypotheses_are_never_kept() -> None:
    a = system({"u1": "", "u2": "two"})
    labels = select(utts("u1", "u2", "u3"), [a, a], CHARS, min_agree=1)
    assert [u.id for u in labels.kept] == ["u2"]
    assert (labels.dropped["empty"], labels.dropped["no hypothesis"]) == (1, 1)
    assert "kept 1 of 3 utterances (33.3%); dropped: 1 no hypothesis, 1 empty" in labels.summary()


def test_min_conf_takes_the_mean_of_the_agreeing_systems() -> None:
    a = system({"u1": "two", "u2": "nine"}, {"u1": 0.9, "u2": 0.9})
    b = system({"u1": "two", "u2": "nine"}, {"u1": 0.5, "u2": 0.8})
    c = system({"u1": "to", "u2": "nine"}, {"u1": 0.99, "u2": 0.2})  # u2: mean of 0.9, 0.8, 0.2 = 0.633
    labels = select(utts("u1", "u2"), [a, b, c], CHARS, min_agree=2, min_conf=0.65)
    assert [u.id for u in labels.kept] == ["u1"]  # u1: mean of a and b (0.7); c said something else
    assert labels.dropped["low confidence"] == 1
    assert [u.id for u in select(utts("u1", "u2"), [a, b, c], CHARS, 2, min_conf=0.6).kept] == ["u1", "u2"]


def test_phone_hypotheses_become_space_separated_text() -> None:
    phones = SystemOutput({"u1": ["sil", "t", "uw", "sil"]})
    assert select(utts("u1"), [phones], Vocab([], "phone")).kept[0].text == "sil t uw sil"
    with pytest.raises(DataError, match="'u1': hypothesis token 'sil' is not one character.*--unit phone"):
        select(utts("u1"), [phones], CHARS)


def test_impossible_settings_are_refused() -> None:
    a = system({"u1": "two"})
    with pytest.raises(ConfigError, match="between 1 and the number of systems \\(2\\), got 3"):
        select(utts("u1"), [a, a], CHARS, min_agree=3)
    with pytest.raises(ConfigError, match="--min-conf needs confidences: give CTM files"):
        select(utts("u1"), [a, a], CHARS, min_conf=0.5)


def test_a_ctm_gives_tokens_in_time_order_and_the_least_sure_one(tmp_path: Path) -> None:
    ctm = tmp_path / "hyp.ctm"
    ctm.write_text("u1 1 0.200 0.100 w 0.700\nu1 1 0.100 0.100 t 0.950\nu1 1 0.300 0.100 o 0.900\n"
                   "u2 1 0.100 0.100 x 0.400\n", encoding="utf-8")
    assert read_system(ctm) == SystemOutput({"u1": ["t", "w", "o"], "u2": ["x"]}, {"u1": 0.7, "u2": 0.4})


def write_manifest_lines(path: Path, ids: list[str]) -> Path:
    lines = [json.dumps({"id": i, "source": f"/audio/{i}.wav", "text": "ref", "speaker": i[:3]}) for i in ids]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_pseudolabel_from_the_command_line(tmp_path: Path) -> None:
    manifest = write_manifest_lines(tmp_path / "new.jsonl", ["ann-1", "ann-2", "bob-1"])
    a = write_kaldi_text(tmp_path / "a.txt", [("ann-1", chars("two")), ("ann-2", chars("six")), ("bob-1", chars("on"))])
    b = write_kaldi_text(tmp_path / "b.txt", [("ann-1", chars("two")), ("ann-2", chars("sex")), ("bob-1", chars("1"))])
    out = tmp_path / "pseudo.jsonl"
    result = ok(invoke("pseudolabel", manifest, a, b, "--out", out))
    assert "kept 1 of 3 utterances (33.3%); dropped: 2 disagree; fewest kept: bob 0/1, ann 1/2" in result.output
    assert [(u.id, u.text, u.speaker) for u in read_manifest(out)] == [("ann-1", "two", "ann")]

    stray = write_kaldi_text(tmp_path / "stray.txt", [("cat-9", chars("two"))])
    refused(invoke("pseudolabel", manifest, a, stray, "--out", out), "stray.txt: 1 utterance(s) not in",
            "'cat-9'")
    refused(invoke("pseudolabel", manifest, a, b, "--out", manifest), "is one of the inputs")
    empty = write_kaldi_text(tmp_path / "empty.txt", [("ann-1", [])])
    refused(invoke("pseudolabel", manifest, empty, "--out", out), "no utterance of", "lower --min-agree")
    refused(invoke("pseudolabel", manifest, a, b, "--out", out, "--min-agree", "3"), "between 1 and")
