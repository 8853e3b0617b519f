"""Validation of a prepared corpus, in the spirit of Kaldi's ``validate_data_dir.sh``, and its statistics.

A recipe records what it finds while reading the corpus (``Report.add``: missing files, audio
without transcripts, ...) and the sample rate of each utterance it could read. ``check_splits``
adds the checks on the utterances themselves (duplicate ids, empty transcripts, durations, sample
rates) and returns the utterances to keep. ``seqlabel.corpora.common.write_splits`` runs it, writes the
report to ``validation.txt`` and the statistics to ``stats.json`` next to the manifests, and
refuses to write manifests while a fatal problem is left.
"""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from seqlabel.errors import DataError
from seqlabel.types import Utterance

# kind -> (fatal, what it means and what happens to the utterance)
ISSUE_KINDS: dict[str, tuple[bool, str]] = {
    "missing-file": (True, "a listed audio or feature file does not exist"),
    "unreadable-file": (True, "a file exists but cannot be read"),
    "no-audio": (True, "a transcript whose utterance has no audio or features"),
    "duplicate-id": (True, "an utterance id occurs more than once"),
    "unsupported": (True, "an entry this toolkit cannot read (command pipe, remote or multi-channel source)"),
    "no-transcript": (False, "audio without a transcript: skipped"),
    "no-speaker": (False, "an utterance without a speaker: the utterance id stands in"),
    "missing-speaker": (False, "a speaker of a standard split list is not in the corpus"),
    "empty-transcript": (False, "an empty transcript: utterance dropped"),
    "too-short": (False, "shorter than one 25 ms analysis frame: utterance dropped"),
    "duration-outlier": (False, "longer than median + k sigma of its split, or than max_duration: kept "
                                "(data.max_duration drops long training utterances)"),
    "sample-rate": (False, "sample rate differs from the corpus's most common one: kept (features resample)"),
}
MIN_SECONDS = 0.025  # one analysis frame
OUTLIER_STD = 4.0  # k in median + k sigma
MAD_TO_STD = 1.4826  # median absolute deviation -> standard deviation, for normal data
STD_FLOOR = 0.1  # sigma is floored at this fraction of the median, so near-equal durations flag nothing


@dataclass(frozen=True)
class Issue:
    """One problem found: its kind (a key of ``ISSUE_KINDS``), the utterance id or file, and details."""

    kind: str
    item: str
    detail: str = ""

    @property
    def fatal(self) -> bool:
        return ISSUE_KINDS[self.kind][0]


@dataclass
class Report:
    """The problems a recipe found, and the sample rate (Hz) of each utterance whose audio it read."""

    recipe: str
    issues: list[Issue] = field(default_factory=list)
    sample_rates: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, item: str, detail: str = "") -> None:
        if kind not in ISSUE_KINDS:
            raise ValueError(f"unknown issue kind {kind!r}; kinds: {', '.join(ISSUE_KINDS)}")
        self.issues.append(Issue(kind, str(item), detail))

    @property
    def fatal(self) -> list[Issue]:
        return [i for i in self.issues if i.fatal]

    def counts(self) -> dict[str, int]:
        """Issues per kind, in the order of ``ISSUE_KINDS``; kinds with none are left out."""
        counted = Counter(i.kind for i in self.issues)
        return {kind: counted[kind] for kind in ISSUE_KINDS if counted[kind]}

    def summary(self) -> str:
        """One line: how many problems of each kind, fatal ones marked."""
        if not self.issues:
            return f"{self.recipe}: validation found no problems"
        parts = [f"{kind} {n}" + (" (fatal)" if ISSUE_KINDS[kind][0] else "") for kind, n in self.counts().items()]
        return f"{self.recipe}: validation found {len(self.issues)} problem(s): " + ", ".join(parts)

    def text(self) -> str:
        """The whole report: the summary, what each kind means, then one line per issue."""
        lines = [self.summary()]
        for kind, n in self.counts().items():
            fatal, meaning = ISSUE_KINDS[kind]
            lines.append(f"\n[{kind}] {n} {'FATAL' if fatal else 'non-fatal'}: {meaning}")
            lines.extend(f"  {i.item}" + (f"\t{i.detail}" if i.detail else "") for i in self.issues if i.kind == kind)
        return "\n".join(lines) + "\n"

    def raise_if_fatal(self, where: str) -> None:
        """DataError naming the first fatal problem and ``where`` the full list is, if there is any."""
        fatal = self.fatal
        if fatal:
            first = fatal[0]
            raise DataError(
                f"{self.recipe}: {len(fatal)} fatal problem(s), all listed in {where}; first: [{first.kind}] "
                f"{first.item}" + (f": {first.detail}" if first.detail else ""))


