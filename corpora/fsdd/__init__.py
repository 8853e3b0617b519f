"""Free Spoken Digit Dataset: ``<data_dir>/recordings/{digit}_{speaker}_{index}.wav`` (8 kHz mono).

The transcript of a recording is the English word of its digit in lower case ("zero" ... "nine").
``words.txt`` beside the manifests lists the ten words: the lexicon for closed-vocabulary decoding
(``decode.lexicon: data/fsdd/words.txt`` with ``decode.decoder: beam``).

Splits:

- ``split="speaker"`` (default): ``test_speakers`` and ``dev_speakers`` are held out whole, so
  the test speaker is never heard in training.
- ``split="upstream"``: the upstream convention, indices 0-4 of every speaker and digit are test;
  dev is carved out of the rest as indices 5-9; all speakers appear in every split.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from seqlabel.corpora.common import audio_duration, parse_speakers, preview, require_dir, split_by_speaker, write_splits
from seqlabel.errors import ConfigError, DataError
from seqlabel.types import Utterance

DIGIT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LEXICON_FILE = "words.txt"  # the ten words, one a line
DEFAULT_TEST_SPEAKERS: tuple[str, ...] = ("theo",)
DEFAULT_DEV_SPEAKERS: tuple[str, ...] = ("jackson",)
UPSTREAM_SPLIT_OF_INDEX: dict[int, str] = {**{i: "test" for i in range(0, 5)}, **{i: "dev" for i in range(5, 10)}}
SPLITS = ("speaker", "upstream")

_NAME = re.compile(r"(?P<digit>\d)_(?P<speaker>[^_]+)_(?P<index>\d+)")


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    split: str = "speaker",
    test_speakers: str | Sequence[str] | None = None,
    dev_speakers: str | Sequence[str] | None = None,
) -> dict[str, Path]:
    """Write train/dev/test manifests for FSDD into ``out_dir``; return ``{split: path}``.

    ``test_speakers``/``dev_speakers`` ("a,b" or a list; default "theo" / "jackson"; "" for none)
    apply to ``split="speaker"`` only.
    """
    if split not in SPLITS:
        raise ConfigError(f"fsdd: split must be one of {SPLITS}, got {split!r}")
    root = require_dir(data_dir, "fsdd")
    utterances, indices = _discover(root / "recordings")

    if split == "upstream":
        if test_speakers is not None or dev_speakers is not None:
            raise ConfigError("fsdd: test_speakers/dev_speakers apply to split='speaker' only")
        splits: dict[str, list[Utterance]] = {"train": [], "dev": [], "test": []}
        for u in utterances:
            splits[UPSTREAM_SPLIT_OF_INDEX.get(indices[u.id], "train")].append(u)
    else:
        test = parse_speakers(DEFAULT_TEST_SPEAKERS if test_speakers is None else test_speakers)
        dev = parse_speakers(DEFAULT_DEV_SPEAKERS if dev_speakers is None else dev_speakers)
        _check_speakers(utterances, test, dev)
        rest, test_utts = split_by_speaker(utterances, test)
        train_utts, dev_utts = split_by_speaker(rest, dev)
        splits = {"train": train_utts, "dev": dev_utts, "test": test_utts}
    out = Path(out_dir)
    paths = write_splits(out, splits)
    (out / LEXICON_FILE).write_text("\n".join(DIGIT_WORDS) + "\n", encoding="utf-8")
    return paths


def _discover(folder: Path) -> tuple[list[Utterance], dict[str, int]]:
    """All recordings, sorted by (speaker, digit, index), and each one's index."""
    if not folder.is_dir():
        raise DataError(f"fsdd: no recordings folder at {folder}")
    found: list[tuple[tuple[str, int, int], Utterance]] = []
    indices: dict[str, int] = {}
    for path in folder.glob("*.wav"):
        match = _NAME.fullmatch(path.stem)
        if match is None:
            raise DataError(f"fsdd: {path} is not named {{digit}}_{{speaker}}_{{index}}.wav")
        digit, speaker, index = int(match["digit"]), match["speaker"], int(match["index"])
        utt = Utterance(
            id=path.stem,
            source=str(path.resolve()),
            text=DIGIT_WORDS[digit],
            speaker=speaker,
            duration=audio_duration(path),
        )
        found.append(((speaker, digit, index), utt))
        indices[utt.id] = index
    if not found:
        raise DataError(f"fsdd: no .wav files in {folder}")
    found.sort(key=lambda item: item[0])
    return [utt for _, utt in found], indices


def _check_speakers(utterances: Sequence[Utterance], test: Sequence[str], dev: Sequence[str]) -> None:
    """Held-out speakers must exist, be disjoint, and leave someone to train on."""
    known = {u.speaker for u in utterances}
    unknown = (set(test) | set(dev)) - known
    if unknown:
        raise ConfigError(f"fsdd: unknown speaker(s) {preview(unknown)}; speakers here: {preview(known, 20)}")
    both = set(test) & set(dev)
    if both:
        raise ConfigError(f"fsdd: speaker(s) {preview(both)} are in both test_speakers and dev_speakers")
    if not known - set(test) - set(dev):
        raise ConfigError(f"fsdd: holding out {preview(set(test) | set(dev), 20)} leaves no speaker for training")
