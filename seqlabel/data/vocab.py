"""Token <-> id table. Index 0 is the CTC blank, reserved; real tokens start at 1.

Units: ``char`` splits a transcript into characters and turns each run of ASCII white space into
the word-boundary token (default ``|``); ``phone`` splits on ASCII white space (see
``seqlabel.data.unicode``: U+0085, U+2028 and U+001C do not split words). Control characters are
refused when a vocabulary is built or loaded. Vocabulary files hold one token per line, line 1
(index 0) being ``<blank>``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional, Sequence

from seqlabel.data.unicode import control_characters, describe, split_spaces, vocabulary_form
from seqlabel.errors import VocabError
from seqlabel.textfile import read_lines

BLANK = "<blank>"


class Vocab:
    def __init__(self, tokens: Sequence[str], unit: str = "char", word_boundary: str = "|") -> None:
        """``tokens`` excludes the blank; ids are 1..len(tokens)."""
        if unit not in ("char", "phone"):
            raise VocabError(f"unit must be 'char' or 'phone', got {unit!r}")
        tokens = list(tokens)
        if BLANK in tokens:
            raise VocabError(f"{BLANK} is reserved for index 0 and must not be a token")
        dupes = sorted({t for t in tokens if tokens.count(t) > 1})
        if dupes:
            raise VocabError(f"duplicate tokens in vocabulary: {dupes}")
        self.unit = unit
        self.word_boundary = word_boundary
        self.tokens: list[str] = [BLANK] + tokens
        self._index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        """Number of classes C, blank included."""
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and (self.tokens, self.unit, self.word_boundary) == (
            other.tokens, other.unit, other.word_boundary)

    def tokenize(self, text: str) -> list[str]:
        """Transcript -> token strings (no vocabulary check)."""
        if self.unit == "phone":
            return split_spaces(text)
        if self.word_boundary in text:
            raise VocabError(
                f"transcript contains the word-boundary token {self.word_boundary!r}: {text!r} "
                "(choose another data.word_boundary)")
        return [self.word_boundary if c == " " else c for c in " ".join(split_spaces(text))]

    def encode(self, text: str, utt_id: str = "?") -> list[int]:
        """Transcript -> ids. Unknown tokens raise VocabError naming the utterance."""
        ids = []
        try:
            tokens = self.tokenize(text)
        except VocabError as e:
            raise VocabError(f"utterance {utt_id!r}: {e}") from None
        for tok in tokens:
            i = self._index.get(tok)
            if i is None or i == 0:
                raise VocabError(f"utterance {utt_id!r}: token {tok!r} is not in the vocabulary (text: {text!r})")
            ids.append(i)
        return ids

    @property
    def normalization(self) -> str:
        """The Unicode normal form of the tokens (``NFD`` when accents are separate tokens, else ``NFC``):
        references and hypotheses are put in this form before they are scored."""
        return vocabulary_form(self.tokens[1:])

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    def to_text(self, tokens: Sequence[str]) -> str:
        """Token strings -> transcript (inverse of tokenize up to whitespace)."""
        if self.unit == "phone":
            return " ".join(tokens)
        return "".join(" " if t == self.word_boundary else t for t in tokens).strip()

    @classmethod
    def build(cls, texts: Iterable[str], unit: str = "char", word_boundary: str = "|",
              ids: Optional[Sequence[str]] = None) -> "Vocab":
        """Vocabulary of every token in ``texts``, sorted (word boundary first for chars). A transcript
        with a control character is refused, naming its utterance (``ids``, in the order of ``texts``)."""
        probe = cls([], unit, word_boundary)
        seen: set[str] = set()
        for k, text in enumerate(texts):
            name = f"utterance {ids[k]!r}" if ids is not None else f"transcript {k + 1}"
            bad = control_characters(text)
            if bad:
                raise VocabError(f"{name}: transcript {text!r} holds the control character(s) "
                                 f"{', '.join(describe(c) for c in bad)}, which must not become tokens: "
                                 "remove them from the manifest (or replace them with a space)")
            try:
                seen.update(probe.tokenize(text))
            except VocabError as e:
                raise VocabError(f"{name}: {e}") from None
        ordered = sorted(seen - {word_boundary}) if unit == "char" else sorted(seen)
        if unit == "char" and word_boundary in seen:
            ordered = [word_boundary] + ordered
        if not ordered:
            raise VocabError("cannot build a vocabulary: all transcripts are empty")
        return cls(ordered, unit, word_boundary)

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text("\n".join(self.tokens) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike, unit: str = "char", word_boundary: str = "|") -> "Vocab":
        path = Path(path)
        if not path.is_file():
            raise VocabError(f"vocabulary file not found: {path}")
        lines = read_lines(path, f"a UTF-8 vocabulary file (one token a line, line 1 {BLANK})", error=VocabError)
        if not lines or lines[0] != BLANK:
            raise VocabError(f"{path}: line 1 must be {BLANK} (the CTC blank, index 0)")
        for n, tok in enumerate(lines[1:], 2):
            if control_characters(tok):
                raise VocabError(f"{path}:{n}: token {tok!r} holds the control character(s) "
                                 f"{', '.join(describe(c) for c in control_characters(tok))}: remove that line")
            if not tok or tok.strip() != tok:
                raise VocabError(f"{path}:{n}: empty token or token with surrounding whitespace: {tok!r}")
        try:
            return cls(lines[1:], unit, word_boundary)
        except VocabError as e:
            raise VocabError(f"{path}: {e}") from None

    def state(self) -> dict:
        return {"tokens": self.tokens[1:], "unit": self.unit, "word_boundary": self.word_boundary}

    @classmethod
    def from_state(cls, state: dict) -> "Vocab":
        return cls(state["tokens"], state["unit"], state["word_boundary"])
