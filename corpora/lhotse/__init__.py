"""lhotse manifests: a RecordingSet and a SupervisionSet per split, as JSONL or JSONL.gz.

This reads lhotse's documented manifest schema directly, so lhotse itself need not be installed.
``data_dir`` holds the files lhotse's recipes write, e.g.::

    <prefix>_recordings_<part>.jsonl.gz     {"id", "sources": [{"type": "file", "channels": [0], "source": path}],
                                             "sampling_rate", "num_samples", "duration", ...}
    <prefix>_supervisions_<part>.jsonl.gz   {"id", "recording_id", "start", "duration", "channel", "text",
                                             "speaker", ...}

``train``, ``dev`` and ``test`` name the parts (dev/test default to "dev"/"test" when present; ""
for none); ``prefix`` picks the corpus when several share the folder. Each supervision becomes an
utterance (a segment of its recording unless it spans all of it). Only ``file`` sources on channel
0 are read. Relative source paths are resolved against ``path_root`` (default: ``data_dir``).
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterator

from seqlabel.corpora.common import require_dir, write_splits
from seqlabel.corpora.validate import Report
from seqlabel.errors import ConfigError, DataError
from seqlabel.types import Utterance

KINDS = ("recordings", "supervisions")
SUFFIXES = (".jsonl.gz", ".jsonl")
DEFAULT_PARTS = {"dev": "dev", "test": "test"}
UNITS = ("char", "phone", "word")  # shapes the token statistics only
WHOLE_TOLERANCE_S = 1e-3  # a supervision this close to its recording's span is the whole recording


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    train: str = "train",
    dev: str | None = None,
    test: str | None = None,
    prefix: str | None = None,
    unit: str = "char",
    path_root: str | None = None,
) -> dict[str, Path]:
    """Write a manifest per chosen lhotse part into ``out_dir``; return ``{split: path}``."""
    if unit not in UNITS:
        raise ConfigError(f"lhotse: unit must be one of {UNITS}, got {unit!r}")
    root = require_dir(data_dir, "lhotse")
    base = Path(path_root).expanduser() if path_root else root
    report = Report("lhotse")
    splits: dict[str, list[Utterance]] = {}
    for split, part in (("train", train), ("dev", dev), ("test", test)):
        wanted = part if part is not None else DEFAULT_PARTS[split]
        if not wanted:
            continue
        recordings = find_manifest(root, "recordings", wanted, prefix, required=part is not None)
        if recordings is None:
            continue
        supervisions = find_manifest(root, "supervisions", wanted, prefix, required=True)
        splits[split] = read_part(recordings, supervisions, base, report)
    if not splits:
        raise ConfigError("lhotse: no part to read; name one with -p train=PART")
    return write_splits(Path(out_dir), splits, unit=unit, report=report)


def find_manifest(root: Path, kind: str, part: str, prefix: str | None, required: bool) -> Path | None:
    """The ``[<prefix>_]<kind>_<part>.jsonl[.gz]`` file in ``root``; several candidates need ``prefix``."""
    stem = f"{prefix}_{kind}_{part}" if prefix else f"*{kind}_{part}"
    found = sorted(p for suffix in SUFFIXES for p in root.glob(stem + suffix))
    if len(found) > 1:
        raise ConfigError(f"lhotse: several {kind} manifests for part {part!r} in {root}: "
                          f"{', '.join(p.name for p in found)}; choose the corpus with -p prefix=NAME")
    if not found and required:
        raise DataError(f"lhotse: no {stem}.jsonl(.gz) found in {root}")
    return found[0] if found else None


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of a JSONL or JSONL.gz file; errors name file:line."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(record, dict) or "id" not in record:
                raise DataError(f"{path}:{lineno}: expected a JSON object with an 'id'")
            yield lineno, record


def read_part(recordings_path: Path, supervisions_path: Path, base: Path, report: Report) -> list[Utterance]:
    """One utterance per supervision whose recording is a readable local file."""
    recordings: dict[str, dict[str, Any]] = {}
    for lineno, rec in read_jsonl(recordings_path):
        if rec["id"] in recordings:
            report.add("duplicate-id", rec["id"], f"{recordings_path}:{lineno}")
            continue
        recordings[rec["id"]] = rec
    utterances: list[Utterance] = []
    used: set[str] = set()
    files: dict[str, Path | None] = {}
    for lineno, sup in read_jsonl(supervisions_path):
        where = f"{supervisions_path}:{lineno}"
        rec = recordings.get(sup.get("recording_id"))
        if rec is None:
            report.add("no-audio", sup["id"],
                       f"{where}: recording {sup.get('recording_id')!r} not in {recordings_path.name}")
            continue
        used.add(rec["id"])
        if rec["id"] not in files:
            files[rec["id"]] = _recording_file(rec, base, report, f"{recordings_path}")
        path = files[rec["id"]]
        if path is None:
            continue
        if sup.get("channel", 0) not in (0, [0]):
            report.add("unsupported", sup["id"], f"{where}: channel {sup.get('channel')!r}; only channel 0 is read")
            continue
        utterances.append(_utterance(sup, rec, path, where))
        report.sample_rates[sup["id"]] = int(rec["sampling_rate"])
    for rec_id in sorted(recordings.keys() - used):
        report.add("no-transcript", rec_id, f"recording of {recordings_path.name} without a supervision")
    return utterances


def _recording_file(rec: dict[str, Any], base: Path, report: Report, where: str) -> Path | None:
    """The local file of a recording's channel 0, or None (reported) when there is none."""
    for key in ("sources", "sampling_rate", "duration"):
        if key not in rec:
            raise DataError(f"{where}: recording {rec['id']!r} has no {key!r} (not a lhotse RecordingSet?)")
    sources = [s for s in rec["sources"] if 0 in s.get("channels", [0])]
    if not sources or sources[0].get("type") != "file":
        kind = sources[0].get("type") if sources else "none on channel 0"
        report.add("unsupported", rec["id"], f"source type {kind!r}: only local files ('file') are read")
        return None
    path = Path(sources[0]["source"]).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        report.add("missing-file", str(path), f"audio of recording {rec['id']}")
        return None
    return path.resolve()


def _utterance(sup: dict[str, Any], rec: dict[str, Any], path: Path, where: str) -> Utterance:
    try:
        start, duration = float(sup["start"]), float(sup["duration"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{where}: supervision {sup['id']!r} needs numeric 'start' and 'duration'") from None
    whole = start < WHOLE_TOLERANCE_S and abs(duration - float(rec["duration"])) < WHOLE_TOLERANCE_S
    return Utterance(id=str(sup["id"]), source=str(path), text=" ".join(str(sup.get("text") or "").split()),
                     speaker=str(sup.get("speaker") or ""), start=None if whole else start,
                     end=None if whole else start + duration, duration=duration)
