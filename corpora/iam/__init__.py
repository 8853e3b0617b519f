"""IAM Handwriting Database, text lines (Marti & Bunke 2002).

Layout (as unpacked from lines.tgz and ascii.tgz)::

    <data_dir>/lines/a01/a01-000u/a01-000u-00.png    line images: lines/<prefix>/<form>/<line id>.png
    <data_dir>/ascii/lines.txt                        one line per text line (``#`` lines are comments):
        a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from
        id, word-segmentation status (ok | err), grey level for binarisation, components,
        bounding box x y w h, transcript with ``|`` between words
    <data_dir>/ascii/forms.txt                        optional: form id, writer id, ... per form
        a01-000u 000 2 prt 7 5 52 36

Transcripts: ``|`` becomes a space, as written otherwise (punctuation stays a separate word:
"Peers , he 's"). ``status``: ``all`` (default) keeps lines marked ``err``, whose status only
says the automatic segmentation into *words* went wrong (the line transcript is still right);
``ok`` drops them.

Splits (``split``):

- ``writer`` (default): whole writers (from ``ascii/forms.txt``) are held out for test and dev,
  reproducibly (``seed``), until they hold ``test_fraction`` / ``dev_fraction`` of the lines.
  Without forms.txt each form counts as its own writer (with a note: a writer's other forms may
  then be in training).
- ``task``: the official Large Writer Independent Text Line Recognition Task lists in
  ``task_dir`` (default ``<data_dir>/task``): trainset.txt -> train, validationset1.txt and
  validationset2.txt -> dev, testset.txt -> test; lines in no list are dropped (counted).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from seqlabel.corpora.common import carve_by_speaker, note, preview, require_dir, write_splits
from seqlabel.corpora.lines import image_size, write_codec
from seqlabel.errors import ConfigError, DataError
from seqlabel.types import Utterance

STATUSES = ("ok", "err")
TASK_FILES: dict[str, tuple[str, ...]] = {
    "train": ("trainset.txt",),
    "dev": ("validationset1.txt", "validationset2.txt"),
    "test": ("testset.txt",),
}


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    status: str = "all",
    split: str = "writer",
    test_fraction: float = 0.15,
    dev_fraction: float = 0.1,
    seed: int = 0,
    task_dir: str | None = None,
) -> dict[str, Path]:
    """Write train/dev/test manifests of IAM lines into ``out_dir``; return ``{split: path}``."""
    if status not in ("all", "ok"):
        raise ConfigError(f"iam: status must be 'all' (keep lines marked err) or 'ok', got {status!r}")
    if split not in ("writer", "task"):
        raise ConfigError(f"iam: split must be 'writer' or 'task', got {split!r}")
    root = require_dir(data_dir, "iam")
    records = read_lines_txt(root / "ascii" / "lines.txt")
    if status == "ok":
        dropped = sum(r[1] == "err" for r in records)
        records = [r for r in records if r[1] == "ok"]
        note(f"iam: dropped {dropped} line(s) with status err (status=ok)")
    writers = read_forms_txt(root / "ascii" / "forms.txt")
    utterances = []
    for line_id, _, text in records:
        image = line_image(root, line_id)
        image_size(image)
        form = line_id.rsplit("-", 1)[0]
        utterances.append(Utterance(id=line_id, source=str(image.resolve()), text=text,
                                    speaker=writers.get(form, form) if writers is not None else form))
    if not utterances:
        raise DataError(f"iam: no lines left in {root / 'ascii' / 'lines.txt'}")

    if split == "task":
        splits = _task_split(utterances, Path(task_dir) if task_dir else root / "task")
    else:
        if writers is None:
            note(f"iam: no {root / 'ascii' / 'forms.txt'}: each form counts as a writer, so a writer's other "
                 "forms may fall into training")
        else:
            missing = sorted({u.id.rsplit('-', 1)[0] for u in utterances} - set(writers))
            if missing:
                raise DataError(f"iam: form(s) {preview(missing)} are not in {root / 'ascii' / 'forms.txt'}")
        test, dev, train = carve_by_speaker(utterances, [test_fraction, dev_fraction], seed)
        splits = {"train": train, "dev": dev, "test": test}
    write_codec(Path(out_dir), splits, "iam")
    return write_splits(Path(out_dir), splits)


def read_lines_txt(path: Path) -> list[tuple[str, str, str]]:
    """(line id, status, transcript with spaces between words) of every line of ``ascii/lines.txt``."""
    if not path.is_file():
        raise DataError(f"iam: no {path} (unpack ascii.tgz into the data_dir)")
    records = []
    seen: set[str] = set()
    for lineno, raw in enumerate(path.read_text(encoding="utf-8", errors="strict").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split(" ", 8)
        where = f"{path}:{lineno}"
        if len(parts) < 9:
            raise DataError(f"{where}: expected 9 fields (id status grey components x y w h transcript), "
                            f"got {len(parts)}: {raw!r}")
        line_id, status = parts[0], parts[1]
        if status not in STATUSES:
            raise DataError(f"{where}: status must be one of {list(STATUSES)}, got {status!r}")
        if not all(p.lstrip("-").isdigit() for p in parts[2:8]):
            raise DataError(f"{where}: grey level, components and bounding box must be integers: {raw!r}")
        if line_id.count("-") != 2:
            raise DataError(f"{where}: line id {line_id!r} is not <prefix>-<form>-<line>")
        if line_id in seen:
            raise DataError(f"{where}: duplicate line id {line_id!r}")
        seen.add(line_id)
        text = " ".join(parts[8].replace("|", " ").split())
        if not text:
            raise DataError(f"{where}: line {line_id!r} has an empty transcript")
        records.append((line_id, status, text))
    if not records:
        raise DataError(f"iam: {path} lists no lines")
    return records


def read_forms_txt(path: Path) -> dict[str, str] | None:
    """Form id -> writer id from ``ascii/forms.txt``, or None when the file is absent."""
    if not path.is_file():
        return None
    writers = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split()
        if len(parts) < 2:
            raise DataError(f"{path}:{lineno}: expected 'form-id writer-id ...', got {raw!r}")
        writers[parts[0]] = parts[1]
    return writers


def line_image(root: Path, line_id: str) -> Path:
    """``lines/a01/a01-000u/a01-000u-00.png`` for ``a01-000u-00``; DataError naming it when absent."""
    prefix, form, _ = line_id.split("-")
    path = root / "lines" / prefix / f"{prefix}-{form}" / f"{line_id}.png"
    if not path.is_file():
        raise DataError(f"iam: line {line_id!r} listed in ascii/lines.txt has no image {path}")
    return path


def _task_split(utterances: Sequence[Utterance], task_dir: Path) -> dict[str, list[Utterance]]:
    by_id = {u.id: u for u in utterances}
    splits: dict[str, list[Utterance]] = {}
    listed: set[str] = set()
    for name, files in TASK_FILES.items():
        ids: list[str] = []
        for file in files:
            path = task_dir / file
            if not path.is_file():
                raise DataError(f"iam: split='task' needs {path} (the Large Writer Independent Text Line "
                                "Recognition Task lists); set task_dir or use split='writer'")
            ids.extend(x.strip() for x in path.read_text(encoding="utf-8").split() if x.strip())
        twice = listed & set(ids)
        if twice:
            raise DataError(f"iam: line(s) {preview(twice)} are listed in more than one split file in {task_dir}")
        listed |= set(ids)
        splits[name] = [by_id[i] for i in ids if i in by_id]
    unlisted = set(by_id) - listed
    if unlisted:
        note(f"iam: {len(unlisted)} line(s) are in no task list and were dropped: {preview(unlisted)}")
    missing = listed - set(by_id)
    if missing:
        note(f"iam: {len(missing)} listed line(s) are not available (absent or dropped by status): {preview(missing)}")
    return splits
