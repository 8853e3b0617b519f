"""Unicode rules for transcripts: where words split, which characters may not be tokens, and the
normal form a vocabulary is in.

- Words split on ASCII white space only (space, tab, line feed, carriage return, form feed,
  vertical tab), as Kaldi and sclite split. ``str.split()`` would also split on U+0085 (next line),
  U+2028 (line separator), U+001C-U+001F (information separators) and U+00A0 (no-break space),
  cutting a word in two where the text has one of those inside it.
- Control characters (Unicode category Cc: BEL, NUL, U+0085, ...) and the line and paragraph
  separators (Zl, Zp) are not tokens: building a vocabulary from text that holds one is refused.
- Normal forms: NFC composes ``e`` + U+0301 into ``é``; NFD decomposes it. The same text in the
  two forms has different characters, so references and hypotheses are put in one form before
  they are compared.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable

from seqlabel.errors import ConfigError

ASCII_SPACES = " \t\n\r\f\v"
_SPLIT = re.compile(f"[{re.escape(ASCII_SPACES)}]+")
NORMAL_FORMS = ("NFC", "NFD", "none")
_CONTROL_CATEGORIES = ("Cc", "Zl", "Zp")
_CONTROL_NAMES = {"\x00": "NULL", "\x07": "BELL", "\x08": "BACKSPACE", "\x1b": "ESCAPE", "\x1c": "FILE SEPARATOR",
                  "\x1d": "GROUP SEPARATOR", "\x1e": "RECORD SEPARATOR", "\x1f": "UNIT SEPARATOR", "\x7f": "DELETE",
                  "\x85": "NEXT LINE"}  # control characters have no names in unicodedata


def split_spaces(text: str) -> list[str]:
    """``text`` split at runs of ASCII white space (not at U+0085, U+2028, U+001C, U+00A0)."""
    return [w for w in _SPLIT.split(text) if w]


def control_characters(text: str) -> list[str]:
    """The distinct control characters and line/paragraph separators in ``text``, in order, ASCII
    white space excluded (it separates words)."""
    found = [c for c in text if c not in ASCII_SPACES and unicodedata.category(c) in _CONTROL_CATEGORIES]
    return list(dict.fromkeys(found))


def describe(char: str) -> str:
    """``U+0007 (BELL)``: a character that does not print, by code point and name."""
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(char, "a control character")
    return f"U+{ord(char):04X} ({name})"


def check_form(form: str) -> str:
    """``nfc``/``NFC``/``nfd``/``none`` -> ``NFC``/``NFD``/``none``; anything else is refused."""
    canonical = {f.lower(): f for f in NORMAL_FORMS}.get(str(form).lower())
    if canonical is None:
        raise ConfigError(f"Unicode normal form must be one of {', '.join(f.lower() for f in NORMAL_FORMS)}, "
                          f"got {form!r}")
    return canonical


def normalize(text: str, form: str) -> str:
    """``text`` in normal form ``form`` (NFC, NFD; ``none`` leaves it as it is)."""
    return text if form == "none" else unicodedata.normalize(form, text)


def vocabulary_form(tokens: Iterable[str]) -> str:
    """The normal form a vocabulary's tokens were taken from: NFD when they hold combining marks and
    no character that NFD would decompose (``e`` and U+0301 as separate tokens, no ``é``), else NFC."""
    tokens = list(tokens)
    decomposable = any(unicodedata.normalize("NFD", t) != t for t in tokens)
    combining = any(unicodedata.combining(c) for t in tokens for c in t)
    return "NFD" if combining and not decomposable else "NFC"
