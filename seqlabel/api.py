"""The Python API: what the CLI calls, and what users call from their own code.

    from seqlabel import api
    api.prepare("fsdd", data_dir="../shared/data/fsdd", out_dir="data/fsdd")
    result = api.train("configs/fsdd.yaml", out_dir="exp/fsdd")
    report = api.evaluate(result.best_checkpoint, "data/fsdd/test.jsonl")
    print(report.summary())
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from seqlabel.config import Config, load_config
from seqlabel.errors import ConfigError, DataError
from seqlabel.folding import FOLDINGS, fold
from seqlabel.manifest import read_manifest, speaker_of
from seqlabel.metrics import ScoreResult, score, to_words, utterance_report
from seqlabel.report import confusions_text, pra_text, speakers_tsv, summary_dict, summary_line
from seqlabel.significance import METHODS, Comparison, Interval, bootstrap_interval, compare
from seqlabel.transcripts import read_kaldi_text, write_kaldi_text
from seqlabel.types import Hypothesis, Utterance


def prepare(corpus: str, data_dir: Optional[str | Path] = None, out_dir: Optional[str | Path] = None,
            **options: Any) -> dict[str, Path]:
    """Run a corpus recipe; manifests go to ``out_dir`` (default ``data/<corpus>``)."""
    from corpora import run_recipe

    out = Path(out_dir) if out_dir is not None else Path("data") / corpus
    return run_recipe(corpus, Path(data_dir) if data_dir is not None else None, out, options)


def train(config: Config | str | Path, out_dir: str | Path, overrides: Sequence[str] = (), resume: bool = False,
          echo: Callable[[str], None] = print):
    """Train from a Config or a YAML file; if ``data.test`` is set, evaluate the best model on it."""
    from seqlabel.train import train as run_training

    cfg = config if isinstance(config, Config) else load_config(config, list(overrides))
    result = run_training(cfg, out_dir, resume=resume, echo=echo)
    if cfg.data.test:
        report = evaluate(result.best_checkpoint, cfg.data.test, out_dir=Path(out_dir) / "test", progress=False)
        echo(f"test ({cfg.data.test}): {report.summary()}")
        result = type(result)(**{**result.__dict__, "test": report.tokens})
    return result


def decode(checkpoint: str | Path, manifest: str | Path, out: Optional[str | Path] = None,
           device: str = "auto", progress: bool = True) -> list[Hypothesis]:
    """Transcribe a manifest; optionally write the tokens in Kaldi ``text`` format to ``out``."""
    from seqlabel.recognizer import Recognizer

    recognizer = Recognizer.from_checkpoint(checkpoint, device)
    hyps = recognizer.transcribe(read_manifest(manifest), progress=progress)
    if out is not None:
        write_kaldi_text(out, [(h.id, h.tokens) for h in hyps])
    return hyps


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


def evaluate(checkpoint: str | Path, manifest: str | Path, out_dir: Optional[str | Path] = None,
             device: str = "auto", progress: bool = True, fold: Optional[str] = None) -> EvalReport:
    """Decode and score a manifest (``fold``: timit39/timit48 phone folding before scoring).

    With ``out_dir``: writes hyp.txt and ref.txt (unfolded tokens) and the reports of ``write_reports``.
    """
    from seqlabel.recognizer import Recognizer

    recognizer = Recognizer.from_checkpoint(checkpoint, device)
    _check_folding(fold, recognizer.vocab.unit)
    utts = read_manifest(manifest)
    refs = recognizer.references(utts)
    hyps = {h.id: list(h.tokens) for h in recognizer.transcribe(utts, progress=progress)}
    vocab = recognizer.vocab
    speakers = {u.id: speaker_of(u) for u in utts}
    report = _score_tokens(refs, hyps, vocab.unit, vocab.word_boundary, fold=fold, speakers=speakers,
                           sources=(f"references of {manifest}", f"hypotheses for {manifest}"))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_kaldi_text(out / "ref.txt", refs.items())
        write_kaldi_text(out / "hyp.txt", hyps.items())
        write_reports(out, report, system=str(checkpoint))
    return report


def score_files(ref: str | Path, hyp: str | Path, unit: str = "char", word_boundary: str = "|",
                allow_missing: bool = False, fold: Optional[str] = None,
                out_dir: Optional[str | Path] = None) -> EvalReport:
    """Score two Kaldi ``text`` files (``utt-id tok tok ...``); speakers come from the id prefixes.

    ``fold``: timit39/timit48 phone folding of both files before scoring (phone units only).
    With ``out_dir``: writes the reports of ``write_reports``.
    """
    _check_folding(fold, unit)
    refs, hyps = read_kaldi_text(ref), read_kaldi_text(hyp)
    speakers = {u: _speaker_from_id(u) for u in refs}
    report = _score_tokens(refs, hyps, unit, word_boundary, allow_missing, fold, speakers, (str(ref), str(hyp)))
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
    _check_folding(fold, unit)
    refs = read_kaldi_text(ref)
    a = _score_tokens(refs, read_kaldi_text(hyp_a), unit, word_boundary, allow_missing, fold,
                      sources=(str(ref), str(hyp_a)), interval=False)
    b = _score_tokens(refs, read_kaldi_text(hyp_b), unit, word_boundary, allow_missing, fold,
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


def plot_curves(run: str | Path, out: str | Path) -> Path:
    """Training curves of a run folder (or its log.csv) as a PNG."""
    from seqlabel.plot import draw_curves, read_log

    return draw_curves(read_log(run), out, name=str(run))


def plot_posteriorgram(checkpoint: str | Path, manifest: str | Path, utt_id: str, out: str | Path,
                       device: str = "auto") -> Path:
    """One utterance's posteriors (frames x labels) with the greedy path, reference and hypothesis, as a PNG."""
    from seqlabel.decoders.greedy import greedy_search
    from seqlabel.inference import forward_all
    from seqlabel.plot import draw_posteriorgram
    from seqlabel.recognizer import Recognizer

    utts = read_manifest(manifest)
    utt = next((u for u in utts if u.id == utt_id), None)
    if utt is None:
        close = difflib.get_close_matches(utt_id, [u.id for u in utts], n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f" (it holds e.g. {', '.join(u.id for u in utts[:3])})"
        raise DataError(f"utterance {utt_id!r} is not in {manifest}{hint}")
    recognizer = Recognizer.from_checkpoint(checkpoint, device)
    features = recognizer.features([utt])
    ((_, log_probs, lengths),) = list(forward_all(recognizer.model, features, recognizer.device,
                                                  amp=recognizer.config.train.amp))
    ((ids, frames),) = greedy_search(log_probs, lengths)
    posteriors = log_probs[0, : int(lengths[0])].exp().numpy()  # (T', C)
    vocab = recognizer.vocab
    return draw_posteriorgram(posteriors, vocab.tokens, out, reference=recognizer.references([utt])[utt.id],
                              hypothesis=vocab.decode(ids), hypothesis_frames=frames,
                              title=f"{utt.id} ({Path(checkpoint).name}): {posteriors.shape[0]} output frames")


def _score_tokens(refs: dict[str, list[str]], hyps: dict[str, list[str]], unit: str, word_boundary: str,
                  allow_missing: bool = False, fold: Optional[str] = None,
                  speakers: Optional[Mapping[str, str]] = None, sources: tuple[str, str] = ("reference", "hypothesis"),
                  interval: bool = True) -> EvalReport:
    if fold is not None:
        refs, hyps = _fold_all(refs, fold, sources[0]), _fold_all(hyps, fold, sources[1])
    tokens = score(refs, hyps, unit, allow_missing)
    words = None
    if unit == "char":
        words = score({k: to_words(v, word_boundary) for k, v in refs.items()},
                      {k: to_words(v, word_boundary) for k, v in hyps.items()}, "word", allow_missing)
    cis = [bootstrap_interval(r) if interval and r is not None else None for r in (tokens, words)]
    return EvalReport(tokens, words, fold, dict(speakers or {}), cis[0], cis[1])


def _speaker_from_id(utt_id: str) -> str:
    """The speaker a manifest would give an utterance without one: its id's prefix (see ``speaker_of``)."""
    return speaker_of(Utterance(utt_id, "", ""))


def _check_folding(fold: Optional[str], unit: str) -> None:
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
