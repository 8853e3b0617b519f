"""What to render (``plan``: paragraphs -> lines with their split, font and file) and rendering it, in
this process or in worker processes (``render_all``). Every random choice of line i is seeded with
(seed, stream, i), so the lines do not depend on the number of workers."""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np

from seqlabel.corpora.render.degrade import Look, render_line
from seqlabel.corpora.render.draw import missing
from seqlabel.corpora.render.spelling import Rule, apply_rules
from seqlabel.corpora.render.text import Charset, chunk

SPLITS = ("dev", "test", "train")  # the order they are filled in: held-out sets first
SAMPLE_PARAGRAPHS = 12  # paragraphs kept to show the spelling rules at work (their first SAMPLE_CHARS)
SAMPLE_CHARS = 400
MAX_LINES_PER_PARAGRAPH = 25  # a whole chapter on one text line must not fill the dev set alone
# seed streams: paragraph order, a paragraph's spelling and cutting, a line's font and drawn forms, its image
ORDER, SPELL, CHOOSE, DRAW = 0, 1, 3, 2


@dataclass(frozen=True)
class Job:
    """Line ``index`` of the corpus: its split, image path, the text drawn, its transcript and font."""

    index: int
    split: str
    png: Path
    drawn: str
    transcript: str
    font: str


@dataclass
class Plan:
    jobs: list[Job]
    dropped: Counter  # reason -> lines
    outside: Counter  # character outside the target -> lines dropped for it
    samples: list[tuple[str, str]]  # (paragraph, paragraph after the spelling rules)


def plan(paragraphs: Sequence[str], rules: Sequence[Rule], glyph_rules: Sequence[Rule], charset: Charset,
         fonts: Sequence[str], counts: dict[str, int], lengths: tuple[int, int], break_words: float,
         min_chars: int, seed: int, out_dir: Path) -> Plan:
    """Lines for each split (dev, then test, then train, each from its own paragraphs, taken in a
    seeded random order; at most MAX_LINES_PER_PARAGRAPH from one) until ``counts`` are met or the
    text runs out."""
    result = Plan([], Counter(), Counter(), [])
    made = dict.fromkeys(SPLITS, 0)
    for p in np.random.default_rng([seed, ORDER]).permutation(len(paragraphs)):
        split = next((s for s in SPLITS if made[s] < counts[s]), None)
        if split is None:
            break
        rng = np.random.default_rng([seed, SPELL, int(p)])
        mapped = charset.map(apply_rules(paragraphs[p], rules, rng))
        if len(result.samples) < SAMPLE_PARAGRAPHS:
            result.samples.append((paragraphs[p][:SAMPLE_CHARS], mapped[:SAMPLE_CHARS]))
        for line in chunk(mapped, rng, lengths, break_words, min_chars)[:MAX_LINES_PER_PARAGRAPH]:
            if made[split] >= counts[split]:
                break
            outside = charset.outside(line)
            if outside:
                result.dropped["outside the target's characters"] += 1
                result.outside.update(outside)
                continue
            index = len(result.jobs)
            choose = np.random.default_rng([seed, CHOOSE, index])
            usable = [f for f in fonts if not missing(f, line)]
            if not usable:
                result.dropped["no font has every glyph"] += 1
                continue
            font = usable[int(choose.integers(len(usable)))]
            drawn = apply_rules(line, glyph_rules, choose)
            png = out_dir / "lines" / split / f"{split}-{made[split]:06d}.png"
            result.jobs.append(Job(index, split, png, line if missing(font, drawn) else drawn, line, font))
            made[split] += 1
    return result


def render_one(job: Job, height: int, look: Look, seed: int) -> tuple[int, bool]:
    """Draw ``job`` and write its PNG and ``.gt.txt``; (index, False) when the image came out blank."""
    from PIL import Image

    image = render_line(job.drawn, job.font, height, look, np.random.default_rng([seed, DRAW, job.index]))
    if image is None:
        return job.index, False
    Image.fromarray(image, mode="L").save(job.png)
    job.png.with_name(job.png.stem + ".gt.txt").write_text(job.transcript + "\n", encoding="utf-8")
    return job.index, True


def render_all(jobs: Sequence[Job], height: int, look: Look, seed: int, workers: int) -> dict[int, bool]:
    """Render every job, in ``workers`` processes (0: one per CPU; 1: here); index -> image written."""
    import multiprocessing
    import os

    from tqdm import tqdm

    for folder in sorted({job.png.parent for job in jobs}):
        folder.mkdir(parents=True, exist_ok=True)
    work = partial(render_one, height=height, look=look, seed=seed)
    workers = workers or os.cpu_count() or 1
    bar = partial(tqdm, total=len(jobs), unit="line", desc="render", disable=not sys.stderr.isatty())
    if workers == 1 or len(jobs) < 2:
        return dict(bar(map(work, jobs)))
    with multiprocessing.get_context().Pool(workers) as pool:
        return dict(bar(pool.imap_unordered(work, jobs, chunksize=16)))
