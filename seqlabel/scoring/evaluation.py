"""Scoring hypotheses against references: error-rate reports with confidence intervals, paired
comparisons of two systems, and the report files (summary, per utterance, per speaker, confusions,
sclite-style alignments). ``seqlabel.api`` re-exports the public names."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Mapping, Optional, Sequence

from seqlabel.arguments import path_argument
from seqlabel.data.manifest import speaker_of
from seqlabel.data.transcripts import read_kaldi_text
from seqlabel.data.unicode import check_form
from seqlabel.errors import ConfigError, DataError
from seqlabel.outputs import check_output_dir
from seqlabel.scoring.folding import FOLDINGS, fold
from seqlabel.scoring.metrics import ScoreResult, normalize_boundaries, score, to_words, utterance_report
from seqlabel.scoring.prepare import UNITS, UnknownTokens, normalize_all, normalize_tokens, unknown_tokens
from seqlabel.scoring.report import confusions_text, pra_text, speakers_tsv, summary_dict, summary_line
from seqlabel.scoring.significance import METHODS, Comparison, Interval, bootstrap_interval, compare
from seqlabel.types import Utterance

KALDI_TEXT = "the path of a Kaldi text file (utt-id tok tok ...)"


@dataclass(frozen=True)
class EvalReport:
    """Scores of one test set: the token rate (PER or CER), and for character models the WER."""

    tokens: ScoreResult  # PER or CER
    words: Optional[ScoreResult]  # WER, for character models
    folding: Optional[str] = None  # phone folding applied before scoring (timit39, timit48)
    speakers: Mapping[str, str] = field(default_factory=dict)  # utterance id -> speaker
    tokens_ci: Optional[Interval] = None  # 95% bootstrap interval on the token rate
    words_ci: Optional[Interval] = None
    unknown: Optional[UnknownTokens] = None  # reference tokens the model does not have (scored as errors)
    normalization: str = "none"  # Unicode normal form both sides were put in before scoring

    def summary(self) -> str:
        lines = [summary_line(self.tokens, self.folding, self.tokens_ci)]
        if self.words is not None:
            lines.append(summary_line(self.words, None, self.words_ci))
        if self.unknown is not None:
            lines.append(self.unknown.note())
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
                out_dir: Optional[str | Path] = None, normalize: str = "nfc") -> EvalReport:
    """Score two Kaldi ``text`` files (``utt-id tok tok ...``); speakers come from the id prefixes.

    ``unit``: char, phone or word. ``fold``: timit39/timit48 phone folding of both files before
    scoring (phone units only). ``normalize``: the Unicode normal form both files are put in
    (nfc, nfd or none). With ``out_dir``: writes the reports of ``write_reports``.
    """
    check_unit(unit)
    check_folding(fold, unit)
    ref, hyp = (path_argument(p, "score_files", name, KALDI_TEXT) for p, name in ((ref, "ref"), (hyp, "hyp")))
    if out_dir is not None:
        check_output_dir(out_dir, "--out")
    refs, hyps = read_kaldi_text(ref), read_kaldi_text(hyp)
    speakers = {u: _speaker_from_id(u) for u in refs}
    report = score_tokens(refs, hyps, unit, word_boundary, allow_missing, fold, speakers, (str(ref), str(hyp)),
                          normalize=normalize)
    if out_dir is not None:
        write_reports(Path(out_dir), report, system=str(hyp))
    return report


def compare_files(ref: str | Path, hyp_a: str | Path, hyp_b: str | Path, unit: str = "char",
                  word_boundary: str = "|", fold: Optional[str] = None, method: str = "mapsswe",
                  allow_missing: bool = False, resamples: int = 1000, seed: int = 0,
                  normalize: str = "nfc") -> CompareReport:
    """Is ``hyp_b`` better or worse than ``hyp_a`` on the references ``ref``? A paired test:
    ``mapsswe`` (sclite's matched-pairs sentence-segment test) or ``bootstrap`` (paired bootstrap)."""
    if method not in METHODS:
        raise ConfigError(f"unknown comparison method {method!r}; choose one of {list(METHODS)}")
    check_unit(unit)
    check_folding(fold, unit)
    ref, hyp_a, hyp_b = (path_argument(p, "compare_files", name, KALDI_TEXT)
                         for p, name in ((ref, "ref"), (hyp_a, "hyp_a"), (hyp_b, "hyp_b")))
    refs = read_kaldi_text(ref)
    a = score_tokens(refs, read_kaldi_text(hyp_a), unit, word_boundary, allow_missing, fold,
                     sources=(str(ref), str(hyp_a)), interval=False, normalize=normalize)
    b = score_tokens(refs, read_kaldi_text(hyp_b), unit, word_boundary, allow_missing, fold,
                     sources=(str(ref), str(hyp_b)), interval=False, normalize=normalize)
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
               "words": None if report.words is None else summary_dict(report.words, None, report.words_ci, speakers),
               "normalization": report.normalization,
               "unknown_reference_tokens": None if report.unknown is None else {
                   **report.unknown.as_dict(), "note": report.unknown.note()}}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out_dir / "speakers.tsv").write_text(speakers_tsv([r for r, _, _ in scored], speakers), encoding="utf-8")
    (out_dir / "confusions.txt").write_text("\n".join(confusions_text(r, folding=f) for r, f, _ in scored),
                                            encoding="utf-8")
    for result, _, _ in scored:
        (out_dir / f"{result.name.lower()}_utterances.tsv").write_text(utterance_report(result), encoding="utf-8")
    (out_dir / "alignments.pra").write_text(pra_text(report.tokens, speakers, system), encoding="utf-8")
    if report.words is not None:
        (out_dir / "wer_alignments.pra").write_text(pra_text(report.words, speakers, system), encoding="utf-8")


