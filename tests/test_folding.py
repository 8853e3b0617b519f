"""seqlabel.scoring.folding: the TIMIT 61 -> 48 -> 39 tables (Lee & Hon 1989; Kaldi's phones.60-48-39.map),
class counts, the published merges, q deleted, strict on unknown phones."""
from __future__ import annotations

import pytest

from seqlabel.errors import DataError
from seqlabel.scoring.folding import (
    FOLD_48_39,
    FOLD_61_39,
    FOLD_61_48,
    FOLD_TO_39,
    TIMIT39,
    TIMIT48,
    TIMIT61,
    fold,
    fold_61_48,
    fold_to_39,
    get_folding,
)
from seqlabel.scoring.metrics import score

# the 39 groups as Lee & Hon list them: every other phone of the 61 (but q) is a class on its own
MERGES_39 = {
    "aa": {"aa", "ao"},
    "ah": {"ah", "ax", "ax-h"},
    "er": {"er", "axr"},
    "hh": {"hh", "hv"},
    "ih": {"ih", "ix"},
    "l": {"l", "el"},
    "m": {"m", "em"},
    "n": {"n", "en", "nx"},
    "ng": {"ng", "eng"},
    "sh": {"sh", "zh"},
    "uw": {"uw", "ux"},
    "sil": {"pcl", "tcl", "kcl", "bcl", "dcl", "gcl", "h#", "pau", "epi"},
}


def test_set_sizes() -> None:
    assert len(TIMIT61) == len(set(TIMIT61)) == 61
    assert len(TIMIT48) == 48 and len(TIMIT39) == 39
    assert set(fold_61_48(TIMIT61)) == set(TIMIT48)
    assert set(fold_to_39(TIMIT61)) == set(TIMIT39)  # exactly 39 classes from the 61 phones
    assert set(fold_to_39(TIMIT48)) == set(TIMIT39)  # and from the 48 classes
    assert set(TIMIT39) <= set(TIMIT48) and set(fold_to_39(TIMIT39)) == set(TIMIT39)


def test_published_39_groups() -> None:
    groups: dict[str, set[str]] = {}
    for p in TIMIT61:
        if FOLD_61_39[p] is not None:
            groups.setdefault(FOLD_61_39[p], set()).add(p)
    merged = {k: v for k, v in groups.items() if len(v) > 1}
    assert merged == MERGES_39
    singletons = set(TIMIT61) - set().union(*MERGES_39.values()) - {"q"}
    assert all(groups[p] == {p} for p in singletons) and len(singletons) == 39 - len(MERGES_39)


@pytest.mark.parametrize("phone, folded", [
    ("ao", "aa"), ("zh", "sh"), ("ax-h", "ah"), ("ax", "ah"), ("axr", "er"), ("el", "l"), ("em", "m"),
    ("en", "n"), ("nx", "n"), ("eng", "ng"), ("hv", "hh"), ("ix", "ih"), ("ux", "uw"),
    ("bcl", "sil"), ("pcl", "sil"), ("dcl", "sil"), ("tcl", "sil"), ("gcl", "sil"), ("kcl", "sil"),
    ("pau", "sil"), ("epi", "sil"), ("h#", "sil"), ("aa", "aa"), ("dx", "dx"),
])
def test_known_merges_to_39(phone: str, folded: str) -> None:
    assert fold_to_39([phone]) == [folded]
    assert fold_to_39(fold_61_48([phone])) == [folded]  # 61 -> 48 -> 39 equals 61 -> 39


def test_48_classes() -> None:
    # voiced / unvoiced closures and silence stay apart at 48; 48-only labels fold like their 61 sources
    assert fold_61_48(["bcl", "dcl", "gcl", "pcl", "tcl", "kcl", "h#", "pau", "epi"]) == \
        ["vcl", "vcl", "vcl", "cl", "cl", "cl", "sil", "sil", "epi"]
    assert fold_61_48(["ax-h", "axr", "em", "eng", "hv", "nx", "ux", "ao", "zh", "ix", "el", "en"]) == \
        ["ax", "er", "m", "ng", "hh", "n", "uw", "ao", "zh", "ix", "el", "en"]
    assert fold_to_39(["vcl", "cl", "sil", "epi"]) == ["sil"] * 4
    for p in TIMIT61:  # the composed table equals the direct one
        p48 = FOLD_61_48[p]
        assert (FOLD_48_39[p48] if p48 is not None else None) == FOLD_61_39[p]
    for p in set(FOLD_61_39) & set(FOLD_48_39):  # a label in both sets folds the same way
        assert FOLD_61_39[p] == FOLD_48_39[p], p


def test_glottal_stop_deleted() -> None:
    assert fold_61_48(["q", "ae", "q"]) == ["ae"] and fold_to_39(["h#", "q", "ix", "q"]) == ["sil", "ih"]
    assert "q" not in TIMIT48 and "q" not in TIMIT39 and fold_to_39([]) == []


def test_unknown_phone_is_an_error() -> None:
    with pytest.raises(DataError, match="'xx'"):
        fold_to_39(["aa", "xx"])
    with pytest.raises(DataError, match="'vcl'"):
        fold_61_48(["vcl"])  # a 48-set label is not a 61-set phone
    with pytest.raises(ValueError, match="timit39"):
        get_folding("timit40")
    assert fold(["ao", "q"], "timit39") == ["aa"] and fold(["ao"], "timit48") == ["ao"]
    assert FOLD_TO_39 is get_folding("timit39")


def test_folding_at_scoring_time() -> None:
    ref = ["h#", "sh", "ix", "hv", "q", "eh", "dcl", "h#"]
    hyp = ["pau", "zh", "ih", "hh", "eh", "tcl", "sil"]
    assert score({"u": ref}, {"u": hyp}, unit="phone").total.errors > 0
    folded = score({"u": fold_to_39(ref)}, {"u": fold_to_39(hyp)}, unit="phone").total
    assert folded.errors == 0 and folded.ref_tokens == 7
