"""CMU AN4 census database, as 16 kHz audio or as Sphinx cepstra.

Layouts (``layout="auto"`` takes whichever is present, audio first)::

    <data_dir>/wav/an4_clstk/<speaker>/<utt>.wav        (layout "wav"; also .sph NIST SPHERE, or .raw:
                                                         headerless 16 kHz 16-bit big-endian, as in
                                                         an4_raw.bigendian.tar.gz)
    <data_dir>/feat/an4_clstk/<speaker>/<utt>.mfc       (layout "feat": 13 cepstra per frame, 100 frames/s)
    <data_dir>/etc/an4_train.transcription             "<s> RUBOUT G M E F THREE NINE </s> (an251-fash-b)"
    <data_dir>/etc/an4_train.fileids                   "an4_clstk/fash/an251-fash-b" (optional)
    <data_dir>/etc/an4.dic                             "WORD  PH PH ..." (``unit="phone"`` only)

The official test part (``an4test_clstk/`` with ``etc/an4_test.*``) becomes ``test.jsonl`` when
present. The development set is ``dev_speakers`` speakers carved out of train (seeded).
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from seqlabel.corpora.common import note, pick_speakers, probe_audio, require_dir, split_by_speaker, write_splits
from seqlabel.corpora.validate import Report
from seqlabel.errors import ConfigError, DataError
from seqlabel.textfile import iter_lines
from seqlabel.types import Utterance


@dataclass(frozen=True)
class Layout:
    """Where one storage form of AN4 lives and how its files are read."""

    folder: str  # under data_dir
    suffixes: tuple[str, ...]  # of the files holding the utterances, in order of preference


LAYOUTS: dict[str, Layout] = {"wav": Layout("wav", (".wav", ".sph", ".raw")), "feat": Layout("feat", (".mfc",))}
PARTS: dict[str, str] = {"train": "an4_clstk", "test": "an4test_clstk"}  # split -> folder
UNITS = ("char", "phone")
SENTENCE_MARKS = frozenset({"<s>", "</s>"})
MFC_COEFFS = 13
MFC_FRAME_RATE = 100.0  # frames per second

_TRANSCRIPT_LINE = re.compile(r"(?P<words>.*?)\s*\((?P<id>[^()\s]+)\)")
_ALTERNATE = re.compile(r".+\(\d+\)")


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    unit: str = "char",
    layout: str = "auto",
    dev_speakers: int = 10,
    seed: int = 0,
) -> dict[str, Path]:
    """Write train/dev (and test, when present) manifests for AN4; return ``{split: path}``.

    ``unit="char"``: text is the words separated by single spaces, as transcribed (upper case).
    ``unit="phone"``: each word becomes its first pronunciation in ``etc/an4.dic``.
    """
    if unit not in UNITS:
        raise ConfigError(f"an4: unit must be one of {UNITS}, got {unit!r}")
    if layout != "auto" and layout not in LAYOUTS:
        raise ConfigError(f"an4: layout must be 'auto' or one of {tuple(LAYOUTS)}, got {layout!r}")
    if isinstance(dev_speakers, bool) or not isinstance(dev_speakers, int) or dev_speakers < 0:
        raise ConfigError(f"an4: dev_speakers must be a whole number >= 0, got {dev_speakers!r}")
    root = require_dir(data_dir, "an4")
    form = _choose_layout(root, layout)
    lexicon = read_dictionary(root / "etc" / "an4.dic") if unit == "phone" else None

    report = Report("an4")
    train = _read_part(root, form, "train", lexicon, report)
    held: list[str] = []
    if dev_speakers:
        try:
            held = pick_speakers([u.speaker for u in train], dev_speakers, seed)
        except ValueError as e:
            raise ConfigError(f"an4: dev_speakers={dev_speakers}: {e}") from None
    train, dev = split_by_speaker(train, held)
    splits = {"train": train, "dev": dev}
    if _has_part(root, form, "test"):
        splits["test"] = _read_part(root, form, "test", lexicon, report)
    return write_splits(Path(out_dir), splits, unit=unit, report=report)


def read_transcription(path: Path) -> dict[str, list[str]]:
    """``{utterance id: words}`` in file order; ``<s>``/``</s>`` dropped. Errors name file:line."""
    if not path.is_file():
        raise DataError(f"an4: transcription file not found: {path}")
    texts: dict[str, list[str]] = {}
    lines: dict[str, int] = {}
    for lineno, line in iter_lines(path, "a UTF-8 Sphinx transcription ('WORDS (utterance-id)' lines)"):
        if not line.strip():
            continue
        match = _TRANSCRIPT_LINE.fullmatch(line.strip())
        if match is None:
            raise DataError(f"{path}:{lineno}: expected 'WORDS (utterance-id)', got {line.strip()!r}")
        utt_id = match["id"]
        if utt_id in texts:
            raise DataError(f"{path}:{lineno}: duplicate utterance id {utt_id!r} (first on line {lines[utt_id]})")
        words = [w for w in match["words"].split() if w not in SENTENCE_MARKS]
        if not words:
            raise DataError(f"{path}:{lineno}: utterance {utt_id!r} has an empty transcript")
        texts[utt_id], lines[utt_id] = words, lineno
    return texts


def read_fileids(path: Path) -> dict[str, str]:
    """``{utterance id: path relative to the layout folder, without suffix}``."""
    fileids: dict[str, str] = {}
    for lineno, line in iter_lines(path, "a UTF-8 Sphinx fileids list (one path a line)"):
        rel = line.strip()
        if not rel:
            continue
        utt_id = Path(rel).name
        if utt_id in fileids:
            raise DataError(f"{path}:{lineno}: duplicate utterance id {utt_id!r}")
        fileids[utt_id] = rel
    return fileids


def read_dictionary(path: Path) -> dict[str, list[str]]:
    """``{WORD: phones}`` keeping each word's first pronunciation (``WORD(2)`` lines are alternates)."""
    if not path.is_file():
        raise DataError(f"an4: unit='phone' needs the pronunciation dictionary, not found: {path}")
    lexicon: dict[str, list[str]] = {}
    for lineno, line in iter_lines(path, "a UTF-8 pronunciation dictionary ('WORD ph ph ...' lines)"):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise DataError(f"{path}:{lineno}: word {fields[0]!r} has no phones")
        word = fields[0]
        if _ALTERNATE.fullmatch(word):
            continue
        lexicon.setdefault(word, fields[1:])
    return lexicon


