"""IAM On-Line Handwriting Database (IAM-OnDB): pen trajectories of handwritten text lines.

Layout under ``data_dir`` (the archives unpacked; ``lineStrokes-all/lineStrokes`` and the like
are found too)::

    lineStrokes/a01/a01-000/a01-000u-01.xml   one text line: <StrokeSet><Stroke><Point x= y= time=/>
    ascii/a01/a01-000/a01-000u.txt            the form's text: an "OCR:" then a "CSR:" section,
                                              line k of CSR is the transcript of ...-<k:02d>.xml
    original/a01/a01-000/strokesu.xml         optional: <General><Form writerID=...> (the writer)
    trainset.txt testset_v.txt testset_t.txt testset_f.txt
                                              form ids (a01-000u, d04-081), one per line; in the
                                              root or one folder below it (task1/)

Splits follow Graves et al. (2009) on the IAM-OnDB-t2 task: train = ``trainset``, dev = the two
validation sets ``testset_v`` + ``testset_t``, test = ``testset_f``; the sets are writer-disjoint.
Transcripts are the CSR lines as written (case and punctuation kept, runs of spaces collapsed).
The manifests point at the XML files; ``duration`` is the line's pen time in seconds.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from seqlabel.corpora.common import note, preview, require_dir, write_splits
from seqlabel.errors import DataError
from seqlabel.types import Utterance

TASKS: dict[str, tuple[str, ...]] = {
    "train": ("trainset.txt",),
    "dev": ("testset_v.txt", "testset_t.txt"),
    "test": ("testset_f.txt",),
}
_FORM = re.compile(r"[a-z]\d\d-\d\d\d[a-z]?")
_LINE_FILE = re.compile(r"(.+)-(\d\d)\.xml")


def _find(data_dir: Path, name: str) -> Path | None:
    """``data_dir/name`` or ``data_dir/<folder>/name`` (an unpacked archive such as lineStrokes-all/)."""
    for candidate in [data_dir / name, *sorted(data_dir.glob(f"*/{name}"))]:
        if candidate.exists():
            return candidate
    return None


def form_dir(root: Path, form: str) -> Path:
    """``a01-000u`` -> root/a01/a01-000 (the variant letter is not part of the folder name)."""
    base = form[:-1] if form[-1].isalpha() else form
    return root / form.split("-")[0] / base


def read_csr(path: Path) -> list[str]:
    """The transcript lines of an IAM-OnDB ascii file: the lines after ``CSR:`` (blank lines skipped)."""
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as e:
        raise DataError(f"cannot read transcript file {path}: {e.strerror}") from None
    marks = [i for i, line in enumerate(lines) if line.strip() == "CSR:"]
    if not marks:
        raise DataError(f"{path}: no 'CSR:' section (is this an IAM-OnDB ascii file?)")
    return [" ".join(line.split()) for line in lines[marks[0] + 1 :] if line.strip()]


def read_writer(original: Path | None, form: str) -> str | None:
    """The writer id of ``form`` from ``original/.../strokes<variant>.xml``, if that file is there."""
    if original is None:
        return None
    variant = form[-1] if form[-1].isalpha() else ""
    path = form_dir(original, form) / f"strokes{variant}.xml"
    if not path.is_file():
        return None
    try:
        node = ET.parse(path).getroot().find("General/Form")
    except ET.ParseError as e:
        raise DataError(f"{path}: not valid XML: {e}") from None
    return node.get("writerID") if node is not None else None


def _read_task(path: Path) -> list[str]:
    forms = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = [f for f in forms if not _FORM.fullmatch(f)]
    if bad:
        raise DataError(f"{path}: not IAM-OnDB form ids: {preview(bad)}")
    return forms


def _form_lines(form: str, strokes_root: Path, ascii_root: Path, writer: str | None) -> tuple[list[Utterance], list[str]]:
    """The form's line utterances, and the problems met (a missing file, a line without text)."""
    folder = form_dir(strokes_root, form)
    files = sorted(folder.glob(f"{form}-[0-9][0-9].xml")) if folder.is_dir() else []
    text_file = form_dir(ascii_root, form) / f"{form}.txt"
    if not files:
        return [], [f"{form}: no stroke files in {folder}"]
    if not text_file.is_file():
        return [], [f"{form}: no transcript file {text_file}"]
    transcripts = read_csr(text_file)
    utts, problems = [], []
    for path in files:
        number = int(_LINE_FILE.fullmatch(path.name).group(2))
        if not 1 <= number <= len(transcripts):
            problems.append(f"{path.name}: line {number} but {text_file.name} has {len(transcripts)} CSR lines")
            continue
        utts.append(Utterance(path.stem, str(path.resolve()), transcripts[number - 1], writer or form,
                              duration=_duration(path)))
    return utts, problems


def _duration(path: Path) -> float | None:
    """Seconds from the first to the last point's time, or None without times."""
    from seqlabel.features.strokes import read_strokes

    strokes = read_strokes(path)
    t0, t1 = strokes[0][0, 2], strokes[-1][-1, 2]
    return round(float(t1 - t0), 3) if t1 >= t0 else None


def prepare(data_dir: Path | None, out_dir: Path) -> dict[str, Path]:
    """Read the layout above from ``data_dir``, check every stroke file, write the manifests."""
    root = require_dir(data_dir, "iam_ondb")
    strokes_root, ascii_root = _find(root, "lineStrokes"), _find(root, "ascii")
    for name, found in (("lineStrokes", strokes_root), ("ascii", ascii_root)):
        if found is None or not found.is_dir():
            raise DataError(f"iam_ondb: no {name}/ folder in {root} (or one folder below it)")
    original = _find(root, "original")
    splits: dict[str, list[Utterance]] = {}
    problems: list[str] = []
    for split, names in TASKS.items():
        forms: list[str] = []
        for name in names:
            task = _find(root, name)
            if task is None:
                raise DataError(f"iam_ondb: task file {name} not found in {root} (or one folder below it); "
                                f"it lists the forms of the {split} set")
            forms += _read_task(task)
        utts: list[Utterance] = []
        for form in forms:
            lines, trouble = _form_lines(form, strokes_root, ascii_root, read_writer(original, form))
            utts += lines
            problems += trouble
        splits[split] = utts
    if problems:
        note(f"iam_ondb: skipped {len(problems)} form(s) or line(s): {preview(problems, 3)}")
    if not splits["train"]:
        raise DataError(f"iam_ondb: no training line found under {strokes_root}")
    shared = {u.speaker for u in splits["train"]} & {u.speaker for s in ("dev", "test") for u in splits[s]}
    if shared and original is not None:
        note(f"iam_ondb: writers in train and a test set: {preview(shared)}")
    return write_splits(Path(out_dir), splits)
