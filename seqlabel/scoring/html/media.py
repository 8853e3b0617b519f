"""The input of each utterance as the report shows it: an <audio> player for speech, the line image
for offline handwriting, the pen strokes (drawn as SVG by the page) for online handwriting.

By default media are referenced by a path relative to the report folder (it opens from disk, and
keeps working as long as report and data keep their places); ``copy`` puts them under
``media/`` in the report (``embed``: inside the page as data: URIs). Copying also converts what
browsers cannot show: NIST SPHERE and headerless .raw audio, and audio segments (``start``/``end``),
become WAV files of just the segment; TIFF images become PNG.
"""
from __future__ import annotations

import base64
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import quote

import numpy as np

from seqlabel.errors import DataError
from seqlabel.types import Utterance

AUDIO_PLAYABLE = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".webm")
AUDIO_CONVERTIBLE = (".sph", ".nist", ".raw")
IMAGE_VIEWABLE = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg")
IMAGE_CONVERTIBLE = (".tif", ".tiff")
STROKE_FILES = (".xml", ".json", ".npz")
_FEATURE_KINDS = {"fbank": "audio", "mfcc": "audio", "logmel": "audio", "image": "image", "strokes": "strokes",
                  "precomputed": "none"}
_MIME = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg",
         ".opus": "audio/ogg", ".m4a": "audio/mp4", ".webm": "audio/webm", ".png": "image/png",
         ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
         ".bmp": "image/bmp", ".svg": "image/svg+xml"}
MAX_STROKE_POINTS = 20000  # per utterance; longer trajectories are thinned for drawing


@dataclass(frozen=True)
class Media:
    kind: str  # audio | image | strokes | none (precomputed features) | unknown (no manifest entry)
    src: str = ""  # URL for <audio>/<img>, relative to the report (or a data: URI); "" when not shown
    note: str = ""  # why it is not shown, or what was done to it


def media_kind(source: str, features: Optional[str]) -> str:
    """audio, image, strokes or none (precomputed features), from the feature type or else the suffix."""
    if features in _FEATURE_KINDS:
        return _FEATURE_KINDS[features]
    suffix = Path(source).suffix.lower()
    if suffix in AUDIO_PLAYABLE + AUDIO_CONVERTIBLE:
        return "audio"
    if suffix in IMAGE_VIEWABLE + IMAGE_CONVERTIBLE:
        return "image"
    if suffix in (".xml", ".json"):
        return "strokes"
    return "none"


class MediaPlanner:
    """Turns manifest utterances into Media for a report written to ``out_dir``."""

    def __init__(self, out_dir: Path, features: Optional[str], copy: bool = False, embed: bool = False,
                 has_manifest: bool = True) -> None:
        self.out_dir = out_dir
        self.has_manifest = has_manifest
        self.features = features
        self.copy = copy or embed
        self.embed = embed
        self.copied = 0
        self._folders: dict[Path, str] = {}

    def plan(self, k: int, utt: Optional[Utterance]) -> Media:
        if utt is None:  # no manifest (the report says so once), or an utterance missing from it
            return Media("unknown", note="not in the manifest" if self.has_manifest else "")
        kind = media_kind(utt.source, self.features)
        if kind in ("none", "strokes"):  # strokes travel as points in the page's data
            return Media(kind)
        path = Path(utt.source)
        if not path.is_file():
            return Media(kind, note=f"file not found: {path}")
        suffix = path.suffix.lower()
        segment = utt.start is not None or utt.end is not None
        if kind == "audio":
            if self.copy and (suffix in AUDIO_CONVERTIBLE or segment):
                return self._write(k, kind, _wav_bytes(utt), ".wav", "converted to WAV" if not segment else "segment")
            if suffix not in AUDIO_PLAYABLE:
                return Media(kind, note=f"{suffix} audio is not playable in browsers: build with --copy-media "
                                        "to convert it to WAV")
            fragment = f"#t={utt.start or 0:g}" + (f",{utt.end:g}" if utt.end is not None else "") if segment else ""
            return self._link(k, kind, path, fragment)
        if suffix in IMAGE_CONVERTIBLE:
            if not self.copy:
                return Media(kind, note="TIFF images are not shown by most browsers: build with --copy-media to "
                                        "convert them to PNG")
            return self._write(k, kind, _png_bytes(path), ".png", "converted to PNG")
        return self._link(k, kind, path, "")

    def _link(self, k: int, kind: str, path: Path, fragment: str) -> Media:
        if self.embed:
            return self._write(k, kind, path.read_bytes(), path.suffix.lower(), "")
        if self.copy:
            target = self._target(k, path.suffix.lower(), path.stem)
            shutil.copyfile(path, target)
            self.copied += 1
            return Media(kind, "media/" + quote(target.name) + fragment)
        folder = self._folders.get(path.parent)
        if folder is None:  # relpath is slow: once per folder, not per file
            folder = self._folders[path.parent] = relative_url(path.parent, self.out_dir)
        return Media(kind, (folder + "/" if folder and folder != "." else "") + quote(path.name) + fragment)

    def _write(self, k: int, kind: str, data: bytes, suffix: str, note: str) -> Media:
        self.copied += 1
        if self.embed:
            return Media(kind, f"data:{_MIME.get(suffix, 'application/octet-stream')};base64,"
                               + base64.b64encode(data).decode("ascii"), note)
        target = self._target(k, suffix, "")
        target.write_bytes(data)
        return Media(kind, "media/" + quote(target.name), note)

    def _target(self, k: int, suffix: str, stem: str) -> Path:
        folder = self.out_dir / "media"
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60]
        return folder / f"{k:06d}{'-' + safe if safe else ''}{suffix}"


def relative_url(path: Path, base: Path) -> str:
    """``path`` as a URL relative to the folder ``base`` (percent-encoded), or a file: URI when there is none."""
    try:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    except ValueError:  # another drive (Windows)
        return Path(os.path.abspath(path)).as_uri()
    return quote(Path(rel).as_posix())


def stroke_points(path: str | Path) -> list[list[int]]:
    """Pen strokes as flat [x0, y0, x1, y1, ...] integer lists, moved to 0 and scaled to about 1000 units
    on the longer side (y grows downward, as in the files)."""
    from seqlabel.features.strokes import read_strokes  # lazy: only stroke reports need it

    strokes = [s[:, :2] for s in read_strokes(path)]
    every = max(1, -(-sum(len(s) for s in strokes) // MAX_STROKE_POINTS))
    strokes = [s[::every] if len(s) > every else s for s in strokes]
    allpts = np.concatenate(strokes)
    low = allpts.min(axis=0)
    extent = float((allpts.max(axis=0) - low).max()) or 1.0
    return [np.rint((s - low) * (1000.0 / extent)).astype(np.int64).ravel().tolist() for s in strokes]


def _wav_bytes(utt: Utterance) -> bytes:
    import soundfile

    from seqlabel.features.audio import audio_info, read_samples

    info = audio_info(utt.source)
    start = int(round((utt.start or 0.0) * info.sample_rate))
    stop = None if utt.end is None else min(info.frames, int(round(utt.end * info.sample_rate)))
    samples = read_samples(utt.source, start, stop)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, info.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _png_bytes(path: Path) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    try:
        with Image.open(path) as im:
            im.save(buffer, format="PNG")
    except OSError as e:
        raise DataError(f"cannot convert image {path} to PNG: {e}") from None
    return buffer.getvalue()
