"""What scoring does to the text before aligning it: one Unicode normal form for both sides, words
split at spaces only, reference tokens outside the model's vocabulary scored and counted (and the
counts equal sclite's), empty references and intervals that stay numbers."""
from __future__ import annotations

import json
import math
import random
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from helpers import invoke, ok
from test_sclite import find_sclite, run_sclite

from seqlabel import api
from seqlabel.data.transcripts import read_kaldi_text
from seqlabel.data.unicode import split_spaces, vocabulary_form
from seqlabel.data.vocab import Vocab
from seqlabel.errors import VocabError
from seqlabel.scoring.evaluation import score_tokens
from seqlabel.scoring.metrics import to_words
from seqlabel.scoring.prepare import normalize_tokens, unknown_tokens
from seqlabel.scoring.significance import bootstrap_interval

NFC_E = "\u00e9"  # é
NFD_E = "e\u0301"  # e + combining acute
ODD_SPACES = ("\u0085", "\u2028", "\u001c")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- Unicode normal forms
def test_nfc_reference_against_nfd_hypothesis_scores_no_error(tmp_path: Path) -> None:
    ref = write(tmp_path / "ref", f"u1 c a f {NFC_E}\n")
    hyp = write(tmp_path / "hyp", "u1 c a f e \u0301\n")  # the model's NFD tokens
    raw = api.score_files(ref, hyp, normalize="none").tokens.total
    assert (raw.substitutions, raw.insertions) == (1, 1)  # the bug this guards against
    for form in ("nfc", "NFC", "nfd"):
        total = api.score_files(ref, hyp, normalize=form).tokens.total
        assert total.errors == 0, form
    assert api.score_files(ref, hyp, normalize="nfc").tokens.total.ref_tokens == 4  # é one character
    assert api.score_files(ref, hyp, normalize="nfd").tokens.total.ref_tokens == 5  # e and its accent


def test_normalisation_through_the_cli_and_summary_json(tmp_path: Path) -> None:
    ref = write(tmp_path / "ref", f"u1 {NFC_E} t {NFC_E}\n")
    hyp = write(tmp_path / "hyp", f"u1 {NFD_E} t {NFD_E}\n")  # NFD inside each token
    assert "CER 0.00%" in ok(invoke("score", ref, hyp, "--out", tmp_path / "rep")).output
    assert json.loads((tmp_path / "rep" / "summary.json").read_text())["normalization"] == "NFC"
    assert "CER 0.00%" not in ok(invoke("score", ref, hyp, "--normalize", "none")).output


def test_word_and_phone_tokens_are_normalised_one_by_one() -> None:
    assert normalize_tokens([f"caf{NFD_E}", "x"], "NFC", "word") == [f"caf{NFC_E}", "x"]
    assert normalize_tokens(["e", "\u0301"], "NFC", "phone") == ["e", "\u0301"]  # no composing across tokens
    assert normalize_tokens(["e", "\u0301", "|", "a"], "NFC", "char") == [NFC_E, "|", "a"]
    assert normalize_tokens(["ab", "\u0301"], "none", "char") == ["ab", "\u0301"]


def test_a_vocabulary_knows_its_normal_form() -> None:
    assert Vocab(["|", "a", NFC_E]).normalization == "NFC"
    assert Vocab(["|", "a", "e", "\u0301"]).normalization == "NFD"
    assert Vocab(["|", "q", "\u0363"]).normalization == "NFD"  # combining marks only: decomposed text
    assert Vocab(["|", NFC_E, "\u0363"]).normalization == "NFC"  # a precomposed letter: composed text
    assert vocabulary_form(["a", "b"]) == "NFC"


# ----------------------------------------------------------------------------- where words split
@pytest.mark.parametrize("odd", ODD_SPACES)
def test_odd_spaces_do_not_split_words(odd: str, tmp_path: Path) -> None:
    assert to_words(["a", odd, "b", "|", "c"]) == [f"a{odd}b", "c"]
    assert str.split(f"a{odd}b") != [f"a{odd}b"]  # what str.split() would have done
    assert split_spaces(f"x a{odd}b\tc") == ["x", f"a{odd}b", "c"]
    assert read_kaldi_text(write(tmp_path / "t", f"u1 a{odd}b c\n")) == {"u1": [f"a{odd}b", "c"]}
    assert Vocab([], "char").tokenize(f"a{odd}b c") == ["a", odd, "b", "|", "c"]
    report = score_tokens({"u": ["a", odd, "b"]}, {"u": ["a", "b"]}, "char", "|", interval=False)
    assert report.words.total.ref_tokens == 1 and report.tokens.total.deletions == 1


@pytest.mark.parametrize("odd", ODD_SPACES + ("\x07",))
def test_control_characters_are_not_vocabulary_tokens(odd: str) -> None:
    assert unicodedata.category(odd) in ("Cc", "Zl")
    with pytest.raises(VocabError, match=rf"utterance 'b2'.*U\+{ord(odd):04X}"):
        Vocab.build(["ab", "ba", f"a{odd}b"], ids=["b0", "b1", "b2"])
    assert Vocab.build(["ab", "a b"]).tokens == ["<blank>", "|", "a", "b"]


