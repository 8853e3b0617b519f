"""``seqlabel lm train`` says where modified Kneser-Ney discounts could not be estimated, and why,
in one message of its own (no Python warning with a source path), and only then."""
from __future__ import annotations

import random
import warnings
from pathlib import Path

from helpers import invoke, ok

from seqlabel import api
from seqlabel.lm.corpus import discount_note
from seqlabel.lm.ngram import FALLBACK_DISCOUNTS, NgramLM

DIGITS = "zero one two three four five six seven eight nine".split()


def repeated_digits(path: Path, sentences: int = 300) -> Path:
    """FSDD-like text: every sentence one of ten digit words, so every n-gram is frequent."""
    rng = random.Random(0)
    path.write_text("".join(rng.choice(DIGITS) + "\n" for _ in range(sentences)), encoding="utf-8")
    return path


def varied_words(path: Path, sentences: int = 400) -> Path:
    """Text with Zipf-distributed letters and words, as natural text has: rare n-grams at every order."""
    rng = random.Random(1)
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    words = ["".join(rng.choices(letters, [1 / k for k in range(1, 27)], k=rng.randint(1, 8))) for _ in range(2000)]
    zipf = [1 / k for k in range(1, len(words) + 1)]
    path.write_text("".join(" ".join(rng.choices(words, zipf, k=rng.randint(3, 12))) + "\n" for _ in range(sentences)),
                    encoding="utf-8")
    return path


def test_lm_train_explains_the_fallback_once(tmp_path: Path) -> None:
    text = repeated_digits(tmp_path / "digits.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ok(invoke("lm", "train", text, "--order", "4", "--out", tmp_path / "lm.arpa"))
    out = result.output
    assert out.startswith("wrote ") and out.count("note:") == 1
    assert "Warning" not in out and ".py:" not in out and "too little text" not in out
    assert "could not be estimated at orders 4, 3, 2 of this text" in out and str(FALLBACK_DISCOUNTS) in out
    assert "order 4: no 4-gram occurs fewer than 5 times" in out
    assert "the text repeats itself: 300 sentences, 10 distinct" in out


def test_no_note_when_every_order_is_estimated(tmp_path: Path) -> None:
    text = varied_words(tmp_path / "words.txt")
    lm = api.train_lm(text, tmp_path / "lm.arpa", order=3)  # one path, as a str-like
    assert lm.training is not None and lm.training.sentences == 400
    assert list(lm.training.fallbacks) == [1] and discount_note(lm) is None  # unigrams of characters: routine
    assert "note:" not in ok(invoke("lm", "train", text, "--order", "3", "--out", tmp_path / "lm.arpa")).output
    digits = repeated_digits(tmp_path / "digits.txt")
    assert "note:" not in ok(invoke("lm", "train", digits, "--smoothing", "witten_bell",
                                    "--out", tmp_path / "wb.arpa")).output


def test_the_note_names_what_each_order_lacks(tmp_path: Path) -> None:
    lm = NgramLM.train([list(w) for w in DIGITS * 30], order=3)
    assert lm.training.fallbacks[3] == (0, 0, 0, 0)
    note = discount_note(lm)
    assert note is not None and "order 3: no 3-gram occurs fewer than 5 times" in note
    assert "order 2: no 2-gram follows exactly" in note and "distinct tokens" in note
    read = NgramLM.read_arpa(lm.write_arpa(tmp_path / "lm.arpa"))
    assert read.training is None and discount_note(read) is None
    given = NgramLM.train([list(w) for w in DIGITS * 30], order=3, discount=0.7)
    assert discount_note(given) is None
