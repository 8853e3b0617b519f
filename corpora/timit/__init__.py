"""TIMIT acoustic-phonetic continuous speech corpus (LDC93S1), in the LDC layout, upper or lower case.

Layout::

    <data_dir>/[TIMIT/]TRAIN/DR1/FCJF0/SI1027.WAV   NIST SPHERE audio, 16 kHz, 16-bit
    <data_dir>/[TIMIT/]TRAIN/DR1/FCJF0/SI1027.PHN   "first_sample end_sample phone" lines, 61 phones
    <data_dir>/[TIMIT/]TRAIN/DR1/FCJF0/SI1027.WRD   word alignment, SI1027.TXT sentence (not used)
    <data_dir>/[TIMIT/]TEST/DR1/MDAB0/...

Splits (the standard ones of Lee & Hon 1989, Halberstadt 1998 and Graves et al. 2013):

- train: every speaker of the training part (462 speakers, 3696 utterances);
- dev: the 50 test-part speakers of ``speakers.DEV_SPEAKERS`` (400 utterances);
- test: the 24-speaker core test set, ``speakers.CORE_TEST_SPEAKERS`` (192 utterances).

The SA sentences (the two dialect sentences every speaker read) are dropped. Test-part speakers in
neither list are left out. Utterance ids are ``<speaker>_<sentence>`` in lower case (Kaldi's).

Labels: ``phones=61`` keeps the 61 TIMIT labels (Graves et al. 2013 trained and decoded on them),
``48`` folds them to Lee & Hon's 48 training classes, ``39`` to the 39 scoring classes; ``q`` is
deleted by both foldings. Whatever the training labels, score on 39 classes:
``seqlabel evaluate ... --fold timit39``. Shorten-compressed SPHERE audio is refused (it names
sph2pipe, which decompresses it).
"""
from __future__ import annotations

import re
from pathlib import Path

from seqlabel.corpora.common import probe_audio, require_dir, write_splits
from seqlabel.corpora.timit.speakers import CORE_TEST, DEV_SPEAKERS
from seqlabel.corpora.validate import Report
from seqlabel.errors import ConfigError, DataError
from seqlabel.scoring.folding import FOLD_61_39, FOLD_61_48, TIMIT61, fold
from seqlabel.types import Utterance

PHONE_SETS = ("61", "48", "39")
FOLDINGS = {"48": FOLD_61_48, "39": FOLD_61_39}
PARTS = ("train", "test")  # top-level folders, any case
WRAPPERS = ("timit", "data")  # folders the parts may sit in below data_dir, any case
DROPPED_SENTENCES = "sa"  # sentence-name prefix of the dialect sentences
AUDIO_SUFFIX = ".wav"
LABEL_SUFFIX = ".phn"

_DIALECT_REGION = re.compile(r"dr\d", re.IGNORECASE)
_SENTENCE = re.compile(r"s[aix]\d+")  # lower-cased file stems; others (e.g. converted copies *.WAV.wav) are ignored
_PHONES61 = frozenset(TIMIT61)


def prepare(data_dir: Path | None, out_dir: Path, phones: str | int = "61") -> dict[str, Path]:
    """Write train/dev/test manifests (phone labels) for TIMIT into ``out_dir``; return ``{split: path}``."""
    phone_set = str(phones)
    if phone_set not in PHONE_SETS:
        raise ConfigError(f"timit: phones must be one of {', '.join(PHONE_SETS)}, got {phones!r}")
    parts = find_parts(require_dir(data_dir, "timit"))
    report = Report("timit")
    train = read_part(parts["train"], phone_set, report)
    test_part = read_part(parts["test"], phone_set, report)
    dev = [u for u in test_part if u.speaker in DEV_SPEAKERS]
    test = [u for u in test_part if u.speaker in CORE_TEST]
    present = {u.speaker for u in test_part}
    for name, listed in (("dev", DEV_SPEAKERS), ("core test", CORE_TEST)):
        for speaker in sorted(set(listed) - present):
            report.add("missing-speaker", speaker, f"{name} speaker not found under {parts['test']}")
    return write_splits(Path(out_dir), {"train": train, "dev": dev, "test": test}, unit="phone", report=report)


def find_parts(root: Path) -> dict[str, Path]:
    """``{"train": folder, "test": folder}`` in ``root`` or one wrapper folder below it (any case)."""
    for base in [root, *(c for c in _children(root) if c.name.lower() in WRAPPERS)]:
        found = {c.name.lower(): c for c in _children(base) if c.name.lower() in PARTS}
        if len(found) == len(PARTS):
            return found
    raise DataError(f"timit: no TRAIN and TEST folders in {root} (nor in a TIMIT/ or data/ folder below it); "
                    "point --data-dir at the folder holding them")


def read_part(folder: Path, phone_set: str, report: Report) -> list[Utterance]:
    """Utterances (SA dropped) of one part, sorted by dialect region, speaker, sentence."""
    utterances: list[Utterance] = []
    for region in _children(folder):
        if not _DIALECT_REGION.fullmatch(region.name):
            continue
        for speaker_dir in _children(region):
            utterances.extend(_read_speaker(speaker_dir, phone_set, report))
    if not utterances:
        raise DataError(f"timit: no utterances (DR*/<speaker>/*.WAV with .PHN) under {folder}")
    return utterances


def read_phn(path: Path) -> list[str]:
    """The 61-set phones of a .PHN file, in order; errors name file:line."""
    phones: list[str] = []
    previous_end = 0
    for lineno, line in enumerate(path.read_text(encoding="ascii", errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or not fields[0].isdigit() or not fields[1].isdigit():
            raise DataError(f"{path}:{lineno}: expected 'first_sample end_sample phone', got {line.strip()!r}")
        start, end, phone = int(fields[0]), int(fields[1]), fields[2].lower()
        if phone not in _PHONES61:
            raise DataError(f"{path}:{lineno}: {fields[2]!r} is not one of the 61 TIMIT phones")
        if end <= start or start < previous_end:
            raise DataError(f"{path}:{lineno}: segment {start}-{end} is empty or overlaps the previous one")
        previous_end = end
        phones.append(phone)
    return phones


def _read_speaker(folder: Path, phone_set: str, report: Report) -> list[Utterance]:
    """The SI/SX utterances of one speaker folder; audio and labels are paired by file name (any case)."""
    speaker = folder.name.lower()
    files: dict[tuple[str, str], Path] = {(p.stem.lower(), p.suffix.lower()): p for p in _children(folder)}
    sentences = sorted({stem for stem, _ in files
                        if _SENTENCE.fullmatch(stem) and not stem.startswith(DROPPED_SENTENCES)})
    utterances: list[Utterance] = []
    for sentence in sentences:
        utt_id = f"{speaker}_{sentence}"
        audio, labels = files.get((sentence, AUDIO_SUFFIX)), files.get((sentence, LABEL_SUFFIX))
        if labels is None:
            if audio is not None:
                report.add("no-transcript", utt_id, f"no .PHN beside {audio}")
            continue
        if audio is None:
            report.add("no-audio", utt_id, f"no .WAV beside {labels}")
            continue
        info = probe_audio(report, utt_id, audio)
        if info is None:
            continue
        phones = read_phn(labels)
        if phone_set in FOLDINGS:
            phones = fold(phones, FOLDINGS[phone_set])
        utterances.append(Utterance(id=utt_id, source=str(audio.resolve()), text=" ".join(phones),
                                    speaker=speaker, duration=info.duration))
    return utterances


def _children(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.is_dir() else []
