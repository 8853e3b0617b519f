"""JSONL manifests: one utterance per line, written by ``corpora/`` recipes.

A line looks like::

    {"id": "an251-fash-b", "source": "/data/an4/wav/an4_clstk/fash/an251-fash-b.wav",
     "text": "YES", "speaker": "fash", "duration": 1.2}

Required keys: ``id``, ``source``, ``text``. Optional: ``speaker``, ``start``, ``end``
(seconds inside ``source``), ``duration`` (seconds), ``num_frames``. A relative ``source``
is resolved against the manifest's own folder.
"""
from __future__ import annotations

import json
import math
import os
import unicodedata
from dataclasses import asdict, fields
from pathlib import Path
from typing import Iterable

from seqlabel.errors import DataError
from seqlabel.textfile import iter_lines
from seqlabel.types import Utterance

_FIELDS = {f.name for f in fields(Utterance)}
_REQUIRED = ("id", "source", "text")
MANIFEST_WHAT = "a UTF-8 JSONL manifest (one utterance a line, written by `seqlabel prepare`)"
MANIFEST_HINT = "to transcribe audio, image or stroke files directly, use `seqlabel transcribe CHECKPOINT FILE...`"


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Read and validate a manifest. Errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"manifest not found: {path} (run `seqlabel prepare ...` first?)")
    utterances: list[Utterance] = []
    seen: dict[str, int] = {}
    base = path.parent
    for lineno, line in iter_lines(path, MANIFEST_WHAT, MANIFEST_HINT):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: not valid JSON ({e.msg}, column {e.colno})") from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
        missing = [k for k in _REQUIRED if k not in record]
        if missing:
            untranscribed = ' (an untranscribed utterance, for decode, adapt or pseudolabel: "text": "")' \
                if "text" in missing else ""
            raise DataError(f"{where}: missing key(s) {missing}{untranscribed}")
        unknown = sorted(set(record) - _FIELDS)
        if unknown:
            raise DataError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(_FIELDS)}")
        utt_id = _check_id(record["id"], where)
        if utt_id in seen:
            raise DataError(f"{where}: duplicate utterance id {utt_id!r} (first on line {seen[utt_id]})")
        seen[utt_id] = lineno
        _check_types(record, f"{where}: utterance {utt_id!r}")
        source = Path(record["source"])
        if not source.is_absolute():
            source = base / source
        record["source"] = str(source)
        record["id"] = utt_id
        record["speaker"] = record.get("speaker") or ""
        start, end = record.get("start"), record.get("end")
        if start is not None and end is not None and not end > start >= 0:
            raise DataError(f"{where}: utterance {utt_id!r}: need 0 <= start < end, got {start}, {end}")
        utterances.append(Utterance(**record))
    if not utterances:
        raise DataError(f"manifest {path} holds no utterances")
    return utterances


def _check_id(value: object, where: str) -> str:
    """An utterance id as Kaldi text, CTM and score files need it: a non-empty string (or a whole number,
    read as its digits) of one token."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        shown = "null" if value is None else f"{type(value).__name__} {json.dumps(value)[:40]}"
        raise DataError(f"{where}: 'id' must be a string, got {shown}; give every utterance a unique string id "
                        '(e.g. "id": "spk1-utt001")')
    if not value:
        raise DataError(f"{where}: 'id' is empty; give every utterance a unique non-empty id")
    bad = next((c for c in value if c.isspace() or not c.isprintable()), None)
    if bad is not None:
        fixed = "".join("_" if c.isspace() or not c.isprintable() else c for c in value)
        raise DataError(f"{where}: utterance id {value!r} holds {unicodedata.name(bad, 'a control character')} "
                        f"(U+{ord(bad):04X}): Kaldi text, CTM and score files end an id at white space, so its "
                        f"hypothesis would be scored as the wrong words; use an id without white space or control "
                        f"characters (e.g. {fixed!r})")
    return value


_OPTIONAL_TYPES = {"speaker": (str,), "start": (int, float), "end": (int, float), "duration": (int, float),
                   "num_frames": (int,)}


def _check_types(record: dict, where: str) -> None:
    """The fields' JSON types: ``source`` and ``text`` strings; the optional ones (null allowed) as
    ``_OPTIONAL_TYPES`` says, numbers finite and not negative."""
    for key in ("source", "text"):
        if not isinstance(record[key], str) or (key == "source" and not record[key].strip()):
            raise DataError(f"{where}: {key!r} must be a{' non-empty' if key == 'source' else ''} string, got "
                            f"{json.dumps(record[key])[:40]}")
    for key, kinds in _OPTIONAL_TYPES.items():
        value = record.get(key)
        if value is None:
            continue
        if kinds == (str,):
            ok, expected = isinstance(value, str), "a string"
        else:
            ok = isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
            expected = "a whole number >= 0" if kinds == (int,) else "seconds, a number >= 0"
        if not ok:
            raise DataError(f"{where}: {key!r} must be {expected} (or left out), got {json.dumps(value)[:40]}")


def write_manifest(path: str | os.PathLike, utterances: Iterable[Utterance]) -> Path:
    """Write utterances as JSONL (atomically). Optional fields left as None are omitted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for utt in utterances:
            record = {k: v for k, v in asdict(utt).items() if v is not None and v != ""}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def speaker_of(utt: Utterance) -> str:
    """The utterance's speaker, or the utterance id's prefix before the first '-' or '_'."""
    if utt.speaker:
        return utt.speaker
    for sep in ("-", "_"):
        if sep in utt.id:
            return utt.id.split(sep, 1)[0]
    return utt.id
