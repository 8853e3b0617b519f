"""System combination by voting (ROVER): alignment into a word network, the vote, ties, files."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import invoke, ok, refused

from seqlabel.data.transcripts import read_kaldi_text, write_kaldi_text
from seqlabel.scoring.rover import align_into, combine, split_words, vote


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


def confs(text: str, *word_confs: float) -> list[float]:
    """One confidence per token of chars(text): each word's tokens get its confidence, boundaries 1."""
    out: list[float] = []
    for k, word in enumerate(text.split()):
        out += ([1.0] if k else []) + [word_confs[k]] * len(word)
    return out


def test_confidence_voting_mixes_counts_and_confidences() -> None:
    hyps = [chars("a cat"), chars("a cap"), chars("a cap")]
    sure_cat = [confs("a cat", 1, 0.9), confs("a cap", 1, 0.2), confs("a cap", 1, 0.3)]
    # cap: 0.5 * 2/3 + 0.5 * 0.25 = 0.458; cat: 0.5 * 1/3 + 0.5 * 0.9 = 0.617
    assert combine(hyps, confidences=sure_cat, method="avgconf", alpha=0.5) == chars("a cat")
    assert combine(hyps, confidences=sure_cat, method="avgconf", alpha=1.0) == chars("a cap")  # counts alone
    assert combine(hyps) == chars("a cap")
    # maxconf takes cap's best (0.85): 0.5 * 2/3 + 0.5 * 0.85 = 0.758 > 0.617; avgconf's mean is 0.475
    one_sure_cap = [confs("a cat", 1, 0.9), confs("a cap", 1, 0.1), confs("a cap", 1, 0.85)]
    assert combine(hyps, confidences=one_sure_cap, method="maxconf", alpha=0.5) == chars("a cap")
    assert combine(hyps, confidences=one_sure_cap, method="avgconf", alpha=0.5) == chars("a cat")
    # a word's confidence is its least sure token's
    low_token = [confs("a cat", 1, 0.9), confs("a cap", 1, 0.2), confs("a cap", 1, 0.3)]
    low_token[0][-1] = 0.05  # the t of cat
    assert combine(hyps, confidences=low_token, method="avgconf", alpha=0.5) == chars("a cap")


def test_null_conf_decides_whether_a_lone_word_stays() -> None:
    hyps = [chars("a b"), chars("a"), chars("a")]
    c = [confs("a b", 1, 0.9), confs("a", 1), confs("a", 1)]
    # b: 0.5 * 1/3 + 0.5 * 0.9 = 0.617; nothing: 0.5 * 2/3 + 0.5 * null_conf
    assert combine(hyps, confidences=c, method="avgconf", alpha=0.5, null_conf=0.5) == chars("a b")  # 0.583
    assert combine(hyps, confidences=c, method="avgconf", alpha=0.5, null_conf=0.7) == chars("a")  # 0.683
    with pytest.raises(ValueError, match="one confidence per token"):
        combine(hyps, confidences=c[:2], method="avgconf")


def write_ctm_lines(path: Path, hyps: dict[str, tuple[str, list[float]]]) -> Path:
    lines = [f"{u} 1 {0.1 * k:.3f} 0.100 {tok} {conf:.3f}"
             for u, (text, cs) in hyps.items() for k, (tok, conf) in enumerate(zip(chars(text), cs))]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_combine_ctm_files_with_confidences(tmp_path: Path) -> None:
    a = write_ctm_lines(tmp_path / "a.ctm", {"u1": ("two", confs("two", 0.95)), "u2": ("nine", confs("nine", 0.9))})
    b = write_ctm_lines(tmp_path / "b.ctm", {"u1": ("to", confs("to", 0.3))})  # u2: left empty by b
    c = write_ctm_lines(tmp_path / "c.ctm", {"u1": ("to", confs("to", 0.4)), "u2": ("nine", confs("nine", 0.8))})
    out = tmp_path / "rover.txt"
    ok(invoke("combine", a, b, c, "--out", out))  # counts: to wins u1; nine has 2 of 3 in u2
    assert read_kaldi_text(out) == {"u1": chars("to"), "u2": chars("nine")}
    ok(invoke("combine", a, b, c, "--out", out, "--method", "avgconf", "--alpha", "0.5"))
    assert read_kaldi_text(out) == {"u1": chars("two"), "u2": chars("nine")}  # two: 0.642 > to: 0.508

    text = write_kaldi_text(tmp_path / "hyp.txt", [("u1", chars("two")), ("u2", chars("nine"))])
    refused(invoke("combine", a, text, "--out", out), "all Kaldi text or all CTM")
    refused(invoke("combine", text, text, "--out", out, "--method", "maxconf"), "give CTM files")
    refused(invoke("combine", a, c, "--out", out, "--alpha", "1.5"), "--alpha")


def test_vote_refuses_confidences_that_do_not_match_the_words() -> None:
    network = [[("a",), ("a",)], [("b",), None]]  # system 0 has 2 words, system 1 has 1
    assert vote(network, [1, 1], [[0.9, 0.8], [0.7]], method="avgconf") == [("a",), ("b",)]
    for wrong in ([[0.9], [0.7]], [[0.9, 0.8], [0.7, 0.1]]):
        with pytest.raises(ValueError, match="one confidence per word"):
            vote(network, [1, 1], wrong, method="avgconf")
