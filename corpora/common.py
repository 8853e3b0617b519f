"""Helpers shared by the recipes: speaker splits, statistics summaries, manifest writing with
validation (see ``seqlabel.corpora.validate``), input checks and reports."""
from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Sequence

from seqlabel.corpora.validate import Report, check_splits, split_stats, tokens_of
from seqlabel.data.manifest import write_manifest
from seqlabel.errors import DataError
from seqlabel.types import Utterance

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from seqlabel.features.audio import AudioInfo

VALIDATION_FILE = "validation.txt"
STATS_FILE = "stats.json"


def split_by_speaker(
    utterances: Sequence[Utterance], held_out: Sequence[str]
) -> tuple[list[Utterance], list[Utterance]]:
    """(utterances of speakers not in held_out, utterances of speakers in held_out)."""
    held = set(held_out)
    return [u for u in utterances if u.speaker not in held], [u for u in utterances if u.speaker in held]


def pick_speakers(speakers: Sequence[str], count: int, seed: int = 0) -> list[str]:
    """A reproducible random choice of ``count`` speakers (sorted input, seeded)."""
    pool = sorted(set(speakers))
    if count >= len(pool):
        raise ValueError(f"cannot hold out {count} of {len(pool)} speakers")
    return sorted(random.Random(seed).sample(pool, count))


def summarize(name: str, utterances: Sequence[Utterance], unit: str = "char") -> str:
    """One line of statistics: utterances, hours, speakers, token inventory size."""
    seconds = sum(u.duration or 0.0 for u in utterances)
    speakers = {u.speaker for u in utterances}
    tokens: Counter[str] = Counter()
    for u in utterances:
        tokens.update(tokens_of(u.text, unit))
    return (
        f"{name}: {len(utterances)} utterances, {seconds / 3600:.2f} h, "
        f"{len(speakers)} speakers, {len(tokens)} distinct {unit} tokens"
    )


def write_splits(
    out_dir: Path,
    splits: dict[str, Sequence[Utterance]],
    unit: str = "char",
    echo: bool = True,
    report: Report | None = None,
) -> dict[str, Path]:
    """Validate the splits, then write ``<split>.jsonl`` for each non-empty one; return ``{split: path}``.

    ``report`` holds what the recipe found while reading (default: nothing). The full report goes to
    ``validation.txt`` and its summary to stderr when it is not clean; a fatal problem raises DataError
    before any manifest is written. ``stats.json`` holds utterances, hours, speakers and the token
    inventory of each split; a summary line per split is printed.
    """
    out_dir = Path(out_dir)
    report = report if report is not None else Report(out_dir.name)
    kept = check_splits(report, splits)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / VALIDATION_FILE).write_text(report.text(), encoding="utf-8")
    if report.issues:
        note(f"{report.summary()} (details in {out_dir / VALIDATION_FILE})")
        for kind in report.counts():
            note(f"  {kind}: {preview([i.item for i in report.issues if i.kind == kind])}")
    report.raise_if_fatal(str(out_dir / VALIDATION_FILE))
    paths: dict[str, Path] = {}
    stats: dict[str, dict] = {}
    for split, utts in kept.items():
        if not utts:
            continue
        paths[split] = write_manifest(out_dir / f"{split}.jsonl", utts)
        stats[split] = split_stats(utts, unit)
        if echo:
            log.info(summarize(f"{out_dir.name}/{split}", utts, unit))
    (out_dir / STATS_FILE).write_text(json.dumps(stats, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return paths


def require_dir(data_dir: str | os.PathLike | None, recipe: str) -> Path:
    """``data_dir`` as a Path, or a DataError naming it when it is not given or not a folder."""
    if data_dir is None:
        raise DataError(f"corpus {recipe!r} needs a data_dir (the folder holding the corpus)")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"corpus {recipe!r}: data_dir {path} does not exist or is not a folder")
    return path


def audio_duration(path: Path) -> float:
    """Duration in seconds read from the audio file's header (no decoding); DataError names the file."""
    from seqlabel.features.audio import audio_info  # lazy: only recipes reading audio need it

    return audio_info(path).duration


def probe_audio(report: Report, utt_id: str, path: Path) -> AudioInfo | None:
    """The header of ``utt_id``'s audio, its sample rate recorded in ``report``; a missing or unreadable
    file is recorded as an issue instead (None returned)."""
    from seqlabel.features.audio import audio_info

    if not path.is_file():
        report.add("missing-file", str(path), f"audio of utterance {utt_id}")
        return None
    try:
        info = audio_info(path)
    except DataError as e:
        report.add("unreadable-file", str(path), str(e))
        return None
    report.sample_rates[utt_id] = info.sample_rate
    return info


def parse_speakers(value: str | Sequence[str] | None) -> list[str]:
    """Speaker names from ``"a,b"`` or ``["a", "b"]``; None or ``""`` gives no speakers."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [s.strip() for s in items if s.strip()]


def preview(names: Collection[str], limit: int = 5) -> str:
    """The first ``limit`` names (sorted) and how many more: ``"a, b, c (and 7 more)"``."""
    shown = sorted(names)[:limit]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def note(message: str) -> None:
    """Report something worth knowing that does not stop preparation (a warning: on stderr)."""
    log.warning(f"note: {message}")


def carve_by_speaker(
    utterances: Sequence[Utterance], fractions: Sequence[float], seed: int = 0
) -> list[list[Utterance]]:
    """Split into ``len(fractions) + 1`` speaker-disjoint parts, the last one taking the rest.

    Speakers are shuffled reproducibly (sorted, then seeded) and dealt whole to part i until it
    holds at least ``fractions[i]`` of the utterances; a positive fraction always gets at least
    one speaker. Raises DataError when the rest would be empty.
    """
    for f in fractions:
        if not 0.0 <= f < 1.0:
            raise ValueError(f"split fractions must lie in [0, 1), got {list(fractions)}")
    if sum(fractions) >= 1.0:
        raise ValueError(f"split fractions must sum to less than 1, got {list(fractions)}")
    by_speaker: dict[str, list[Utterance]] = {}
    for u in utterances:
        by_speaker.setdefault(u.speaker, []).append(u)
    order = sorted(by_speaker)
    random.Random(seed).shuffle(order)
    parts: list[list[Utterance]] = []
    for fraction in fractions:
        part: list[Utterance] = []
        while order and fraction > 0 and len(part) < max(fraction * len(utterances), 1):
            part.extend(by_speaker[order.pop(0)])
        parts.append(part)
    rest = [u for s in sorted(order) for u in by_speaker[s]]
    if not rest:
        raise DataError(
            f"{len(by_speaker)} speakers are too few to hold out {list(fractions)} of the utterances "
            "and keep any for training"
        )
    return parts + [rest]
