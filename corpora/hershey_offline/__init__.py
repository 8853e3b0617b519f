"""Synthetic offline handwriting: the Hershey-font lines of ``seqlabel.corpora.hershey`` rendered as images.

The writers (font, slant, size, spacing, skew, wobble, tremor), words and pen trajectories come
from the online recipe's generator (``seqlabel.corpora.hershey``); here each line's strokes are drawn with
a round pen onto white paper instead of being stored. Each writer also has a pen width, drawn from
``pen_width`` (in core heights, the height of an x), varied by up to 15% per line. Lines are
rendered at ``core_px`` pixels per core height (2x supersampled, then averaged down: grey edges),
cropped to the ink plus a margin of one core height. Dev and test writers are held out of
training entirely (writer-disjoint), as in the online corpus. Layout under ``out_dir``::

    images/<writer>/<id>.png       dark ink on white, 8-bit grey
    train.jsonl dev.jsonl test.jsonl tokens.txt writers.tsv (with each writer's pen width)
"""
from __future__ import annotations

import io
import random
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from seqlabel.corpora.common import write_splits
from seqlabel.corpora.lines import write_codec
from seqlabel.errors import ConfigError
from seqlabel.types import Utterance

SUPERSAMPLE = 2


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    num_train: int = 1600,
    num_dev: int = 160,
    num_test: int = 240,
    train_writers: int = 40,
    dev_writers: int = 8,
    test_writers: int = 12,
    core_px: float = 12.0,
    pen_width: tuple[float, float] | list[float] = (0.08, 0.25),
    seed: int = 0,
) -> dict[str, Path]:
    """Render the lines and write their manifests into ``out_dir``; ``data_dir`` is unused."""
    from seqlabel.corpora.hershey import MAX_WORDS, MIN_WORDS, VOCAB_SIZE, Writer, make_writers, vocabulary, write_line

    if data_dir is not None:
        raise ConfigError("hershey_offline: the lines are synthesised; drop --data-dir")
    lo, hi = (float(v) for v in pen_width)
    if not 0 < lo <= hi:
        raise ConfigError(f"hershey_offline: pen_width must be [low, high] with 0 < low <= high, got {pen_width!r}")
    if core_px < 4:
        raise ConfigError(f"hershey_offline: core_px must be >= 4, got {core_px}")
    sizes = {"train": (num_train, train_writers), "dev": (num_dev, dev_writers), "test": (num_test, test_writers)}
    for split, (count, nwriters) in sizes.items():
        if count < 0 or nwriters < 0 or (count > 0 and nwriters == 0):
            raise ConfigError(f"hershey_offline: {split} needs num_{split} >= 0 and, when it is > 0, "
                              f"{split}_writers > 0; got {count} lines, {nwriters} writers")
    if num_train == 0:
        raise ConfigError("hershey_offline: num_train must be > 0")
    out_dir = Path(out_dir)
    writers = make_writers(sum(n for _, n in sizes.values()), seed)
    pens = {w.name: random.Random(f"{seed}-pen-{w.name}").uniform(lo, hi) for w in writers}
    vocab = vocabulary(VOCAB_SIZE, seed)
    splits: dict[str, list[Utterance]] = {}
    first = 0
    for split, (count, nwriters) in sizes.items():
        group, first = writers[first : first + nwriters], first + nwriters
        utts: list[Utterance] = []
        for k, writer in enumerate(group):
            share = count // len(group) + (k < count % len(group)) if group else 0
            folder = out_dir / "images" / writer.name
            folder.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng([seed, int(writer.name[1:]), 1])
            words_rng = random.Random(f"{seed}-{split}-{writer.name}-offline")
            for j in range(share):
                words = words_rng.sample(vocab, words_rng.randint(MIN_WORDS, MAX_WORDS))
                strokes = write_line(words, writer, rng)
                width = pens[writer.name] * rng.uniform(0.85, 1.15)
                ink = render_strokes([s[:, :2] / writer.size for s in strokes], core_px, width)
                utt_id = f"{writer.name}-{j:04d}"
                path = folder / f"{utt_id}.png"
                path.write_bytes(_png(ink))
                utts.append(Utterance(utt_id, str(path.resolve()), " ".join(words), writer.name))
        splits[split] = utts
    names = [f.name for f in fields(Writer)] + ["pen_width"]
    rows = ["\t".join(names)] + ["\t".join([*(str(v) for v in asdict(w).values()), f"{pens[w.name]:.4f}"])
                                 for w in writers]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "writers.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    write_codec(out_dir, splits, "hershey_offline")
    return write_splits(out_dir, splits)


def render_strokes(strokes: list[np.ndarray], core_px: float, pen_width: float) -> np.ndarray:
    """Pen-down strokes (N, 2) in core heights (y down) -> ink image (H, W) in [0, 1] (ink = 1).

    A round pen ``pen_width`` core heights wide; the image is cropped to the ink plus one core height.
    """
    from PIL import Image, ImageDraw

    points = np.vstack(strokes)
    scale = core_px * SUPERSAMPLE
    margin = 1.0  # core heights
    origin = points.min(axis=0) - margin
    extent = points.max(axis=0) + margin - origin
    width, height = (int(np.ceil(v * scale)) + 1 for v in extent)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    pen = max(1, int(round(pen_width * scale)))
    for s in strokes:
        xy = [tuple(p) for p in ((s - origin) * scale).tolist()]
        if len(xy) == 1:
            xy = xy * 2
        draw.line(xy, fill=255, width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen ends
            r = pen / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    small = canvas.resize((max(1, width // SUPERSAMPLE), max(1, height // SUPERSAMPLE)), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _png(ink: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.round(255 * (1.0 - ink)).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
