"""LibriSpeech (OpenSLR 12), any of its subsets.

Layout (``data_dir`` is the folder holding ``LibriSpeech/``, or ``LibriSpeech/`` itself)::

    LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac
    LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt   "<utt-id> WORDS ..." per line

Subsets: train-clean-100, train-clean-360, train-other-500, dev-clean, dev-other, test-clean,
test-other. ``train``, ``dev`` and ``test`` name the subsets of each split ("a,b" for several, ""
for none). The training subsets are merged into ``train.jsonl``; a dev or test split of one subset
is written as ``dev.jsonl`` / ``test.jsonl``, one of several subsets as one manifest per subset
(``dev-clean.jsonl``, ``dev-other.jsonl``, ...), since results are reported per subset.
Transcripts are upper-case words, kept as written (characters as the unit).
"""
from __future__ import annotations

import re
from pathlib import Path

from seqlabel.corpora.common import parse_speakers, preview, probe_audio, require_dir, write_splits
from seqlabel.corpora.validate import Report
from seqlabel.errors import ConfigError, DataError
from seqlabel.textfile import iter_lines
from seqlabel.types import Utterance

ROOT_NAME = "LibriSpeech"
AUDIO_SUFFIX = ".flac"
TRANSCRIPT_SUFFIX = ".trans.txt"

_UTT_ID = re.compile(r"(?P<speaker>\d+)-(?P<chapter>\d+)-\d+")


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    train: str = "train-clean-100",
    dev: str = "dev-clean",
    test: str = "test-clean",
) -> dict[str, Path]:
    """Write manifests for the chosen LibriSpeech subsets into ``out_dir``; return ``{split: path}``."""
    root = find_root(require_dir(data_dir, "librispeech"))
    choice = {"train": parse_speakers(train), "dev": parse_speakers(dev), "test": parse_speakers(test)}
    _check_subsets(root, choice)
    report = Report("librispeech")
    splits: dict[str, list[Utterance]] = {"train": [u for s in choice["train"] for u in read_subset(root / s, report)]}
    for role in ("dev", "test"):
        subsets = choice[role]
        if len(subsets) == 1:
            splits[role] = read_subset(root / subsets[0], report)
        for subset in subsets if len(subsets) > 1 else []:
            splits[subset] = read_subset(root / subset, report)
    return write_splits(Path(out_dir), splits, unit="char", report=report)


def find_root(data_dir: Path) -> Path:
    """``data_dir/LibriSpeech`` when it exists, else ``data_dir`` (which then holds the subsets)."""
    inner = data_dir / ROOT_NAME
    return inner if inner.is_dir() else data_dir


def read_subset(folder: Path, report: Report) -> list[Utterance]:
    """Utterances of one subset, sorted by speaker, chapter, utterance (speakers/chapters sorted as numbers)."""
    utterances: list[Utterance] = []
    for transcript in sorted(folder.glob(f"*/*/*{TRANSCRIPT_SUFFIX}"), key=_numeric_key):
        texts = read_transcript(transcript)
        chapter_dir = transcript.parent
        audio = {p.name[: -len(AUDIO_SUFFIX)]: p for p in chapter_dir.glob(f"*{AUDIO_SUFFIX}")}
        for utt_id in sorted(set(audio) - set(texts)):
            report.add("no-transcript", utt_id, f"{audio[utt_id]} is not in {transcript}")
        for utt_id, text in texts.items():
            path = chapter_dir / f"{utt_id}{AUDIO_SUFFIX}"
            if utt_id not in audio:
                report.add("no-audio", utt_id, f"line in {transcript} without {path.name}")
                continue
            info = probe_audio(report, utt_id, path)
            if info is not None:
                utterances.append(Utterance(id=utt_id, source=str(path.resolve()), text=text,
                                            speaker=_UTT_ID.fullmatch(utt_id)["speaker"], duration=info.duration))
    chapters = {t.parent for t in folder.glob(f"*/*/*{TRANSCRIPT_SUFFIX}")}
    for chapter_dir in sorted({p.parent for p in folder.glob(f"*/*/*{AUDIO_SUFFIX}")} - chapters):
        report.add("no-transcript", str(chapter_dir), f"chapter folder without a {TRANSCRIPT_SUFFIX} file")
    if not utterances and not report.fatal:
        raise DataError(f"librispeech: no utterances in {folder} (expected <speaker>/<chapter>/*{TRANSCRIPT_SUFFIX})")
    return utterances


def read_transcript(path: Path) -> dict[str, str]:
    """``{utterance id: words}`` from a chapter's ``.trans.txt``; errors name file:line."""
    texts: dict[str, str] = {}
    prefix = path.name[: -len(TRANSCRIPT_SUFFIX)] + "-"
    for lineno, line in iter_lines(path, "a UTF-8 LibriSpeech transcript ('ID WORDS' lines)"):
        if not line.strip():
            continue
        utt_id, _, words = line.strip().partition(" ")
        if _UTT_ID.fullmatch(utt_id) is None or not utt_id.startswith(prefix):
            raise DataError(f"{path}:{lineno}: expected '{prefix}<n> WORDS', got {line.strip()[:60]!r}")
        if utt_id in texts:
            raise DataError(f"{path}:{lineno}: duplicate utterance id {utt_id!r}")
        texts[utt_id] = " ".join(words.split())
    return texts


def _check_subsets(root: Path, choice: dict[str, list[str]]) -> None:
    """Every chosen subset exists, no subset is in two splits, and there is something to read."""
    present = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    chosen = [s for subsets in choice.values() for s in subsets]
    if not chosen:
        raise ConfigError("librispeech: train, dev and test are all empty; name at least one subset")
    twice = sorted({s for s in chosen if chosen.count(s) > 1})
    if twice:
        raise ConfigError(f"librispeech: subset(s) {', '.join(twice)} chosen for more than one split")
    missing = [s for s in chosen if s not in present]
    if missing:
        raise DataError(f"librispeech: subset(s) {', '.join(missing)} not found in {root}; present: "
                        f"{preview(present, 10) or 'none'} (choose with -p train=... -p dev=... -p test=...)")


def _numeric_key(path: Path) -> tuple[str, str]:
    """(speaker, chapter) of a ``<speaker>/<chapter>/<file>`` path, padded to sort as numbers do."""
    return path.parent.parent.name.zfill(12), path.parent.name.zfill(12)