# ----------------------------------------------------------------------------- tokens the model does not have
def test_unknown_reference_tokens_are_scored_and_counted() -> None:
    refs = {"u1": list("aꝙb"), "u2": list("ꝙꝙ|ꝑ"), "u3": list("ab")}
    hyps = {"u1": list("aqb"), "u2": list("qq|p"), "u3": list("ab")}
    report = score_tokens(refs, hyps, "char", "|", interval=False, known=["|", "a", "b", "p", "q"])
    assert report.unknown is not None
    assert (report.unknown.count, report.unknown.distinct) == (4, (("ꝙ", 3), ("ꝑ", 1)))
    assert report.tokens.total.substitutions == 4 and report.tokens.total.ref_tokens == 9
    assert report.words.total.errors == 3  # word scoring of a character model still works
    note = report.summary().splitlines()[-1]
    assert note.startswith("4 reference tokens (2 distinct) are not in the model's vocabulary and count as errors")
    assert "'ꝙ' (3)" in note and "another corpus" not in note
    assert score_tokens(refs, hyps, "char", "|", interval=False, known=set("|abpqꝙꝑ")).unknown is None


def test_mostly_unknown_references_suggest_another_model() -> None:
    found = unknown_tokens({"u": ["x", "y", "a"]}, {"a"})
    assert found is not None and "another corpus or unit" in found.note()
    one = unknown_tokens({"u": ["x", "a", "a"]}, {"a"})
    assert one is not None and one.note() == ("1 reference token is not in the model's vocabulary and counts as an "
                                              "error: 'x' (1)")


def test_unknown_counts_agree_with_sclite(tmp_path: Path) -> None:
    """sclite scores the same texts with the same counts: an unknown token is an ordinary error to it."""
    sclite = find_sclite()
    if sclite is None:
        pytest.skip("sclite not found on PATH or in /usr/lib/sctk/bin (install the Debian package sctk)")
    rng = random.Random(11)
    known, unknown = list("abc|"), ["ꝙ", "ꝑ", "ĩ"]
    refs, hyps = {}, {}
    for k in range(120):
        ref = [rng.choice(known[:-1] + unknown) for _ in range(rng.randint(1, 12))]
        hyp = [t if t in known and rng.random() < 0.8 else rng.choice(known[:-1]) for t in ref]
        hyp = [t for t in hyp if rng.random() < 0.9] + [rng.choice(known[:-1])] * rng.randint(0, 1)
        refs[f"s{k % 5}-{k:03d}"], hyps[f"s{k % 5}-{k:03d}"] = ref, hyp
    report = score_tokens(refs, hyps, "char", "|", interval=False, known=known)
    totals, _ = run_sclite(sclite, tmp_path / "sc", refs, hyps)
    t = report.tokens.total
    assert (t.hits, t.substitutions, t.deletions, t.insertions, t.ref_tokens) == \
        (totals["corr"], totals["sub"], totals["del"], totals["ins"], totals["wrd"])
    assert report.unknown is not None and report.unknown.count == sum(t in unknown for r in refs.values() for t in r)


def test_caroline_line_with_a_character_the_model_never_saw(shared_data: Path) -> None:
    """A real Caroline minuscule line holding its corpus's rarest abbreviation sign, scored by a
    vocabulary built from the lines without it (as a model trained on other manuscripts would have)."""
    texts = [p.read_text(encoding="utf-8").strip() for p in sorted((shared_data / "caroline").glob("*/*/*.gt.txt"))]
    if not texts:
        pytest.skip(f"no Caroline lines (*/*/*.gt.txt) under {shared_data / 'caroline'}")
    counts = Counter(c for t in texts for c in t if ord(c) > 127)
    rare = min(counts, key=lambda c: (counts[c], c))
    vocab = Vocab.build([t for t in texts if rare not in t and "|" not in t])
    line = vocab.tokenize(next(t for t in texts if rare in t))
    hyp = [t if t != rare else "q" for t in line]
    report = score_tokens({"l": line}, {"l": hyp}, "char", "|", interval=False, known=vocab.tokens[1:])
    assert report.tokens.total.substitutions == counts[rare] == report.unknown.count
    assert report.unknown.distinct == ((rare, counts[rare]),)


# ----------------------------------------------------------------------------- empty references
def test_an_empty_reference_counts_its_insertions_over_the_corpus_tokens() -> None:
    report = score_tokens({"u1": [], "u2": list("abcd")}, {"u1": list("xy"), "u2": list("abcd")}, "char", "|")
    t = report.tokens.total
    assert (t.insertions, t.ref_tokens, t.utterances) == (2, 4, 2) and t.rate == pytest.approx(0.5)
    ci = report.tokens_ci
    assert ci is not None and not math.isnan(ci.low) and not math.isnan(ci.high)
    assert "nan" not in report.summary()


def test_bootstrap_bounds_are_numbers_when_resamples_hold_only_empty_references() -> None:
    report = score_tokens({"u1": [], "u2": ["a"]}, {"u1": ["x"], "u2": ["a"]}, "word", "|", interval=False)
    ci = bootstrap_interval(report.tokens, seed=1)
    assert ci is not None and ci.low == 0.0 and ci.high == math.inf  # a quarter of resamples: only u1
    assert str(ci) == "95% CI 0.00-inf"
