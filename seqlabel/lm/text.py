"""Language-model text from plain text files (``seqlabel lm train --text PATH...``), mapped onto the
characters a model can output.

    files, or folders (every ``*.txt`` below, in sorted order); one sentence or paragraph a line
      -> with ``--spelling TABLE``: cleaned and rewritten into a target corpus's conventions by the render
         recipe's seeded rules (``ae`` -> ``ę``, ``et`` -> ``&``, ...), as its rendered lines are
      -> Unicode normalisation (``NFC`` by default, as ``seqlabel prepare lines``; NFD, NFKC, NFKD, none)
      -> whitespace runs collapsed to one space
      -> with a vocabulary (a tokens file, or a checkpoint's): each character the model cannot output
         is mapped, in this order, or dropped:
           table        the mapping table (``char<TAB>replacement`` per line; an empty replacement drops)
           decomposed   its NFD decomposition, when the model has every part (e with tilde -> e + tilde)
           marks        its base letter, when the model lacks the combining marks (e with acute -> e)
           case         its other case, when only that one is in the vocabulary (Q -> q); case+decomposed
                        and case+marks: the same rules on the other case (E with acute -> e)
           dropped      none of these
         spaces stay when the vocabulary has the word-boundary token, else they are dropped too
      -> lines left empty are skipped

``TextReport`` counts every character kept, mapped (by rule) and dropped, per character.
"""
from __future__ import annotations

import logging
import os
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import numpy as np

from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, DataError, VocabError

log = logging.getLogger(__name__)

NORMALIZATIONS = ("NFC", "NFD", "NFKC", "NFKD", "none")


def text_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The files of ``paths``: a file as given, a folder as every ``*.txt`` below it (sorted)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*.txt") if f.is_file())
            if not found:
                raise DataError(f"no .txt files in the folder {p} (--text takes text files or folders of them)")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"text file or folder not found: {p}")
    return files


def load_vocab(path: str | os.PathLike) -> Vocab:
    """The vocabulary of a checkpoint (``.pt``) or of a tokens file (``tokens.txt``: line 1 ``<blank>``)."""
    path = Path(path)
    if path.suffix == ".pt":
        from seqlabel.models.checkpoint import load_checkpoint  # lazy: torch only for checkpoints

        state = load_checkpoint(path)
        if "vocab" not in state:
            raise VocabError(f"{path} holds no vocabulary; pass a seqlabel checkpoint or a tokens.txt")
        return Vocab.from_state(state["vocab"])
    return Vocab.load(path)