def score_tokens(refs: Mapping[str, Sequence[str]], hyps: Mapping[str, Sequence[str]], unit: str, word_boundary: str,
                 allow_missing: bool = False, fold: Optional[str] = None,
                 speakers: Optional[Mapping[str, str]] = None, sources: tuple[str, str] = ("reference", "hypothesis"),
                 interval: bool = True, normalize: str = "nfc", known: Optional[Collection[str]] = None) -> EvalReport:
    """Score token sequences by utterance id: the token rate and, for characters, the WER, with
    bootstrap intervals (``interval``); ``sources`` name the two sides in error messages.

    Both sides are put in the Unicode normal form ``normalize`` first (``seqlabel.scoring.prepare``).
    ``known``: the model's tokens; reference tokens outside it are scored (as errors) and counted in
    ``EvalReport.unknown``. An empty set, or references without a single token, are refused: no
    error rate can be computed from them.
    """
    check_unit(unit)
    form = check_form(normalize)
    if not refs:
        hyp_note = "" if hyps else f", and {sources[1]} none either"
        raise DataError(f"nothing to score: {sources[0]} holds no utterances{hyp_note}")
    refs, hyps = normalize_all(refs, form, unit, word_boundary), normalize_all(hyps, form, unit, word_boundary)
    unknown = None
    if known is not None:
        known = {t for k in known for t in normalize_tokens([k], form, unit, word_boundary)}
        spelled = {u: normalize_boundaries(t, word_boundary) for u, t in refs.items()} if unit == "char" else refs
        unknown = unknown_tokens(spelled, known)
    if fold is not None:
        refs, hyps = _fold_all(refs, fold, sources[0]), _fold_all(hyps, fold, sources[1])
    try:
        tokens = score(refs, hyps, unit, allow_missing, word_boundary)
    except DataError as e:
        raise DataError(f"{sources[1]} against {sources[0]}: {e}") from None
    if tokens.total.ref_tokens == 0:
        n = tokens.total.utterances
        raise DataError(f"{sources[0]}: {'its one reference is' if n == 1 else f'all {n} references are'} empty, so "
                        "no error rate can be computed (it would divide by zero): score against references that hold "
                        "tokens")
    words = None
    if unit == "char":
        words = score({k: to_words(v, word_boundary) for k, v in refs.items()},
                      {k: to_words(v, word_boundary) for k, v in hyps.items()}, "word", allow_missing)
    cis = [bootstrap_interval(r) if interval and r is not None else None for r in (tokens, words)]
    return EvalReport(tokens, words, fold, dict(speakers or {}), cis[0], cis[1], unknown, form)


def _speaker_from_id(utt_id: str) -> str:
    """The speaker a manifest would give an utterance without one: its id's prefix (see ``speaker_of``)."""
    return speaker_of(Utterance(utt_id, "", ""))


def check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ConfigError(f"unknown unit {unit!r}: the tokens are one of {', '.join(UNITS)} "
                          "(char also reports the WER, splitting at the word boundary)")


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
