"""Text for rendering: files and folders of plain text -> cleaned paragraphs -> line-length chunks, and
the target's character set with the fallbacks tried for characters outside it.

A text file holds one paragraph a line (blank lines are skipped). Cleaning removes bracketed
references (``[12]``), numbers, words of three or more capitals that are not Roman numerals
(running heads such as ``CAPUT``), and every character that is not a letter, a combining mark, a
space or one of ``KEPT_PUNCTUATION``; paragraphs left with fewer than ``MIN_PARAGRAPH`` characters
or mostly in capitals (titles) are dropped.
"""
from __future__ import annotations

import csv
import glob
import re
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from seqlabel.errors import ConfigError, DataError

KEPT_PUNCTUATION = ".,;:?!'\"()-&’‘“”«»–—"
MIN_PARAGRAPH = 20  # characters left after cleaning
TEXT_SUFFIXES = (".txt",)
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
FALLBACK_TABLE = Path(__file__).resolve().parent / "fallback.tsv"
DELETE = "∅"  # a fallback alternative meaning "leave the character out"

_BRACKETED = re.compile(r"\[[^\]]{0,40}\]")
_NUMBER = re.compile(r"(?<!\w)\d+(?:[.:,]\d+)*\.?(?!\w)|\d+")
_SHOUTED = re.compile(r"\b[A-Z]{3,}\b")
_ROMAN = re.compile(r"[IVXLCDM]+")


def find_files(sources: str | Path | Sequence[str | Path] | None, suffixes: Sequence[str], option: str) -> list[Path]:
    """Every file named in ``sources`` (paths, folders searched recursively for ``suffixes``, or glob
    patterns), sorted and without repeats; ConfigError naming ``option`` when a source matches nothing."""
    if sources is None or sources == "" or sources == []:
        return []
    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    found: list[Path] = []
    for item in items:
        path = Path(str(item)).expanduser()
        if path.is_dir():
            hits = [p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(tuple(suffixes))]
        elif path.is_file():
            hits = [path]
        else:
            hits = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file()]
        if not hits:
            raise ConfigError(f"render: {option} {str(item)!r} is not a file, a folder holding "
                              f"{'/'.join(suffixes)} files, or a pattern matching files")
        found.extend(hits)
    return sorted({p.resolve() for p in found})


def clean(paragraph: str) -> str:
    """One paragraph of editorial text reduced to letters, marks, spaces and kept punctuation."""
    text = unicodedata.normalize("NFC", paragraph)
    text = _BRACKETED.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    text = _SHOUTED.sub(lambda m: m.group(0) if _ROMAN.fullmatch(m.group(0)) else " ", text)
    text = "".join(c if c.isalpha() or unicodedata.category(c).startswith("M") or c in KEPT_PUNCTUATION
                   else " " for c in text)
    text = " ".join(text.split())
    return re.sub(r" (?=[.,;:?!])", "", text)  # a removed number before a point leaves no gap


def read_paragraphs(files: Iterable[Path]) -> list[str]:
    """The cleaned paragraphs of ``files`` in order; a file that is not UTF-8 is read as Latin-1."""
    paragraphs: list[str] = []
    for path in files:
        raw = path.read_bytes()
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError:
            content = raw.decode("latin-1")
        for line in content.splitlines():
            text = clean(line)
            letters = [c for c in text if c.isalpha()]
            if len(text) >= MIN_PARAGRAPH and sum(c.isupper() for c in letters) <= len(letters) / 2:
                paragraphs.append(text)
    return paragraphs