def load_table(path: str | os.PathLike) -> dict[str, str]:
    """A mapping table: ``char<TAB>replacement`` per line (replacement may be empty: drop); ``#`` comments."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"mapping table not found: {path}")
    table: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        source, sep, target = line.partition("\t")
        if not sep or len(source) != 1:
            raise DataError(f"{path}:{n}: expected one character, a tab and its replacement, got {line!r}")
        table[source] = target
    return table


@dataclass
class TextReport:
    """What the mapping did: characters kept as they were, mapped (char, replacement, rule), dropped."""

    files: int = 0
    lines: int = 0  # lines with text read
    kept_lines: int = 0  # lines left with text after mapping
    chars: int = 0  # characters read (spaces excluded)
    kept: int = 0
    mapped: Counter = field(default_factory=Counter)  # (char, replacement, rule) -> count
    dropped: Counter = field(default_factory=Counter)  # char -> count

    def summary(self) -> str:
        rules = Counter()
        for (_, _, rule), n in self.mapped.items():
            rules[rule] += n
        lost = sum(self.dropped.values())
        top = ", ".join(f"{_show(c)} {n:,}" for c, n in self.dropped.most_common(8))
        return (f"{self.files} file(s), {self.lines:,} lines ({self.kept_lines:,} kept), {self.chars:,} characters: "
                f"{self.kept:,} kept, {sum(rules.values()):,} mapped"
                + (f" ({', '.join(f'{r} {n:,}' for r, n in rules.most_common())})" if rules else "")
                + f", {lost:,} dropped" + (f" ({len(self.dropped)} distinct; most: {top})" if lost else ""))

    def table(self) -> str:
        """TSV: character, code point, Unicode name, rule (or dropped), replacement, count."""
        rows = [(c, rule, r, n) for (c, r, rule), n in self.mapped.items()]
        rows += [(c, "dropped", "", n) for c, n in self.dropped.items()]
        lines = ["char\tcodepoint\tname\taction\treplacement\tcount"]
        for c, rule, r, n in sorted(rows, key=lambda row: -row[3]):
            lines.append(f"{c}\tU+{ord(c):04X}\t{unicodedata.name(c, '?')}\t{rule}\t{r}\t{n}")
        return "\n".join(lines) + "\n"


def _show(c: str) -> str:
    return f"{c!r} (U+{ord(c):04X})"


class CharMapper:
    """Normalises a line and maps its characters onto a vocabulary's (None: no mapping), counting."""

    def __init__(self, vocab: Optional[Vocab] = None, table: Optional[dict[str, str]] = None,
                 normalization: str = "NFC") -> None:
        if normalization not in NORMALIZATIONS:
            raise ConfigError(f"normalization must be one of {list(NORMALIZATIONS)}, got {normalization!r}")
        if vocab is not None and vocab.unit != "char":
            raise ConfigError(f"mapping text onto a vocabulary needs a character model; this one's unit is "
                              f"{vocab.unit} (train a phone LM from phone transcripts instead)")
        self.normalization = normalization
        self.allowed: Optional[set[str]] = None
        if vocab is not None:
            self.allowed = {t for t in vocab.tokens[1:] if t != vocab.word_boundary}
            self.spaces = vocab.word_boundary in vocab.tokens
        self.table = dict(table or {})
        for source, target in self.table.items():
            bad = [c for c in target if self.allowed is not None and c != " " and c not in self.allowed]
            if bad:
                raise VocabError(f"mapping table: {_show(source)} -> {target!r} holds {_show(bad[0])}, which the "
                                 "vocabulary lacks; map to characters the model can output")
        self._rules: dict[str, tuple[str, str]] = {}  # char -> (replacement, rule)
        self.report = TextReport()

    def __call__(self, line: str) -> str:
        """One line of text, normalised and mapped ("" when nothing is left)."""
        if self.normalization != "none":
            line = unicodedata.normalize(self.normalization, line)
        words = line.split()
        if not words:
            return ""
        self.report.lines += 1
        out = []
        for c in " ".join(words):
            if c == " ":
                out.append(" " if self.allowed is None or self.spaces else "")
                continue
            self.report.chars += 1
            if self.allowed is None or c in self.allowed:
                self.report.kept += 1
                out.append(c)
                continue
            replacement, rule = self._rules.get(c) or self._rules.setdefault(c, self._rule(c))
            if rule == "dropped":
                self.report.dropped[c] += 1
            else:
                self.report.mapped[(c, replacement, rule)] += 1
            out.append(replacement)
        text = " ".join("".join(out).split())
        self.report.kept_lines += bool(text)
        return text

    def _rule(self, c: str) -> tuple[str, str]:
        """(replacement, rule) for a character the vocabulary lacks."""
        allowed = self.allowed or set()
        if c in self.table:
            return self.table[c], "table"
        for form, case in ((c, ""), (c.lower(), "case+"), (c.upper(), "case+")):
            if len(form) != 1 or (case and form == c):
                continue
            if form in allowed:
                return form, "case"
            parts = unicodedata.normalize("NFD", form)
            if len(parts) > 1 and parts[0] in allowed:
                kept = "".join(p for p in parts if p in allowed)
                return kept, case + ("decomposed" if kept == parts else "marks")
        return "", "dropped"


class Spelling:
    """The render recipe's rewriting of editorial text (``seqlabel prepare render``): each line cleaned as
    its paragraphs are (numbers, brackets and symbols out) and rewritten by a spelling table (``caroline`` or
    a TSV, see ``seqlabel.corpora.render.spelling``), seeded, so an LM sees the target's conventions."""

    def __init__(self, table: str | os.PathLike, seed: int = 0) -> None:
        from seqlabel.corpora.render.spelling import load_rules, resolve_table, select

        path = resolve_table(str(table), ".spelling.tsv", "--spelling")
        if path is None:
            raise ConfigError("--spelling needs a table: a bundled name (caroline) or a .spelling.tsv file")
        self.rules = select(load_rules(path))
        self.rng = np.random.default_rng(seed)

    def __call__(self, line: str) -> str:
        from seqlabel.corpora.render.spelling import apply_rules
        from seqlabel.corpora.render.text import clean

        text = clean(line)
        return apply_rules(text, self.rules, self.rng) if text else ""


