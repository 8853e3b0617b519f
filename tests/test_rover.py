"""System combination by voting (ROVER): alignment into a word network, the vote, ties, files."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import invoke, ok, refused

from seqlabel.data.transcripts import read_kaldi_text, write_kaldi_text
from seqlabel.scoring.rover import align_into, combine, split_words


def chars(text: str) -> list[str]:
    """'two four' -> t w o | f o u r (a character model's tokens)."""
    return list(text.replace(" ", "|"))


def test_each_position_takes_the_word_most_systems_have() -> None:
    # every system is wrong somewhere, the majority nowhere
    hyps = [chars("the cat sat"), chars("the cap sat"), chars("a cat sat")]
    assert combine(hyps) == chars("the cat sat")
    # isolated words: a majority vote over whole answers, spelled as the majority spells it
    assert combine([chars("wo"), chars("two"), chars("two"), chars("tree")]) == chars("two")


def test_inserted_and_deleted_words_are_outvoted() -> None:
    assert combine([chars("a b"), chars("a q b"), chars("a b")]) == chars("a b")  # one system inserts q
    assert combine([chars("a b c"), chars("a c"), chars("a b c")]) == chars("a b c")  # one drops b
    assert combine([chars("a c"), chars("a b c"), chars("a b c")]) == chars("a b c")  # the first drops it
    assert combine([chars("a c"), chars("a b c"), chars("a c")]) == chars("a c")  # no word wins: nothing


def test_the_network_holds_one_entry_per_system_and_slot() -> None:
    network = [[("a",)], [("b",)]]
    merged = align_into(network, [("a",), ("x",), ("b",)], systems_before=1)
    assert merged == [[("a",), ("a",)], [None, ("x",)], [("b",), ("b",)]]
    merged = align_into(merged, [("b",)], systems_before=2)  # skips a, and x's slot (None there: free)
    assert merged == [[("a",), ("a",), None], [None, ("x",), None], [("b",), ("b",), ("b",)]]


def test_ties_go_to_the_earliest_system_and_weights_break_them() -> None:
    assert combine([chars("one"), chars("two")]) == chars("one")
    assert combine([chars("two"), chars("one")]) == chars("two")
    assert combine([chars("one"), chars("two")], weights=[1.0, 1.5]) == chars("two")
    assert combine([chars("x"), chars("y"), chars("z"), chars("y")], weights=[2.5, 1, 1, 1]) == chars("x")


def test_by_token_votes_on_each_token() -> None:
    hyps = [["sil", "ah", "b", "sil"], ["sil", "aa", "b", "sil"], ["sil", "ah", "p", "sil"]]
    assert combine(hyps, by="token") == ["sil", "ah", "b", "sil"]
    assert split_words(["|", "a", "|", "|", "b", "c", "|"], "|") == [("a",), ("b", "c")]
    assert combine([[], [], chars("a")]) == []  # two systems say nothing


def test_combine_files_from_the_command_line(tmp_path: Path) -> None:
    refs = {"u1": "two", "u2": "four five", "u3": "nine"}
    systems = [{"u1": "two", "u2": "four fife", "u3": "none"},
               {"u1": "to", "u2": "for five", "u3": "nine"},
               {"u1": "two", "u2": "four five", "u3": "nine"}]
    files = [write_kaldi_text(tmp_path / f"hyp{s}.txt", [(u, chars(t)) for u, t in hyps.items()])
             for s, hyps in enumerate(systems)]
    out = tmp_path / "rover.txt"
    result = ok(invoke("combine", *files, "--out", out))
    assert "combined 3 systems' hypotheses of 3 utterances" in result.output
    assert read_kaldi_text(out) == {u: chars(t) for u, t in refs.items()}
    ok(invoke("combine", *files[:2], "--out", out, "--weights", "1,2"))
    assert read_kaldi_text(out) == {u: chars(t) for u, t in systems[1].items()}

    write_kaldi_text(tmp_path / "short.txt", [("u1", chars("two"))])
    refused(invoke("combine", files[0], tmp_path / "short.txt", "--out", out), "short.txt lacks 2 of",
            "every system must transcribe the same utterances")
    refused(invoke("combine", files[0], "--out", out), "at least 2 systems")
    refused(invoke("combine", *files, "--out", out, "--weights", "1,2"), "one positive weight per hypothesis file (3)")
    refused(invoke("combine", *files, "--out", files[0]), "is one of the inputs")


@pytest.mark.parametrize("by", ["word", "token"])
def test_one_system_or_identical_systems_change_nothing(by: str) -> None:
    hyp = chars("seven eight nine")
    assert combine([hyp], by=by) == hyp and combine([hyp, hyp, hyp], by=by) == hyp
