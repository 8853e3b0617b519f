"""seqlabel.scoring.metrics: hand-counted substitutions, deletions and insertions; corpus totals; missing
hypotheses; words from characters; the per-utterance report."""
from __future__ import annotations

import pytest

from seqlabel.errors import DataError
from seqlabel.scoring.metrics import align_stats, score, to_words, utterance_report
from seqlabel.types import ErrorStats


def toks(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# (ref, hyp, S, D, I, hits), counted by hand
CASES = [
    ("a b c", "a b c", 0, 0, 0, 3),  # all correct
    ("a b c", "a x c", 1, 0, 0, 2),  # one substitution
    ("a b c", "a c", 0, 1, 0, 2),  # one deletion
    ("a b c", "a b x c", 0, 0, 1, 3),  # one insertion
    ("a b c", "", 0, 3, 0, 0),  # empty hypothesis: everything deleted
    ("", "a b", 0, 0, 2, 0),  # empty reference: everything inserted
    ("", "", 0, 0, 0, 0),
    # the cat sat on the mat / the bat sat the mat too: cat->bat, on deleted, too inserted.
    # Same length, so D == I; D = I = 0 would need 4 substitutions; D = I = 2 costs >= 4 already.
    ("the cat sat on the mat", "the bat sat the mat too", 1, 1, 1, 4),
    ("x y", "a b c d", 2, 0, 2, 0),  # nothing in common: 2 substitutions + 2 insertions
]


@pytest.mark.parametrize("ref, hyp, s, d, i, h", CASES)
def test_hand_counted_cases(ref: str, hyp: str, s: int, d: int, i: int, h: int) -> None:
    (stats,) = align_stats([toks(ref)], [toks(hyp)])
    assert (stats.substitutions, stats.deletions, stats.insertions, stats.hits) == (s, d, i, h)
    assert stats.ref_tokens == len(toks(ref)) and stats.utterances == 1
    assert stats.errors == s + d + i


def test_rates() -> None:
    assert ErrorStats(1, 0, 0, 2, 3, 1).rate == pytest.approx(1 / 3)
    assert ErrorStats(0, 0, 2, 0, 0, 1).rate == float("inf")  # errors but no reference
    assert ErrorStats().rate == 0.0
    assert ErrorStats(0, 0, 3, 1, 1, 1).rate == 3.0  # insertions can push a rate past 100%


def test_batch_alignment_equals_one_by_one() -> None:
    refs = [toks(r) for r, *_ in CASES]
    hyps = [toks(h) for _, h, *_ in CASES]
    assert align_stats(refs, hyps) == [align_stats([r], [h])[0] for r, h in zip(refs, hyps)]
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        align_stats(refs[:2], hyps[:1])
    assert align_stats([], []) == []


def test_corpus_totals_are_sums_not_means() -> None:
    refs = {"short": ["a", "b"], "long": list("abcdefgh")}
    hyps = {"short": ["x", "y"], "long": list("abcdefgh")}
    result = score(refs, hyps)
    # per-utterance rates 100% and 0%: their mean would be 50%; the corpus rate is 2 / 10
    assert result.total == ErrorStats(2, 0, 0, 8, 10, 2)
    assert result.total.rate == pytest.approx(0.2)
    assert result.total == sum((u.stats for u in result.utterances), ErrorStats())


def test_score_matches_by_id_not_order() -> None:
    refs = {"u1": ["a", "b"], "u2": ["c"]}
    hyps = {"u2": ["c"], "u1": ["a", "b"]}
    assert score(refs, hyps).total.errors == 0


def test_missing_hypothesis_raises_unless_allowed() -> None:
    refs = {"u1": ["a", "b"], "u2": ["c", "d", "e"]}
    hyps = {"u1": ["a", "b"]}
    with pytest.raises(DataError, match="u2"):
        score(refs, hyps)
    result = score(refs, hyps, allow_missing=True)
    assert (result.total.deletions, result.total.ref_tokens, result.total.utterances) == (3, 5, 2)


def test_hypothesis_without_reference_always_raises() -> None:
    with pytest.raises(DataError, match="stray"):
        score({"u1": ["a"]}, {"u1": ["a"], "stray": ["b"]}, allow_missing=True)


def test_to_words() -> None:
    assert to_words(["h", "i", "|", "y", "o", "u"]) == ["hi", "you"]
    assert to_words(["|", "a", "|", "|", "b", "|"]) == ["a", "b"]
    assert to_words([]) == [] and to_words(["|"]) == []
    assert to_words(["a", "_", "b"], word_boundary="_") == ["a", "b"]
    assert to_words(["a", "_", "b"]) == ["a_b"]


def test_word_errors_from_characters() -> None:
    ref = list("the|cat|sat")
    hyp = list("the|cut|sat|up")
    result = score({"u": to_words(ref)}, {"u": to_words(hyp)}, unit="word")
    assert (result.total.substitutions, result.total.insertions, result.total.ref_tokens) == (1, 1, 3)
    assert result.name == "WER"


def test_summary_names_unit_and_counts() -> None:
    result = score({"u1": ["aa", "b"]}, {"u1": ["aa"]}, unit="phone")
    assert result.name == "PER"
    assert result.summary().startswith("PER 50.00% [1 / 2, 0 sub, 1 del, 0 ins] over 1 utterances")
    assert score({"u1": ["a"]}, {"u1": ["a"]}).summary().startswith("CER 0.00%")


def test_per_utterance_report_has_one_row_per_utterance() -> None:
    refs = {"u1": ["a", "b", "c"], "u2": ["d"], "u3": []}
    hyps = {"u1": ["a", "x", "c"], "u2": [], "u3": ["z"]}
    lines = utterance_report(score(refs, hyps)).splitlines()
    header, rows = lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    assert header[:7] == ["id", "ref_tokens", "sub", "del", "ins", "errors", "rate"]
    assert [r[0] for r in rows] == ["u1", "u2", "u3"]
    by_id = {r[0]: dict(zip(header, r)) for r in rows}
    assert (by_id["u1"]["sub"], by_id["u1"]["errors"], by_id["u1"]["rate"]) == ("1", "1", "33.33")
    assert (by_id["u2"]["del"], by_id["u2"]["rate"]) == ("1", "100.00")
    assert (by_id["u3"]["ins"], by_id["u3"]["rate"]) == ("1", "inf")
    assert by_id["u1"]["ref"] == "a b c" and by_id["u1"]["hyp"] == "a x c"


def test_character_tokens_are_scored_as_the_text_they_spell() -> None:
    refs = {"a": list("L|T"), "b": list("A|B")}
    hyps = {"a": list("L||T"), "b": list("|B|")}
    text = score(refs, hyps, "char")
    assert [u.stats.errors for u in text.utterances] == [0, 2]  # "L T" = "L T"; "B" against "A B": A and the space
    raw = score(refs, hyps, "char", word_boundary=None)
    assert [u.stats.errors for u in raw.utterances] == [1, 2]
    assert raw.utterances[1].ops != text.utterances[1].ops
