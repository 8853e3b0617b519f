"""Editorial spelling -> a target corpus's transcription conventions: a table of seeded rewrite rules.

A table is a tab-separated file with the header ``group pattern replacement probability evidence``;
lines starting with ``#`` are comments. Each row rewrites a match of ``pattern`` (a Python regular
expression) into ``replacement`` (``\\1`` refers to a group; ``{lower}`` is the match in lower case;
empty deletes) with ``probability``. Consecutive rows with the same group and pattern are the
alternatives of one rule: a match takes one of them (or stays as it is with the probability left).
Rules apply in the order of the table, each to the output of the ones before.

``rate`` scales every probability (0: nothing changes, 1: the table's rates); ``skip`` leaves whole
groups out. Bundled tables (``<name>.spelling.tsv``, ``<name>.glyphs.tsv`` here) go by their name.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Sequence

import numpy as np

from seqlabel.errors import ConfigError, DataError

HERE = Path(__file__).resolve().parent
COLUMNS = ("group", "pattern", "replacement", "probability", "evidence")


def bundled(suffix: str) -> dict[str, Path]:
    """Bundled tables ending in ``suffix``, by name: ``caroline.spelling.tsv`` -> ``{"caroline": path}``."""
    return {p.name[: -len(suffix)]: p for p in sorted(HERE.glob("*" + suffix))}


@dataclass(frozen=True)
class Rule:
    """One rewrite: a pattern and its alternatives ``(replacement, probability)``."""

    group: str
    pattern: re.Pattern
    choices: tuple[tuple[str, float], ...]

    def scaled(self, rate: float) -> Rule:
        """The rule with every probability times ``rate``, renormalised when they would pass 1."""
        probs = [min(1.0, p * rate) for _, p in self.choices]
        total = sum(probs)
        if total > 1.0:
            probs = [p / total for p in probs]
        return Rule(self.group, self.pattern, tuple((r, p) for (r, _), p in zip(self.choices, probs)))


def resolve_table(spec: str | Path | None, suffix: str, option: str) -> Path | None:
    """A table's path: a bundled name (``caroline``), a file, or None for ``none``/``""``; ``option``
    names the recipe option in errors."""
    if spec is None or str(spec).strip().lower() in ("", "none"):
        return None
    tables = bundled(suffix)
    if str(spec) in tables:
        return tables[str(spec)]
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ConfigError(f"render: {option} table {spec!r} is neither a file nor a bundled table "
                          f"({', '.join(tables) or 'none bundled'})")
    return path


def load_rules(path: Path) -> list[Rule]:
    """The rules of a table file, in order; DataError names the file and row of a bad one."""
    rows: list[tuple[str, str, str, float]] = []
    with open(path, encoding="utf-8", newline="") as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header[:4]) != COLUMNS[:4]:
        raise DataError(f"{path}: the first row must be the header {' '.join(COLUMNS)}, got {header!r}")
    for n, row in enumerate(reader, start=2):
        if len(row) < 4:
            raise DataError(f"{path}: row {n} has {len(row)} fields, needs at least 4: {row!r}")
        group, pattern, replacement, prob = row[:4]
        try:
            p = float(prob)
        except ValueError:
            raise DataError(f"{path}: row {n}: probability {prob!r} is not a number") from None
        if not 0.0 <= p <= 1.0:
            raise DataError(f"{path}: row {n}: probability {p} is not in [0, 1]")
        rows.append((group.strip(), pattern, replacement, p))
    rules: list[Rule] = []
    for group, pattern, replacement, p in rows:
        if rules and rules[-1].group == group and rules[-1].pattern.pattern == pattern:
            last = rules[-1]
            rules[-1] = Rule(group, last.pattern, last.choices + ((replacement, p),))
            continue
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise DataError(f"{path}: group {group!r}: bad pattern {pattern!r}: {e}") from None
        rules.append(Rule(group, regex, ((replacement, p),)))
    for rule in rules:
        total = sum(p for _, p in rule.choices)
        if total > 1.0 + 1e-9:
            raise DataError(f"{path}: the alternatives of {rule.pattern.pattern!r} ({rule.group}) "
                            f"add up to {total:g} > 1")
    return rules


def select(rules: Sequence[Rule], skip: Collection[str] = (), rate: float = 1.0) -> list[Rule]:
    """The rules outside the groups in ``skip``, their probabilities scaled by ``rate``."""
    groups = {r.group for r in rules}
    unknown = set(skip) - groups
    if unknown:
        raise ConfigError(f"render: skip_rules names unknown group(s) {sorted(unknown)}; groups: {sorted(groups)}")
    if rate < 0:
        raise ConfigError(f"render: spelling_rate must be >= 0, got {rate}")
    return [r.scaled(rate) for r in rules if r.group not in skip]


def apply_rules(text: str, rules: Sequence[Rule], rng: np.random.Generator) -> str:
    """``text`` rewritten by ``rules`` in order; each match draws one number from ``rng``."""
    for rule in rules:
        text = rule.pattern.sub(_chooser(rule, rng), text)
    return " ".join(text.split())


def _chooser(rule: Rule, rng: np.random.Generator) -> Callable[[re.Match], str]:
    def choose(match: re.Match) -> str:
        u = rng.random()
        for replacement, p in rule.choices:
            if u < p:
                return match.group(0).lower() if replacement == "{lower}" else match.expand(replacement)
            u -= p
        return match.group(0)

    return choose
