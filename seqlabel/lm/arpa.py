"""ARPA back-off n-gram files: parsing with errors that name the file and line, and writing.

Tables are natural logs keyed by n-gram tuples; the files hold log10.
"""
from __future__ import annotations

import gzip
import io
import math
import os
from collections import Counter
from pathlib import Path
from typing import Container, Iterable

from seqlabel.errors import DataError
from seqlabel.textfile import iter_lines

LN10 = math.log(10.0)
Gram = tuple[str, ...]
Tables = tuple[int, dict[Gram, float], dict[Gram, float]]  # order, log-probabilities, back-off weights


def read_arpa(path: str | os.PathLike) -> Tables:
    """``parse_arpa`` of a file (``.gz`` too); text before the ``\\data\\`` line is ignored."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"ARPA file not found: {path}")
    return parse_arpa((line for _, line in iter_lines(path, "a UTF-8 ARPA language model")), str(path))


def parse_arpa(lines: Iterable[str], name: str) -> Tables:
    """(order, natural-log probabilities, natural-log back-offs) of ARPA text; DataErrors name ``name``:line."""
    declared: dict[int, int] = {}
    logprobs: dict[tuple[str, ...], float] = {}
    backoffs: dict[tuple[str, ...], float] = {}
    found: Counter = Counter()
    where = "header"  # "header", "counts", an order n, or "end"
    section_line: dict[int, int] = {}
    lineno = 0
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if where == "header":
            if text == "\\data\\":
                where = "counts"
            continue
        if not text:
            continue
        if where == "end":
            raise DataError(f"{name}:{lineno}: text after \\end\\: {text[:60]!r}")
        if text == "\\end\\":
            if isinstance(where, int):
                _check_count(name, where, declared, found, section_line)
            where = "end"
            continue
        if text.startswith("\\") and text.endswith("-grams:"):
            n = _int_or_none(text[1:-len("-grams:")])
            if n is None or n not in declared:
                raise DataError(f"{name}:{lineno}: section {text!r} was not declared in \\data\\ "
                                f"(declared orders: {sorted(declared)})")
            if n in section_line:
                raise DataError(f"{name}:{lineno}: second {text!r} section (first on line {section_line[n]})")
            if isinstance(where, int):
                _check_count(name, where, declared, found, section_line)
            where = n
            section_line[n] = lineno
            continue
        if where == "counts":
            key, eq, value = text.partition("=")
            parts = key.split()
            n, count = (_int_or_none(parts[1]) if len(parts) == 2 else None), _int_or_none(value)
            if parts[:1] != ["ngram"] or not eq or n is None or n < 1 or count is None or count < 0:
                raise DataError(f"{name}:{lineno}: expected 'ngram N=COUNT' in \\data\\, got {text[:60]!r}")
            if n in declared:
                raise DataError(f"{name}:{lineno}: order {n} declared twice")
            declared[n] = count
            continue
        n = where
        fields = text.split()
        if len(fields) not in (n + 1, n + 2):
            raise DataError(f"{name}:{lineno}: a {n}-gram line needs a log10 probability, {n} "
                            f"token(s) and an optional back-off; got {len(fields)} field(s): {text[:80]!r}")
        lp = _float_or_none(fields[0])
        if lp is None or lp > 0 or math.isnan(lp):
            raise DataError(f"{name}:{lineno}: bad log10 probability {fields[0]!r} (must be a number <= 0)")
        gram = tuple(fields[1:n + 1])
        if gram in logprobs:
            raise DataError(f"{name}:{lineno}: duplicate {n}-gram {' '.join(gram)!r}")
        logprobs[gram] = lp * LN10
        found[n] += 1
        if len(fields) == n + 2:
            bo = _float_or_none(fields[-1])
            if bo is None or math.isnan(bo) or bo == math.inf:
                raise DataError(f"{name}:{lineno}: bad log10 back-off weight {fields[-1]!r}")
            if bo != 0.0:
                backoffs[gram] = bo * LN10
    if where == "header":
        raise DataError(f"{name}: no \\data\\ line: not an ARPA file ({lineno} lines read)")
    if not declared:
        raise DataError(f"{name}: \\data\\ declares no 'ngram N=COUNT' lines")
    if where != "end":
        raise DataError(f"{name}:{lineno}: missing \\end\\ (file truncated?)")
    for n in declared:
        if n not in section_line and declared[n] > 0:
            raise DataError(f"{name}: \\data\\ declares {declared[n]} {n}-grams but there is no "
                            f"\\{n}-grams: section")
    if not any(len(g) == 1 for g in logprobs):
        raise DataError(f"{name}: no unigrams")
    order = max(declared)
    for g in [g for g in backoffs if len(g) >= order]:  # meaningless on the highest order
        del backoffs[g]
    return order, logprobs, backoffs


def write_arpa(path: str | os.PathLike, order: int, logprobs: dict[Gram, float], backoffs: dict[Gram, float],
               contexts: Container[Gram]) -> Path:
    """Write natural-log tables as an ARPA file (``.gz`` compresses), log10 with 7 decimals; a back-off
    column for every lower-order n-gram that has a weight or is a context of a higher one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    by_order: dict[int, list[Gram]] = {n: [] for n in range(1, order + 1)}
    for g in logprobs:
        by_order[len(g)].append(g)
    buf = io.StringIO()
    buf.write("\n\\data\\\n")
    for n in by_order:
        buf.write(f"ngram {n}={len(by_order[n])}\n")
    for n, grams in by_order.items():
        buf.write(f"\n\\{n}-grams:\n")
        for g in sorted(grams):
            line = f"{_fmt(logprobs[g] / LN10)}\t{' '.join(g)}"
            if n < order and (g in backoffs or g in contexts):
                line += f"\t{_fmt(backoffs.get(g, 0.0) / LN10)}"
            buf.write(line + "\n")
    buf.write("\n\\end\\\n")
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".gz":
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            f.write(buf.getvalue())
    else:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(path)
    return path


def _int_or_none(s: str) -> int | None:
    try:
        return int(s)
    except ValueError:
        return None


def _float_or_none(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def _fmt(x: float) -> str:
    if x == -math.inf:
        return "-inf"
    s = f"{x:.7f}"
    return "0.0000000" if s == "-0.0000000" else s


def _check_count(name: str, n: int, declared: dict[int, int], found: Counter, section_line: dict[int, int]) -> None:
    if found[n] != declared[n]:
        raise DataError(f"{name}:{section_line[n]}: \\data\\ declares {declared[n]} {n}-grams but the "
                        f"\\{n}-grams: section starting here holds {found[n]}")
