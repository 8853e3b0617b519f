"""Scoring hypotheses against references: error-rate reports with confidence intervals, paired
comparisons of two systems, and the report files (summary, per utterance, per speaker, confusions,
sclite-style alignments). ``seqlabel.api`` re-exports the public names."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

from seqlabel.data.manifest import speaker_of
from seqlabel.data.transcripts import read_kaldi_text
from seqlabel.errors import ConfigError, DataError
from seqlabel.scoring.folding import FOLDINGS, fold
from seqlabel.scoring.metrics import ScoreResult, score, to_words, utterance_report
from seqlabel.scoring.report import confusions_text, pra_text, speakers_tsv, summary_dict, summary_line
from seqlabel.scoring.significance import METHODS, Comparison, Interval, bootstrap_interval, compare
from seqlabel.types import Utterance


@dataclass(frozen=True)
class EvalReport:
    """Scores of one test set: the token rate (PER or CER), and for character models the WER."""

    tokens: ScoreResult  # PER or CER
    words: Optional[ScoreResult]  # WER, for character models
    folding: Optional[str] = None  # phone folding applied before scoring (timit39, timit48)
    speakers: Mapping[str, str] = field(default_factory=dict)  # utterance id -> speaker
    tokens_ci: Optional[Interval] = None  # 95% bootstrap interval on the token rate
    words_ci: Optional[Interval] = None

    def summary(self) -> str:
        lines = [summary_line(self.tokens, self.folding, self.tokens_ci)]
        if self.words is not None:
            lines.append(summary_line(self.words, None, self.words_ci))
        return "\n".join(lines)


@dataclass(frozen=True)
class CompareReport:
    """A paired comparison of two hypothesis files on the same references."""

    tokens: Comparison
    words: Optional[Comparison]
    label_a: str
    label_b: str
    folding: Optional[str] = None

    def summary(self) -> str:
        lines = [self.tokens.summary(self.label_a, self.label_b, self.folding)]
        if self.words is not None:
            lines.append(self.words.summary(self.label_a, self.label_b))
        return "\n".join(lines)


def score_files(ref: str | Path, hyp: str | Path, unit: str = "char", word_boundary: str = "|",
                allow_missing: bool = False, fold: Optional[str] = None,
                out_dir: Optional[str | Path] = None) -> EvalReport:
    """Score two Kaldi ``text`` files (``utt-id tok tok ...``); speakers come from the id prefixes.

    ``fold``: timit39/timit48 phone folding of both files before scoring (phone units only).
    With ``out_dir``: writes the reports of ``write_reports``.
    """
    check_folding(fold, unit)
    refs, hyps = read_kaldi_text(ref), read_kaldi_text(hyp)
    speakers = {u: _speaker_from_id(u) for u in refs}
    report = score_tokens(refs, hyps, unit, word_boundary, allow_missing, fold, speakers, (str(ref), str(hyp)))
    if out_dir is not None:
        write_reports(Path(out_dir), report, system=str(hyp))
    return report


def compare_files(ref: str | Path, hyp_a: str | Path, hyp_b: str | Path, unit: str = "char",
                  word_boundary: str = "|", fold: Optional[str] = None, method: str = "mapsswe",
                  allow_missing: bool = False, resamples: int = 1000, seed: int = 0) -> CompareReport:
    """Is ``hyp_b`` better or worse than ``hyp_a`` on the references ``ref``? A paired test:
    ``mapsswe`` (sclite's matched-pairs sentence-segment test) or ``bootstrap`` (paired bootstrap)."""
    if method not in METHODS:
        raise ConfigError(f"unknown comparison method {method!r}; choose one of {list(METHODS)}")
    check_folding(fold, unit)
    refs = read_kaldi_text(ref)
    a = score_tokens(refs, read_kaldi_text(hyp_a), unit, word_boundary, allow_missing, fold,
                      sources=(str(ref), str(hyp_a)), interval=False)
    b = score_tokens(refs, read_kaldi_text(hyp_b), unit, word_boundary, allow_missing, fold,
                      sources=(str(ref), str(hyp_b)), interval=False)
    tokens = compare(a.tokens, b.tokens, method, resamples, seed)
    words = None
    if a.words is not None and b.words is not None:
        words = compare(a.words, b.words, method, resamples, seed)
    return CompareReport(tokens, words, str(hyp_a), str(hyp_b), fold)


def write_reports(out_dir: Path, report: EvalReport, system: str = "seqlabel") -> None:
    """summary.txt, summary.json, per-utterance TSVs (per_/cer_/wer_utterances.tsv), speakers.tsv,
    confusions.txt, alignments.pra (and wer_alignments.pra for character models)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scored = [(report.tokens, report.folding, report.tokens_ci)]
    if report.words is not None:
        scored.append((report.words, None, report.words_ci))
    speakers = report.speakers or {u.id: _speaker_from_id(u.id) for u in report.tokens.utterances}
    (out_dir / "summary.txt").write_text(report.summary() + "\n", encoding="utf-8")
    summary = {"tokens": summary_dict(report.tokens, report.folding, report.tokens_ci, speakers),
               "words": None if report.words is None else summary_dict(report.words, None, report.words_ci, speakers)}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out_dir / "speakers.tsv").write_text(speakers_tsv([r for r, _, _ in scored], speakers), encoding="utf-8")
    (out_dir / "confusions.txt").write_text("\n".join(confusions_text(r, folding=f) for r, f, _ in scored),
                                            encoding="utf-8")
    for result, _, _ in scored:
        (out_dir / f"{result.name.lower()}_utterances.tsv").write_text(utterance_report(result), encoding="utf-8")
    (out_dir / "alignments.pra").write_text(pra_text(report.tokens, speakers, system), encoding="utf-8")
    if report.words is not None:
        (out_dir / "wer_alignments.pra").write_text(pra_text(report.words, speakers, system), encoding="utf-8")


def score_tokens(refs: dict[str, list[str]], hyps: dict[str, list[str]], unit: str, word_boundary: str,
                 allow_missing: bool = False, fold: Optional[str] = None,
                 speakers: Optional[Mapping[str, str]] = None, sources: tuple[str, str] = ("reference", "hypothesis"),
                 interval: bool = True) -> EvalReport:
    """Score token sequences by utterance id: the token rate and, for characters, the WER, with
    bootstrap intervals (``interval``); ``sources`` name the two sides in error messages."""
    if fold is not None:
        refs, hyps = _fold_all(refs, fold, sources[0]), _fold_all(hyps, fold, sources[1])
    try:
        tokens = score(refs, hyps, unit, allow_missing, word_boundary)
    except DataError as e:
        raise DataError(f"{sources[1]} against {sources[0]}: {e}") from None
    words = None
    if unit == "char":
        words = score({k: to_words(v, word_boundary) for k, v in refs.items()},
                      {k: to_words(v, word_boundary) for k, v in hyps.items()}, "word", allow_missing)
    cis = [bootstrap_interval(r) if interval and r is not None else None for r in (tokens, words)]
    return EvalReport(tokens, words, fold, dict(speakers or {}), cis[0], cis[1])


def _speaker_from_id(utt_id: str) -> str:
    """The speaker a manifest would give an utterance without one: its id's prefix (see ``speaker_of``)."""
    return speaker_of(Utterance(utt_id, "", ""))


def check_folding(fold: Optional[str], unit: str) -> None:
    if fold is None:
        return
    if fold not in FOLDINGS:
        raise ConfigError(f"unknown folding {fold!r}; choose one of {sorted(FOLDINGS)}")
    if unit != "phone":
        raise ConfigError(f"folding {fold!r} maps TIMIT phones, but the tokens are {unit}s (unit {unit!r}); "
                          "drop --fold or score with --unit phone")


def _fold_all(seqs: Mapping[str, Sequence[str]], folding: str, source: str) -> dict[str, list[str]]:
    """Fold every sequence; an unknown phone names the utterance and the file it came from."""
    out = {}
    for utt_id, tokens in seqs.items():
        try:
            out[utt_id] = fold(tokens, folding)
        except DataError as e:
            raise DataError(f"{source}, utterance {utt_id!r}: {e}") from None
    return out