def check_splits(
    report: Report,
    splits: dict[str, Sequence[Utterance]],
    max_duration: float | None = None,
    outlier_std: float = OUTLIER_STD,
) -> dict[str, list[Utterance]]:
    """Record utterance-level problems in ``report``; return the splits without dropped utterances."""
    seen: dict[str, str] = {}
    kept: dict[str, list[Utterance]] = {}
    for split, utts in splits.items():
        keep: list[Utterance] = []
        for u in utts:
            if u.id in seen:
                report.add("duplicate-id", u.id, f"in {seen[u.id]} and {split}")
                continue
            seen[u.id] = split
            if not u.text.strip():
                report.add("empty-transcript", u.id, u.source)
            elif u.duration is not None and u.duration < MIN_SECONDS:
                report.add("too-short", u.id, f"{u.duration:.3f} s: {u.source}")
            else:
                keep.append(u)
        _check_durations(report, keep, max_duration, outlier_std)
        kept[split] = keep
    _check_sample_rates(report, [u.id for utts in kept.values() for u in utts])
    return kept


def _check_durations(report: Report, utts: Sequence[Utterance], max_duration: float | None, k: float) -> None:
    """Flag durations above median + k sigma, or above ``max_duration``.

    sigma is the robust spread 1.4826 x the median absolute deviation (the std for normal data, but
    not inflated by the outliers themselves), floored at STD_FLOOR x the median.
    """
    durations = [u.duration for u in utts if u.duration is not None]
    if not durations:
        return
    median = statistics.median(durations)
    sigma = max(MAD_TO_STD * statistics.median(abs(d - median) for d in durations), STD_FLOOR * median)
    limit = median + k * sigma
    if max_duration is not None:
        limit = min(limit, max_duration)
    for u in utts:
        if u.duration is not None and u.duration > limit:
            report.add("duration-outlier", u.id,
                       f"{u.duration:.3f} s > {limit:.3f} s (median {median:.3f} s): {u.source}")


def _check_sample_rates(report: Report, ids: Sequence[str]) -> None:
    rates = {i: report.sample_rates[i] for i in ids if i in report.sample_rates}
    if not rates:
        return
    common, _ = Counter(rates.values()).most_common(1)[0]
    for utt_id, rate in rates.items():
        if rate != common:
            report.add("sample-rate", utt_id, f"{rate} Hz, most of the corpus is {common} Hz")


def tokens_of(text: str, unit: str) -> list[str]:
    """Labels of a transcript: space-separated phones/words, or characters (spaces left out)."""
    return text.split() if unit in ("phone", "word") else [c for c in text if not c.isspace()]


def split_stats(utts: Sequence[Utterance], unit: str) -> dict[str, Any]:
    """Utterances, hours, speakers and the token inventory (token -> count, most frequent first)."""
    tokens: Counter[str] = Counter()
    for u in utts:
        tokens.update(tokens_of(u.text, unit))
    seconds = sum(u.duration or 0.0 for u in utts)
    return {
        "utterances": len(utts),
        "hours": round(seconds / 3600, 4),
        "speakers": len({u.speaker for u in utts if u.speaker}),
        "unit": unit,
        "distinct_tokens": len(tokens),
        "tokens": dict(sorted(tokens.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
