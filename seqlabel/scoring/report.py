"""Scoring reports as pure functions over a ScoreResult (and a map utterance id -> speaker).

- ``summary_line``: ``PER (timit39) 18.60% [95% CI 17.90-19.32] [errors / tokens, S sub, D del, I ins] ...``
- ``speaker_scores`` / ``speakers_tsv``: error rates per speaker, summed over each speaker's utterances
- ``confusions`` / ``confusions_text``: the most frequent substitution pairs, deletions and insertions
- ``pra_text``: per-utterance alignments in sclite's ``pralign`` layout
- ``summary_dict``: the machine-readable summary (written as summary.json)

Rates are fractions in records and JSON, percentages in text.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from seqlabel.errors import DataError
from seqlabel.scoring.metrics import ScoreResult, UtteranceScore
from seqlabel.scoring.significance import Interval, percent
from seqlabel.types import ErrorStats


@dataclass(frozen=True)
class SpeakerScore:
    speaker: str
    stats: ErrorStats


@dataclass(frozen=True)
class Confusions:
    """Error counts by token, most frequent first (ties in token order)."""

    substitutions: tuple[tuple[str, str, int], ...]  # (reference token, hypothesis token, count)
    deletions: tuple[tuple[str, int], ...]  # (reference token, count)
    insertions: tuple[tuple[str, int], ...]  # (hypothesis token, count)


def rate_name(result: ScoreResult, folding: Optional[str] = None) -> str:
    """``PER``, or ``PER (timit39)`` when the tokens were folded."""
    return f"{result.name} ({folding})" if folding else result.name


def summary_line(result: ScoreResult, folding: Optional[str] = None, interval: Optional[Interval] = None) -> str:
    """One line: rate, confidence interval, counts, utterances."""
    t = result.total
    ci = f" [{interval}]" if interval is not None else ""
    return (f"{rate_name(result, folding)} {percent(t.rate)}%{ci} [{t.errors} / {t.ref_tokens}, "
            f"{t.substitutions} sub, {t.deletions} del, {t.insertions} ins] over {t.utterances} utterances")


def speaker_scores(result: ScoreResult, speakers: Mapping[str, str]) -> tuple[SpeakerScore, ...]:
    """Counts summed per speaker, sorted by speaker. Every utterance needs a speaker."""
    missing = [u.id for u in result.utterances if u.id not in speakers]
    if missing:
        raise DataError(f"{len(missing)} utterance(s) have no speaker, e.g. {missing[:3]}")
    totals: dict[str, ErrorStats] = {}
    for u in result.utterances:
        spk = speakers[u.id]
        totals[spk] = totals.get(spk, ErrorStats()) + u.stats
    return tuple(SpeakerScore(spk, totals[spk]) for spk in sorted(totals))


def speakers_tsv(results: Sequence[ScoreResult], speakers: Mapping[str, str]) -> str:
    """Tab-separated, one row per (rate, speaker): name, speaker, utterances, ref tokens, S, D, I, errors, rate %."""
    lines = ["name\tspeaker\tutterances\tref_tokens\tsub\tdel\tins\terrors\trate"]
    for result in results:
        for s in speaker_scores(result, speakers):
            t = s.stats
            lines.append(f"{result.name}\t{s.speaker}\t{t.utterances}\t{t.ref_tokens}\t{t.substitutions}\t"
                         f"{t.deletions}\t{t.insertions}\t{t.errors}\t{percent(t.rate)}")
    return "\n".join(lines) + "\n"


def confusions(result: ScoreResult) -> Confusions:
    """Count substitution pairs, deleted and inserted tokens over the corpus."""
    subs: Counter[tuple[str, str]] = Counter()
    dels: Counter[str] = Counter()
    ins: Counter[str] = Counter()
    for u in result.utterances:
        for op, ref, hyp in u.edits():
            if op == "S":
                subs[(ref, hyp)] += 1
            elif op == "D":
                dels[ref] += 1
            elif op == "I":
                ins[hyp] += 1
    return Confusions(
        tuple((r, h, n) for (r, h), n in sorted(subs.items(), key=lambda kv: (-kv[1], kv[0]))),
        tuple(sorted(dels.items(), key=lambda kv: (-kv[1], kv[0]))),
        tuple(sorted(ins.items(), key=lambda kv: (-kv[1], kv[0]))))


def confusions_text(result: ScoreResult, top: int = 30, folding: Optional[str] = None) -> str:
    """The ``top`` most frequent substitutions (ref -> hyp), deletions and insertions, with counts."""
    c = confusions(result)
    t = result.total
    name = rate_name(result, folding)
    out = [f"{name}: {t.substitutions} substitutions, {t.deletions} deletions, {t.insertions} insertions", ""]
    out.append(f"SUBSTITUTIONS (reference -> hypothesis), top {top} of {len(c.substitutions)} pairs")
    out += [f"{n:7d}  {r} -> {h}" for r, h, n in c.substitutions[:top]]
    out += ["", f"DELETIONS (reference token), top {top} of {len(c.deletions)}"]
    out += [f"{n:7d}  {r}" for r, n in c.deletions[:top]]
    out += ["", f"INSERTIONS (hypothesis token), top {top} of {len(c.insertions)}"]
    out += [f"{n:7d}  {h}" for h, n in c.insertions[:top]]
    return "\n".join(out) + "\n"


def pra_text(result: ScoreResult, speakers: Optional[Mapping[str, str]] = None, system: str = "seqlabel") -> str:
    """Alignments as sclite's ``-o pralign`` writes them, utterances grouped by speaker.

    Columns are as wide as the wider token; ``*`` fills the missing side of a deletion or an
    insertion. sclite scores case-insensitively and marks errors by upper case; seqlabel scores
    tokens exactly, so when no token has upper-case letters (the two agree) errors are upper-cased
    as sclite does, and otherwise tokens are written as they are with sclite's ``-s`` attribute line.
    """
    mark = all(tok == tok.lower() for u in result.utterances for tok in (*u.ref, *u.hyp))
    groups: dict[str, list[UtteranceScore]] = {}
    for u in result.utterances:
        groups.setdefault(speakers.get(u.id, "") if speakers else "", []).append(u)
    out = ["", "", "\t\tDUMP OF SYSTEM ALIGNMENT STRUCTURE", "", f"System name:   {system}", "", "Speakers: "]
    out += [f"{k:5d}:  {spk}" for k, spk in enumerate(groups)]
    out.append("")
    for k, (spk, utts) in enumerate(groups.items()):
        out.append(f"Speaker sentences {k:3d}:  {spk}   #utts: {len(utts)}")
        for u in utts:
            out += _pra_block(u, mark)
    out.append("")
    return "\n".join(out) + "\n"


def summary_dict(result: ScoreResult, folding: Optional[str] = None, interval: Optional[Interval] = None,
                 speakers: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """Totals, rate, unit, folding, confidence interval and per-speaker counts as plain data (JSON-safe)."""
    out: dict[str, Any] = {"name": result.name, "unit": result.unit, "folding": folding,
                           **_stats_dict(result.total)}
    out["ci"] = None if interval is None else {  # a bound of null: unbounded (inf)
        "level": interval.level, "low": _finite(interval.low), "high": _finite(interval.high),
        "resamples": interval.resamples, "seed": interval.seed, "method": "percentile bootstrap over utterances"}
    if speakers is not None:
        out["speakers"] = [{"speaker": s.speaker, **_stats_dict(s.stats)} for s in speaker_scores(result, speakers)]
    return out


def _pra_block(u: UtteranceScore, mark: bool) -> list[str]:
    s = u.stats
    ref_cols, hyp_cols, eval_cols = [], [], []
    for op, ref, hyp in u.edits():
        r = ("" if ref is None else ref.upper() if mark and op != "C" else ref)
        h = ("" if hyp is None else hyp.upper() if mark and op != "C" else hyp)
        width = max(len(r), len(h))
        r, h = r or "*" * width, h or "*" * width
        ref_cols.append(r.ljust(width))
        hyp_cols.append(h.ljust(width))
        eval_cols.append(("" if op == "C" else op).ljust(width))
    lines = [f"id: ({u.id})", f"Scores: (#C #S #D #I) {s.hits} {s.substitutions} {s.deletions} {s.insertions}"]
    if not mark:
        lines.append("Attributes: Case_sensitve ")  # sclite's spelling
    lines += ["REF:  " + "".join(c + " " for c in ref_cols),
              "HYP:  " + "".join(c + " " for c in hyp_cols),
              "Eval: " + "".join(c + " " for c in eval_cols), ""]
    return lines


def _stats_dict(t: ErrorStats) -> dict[str, Any]:
    return {"utterances": t.utterances, "ref_tokens": t.ref_tokens, "correct": t.hits,
            "substitutions": t.substitutions, "deletions": t.deletions, "insertions": t.insertions,
            "errors": t.errors, "rate": t.rate if math.isfinite(t.rate) else None}


def _finite(x: float) -> Optional[float]:
    return x if math.isfinite(x) else None