def read_text(paths: Iterable[str | os.PathLike], mapper: CharMapper,
              rewrite: Optional[Callable[[str], str]] = None) -> Iterator[str]:
    """The non-empty, mapped lines of the text files and folders ``paths`` (each first through ``rewrite``)."""
    for path in text_files(paths):
        mapper.report.files += 1
        try:
            with path.open(encoding="utf-8") as f:
                for line in f:
                    text = mapper(rewrite(line) if rewrite is not None else line)
                    if text:
                        yield text
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); convert it, e.g. "
                            f"iconv -f latin1 -t utf-8") from None


@dataclass(frozen=True)
class ModelText:
    """LM text for a model: its lines, what was mapped and dropped, and the model's tokens (a character LM
    knows every character of the model, seen in the text or not) and word boundary."""

    texts: list[str]
    report: TextReport
    tokens: list[str]
    word_boundary: str


def model_text(paths: Iterable[str | os.PathLike], vocab: Optional[str | os.PathLike] = None, unit: str = "char",
               word_boundary: str = "|", normalization: str = "NFC", table: Optional[str | os.PathLike] = None,
               spelling: Optional[str | os.PathLike] = None) -> ModelText:
    """``lm_text`` for an LM of ``unit`` (char or word): with ``vocab`` (a checkpoint or tokens file, loaded
    once) its tokens and word boundary come from the model."""
    if vocab is not None and unit == "phone":
        raise ConfigError("--vocab maps characters onto a character model's; use it with --unit char or word")
    model_vocab = load_vocab(vocab) if vocab is not None else None
    texts, report = lm_text(paths, model_vocab, normalization, table, spelling)
    if model_vocab is None:
        return ModelText(texts, report, [], word_boundary)
    return ModelText(texts, report, model_vocab.tokens[1:] if unit == "char" else [], model_vocab.word_boundary)


def text_for_lm(paths: Iterable[str | os.PathLike], vocab: Optional[str | os.PathLike], unit: str, word_boundary: str,
                normalization: str, table: Optional[str | os.PathLike], spelling: Optional[str | os.PathLike],
                out: Optional[str | os.PathLike]) -> ModelText:
    """``model_text`` for ``seqlabel lm train --text``: its report logged and, with ``out`` and ``vocab``, the
    table of what was mapped and dropped written to ``<out>.charmap.tsv`` (before the ARPA file, as that is)."""
    prepared = model_text(paths, vocab, unit, word_boundary, normalization, table, spelling)
    log.info(f"text: {prepared.report.summary()}")
    if out is not None and vocab is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(f"{out}.charmap.tsv").write_text(prepared.report.table(), encoding="utf-8")
    return prepared


def lm_text(paths: Iterable[str | os.PathLike], vocab: Vocab | str | os.PathLike | None = None,
            normalization: str = "NFC", table: Optional[str | os.PathLike] = None,
            spelling: Optional[str | os.PathLike] = None, seed: int = 0) -> tuple[list[str], TextReport]:
    """The lines of text files and folders, (with ``spelling``) rewritten into a target corpus's conventions
    as the render recipe does, normalised and (with ``vocab``: a Vocab, checkpoint or tokens file) mapped onto the
    model's characters, with the report of what was mapped and dropped."""
    mapper = CharMapper(load_vocab(vocab) if vocab is not None and not isinstance(vocab, Vocab) else vocab,
                        load_table(table) if table is not None else None, normalization)
    texts = list(read_text(paths, mapper, Spelling(spelling, seed) if spelling is not None else None))
    if not texts:
        raise DataError(f"no text left in {', '.join(map(str, paths))} after mapping ({mapper.report.summary()})")
    return texts, mapper.report
