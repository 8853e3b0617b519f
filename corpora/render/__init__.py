"""Synthetic line images rendered from plain text with fonts, made to look like scanned manuscript lines.

    seqlabel prepare render --data-dir TEXT -p font=FONT --out DIR           (or -p text=[a, b])

``text`` (and ``data_dir``) name text files, folders of ``*.txt`` (searched recursively) or glob
patterns, one paragraph a line; ``font`` names .ttf/.otf files, folders or patterns. Paragraphs are
cleaned (``corpora.render.text``), shuffled (``seed``), rewritten into the target's transcription
conventions by a rule table (``spelling``: ``caroline`` or a TSV, see ``corpora.render.spelling``;
``spelling_rate`` scales its probabilities, ``skip_rules`` leaves groups out), mapped onto the
characters of ``target`` when given (a manifest, a vocabulary, a text listing characters or a folder
of ``.gt.txt``; lines that still hold other characters are dropped and counted), and cut into lines
of ``chars_per_line`` characters at spaces, a line ending inside a word with probability
``break_words``. Each line is drawn letter by letter in one of the fonts that has every glyph it
needs (lines no font covers are dropped and counted), with the drawn-only forms of ``glyphs``
(long s, for the transcript's s), then degraded by the ranges of ``corpora.render.degrade.Look``.
Dev and test lines come from paragraphs that training lines do not.

Every random choice of line i comes from generators seeded with (``seed``, i): the output is the
same, byte for byte, whatever the number of ``workers`` (processes; 0: one per CPU). Layout::

    lines/<split>/<split>-<n>.png + .gt.txt     grey PNG, ``height`` rows, ink dark
    train.jsonl dev.jsonl [test.jsonl] tokens.txt validation.txt stats.json
    prepare.txt                                 options, counts, speed; spelling.txt: paragraphs before/after
"""
from __future__ import annotations

import logging
import os
import time
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Sequence

from seqlabel.corpora.common import note, preview, write_splits
from seqlabel.corpora.lines import write_codec
from seqlabel.corpora.render.degrade import Look, Range, as_range
from seqlabel.corpora.render.draw import font_name
from seqlabel.corpora.render.jobs import plan, render_all
from seqlabel.corpora.render.spelling import load_rules, resolve_table, select
from seqlabel.corpora.render.text import (
    FONT_SUFFIXES,
    TEXT_SUFFIXES,
    Charset,
    find_files,
    load_charset,
    read_paragraphs,
)
from seqlabel.errors import ConfigError, DataError
from seqlabel.types import Utterance

