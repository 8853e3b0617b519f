"""A lexicon: the words a decoder may emit, as a prefix trie over their token spellings.

Each word has one or more spellings (characters, or phones from a pronunciation dictionary).
Walking the trie token by token says which words are still possible (``node.child(token)`` is
None when none is) and which are complete here (``node.words``)::

    node = lexicon.root
    for tok in ("Y", "E", "S"):
        node = node.child(tok)
    node.is_word_end, node.words   # True, ("YES",)

Character spellings do not include the word-boundary token: the decoder closes a word when it
emits ``lexicon.word_boundary`` (or reaches the end of the utterance) at a node with ``is_word_end``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from seqlabel.errors import ConfigError, DataError
from seqlabel.textfile import iter_lines

LEXICON_WHAT = "a UTF-8 lexicon (a word a line, or 'WORD tok tok ...' pronunciations)"
_ALTERNATE = re.compile(r"^(.+)\((\d+)\)$")


class TrieNode:
    """A trie node. ``children``: token -> node; ``words``: words whose spelling ends here, in
    insertion order (a tuple, empty if none); ``is_word_end``: ``bool(words)``; ``depth``: tokens
    from the root."""

    __slots__ = ("children", "words", "is_word_end", "depth")

    def __init__(self, depth: int = 0) -> None:
        self.children: dict[str, TrieNode] = {}
        self.words: tuple[str, ...] = ()
        self.is_word_end = False
        self.depth = depth

    def child(self, token: str) -> "TrieNode | None":
        """The node after ``token``, or None when no word continues with it."""
        return self.children.get(token)

    def __repr__(self) -> str:
        return f"TrieNode(depth={self.depth}, children={sorted(self.children)}, words={self.words})"


class Lexicon:
    """Words and their spellings (token sequences), with a prefix trie from :attr:`root`."""

    def __init__(self, unit: str = "char", word_boundary: str = "|") -> None:
        if unit not in ("char", "phone"):
            raise ConfigError(f"unit must be 'char' or 'phone', got {unit!r}")
        self.unit = unit
        self.word_boundary = word_boundary
        self.root = TrieNode()
        self._spellings: dict[str, list[tuple[str, ...]]] = {}
        self.tokens: set[str] = set()  # every token used by a spelling

    def add(self, word: str, spelling: Sequence[str]) -> None:
        """Add one spelling of ``word`` (a repeated spelling is ignored)."""
        if not isinstance(word, str) or not word or any(ch.isspace() for ch in word):
            raise DataError(f"bad word {word!r}: words are non-empty strings without whitespace")
        spelling = tuple(spelling)
        if not spelling:
            raise DataError(f"word {word!r}: empty spelling")
        for tok in spelling:
            if not isinstance(tok, str) or not tok or any(ch.isspace() for ch in tok):
                raise DataError(f"word {word!r}: bad token {tok!r} in spelling {spelling}")
            if tok == self.word_boundary:
                raise DataError(f"word {word!r}: spelling {spelling} contains the word-boundary token "
                                f"{self.word_boundary!r}")
        known = self._spellings.setdefault(word, [])
        if spelling in known:
            return
        known.append(spelling)
        node = self.root
        for tok in spelling:
            nxt = node.children.get(tok)
            if nxt is None:
                nxt = node.children[tok] = TrieNode(node.depth + 1)
            node = nxt
        if word not in node.words:
            node.words = node.words + (word,)
            node.is_word_end = True
        self.tokens.update(spelling)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_words(cls, words: Iterable[str], unit: str = "char", word_boundary: str = "|") -> "Lexicon":
        """Each word spelled by its characters (``"YES"`` -> ``Y E S``)."""
        if unit != "char":
            raise ConfigError(f"from_words spells words as characters: unit must be 'char', got {unit!r} "
                              "(use from_dict_file or from_pronunciations for phones)")
        if isinstance(words, str):
            raise ConfigError(f"words must be a list of words, got the string {words[:40]!r}")
        lexicon = cls(unit, word_boundary)
        for word in words:
            if not isinstance(word, str):
                raise DataError(f"bad word {word!r}: words are strings")
            lexicon.add(word, list(word))
        return lexicon

    @classmethod
    def from_pronunciations(cls, entries: Iterable[tuple[str, Sequence[str]]], unit: str = "phone",
                            word_boundary: str = "|") -> "Lexicon":
        """From (word, token sequence) pairs; a word may appear several times."""
        lexicon = cls(unit, word_boundary)
        for word, spelling in entries:
            lexicon.add(word, spelling)
        return lexicon

    @classmethod
    def from_dict_file(cls, path: str | os.PathLike, unit: str = "phone", word_boundary: str = "|") -> "Lexicon":
        """Read a pronunciation dictionary: lines ``WORD tok tok ...`` (CMUdict / Sphinx ``.dic``).

        ``WORD(2)`` lines are further pronunciations of ``WORD``. Blank lines and lines starting
        with ``;;;`` or ``#`` are skipped. Errors name the file and line.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"dictionary file not found: {path}")
        lexicon = cls(unit, word_boundary)
        for lineno, line in iter_lines(path, LEXICON_WHAT):
            text = line.strip()
            if not text or text.startswith((";;;", "#")):
                continue
            word, *spelling = text.split()
            if not spelling:
                raise DataError(f"{path}:{lineno}: word {word!r} has no pronunciation")
            m = _ALTERNATE.match(word)
            if m:
                word = m.group(1)
            try:
                lexicon.add(word, spelling)
            except DataError as e:
                raise DataError(f"{path}:{lineno}: {e}") from None
        if not lexicon._spellings:
            raise DataError(f"{path}: no entries")
        return lexicon

    # ------------------------------------------------------------------ queries
    @property
    def words(self) -> list[str]:
        """The words, in insertion order."""
        return list(self._spellings)

    def spellings(self, word: str) -> list[tuple[str, ...]]:
        """The token sequences of ``word`` (empty list if unknown)."""
        return list(self._spellings.get(word, ()))

    def lookup(self, tokens: Sequence[str]) -> TrieNode | None:
        """The node reached by ``tokens`` from the root, or None."""
        node: TrieNode | None = self.root
        for tok in tokens:
            node = node.children.get(tok)
            if node is None:
                return None
        return node

    def __contains__(self, word: object) -> bool:
        return word in self._spellings

    def __len__(self) -> int:
        return len(self._spellings)

    def __iter__(self) -> Iterator[str]:
        return iter(self._spellings)

    def __repr__(self) -> str:
        return f"Lexicon(unit={self.unit!r}, words={len(self)}, tokens={len(self.tokens)})"
