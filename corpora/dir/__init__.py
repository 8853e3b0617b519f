"""A folder of audio files plus a TSV of transcripts: the recipe for your own recordings.

Layout::

    <data_dir>/**/<id>.wav or <id>.flac       audio, found anywhere below data_dir
    <data_dir>/transcripts.tsv                 one line per utterance: id<TAB>transcript

Transcripts are kept as written, with runs of whitespace collapsed to one space. The speaker is
the id's prefix before ``speaker_sep`` (e.g. "-": "alice-003" -> "alice"), or the id itself when
``speaker_sep`` is not given. Dev and test sets are carved out by speaker, reproducibly (``seed``).
"""
from __future__ import annotations

import os
from pathlib import Path

from seqlabel.corpora.common import audio_duration, carve_by_speaker, note, preview, require_dir, write_splits
from seqlabel.errors import ConfigError, DataError
from seqlabel.textfile import iter_lines
from seqlabel.types import Utterance

AUDIO_SUFFIXES = (".wav", ".flac")
DEFAULT_TRANSCRIPTS = "transcripts.tsv"


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    transcripts: str | os.PathLike | None = None,
    speaker_sep: str | None = None,
    dev_fraction: float = 0.1,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> dict[str, Path]:
    """Write train/dev/test manifests (empty splits are skipped) into ``out_dir``; return ``{split: path}``.

    ``transcripts`` defaults to ``<data_dir>/transcripts.tsv``; ``dev_fraction``/``test_fraction``
    are fractions of the utterances, dealt out as whole speakers.
    """
    for name, value in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"dir: {name} must lie in [0, 1), got {value!r}")
    if dev_fraction + test_fraction >= 1.0:
        raise ConfigError(f"dir: dev_fraction + test_fraction must be below 1, got {dev_fraction + test_fraction:g}")
    if speaker_sep == "":
        raise ConfigError("dir: speaker_sep must be a non-empty string or None")
    root = require_dir(data_dir, "dir")
    tsv = Path(transcripts).expanduser() if transcripts is not None else root / DEFAULT_TRANSCRIPTS
    texts = read_transcripts(tsv)
    audio = find_audio(root)

    missing = [utt_id for utt_id in texts if utt_id not in audio]
    if missing:
        raise DataError(
            f"dir: {len(missing)} transcribed id(s) have no {'/'.join(AUDIO_SUFFIXES)} file under {root}: "
            f"{preview(missing)}"
        )
    untranscribed = set(audio) - set(texts)
    if untranscribed:
        note(f"dir: {len(untranscribed)} audio file(s) have no transcript in {tsv}, skipped: {preview(untranscribed)}")

    utterances = [
        Utterance(
            id=utt_id,
            source=str(audio[utt_id].resolve()),
            text=text,
            speaker=speaker_of(utt_id, speaker_sep),
            duration=audio_duration(audio[utt_id]),
        )
        for utt_id, text in texts.items()
    ]
    test, dev, train = carve_by_speaker(utterances, [test_fraction, dev_fraction], seed)
    return write_splits(Path(out_dir), {"train": train, "dev": dev, "test": test})


def read_transcripts(path: Path) -> dict[str, str]:
    """``{id: transcript}`` in file order from ``id<TAB>transcript`` lines; blank lines are skipped."""
    if not path.is_file():
        raise DataError(f"dir: transcripts file not found: {path}")
    texts: dict[str, str] = {}
    lines: dict[str, int] = {}
    for lineno, line in iter_lines(path, "a UTF-8 transcripts file ('id<TAB>transcript' lines)"):
        if not line.strip():
            continue
        if "\t" not in line:
            raise DataError(f"{path}:{lineno}: expected 'id<TAB>transcript', found no tab in {line!r}")
        utt_id, text = (part.strip() for part in line.split("\t", 1))
        if not utt_id:
            raise DataError(f"{path}:{lineno}: empty id")
        if utt_id in texts:
            raise DataError(f"{path}:{lineno}: duplicate id {utt_id!r} (first on line {lines[utt_id]})")
        text = " ".join(text.split())
        if not text:
            raise DataError(f"{path}:{lineno}: utterance {utt_id!r} has an empty transcript")
        texts[utt_id], lines[utt_id] = text, lineno
    if not texts:
        raise DataError(f"dir: transcripts file {path} holds no lines")
    return texts


def find_audio(root: Path) -> dict[str, Path]:
    """``{file stem: path}`` of every audio file below ``root``; a stem found twice is an error."""
    audio: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in AUDIO_SUFFIXES or not path.is_file():
            continue
        if path.stem in audio:
            raise DataError(f"dir: two audio files for id {path.stem!r}: {audio[path.stem]} and {path}")
        audio[path.stem] = path
    return audio


def speaker_of(utt_id: str, speaker_sep: str | None) -> str:
    """The id's prefix before ``speaker_sep``, or the id itself."""
    if speaker_sep is None:
        return utt_id
    return utt_id.split(speaker_sep, 1)[0]
