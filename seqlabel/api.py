"""The Python API: what the CLI calls, and what users call from their own code.

    from seqlabel import api
    api.prepare("fsdd", data_dir="../shared/data/fsdd", out_dir="data/fsdd")
    result = api.train("configs/fsdd.yaml", out_dir="exp/fsdd")
    report = api.evaluate(result.best_checkpoint, "data/fsdd/test.jsonl")
    print(report.summary())
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from seqlabel.config import Config, load_config
from seqlabel.manifest import read_manifest
from seqlabel.metrics import ScoreResult, score, to_words, utterance_report
from seqlabel.transcripts import read_kaldi_text, write_kaldi_text
from seqlabel.types import Hypothesis


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
    tokens: ScoreResult  # PER or CER
    words: Optional[ScoreResult]  # WER, for character models

    def summary(self) -> str:
        lines = [self.tokens.summary()]
        if self.words is not None:
            lines.append(self.words.summary())
        return "\n".join(lines)


def evaluate(checkpoint: str | Path, manifest: str | Path, out_dir: Optional[str | Path] = None,
             device: str = "auto", progress: bool = True) -> EvalReport:
    """Decode and score a manifest. With ``out_dir``: writes hyp.txt, ref.txt, per-utterance reports."""
    from seqlabel.recognizer import Recognizer

    recognizer = Recognizer.from_checkpoint(checkpoint, device)
    utts = read_manifest(manifest)
    refs = recognizer.references(utts)
    hyps = {h.id: list(h.tokens) for h in recognizer.transcribe(utts, progress=progress)}
    vocab = recognizer.vocab
    report = _score_tokens(refs, hyps, vocab.unit, vocab.word_boundary)
    if out_dir is not None:
        _write_report(Path(out_dir), refs, hyps, report)
    return report


def score_files(ref: str | Path, hyp: str | Path, unit: str = "char", word_boundary: str = "|",
                allow_missing: bool = False) -> EvalReport:
    """Score two Kaldi ``text`` files (``utt-id tok tok ...``)."""
    return _score_tokens(read_kaldi_text(ref), read_kaldi_text(hyp), unit, word_boundary, allow_missing)


def _score_tokens(refs: dict[str, list[str]], hyps: dict[str, list[str]], unit: str, word_boundary: str,
                  allow_missing: bool = False) -> EvalReport:
    tokens = score(refs, hyps, unit, allow_missing)
    words = None
    if unit == "char":
        words = score({k: to_words(v, word_boundary) for k, v in refs.items()},
                      {k: to_words(v, word_boundary) for k, v in hyps.items()}, "word", allow_missing)
    return EvalReport(tokens, words)


def _write_report(out_dir: Path, refs: dict, hyps: dict, report: EvalReport) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_kaldi_text(out_dir / "ref.txt", refs.items())
    write_kaldi_text(out_dir / "hyp.txt", hyps.items())
    (out_dir / f"{report.tokens.name.lower()}_utterances.tsv").write_text(utterance_report(report.tokens), encoding="utf-8")
    if report.words is not None:
        (out_dir / "wer_utterances.tsv").write_text(utterance_report(report.words), encoding="utf-8")
    (out_dir / "summary.txt").write_text(report.summary() + "\n", encoding="utf-8")
