"""Handwritten digit strings composed from the digits bundled with scikit-learn (nothing downloaded).

scikit-learn's ``load_digits`` holds 1,797 real handwritten digits as 8x8 images with 17 grey
levels: the test part of UCI's Optical Recognition of Handwritten Digits, written by 13 people.
The images carry no writer labels, so the split is by digit image, not by writer: every image is
used in one split only, but test strings are written by the same 13 hands as the training
strings (writer-mixed). Results on this set measure reading new images of known hands.

Each line is ``min_len``-``max_len`` digits drawn from its split's images, each image scaled up
``scale`` times (8 * scale pixels square), set side by side with random gaps of 0 to ``scale``
pixels (occasionally touching neighbours: gaps down to -scale / 2) and vertical offsets of up to
``scale`` pixels, dark ink on white. The transcript is the digit string, no spaces. Layout under
``out_dir``::

    images/<split>/<id>.png      one line image per utterance
    train.jsonl dev.jsonl test.jsonl tokens.txt

The digit images are divided ``1 - dev_fraction - test_fraction`` / ``dev_fraction`` /
``test_fraction`` per class, reproducibly (``seed``).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from seqlabel.corpora.common import write_splits
from seqlabel.corpora.lines import write_codec
from seqlabel.errors import ConfigError
from seqlabel.types import Utterance

GRID = 8  # the bundled images are 8x8
LEVELS = 16  # pixel values 0..16


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    num_train: int = 3000,
    num_dev: int = 300,
    num_test: int = 600,
    min_len: int = 3,
    max_len: int = 8,
    scale: int = 4,
    dev_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> dict[str, Path]:
    """Compose the digit-string line images and write their manifests into ``out_dir``; ``data_dir`` is unused."""
    if data_dir is not None:
        raise ConfigError("digits: the images come with scikit-learn; drop --data-dir")
    if not 1 <= min_len <= max_len:
        raise ConfigError(f"digits: need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    if scale < 1:
        raise ConfigError(f"digits: scale must be >= 1, got {scale}")
    for name, value in (("num_train", num_train), ("num_dev", num_dev), ("num_test", num_test)):
        if value < 0:
            raise ConfigError(f"digits: {name} must be >= 0, got {value}")
    if not (0 < dev_fraction < 1 and 0 < test_fraction < 1 and dev_fraction + test_fraction < 1):
        raise ConfigError(f"digits: dev_fraction and test_fraction must be in (0, 1) with a sum below 1, "
                          f"got {dev_fraction}, {test_fraction}")
    images, labels = load_digit_images()
    pools = split_images(labels, dev_fraction, test_fraction, seed)
    out_dir = Path(out_dir)
    splits: dict[str, list[Utterance]] = {}
    for k, (name, count) in enumerate((("train", num_train), ("dev", num_dev), ("test", num_test))):
        rng = np.random.default_rng((seed, k))
        folder = out_dir / "images" / name
        folder.mkdir(parents=True, exist_ok=True)
        utts = []
        for i in range(count):
            length = int(rng.integers(min_len, max_len + 1))
            chosen = rng.choice(pools[name], size=length)
            line = compose_line([images[j] for j in chosen], rng, scale)
            utt_id = f"{name}-{i:05d}"
            path = folder / f"{utt_id}.png"
            path.write_bytes(_png(line))
            utts.append(Utterance(utt_id, str(path.resolve()), "".join(str(int(labels[j])) for j in chosen)))
        splits[name] = utts
    write_codec(out_dir, splits, "digits")
    return write_splits(out_dir, splits)


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """(N, 8, 8) ink in [0, 1] and (N,) digit labels from scikit-learn's bundled copy."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - scikit-learn comes with librosa
        raise ConfigError("digits: needs scikit-learn (pip install scikit-learn)") from None
    bunch = load_digits()
    return (bunch.images / LEVELS).astype(np.float32), bunch.target.astype(np.int64)


def split_images(labels: np.ndarray, dev_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Disjoint image indices per split, dealt per class so every digit is in every split."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "dev": [], "test": []}
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        n_test = max(1, int(round(test_fraction * len(idx))))
        n_dev = max(1, int(round(dev_fraction * len(idx))))
        parts["test"].extend(idx[:n_test])
        parts["dev"].extend(idx[n_test : n_test + n_dev])
        parts["train"].extend(idx[n_test + n_dev :])
    return {name: np.array(sorted(ids)) for name, ids in parts.items()}


def compose_line(digits: list[np.ndarray], rng: np.random.Generator, scale: int = 4) -> np.ndarray:
    """8x8 ink images -> one (8 * scale + 2 * scale, W) ink line: scaled up, spaced and jittered."""
    from PIL import Image

    size = GRID * scale
    height = size + 2 * scale
    glyphs = [np.asarray(Image.fromarray(d, mode="F").resize((size, size), Image.Resampling.BILINEAR)) for d in digits]
    gaps = [int(rng.integers(-scale // 2, scale + 1)) for _ in glyphs[1:]]
    width = 2 * scale + size * len(glyphs) + sum(gaps) + 2 * scale
    line = np.zeros((height, width), dtype=np.float32)
    x = 2 * scale
    for k, glyph in enumerate(glyphs):
        y = scale + int(rng.integers(-scale, scale + 1))  # in [0, height - size]
        region = line[y : y + size, x : x + size]
        np.maximum(region, glyph, out=region)
        x += size + (gaps[k] if k < len(gaps) else 0)
    return np.clip(line, 0.0, 1.0)


def _png(ink: np.ndarray) -> bytes:
    """Ink image (1 = ink) -> 8-bit grey PNG bytes, dark ink on white."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.round(255 * (1.0 - ink)).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
