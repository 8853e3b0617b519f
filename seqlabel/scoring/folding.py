"""TIMIT phone folding as data tables: 61 -> 48 (training targets) and 61/48 -> 39 (scoring).

The sets are Lee & Hon (1989), "Speaker-independent phone recognition using hidden Markov
models", as used by Graves et al. (2013) and tabulated in Kaldi's ``egs/timit/s5/conf/
phones.60-48-39.map``. The glottal stop ``q`` has no 48 or 39 class: folding deletes it.
Fold at scoring time, after decoding, on references and hypotheses alike.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from seqlabel.errors import DataError

# TIMIT 61 phone -> 48 class -> 39 class (None: deleted)
TIMIT_TABLE: tuple[tuple[str, Optional[str], Optional[str]], ...] = (
    ("aa", "aa", "aa"), ("ae", "ae", "ae"), ("ah", "ah", "ah"), ("ao", "ao", "aa"),
    ("aw", "aw", "aw"), ("ax", "ax", "ah"), ("ax-h", "ax", "ah"), ("axr", "er", "er"),
    ("ay", "ay", "ay"), ("b", "b", "b"), ("bcl", "vcl", "sil"), ("ch", "ch", "ch"),
    ("d", "d", "d"), ("dcl", "vcl", "sil"), ("dh", "dh", "dh"), ("dx", "dx", "dx"),
    ("eh", "eh", "eh"), ("el", "el", "l"), ("em", "m", "m"), ("en", "en", "n"),
    ("eng", "ng", "ng"), ("epi", "epi", "sil"), ("er", "er", "er"), ("ey", "ey", "ey"),
    ("f", "f", "f"), ("g", "g", "g"), ("gcl", "vcl", "sil"), ("h#", "sil", "sil"),
    ("hh", "hh", "hh"), ("hv", "hh", "hh"), ("ih", "ih", "ih"), ("ix", "ix", "ih"),
    ("iy", "iy", "iy"), ("jh", "jh", "jh"), ("k", "k", "k"), ("kcl", "cl", "sil"),
    ("l", "l", "l"), ("m", "m", "m"), ("n", "n", "n"), ("ng", "ng", "ng"),
    ("nx", "n", "n"), ("ow", "ow", "ow"), ("oy", "oy", "oy"), ("p", "p", "p"),
    ("pau", "sil", "sil"), ("pcl", "cl", "sil"), ("q", None, None), ("r", "r", "r"),
    ("s", "s", "s"), ("sh", "sh", "sh"), ("t", "t", "t"), ("tcl", "cl", "sil"),
    ("th", "th", "th"), ("uh", "uh", "uh"), ("uw", "uw", "uw"), ("ux", "uw", "uw"),
    ("v", "v", "v"), ("w", "w", "w"), ("y", "y", "y"), ("z", "z", "z"),
    ("zh", "zh", "sh"),
)

TIMIT61: tuple[str, ...] = tuple(p61 for p61, _, _ in TIMIT_TABLE)
TIMIT48: tuple[str, ...] = tuple(sorted({p48 for _, p48, _ in TIMIT_TABLE if p48 is not None}))
TIMIT39: tuple[str, ...] = tuple(sorted({p39 for _, _, p39 in TIMIT_TABLE if p39 is not None}))

# phone -> class, None: delete
FOLD_61_48: dict[str, Optional[str]] = {p61: p48 for p61, p48, _ in TIMIT_TABLE}
FOLD_61_39: dict[str, Optional[str]] = {p61: p39 for p61, _, p39 in TIMIT_TABLE}
FOLD_48_39: dict[str, Optional[str]] = {p48: p39 for _, p48, p39 in TIMIT_TABLE if p48 is not None}
# for scoring: accepts 61- and 48-set labels (and 39-set labels, which are 48-set labels too)
FOLD_TO_39: dict[str, Optional[str]] = {**FOLD_61_39, **FOLD_48_39}

FOLDINGS: dict[str, Mapping[str, Optional[str]]] = {"timit48": FOLD_61_48, "timit39": FOLD_TO_39}


def fold(tokens: Sequence[str], table: Mapping[str, Optional[str]] | str) -> list[str]:
    """Map each token through ``table`` (a mapping, or a name in ``FOLDINGS``), dropping those mapped to None.

    A token missing from the table is an error naming it: folding must not pass stray labels through.
    """
    if isinstance(table, str):
        table = get_folding(table)
    out = []
    for tok in tokens:
        try:
            folded = table[tok]
        except KeyError:
            raise DataError(f"phone {tok!r} is not in the folding table (known: {' '.join(sorted(table))})") from None
        if folded is not None:
            out.append(folded)
    return out


def fold_61_48(tokens: Sequence[str]) -> list[str]:
    """TIMIT 61 phones -> the 48 training classes (``q`` deleted)."""
    return fold(tokens, FOLD_61_48)


def fold_to_39(tokens: Sequence[str]) -> list[str]:
    """TIMIT 61 or 48 phones -> the 39 scoring classes (``q`` deleted)."""
    return fold(tokens, FOLD_TO_39)


def get_folding(name: str) -> Mapping[str, Optional[str]]:
    """A folding table by name: ``timit48`` (61 -> 48) or ``timit39`` (61/48 -> 39)."""
    if name not in FOLDINGS:
        raise ValueError(f"unknown folding {name!r}; choose one of {sorted(FOLDINGS)}")
    return FOLDINGS[name]