def read_mfc_frames(path: Path) -> int:
    """Frames in a Sphinx cepstrum file, from its big-endian int32 header (count of float32s)."""
    with path.open("rb") as f:
        header = f.read(4)
    if len(header) < 4:
        raise DataError(f"an4: {path} is too short to be a Sphinx cepstrum file")
    (count,) = struct.unpack(">i", header)
    size = path.stat().st_size
    if count < 0 or count % MFC_COEFFS or size != 4 + 4 * count:
        raise DataError(
            f"an4: {path}: header says {count} floats ({MFC_COEFFS} per frame) but the file holds "
            f"{(size - 4) / 4:g}; truncated, or not big-endian Sphinx cepstra?"
        )
    return count // MFC_COEFFS


def _choose_layout(root: Path, layout: str) -> str:
    """The layout named, or the first one whose train folder exists."""
    candidates = list(LAYOUTS) if layout == "auto" else [layout]
    for name in candidates:
        if (root / LAYOUTS[name].folder / PARTS["train"]).is_dir():
            return name
    looked = ", ".join(str(root / LAYOUTS[n].folder / PARTS["train"]) for n in candidates)
    raise DataError(f"an4: no AN4 training data found under {root}; looked for {looked}")


def _has_part(root: Path, form: str, split: str) -> bool:
    """Whether the part is there; a folder without its transcription is noted and skipped."""
    folder = root / LAYOUTS[form].folder / PARTS[split]
    if not folder.is_dir():
        return False
    transcription = root / "etc" / f"an4_{split}.transcription"
    if not transcription.is_file():
        note(f"an4: {folder} exists but {transcription} does not; no {split} split written")
        return False
    return True


def _read_part(
    root: Path, form: str, split: str, lexicon: dict[str, list[str]] | None, report: Report
) -> list[Utterance]:
    """Utterances of one part (train or test); problems with the files go to ``report``."""
    spec = LAYOUTS[form]
    base = root / spec.folder
    folder = base / PARTS[split]
    etc = root / "etc"
    texts = read_transcription(etc / f"an4_{split}.transcription")
    fileids_path = etc / f"an4_{split}.fileids"
    fileids = read_fileids(fileids_path) if fileids_path.is_file() else {}
    on_disk = _find_files(folder, spec.suffixes)

    utterances: list[Utterance] = []
    for utt_id, words in texts.items():
        path = _listed_file(base, fileids[utt_id], spec.suffixes) if utt_id in fileids else on_disk.get(utt_id)
        if path is None:
            report.add("no-audio", utt_id, f"transcribed in an4_{split}.transcription, no "
                                           f"{'/'.join(spec.suffixes)} file under {folder}")
            continue
        text = " ".join(words) if lexicon is None else " ".join(_phones(words, lexicon, utt_id))
        if form == "feat":
            num_frames: int | None = read_mfc_frames(path)
            duration = num_frames / MFC_FRAME_RATE
        else:
            info = probe_audio(report, utt_id, path)
            if info is None:
                continue
            num_frames, duration = None, info.duration
        utterances.append(Utterance(id=utt_id, source=str(path.resolve()), text=text, speaker=path.parent.name,
                                    duration=duration, num_frames=num_frames))
    for utt_id in sorted((set(on_disk) | set(fileids)) - set(texts)):
        report.add("no-transcript", utt_id, f"not in an4_{split}.transcription, skipped")
    return utterances


def _find_files(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """``{utterance id: file}`` under ``folder/<speaker>/``; the same id twice is an error naming both."""
    on_disk: dict[str, Path] = {}
    for path in sorted(p for suffix in suffixes for p in folder.glob(f"*/*{suffix}")):
        if path.stem in on_disk:
            raise DataError(f"an4: duplicate utterance id {path.stem!r}: {on_disk[path.stem]} and {path}")
        on_disk[path.stem] = path
    return on_disk


def _listed_file(base: Path, relative: str, suffixes: tuple[str, ...]) -> Path | None:
    """The first existing ``base/relative<suffix>``."""
    for suffix in suffixes:
        path = base / (relative + suffix)
        if path.is_file():
            return path
    return None


def _phones(words: list[str], lexicon: dict[str, list[str]], utt_id: str) -> list[str]:
    """The words' first pronunciations, concatenated; a word not in the dictionary is an error."""
    phones: list[str] = []
    for word in words:
        if word not in lexicon:
            raise DataError(f"an4: word {word!r} in utterance {utt_id!r} is not in the pronunciation dictionary")
        phones.extend(lexicon[word])
    return phones
