"""Fonts and letter-by-letter typesetting with Pillow.

Each grapheme (a character and the combining marks after it) is drawn once per font and pixel size
with ``ImageDraw.text`` and kept (``glyph``); a line is laid out by pasting the glyphs at their
advance widths plus a random tracking, so every letter's place is under our control. Coverage is
read from the font's character map with fontTools when it is installed, else a character counts
as missing when Pillow draws it exactly like a character no font has (the .notdef glyph).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from seqlabel.errors import ConfigError

NOTDEF_PROBE = "\U0010fffd"  # a private-use code point no font maps: Pillow draws .notdef for it
MEASURE_SIZE = 100  # pixel size at which a font's proportions are measured


@dataclass(frozen=True)
class Glyph:
    """A grapheme's ink (h, w) uint8, its top-left corner relative to the pen on the baseline, and
    the pen's advance (pixels)."""

    ink: np.ndarray
    left: int
    top: int
    advance: float


@lru_cache(maxsize=None)
def load_font(path: str, size: int):
    from PIL import ImageFont  # lazy: only the render recipe needs Pillow's FreeType

    try:
        return ImageFont.truetype(path, size)
    except OSError as e:
        raise ConfigError(f"render: cannot load font {path}: {e}") from None


@lru_cache(maxsize=None)
def x_height(path: str) -> float:
    """The height of ``x`` as a fraction of the font's pixel size."""
    left, top, right, bottom = load_font(path, MEASURE_SIZE).getbbox("x", anchor="ls")
    return max(-top, 1) / MEASURE_SIZE


@lru_cache(maxsize=None)
def metrics(path: str) -> tuple[float, float]:
    """(ascent, descent) of the font as fractions of its pixel size."""
    ascent, descent = load_font(path, MEASURE_SIZE).getmetrics()
    return ascent / MEASURE_SIZE, descent / MEASURE_SIZE


@lru_cache(maxsize=None)
def glyph(path: str, size: int, grapheme: str) -> Glyph:
    from PIL import Image, ImageDraw

    font = load_font(path, size)
    left, top, right, bottom = font.getbbox(grapheme, anchor="ls")
    advance = float(font.getlength(grapheme))
    if right <= left or bottom <= top:
        return Glyph(np.zeros((0, 0), dtype=np.uint8), 0, 0, advance)
    canvas = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(canvas).text((-left, -top), grapheme, font=font, fill=255, anchor="ls")
    return Glyph(np.asarray(canvas, dtype=np.uint8), left, top, advance)


def graphemes(text: str) -> list[str]:
    """``text`` split into characters, each with the combining marks that follow it."""
    out: list[str] = []
    for c in text:
        if out and unicodedata.combining(c):
            out[-1] += c
        else:
            out.append(c)
    return out


@lru_cache(maxsize=None)
def coverage(path: str) -> frozenset[int] | None:
    """The code points the font maps (fontTools), or None when fontTools is not installed."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError:
        return None
    with TTFont(path, lazy=True, fontNumber=0) as font:
        return frozenset(font.getBestCmap() or {})


@lru_cache(maxsize=None)
def _has_glyph(path: str, char: str) -> bool:
    font = load_font(path, 32)
    return bytes(font.getmask(char)) != bytes(font.getmask(NOTDEF_PROBE))


def missing(path: str, text: str) -> set[str]:
    """The characters of ``text`` (spaces aside) the font at ``path`` has no glyph for."""
    mapped = coverage(path)
    chars = {c for c in text if not c.isspace()}
    if mapped is not None:
        return {c for c in chars if ord(c) not in mapped}
    return {c for c in chars if not _has_glyph(path, c)}


def typeset(text: str, path: str, size: int, tracking: tuple[float, float], word_space: float,
            rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Ink (H, W) float32 in [0, 1] of ``text`` in the font at ``path``, ``size`` pixels, and the row
    of its baseline. H spans the font's ascent and descent; W the pen's travel plus the overhangs.

    Letters are placed at their advance plus ``tracking[0]`` em, each with its own jitter of up to
    ``tracking[1]`` em; spaces are ``word_space`` times the font's space.
    """
    ascent, descent = metrics(path)
    baseline = int(np.ceil(ascent * size)) + 1
    height = baseline + int(np.ceil(descent * size)) + 1
    space = glyph(path, size, " ").advance * word_space
    placed: list[tuple[Glyph, int]] = []
    pen = 0.0
    for g in graphemes(text):
        if g.isspace():
            pen += space
            continue
        item = glyph(path, size, g)
        placed.append((item, int(round(pen))))
        pen += item.advance + size * (tracking[0] + tracking[1] * (2 * rng.random() - 1))
    lefts = [x + item.left for item, x in placed] or [0]
    rights = [x + item.left + item.ink.shape[1] for item, x in placed] or [1]
    origin = -min(lefts)
    ink = np.zeros((height, max(rights) + origin + 1), dtype=np.float32)
    for item, x in placed:
        h, w = item.ink.shape
        if h == 0:
            continue
        x0, y0 = x + item.left + origin, baseline + item.top
        top, bottom = max(0, y0), min(height, y0 + h)
        if bottom <= top:
            continue
        region = ink[top:bottom, x0 : x0 + w]
        np.maximum(region, item.ink[top - y0 : bottom - y0] / np.float32(255), out=region)
    return ink, baseline


def font_name(path: str | Path) -> str:
    """A short name for a font file: its stem, spaces replaced."""
    return Path(path).stem.replace(" ", "_")