def chunk(text: str, rng: np.random.Generator, lengths: tuple[int, int], break_words: float,
          min_chars: int) -> list[str]:
    """``text`` cut into lines of about ``lengths`` characters (each line's target drawn uniformly),
    at spaces but never before a mark standing apart (``uerbum .``); with probability ``break_words`` a
    line ends inside a word (no hyphen, as scribes did), leaving at least two letters on each side.
    Lines shorter than ``min_chars`` are dropped."""
    lines: list[str] = []
    words: list[str] = []
    for token in text.split():  # a mark standing apart (" .") stays with the word before it
        if words and not any(c.isalnum() for c in token):
            words[-1] += " " + token
        else:
            words.append(token)
    current = ""
    target = int(rng.integers(lengths[0], lengths[1] + 1))
    i = 0
    while i < len(words):
        word = words[i]
        joined = f"{current} {word}" if current else word
        if len(joined) <= target or not current:
            current, i = joined, i + 1
            continue
        room = target - len(current) - 1
        if rng.random() < break_words and room >= 2 and len(word) >= 4:
            cut = int(rng.integers(2, min(room, len(word) - 2) + 1))
            if word[:cut].isalpha() and not unicodedata.combining(word[cut]):
                current, words[i] = f"{current} {word[:cut]}", word[cut:]
        lines.append(current)
        current = ""
        target = int(rng.integers(lengths[0], lengths[1] + 1))
    if current:
        lines.append(current)
    return [line for line in lines if len(line) >= min_chars]


def load_charset(path: str | Path) -> frozenset[str]:
    """The characters a target allows: a folder (its ``*.gt.txt`` transcripts), a JSONL manifest (its
    transcripts), a vocabulary file (``<blank>`` first, ``|`` for the space) or any text file (all its
    characters). The space is always allowed."""
    from seqlabel.data.manifest import read_manifest
    from seqlabel.data.vocab import BLANK, Vocab

    path = Path(path).expanduser()
    if path.is_dir():
        texts = [p.read_text(encoding="utf-8") for p in sorted(path.rglob("*.gt.txt"))]
        if not texts:
            raise ConfigError(f"render: target folder {path} holds no *.gt.txt transcripts")
    elif not path.is_file():
        raise ConfigError(f"render: target {path} is neither a file nor a folder")
    elif path.suffix == ".jsonl":
        texts = [u.text for u in read_manifest(path)]
    else:
        content = path.read_text(encoding="utf-8")
        if content.split("\n", 1)[0].strip() == BLANK:
            vocab = Vocab.load(path)
            texts = [" " if t == vocab.word_boundary else t for t in vocab.tokens[1:]]
        else:
            texts = [content]
    chars = {unicodedata.normalize("NFC", c) for t in texts for c in t if not c.isspace()}
    if not chars:
        raise ConfigError(f"render: target {path} lists no characters")
    return frozenset(chars | {" "})


def load_fallbacks(path: Path = FALLBACK_TABLE) -> dict[str, tuple[str, ...]]:
    """char -> alternatives tried in order (``∅``: leave it out), from a TSV ``char<TAB>alt alt ...``."""
    table: dict[str, tuple[str, ...]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not row or row[0].startswith("#") or row[0] == "char":
                continue
            if len(row) < 2:
                raise DataError(f"{path}: row {n} needs a character and its alternatives: {row!r}")
            table[row[0]] = tuple("" if a == DELETE else a for a in row[1].split())
    return table


class Charset:
    """Maps text onto a target's characters: each character outside it becomes the first that lies
    inside of its fallbacks, its base letter without accents, its other case and that case's fallbacks;
    what is still outside is kept, and ``outside`` says so (the caller drops the line)."""

    def __init__(self, allowed: frozenset[str] | None, fallbacks: dict[str, tuple[str, ...]] | None = None) -> None:
        self.allowed = allowed
        self.fallbacks = load_fallbacks() if fallbacks is None else fallbacks
        self._cache: dict[str, str] = {}

    def fits(self, text: str) -> bool:
        return self.allowed is None or all(c in self.allowed for c in text)

    def map_char(self, char: str) -> str:
        if self.allowed is None or char in self.allowed:
            return char
        if char not in self._cache:
            base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
            first = [*self.fallbacks.get(char, ()), base]
            other = char.swapcase()
            candidates = first + [other, *self.fallbacks.get(other, ())] + [c.swapcase() for c in first]
            self._cache[char] = next((c for c in candidates if c != char and self.fits(c)), char)
        return self._cache[char]

    def map(self, text: str) -> str:
        if self.allowed is None:
            return text
        return " ".join("".join(self.map_char(c) for c in text).split())

    def outside(self, text: str) -> set[str]:
        """The characters of ``text`` the target does not allow."""
        return set() if self.allowed is None else {c for c in text if c not in self.allowed}
