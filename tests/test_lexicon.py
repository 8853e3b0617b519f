"""Lexicon prefix trie: lookups, alternates, dictionary files and their errors."""
from __future__ import annotations

import pytest

from seqlabel.errors import ConfigError, DataError
from seqlabel.lm import Lexicon


def walk(lexicon: Lexicon, tokens):
    node = lexicon.root
    for tok in tokens:
        node = node.child(tok)
        if node is None:
            return None
    return node


def test_char_trie_lookups():
    lex = Lexicon.from_words(["GO", "GOOD", "NO", "GO"])
    assert lex.words == ["GO", "GOOD", "NO"] and len(lex) == 3 and "GOOD" in lex
    assert lex.word_boundary == "|" and lex.unit == "char"
    assert lex.tokens == {"G", "O", "D", "N"}
    assert sorted(lex.root.children) == ["G", "N"]
    g = lex.root.child("G")
    assert g.depth == 1 and not g.is_word_end and g.words == ()
    go = g.child("O")
    assert go.is_word_end and go.words == ("GO",)
    assert walk(lex, "GOOD").words == ("GOOD",) and walk(lex, "GOO").words == ()
    assert walk(lex, "GOODS") is None and lex.root.child("X") is None and walk(lex, "GX") is None
    assert lex.lookup("GOOD") is walk(lex, "GOOD") and lex.lookup("Q") is None
    assert lex.lookup("") is lex.root and not lex.root.is_word_end
    assert lex.spellings("GO") == [("G", "O")] and lex.spellings("NOPE") == []


def test_dict_file_alternates(tmp_path):
    path = tmp_path / "words.dic"
    path.write_text(";;; a comment\nA                    AH\nA(2)                 EY\nEIGHT  EY T\n\n"
                    "READ R IY D\nREAD(2) R EH D\nRED R EH D\n")
    lex = Lexicon.from_dict_file(path)
    assert lex.words == ["A", "EIGHT", "READ", "RED"] and lex.unit == "phone"
    assert lex.spellings("A") == [("AH",), ("EY",)]
    assert lex.lookup(["EY"]).words == ("A",)
    assert lex.lookup(["EY"]).child("T").words == ("EIGHT",)
    assert lex.lookup(["R", "IY", "D"]).words == ("READ",)
    assert lex.lookup(["R", "EH", "D"]).words == ("READ", "RED")  # homophones share a node
    assert "A(2)" not in lex


def test_an4_dictionary(shared_data):
    path = shared_data / "an4" / "etc" / "an4.dic"
    if not path.is_file():
        pytest.skip(f"AN4 is not in {shared_data} (see shared/data/README.md)")
    lex = Lexicon.from_dict_file(path)
    assert len(lex) == 101 and "FEBRUARY" in lex and "FEBRUARY(2)" not in lex
    assert len(lex.spellings("FEBRUARY")) >= 3
    assert lex.lookup("Y EH S".split()).words == ("YES",)
    assert lex.lookup(["AH"]).words == ("A",) and lex.lookup(["EY"]).words == ("A",)
    phones = {ln.strip() for ln in (shared_data / "an4" / "etc" / "an4.phone").read_text().splitlines()}
    assert lex.tokens <= phones


@pytest.mark.parametrize("text, message", [
    ("GO G OW\nSTOP\n", r"words.dic:2: word 'STOP' has no pronunciation"),
    ("GO G OW\nBAD G | OW\n", r"words.dic:2: word 'BAD': .* word-boundary token"),
    ("", r"words.dic: no entries"),
])
def test_dict_file_errors(tmp_path, text, message):
    path = tmp_path / "words.dic"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        Lexicon.from_dict_file(path)


def test_bad_input(tmp_path):
    with pytest.raises(DataError, match="not found"):
        Lexicon.from_dict_file(tmp_path / "missing.dic")
    (tmp_path / "latin1.dic").write_bytes(b"CAF\xe9 K AE F EY\n")
    with pytest.raises(DataError, match="not UTF-8"):
        Lexicon.from_dict_file(tmp_path / "latin1.dic")
    with pytest.raises(DataError, match="word-boundary"):
        Lexicon.from_words(["A|B"])
    with pytest.raises(DataError, match="bad word"):
        Lexicon.from_words(["TWO WORDS"])
    with pytest.raises(DataError, match="bad word"):
        Lexicon.from_words([""])
    with pytest.raises(ConfigError, match="list of words"):
        Lexicon.from_words("YES")
    with pytest.raises(ConfigError, match="unit must be 'char'"):
        Lexicon.from_words(["YES"], unit="phone")
    with pytest.raises(DataError, match="empty spelling"):
        Lexicon.from_pronunciations([("A", [])])
    # a custom boundary token is honoured
    lex = Lexicon.from_words(["A|B"], word_boundary="_")
    assert lex.lookup("A|B").words == ("A|B",)
