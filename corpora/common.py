"""Helpers shared by the recipes: speaker splits, statistics summaries, manifest writing,
input checks and reports."""
from __future__ import annotations

import os
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Collection, Sequence

from seqlabel.errors import DataError
from seqlabel.manifest import write_manifest
from seqlabel.types import Utterance


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
        tokens.update(u.text.split() if unit == "phone" else u.text)
    return (
        f"{name}: {len(utterances)} utterances, {seconds / 3600:.2f} h, "
        f"{len(speakers)} speakers, {len(tokens)} distinct {unit} tokens"
    )


def write_splits(
    out_dir: Path, splits: dict[str, Sequence[Utterance]], unit: str = "char", echo: bool = True
) -> dict[str, Path]:
    """Write ``<split>.jsonl`` for each non-empty split and print a summary line for each."""
    out_dir = Path(out_dir)
    paths: dict[str, Path] = {}
    for split, utts in splits.items():
        if not utts:
            continue
        paths[split] = write_manifest(out_dir / f"{split}.jsonl", utts)
        if echo:
            print(summarize(f"{out_dir.name}/{split}", utts, unit))
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
    """Duration in seconds read from the audio file's header (no decoding)."""
    import soundfile  # lazy: only recipes reading audio need it

    try:
        return float(soundfile.info(str(path)).duration)
    except RuntimeError as e:  # soundfile's errors derive from RuntimeError
        raise DataError(f"cannot read audio file {path}: {e}") from None


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
    """Report something worth knowing that does not stop preparation (on stderr)."""
    print(f"note: {message}", file=sys.stderr)


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