log = logging.getLogger(__name__)


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    text: str | Sequence[str] | None = None,
    font: str | Sequence[str] | None = None,
    num_train: int = 10000,
    num_dev: int = 500,
    num_test: int = 0,
    height: int = 64,
    chars_per_line: Range = (35, 65),
    break_words: float = 0.25,
    min_chars: int = 10,
    spelling: str | None = "caroline",
    spelling_rate: float = 1.0,
    skip_rules: str | Sequence[str] | None = None,
    glyphs: str | None = "caroline",
    target: str | None = None,
    x_height: Range = Look.x_height,
    baseline: Range = Look.baseline,
    tracking: Range = Look.tracking,
    word_space: Range = Look.word_space,
    stretch: Range = Look.stretch,
    slant: Range = Look.slant,
    rotate: Range = Look.rotate,
    curl: Range = Look.curl,
    ink_width: Range = Look.ink_width,
    fade: Range = Look.fade,
    background: Range = Look.background,
    stains: Range = Look.stains,
    blur: Range = Look.blur,
    noise: Range = Look.noise,
    binarize: float = Look.binarize,
    threshold: Range = Look.threshold,
    margin: Range = Look.margin,
    workers: int = 1,
    seed: int = 0,
) -> dict[str, Path]:
    """Render the lines and write their images, transcripts and manifests into ``out_dir``."""
    options = dict(locals())
    look = Look(**{f.name: options[f.name] for f in fields(Look)})
    counts = {"train": num_train, "dev": num_dev, "test": num_test}
    if any(not isinstance(n, int) or n < 0 for n in counts.values()) or num_train == 0:
        raise ConfigError(f"render: num_train must be > 0 and num_dev, num_test >= 0, got {counts}")
    if not 8 <= height <= 1024:
        raise ConfigError(f"render: height must lie in [8, 1024] pixels, got {height}")
    if not 0.0 <= break_words <= 1.0:
        raise ConfigError(f"render: break_words is a probability in [0, 1], got {break_words}")
    low, high = (int(v) for v in as_range(chars_per_line, "chars_per_line"))
    if low < 1:
        raise ConfigError(f"render: chars_per_line must be >= 1, got {chars_per_line!r}")
    if workers < 0:
        raise ConfigError(f"render: workers must be >= 0 (0: one per CPU), got {workers}")
    text_files = find_files(text, TEXT_SUFFIXES, "text") + find_files(data_dir, TEXT_SUFFIXES, "data_dir")
    fonts = [str(p) for p in find_files(font, FONT_SUFFIXES, "font")]
    if not text_files:
        raise ConfigError("render: name the text to render with -p text=PATH (or --data-dir PATH)")
    if not fonts:
        raise ConfigError("render: name at least one font with -p font=PATH (.ttf/.otf, a folder or a pattern)")
    skip = [s.strip() for s in (skip_rules.split(",") if isinstance(skip_rules, str) else skip_rules or [])]
    spelling_path = resolve_table(spelling, ".spelling.tsv", "spelling")
    rules = select(load_rules(spelling_path), skip, spelling_rate) if spelling_path else []
    glyphs_path = resolve_table(glyphs, ".glyphs.tsv", "glyphs")
    glyph_rules = load_rules(glyphs_path) if glyphs_path else []
    charset = Charset(load_charset(target) if target else None)

    paragraphs = read_paragraphs(text_files)
    if not paragraphs:
        raise DataError(f"render: no paragraph of text left after cleaning {preview([str(p) for p in text_files])}")
    out_dir = Path(out_dir)
    planned = plan(paragraphs, rules, glyph_rules, charset, fonts, counts, (low, high), break_words, min_chars,
                   seed, out_dir)
    jobs, dropped = planned.jobs, planned.dropped
    started = time.perf_counter()
    rendered = render_all(jobs, height, look, seed, workers)
    seconds = time.perf_counter() - started
    splits: dict[str, list[Utterance]] = {s: [] for s in ("train", "dev", "test")}
    for job in jobs:
        if rendered.get(job.index):
            source = str(job.png.resolve())
            splits[job.split].append(Utterance(job.png.stem, source, job.transcript, font_name(job.font)))
        else:
            dropped["blank image"] += 1
    for split, n in counts.items():
        if len(splits[split]) < n:
            note(f"render: {split} has {len(splits[split])} of the {n} lines asked for (the text ran out)")
    rate = len(jobs) / seconds if seconds > 0 else float("inf")
    report = [
        f"render: {len(text_files)} text file(s), {len(paragraphs)} paragraphs; fonts: "
        + ", ".join(f"{font_name(f)} ({n})" for f, n in sorted(Counter(j.font for j in jobs).items())),
        f"spelling {spelling_path or 'none'} (rate {spelling_rate}, skipped {skip or 'none'}), "
        f"glyphs {glyphs_path or 'none'}, target {target or 'none'}",
        "lines: " + ", ".join(f"{s} {len(u)}" for s, u in splits.items()),
        "dropped: " + (", ".join(f"{k} {v}" for k, v in dropped.items() if v) or "none")
        + (f" (characters: {preview(planned.outside, 12)})" if planned.outside else ""),
        f"rendered {len(jobs)} lines in {seconds:.1f} s: {rate:.1f} lines/s with {workers or os.cpu_count()} worker(s)",
        "options: " + ", ".join(f"{k}={v!r}" for k, v in options.items() if k not in ("data_dir", "out_dir")),
    ]
    log.info("\n".join(report[:5]))
    (out_dir / "prepare.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    (out_dir / "spelling.txt").write_text("\n\n".join(f"before: {b}\nafter:  {a}" for b, a in planned.samples) + "\n",
                                          encoding="utf-8")
    write_codec(out_dir, splits, "render")
    return write_splits(out_dir, splits)
