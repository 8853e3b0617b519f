"""The Python API: what the CLI calls, and what users call from their own code.

    from seqlabel import api
    api.prepare("fsdd", data_dir="../shared/data/fsdd", out_dir="data/fsdd")
    result = api.train("configs/fsdd.yaml", out_dir="exp/fsdd")
    report = api.evaluate(result.best_checkpoint, "data/fsdd/test.jsonl")
    print(report.summary())
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from seqlabel.config import Config, load_config
from seqlabel.data.manifest import read_manifest, speaker_of
from seqlabel.data.transcripts import write_kaldi_text
from seqlabel.errors import ConfigError, DataError, VocabError
from seqlabel.scoring.evaluation import (
    CompareReport,
    EvalReport,
    check_folding,
    compare_files,
    score_files,
    score_tokens,
    write_reports,
)
from seqlabel.scoring.metrics import RATE_NAMES
from seqlabel.scoring.report import summary_line
from seqlabel.types import ErrorStats, Hypothesis

__all__ = ["CompareReport", "EvalReport", "align", "average", "compare_files", "crossval", "decode", "evaluate",
           "export", "plot_curves", "plot_posteriorgram", "prepare", "score_files", "train", "train_lm", "tune",
           "TuneReport", "write_reports"]


def prepare(corpus: str, data_dir: Optional[str | Path] = None, out_dir: Optional[str | Path] = None,
            **options: Any) -> dict[str, Path]:
    """Run a corpus recipe; manifests go to ``out_dir`` (default ``data/<corpus>``)."""
    from seqlabel.corpora import run_recipe

    out = Path(out_dir) if out_dir is not None else Path("data") / corpus
    return run_recipe(corpus, Path(data_dir) if data_dir is not None else None, out, options)


def train(config: Config | str | Path, out_dir: str | Path, overrides: Sequence[str] = (), resume: bool = False,
          echo: Callable[[str], None] = print):
    """Train from a Config or a YAML file; if ``data.test`` is set, evaluate the best model on it."""
    from seqlabel.training.distributed import from_environment
    from seqlabel.training.loop import train as run_training

    cfg = config if isinstance(config, Config) else load_config(config, list(overrides))
    result = run_training(cfg, out_dir, resume=resume, echo=echo)
    env = from_environment()
    if cfg.data.test and (env is None or env.rank == 0):  # under torchrun, rank 0 tests
        report = evaluate(result.best_checkpoint, cfg.data.test, out_dir=Path(out_dir) / "test", progress=False)
        echo(f"test ({cfg.data.test}): {report.summary()}")
        result = type(result)(**{**result.__dict__, "test": report.tokens})
    return result


def average(checkpoints: Sequence[str | Path], out: str | Path) -> Path:
    """Average the weights of checkpoints of one model (same model and feature config, vocabulary and
    CMVN statistics) into ``out``, a checkpoint like the first; see ``seqlabel.training.averaging``."""
    from seqlabel.training.averaging import average_checkpoints

    return average_checkpoints(checkpoints, out)


def crossval(config: Config | str | Path, out_dir: str | Path, folds: int, pool: Sequence[str | Path] = (),
             by: str = "speaker", dev_fraction: float = 0.1, overrides: Sequence[str] = (),
             echo: Callable[[str], None] = print, dev_speakers: int = 0):
    """Cross-validation by speaker: ``folds`` models, each trained (as ``train``, into ``out_dir/fold-k``)
    with a disjoint group of speakers of ``pool`` held out and evaluated on them; returns the per-fold
    and pooled scores (``CrossvalReport``). ``pool`` defaults to data.train + data.dev, never data.test.
    See ``seqlabel.training.crossval``."""
    from seqlabel.training.crossval import run_crossval

    if by != "speaker":
        raise ConfigError(f"crossval folds are made by speaker; got by={by!r}")
    cfg = config if isinstance(config, Config) else load_config(config, list(overrides))
    return run_crossval(cfg, out_dir, folds, lambda c, out, resume: train(c, out, resume=resume, echo=echo),
                        pool, dev_fraction, dev_speakers, echo)


def decode(checkpoint: str | Path, manifest: str | Path, out: Optional[str | Path] = None,
           device: str = "auto", progress: bool = True, overrides: Sequence[str] = (),
           ctm: Optional[str | Path] = None, ctm_level: str = "token",
           nbest_out: Optional[str | Path] = None) -> list[Hypothesis]:
    """Transcribe a manifest with the checkpoint's decode settings (``overrides``: ``decode.KEY=VALUE``).

    Writes the best tokens in Kaldi ``text`` format to ``out``, a CTM (token or word level, times in
    seconds, confidences) to ``ctm``, and the n-best lists (TSV) to ``nbest_out``.
    """
    from seqlabel.decoders.ctm import write_ctm
    from seqlabel.inference.recognizer import Recognizer

    recognizer = Recognizer.from_checkpoint(checkpoint, device, overrides)
    nbest = recognizer.transcribe_nbest(read_manifest(manifest), progress=progress)
    hyps = [n[0] for n in nbest]
    if out is not None:
        write_kaldi_text(out, [(h.id, h.tokens) for h in hyps])
    if ctm is not None:
        write_ctm(ctm, hyps, level=_ctm_level(ctm_level, recognizer.vocab.unit),
                  word_boundary=recognizer.vocab.word_boundary)
    if nbest_out is not None:
        _write_nbest(Path(nbest_out), nbest)
    return hyps


def align(checkpoint: str | Path, manifest: str | Path, out: Optional[str | Path] = None, device: str = "auto",
          level: str = "token", progress: bool = True) -> list[Hypothesis]:
    """Force-align each transcript of a manifest to the model's log-probs; optionally write a CTM."""
    from seqlabel.decoders.ctm import write_ctm
    from seqlabel.inference.recognizer import Recognizer

    recognizer = Recognizer.from_checkpoint(checkpoint, device)
    hyps = recognizer.align(read_manifest(manifest), progress=progress)
    if out is not None:
        write_ctm(out, hyps, level=_ctm_level(level, recognizer.vocab.unit), word_boundary=recognizer.vocab.word_boundary)
    return hyps


def export(checkpoint: str | Path, out: str | Path, format: str = "torchscript") -> Path:
    """Export a checkpoint to TorchScript or ONNX (features + lengths -> log-probs + lengths, CMVN
    folded in); ``<out>.tokens.txt`` and ``<out>.json`` go beside it. See ``seqlabel.inference.export``."""
    from seqlabel.inference.export import export as run

    return run(checkpoint, out, format)


def train_lm(manifests: Sequence[str | Path], out: Optional[str | Path] = None, unit: str = "char", order: int = 4,
             smoothing: str = "kneser_ney", word_boundary: str = "|"):
    """Train an n-gram LM on the transcripts of manifests (or text files); optionally write ARPA."""
    from seqlabel.lm import train_lm as run

    return run(list(manifests), unit=unit, order=order, smoothing=smoothing, out_arpa=out,
               word_boundary=word_boundary)


@dataclass(frozen=True)
class TuneRow:
    """One decoding setting's scores on the dev set (None weight/bonus: the greedy baseline)."""

    lm_weight: Optional[float]
    insertion_bonus: Optional[float]
    tokens: ErrorStats
    words: Optional[ErrorStats]


@dataclass(frozen=True)
class TuneReport:
    rows: tuple[TuneRow, ...]  # the grid, in order
    greedy: TuneRow
    token_name: str  # PER or CER
    metric: str  # "token" or "word": what ``best`` minimises

    @property
    def best(self) -> TuneRow:
        def key(r: TuneRow) -> tuple[float, float]:
            main = r.words if self.metric == "word" and r.words is not None else r.tokens
            return (main.rate, r.tokens.rate)
        return min(self.rows, key=key)

    def table(self) -> str:
        head = f"{'lm_weight':>9}  {'bonus':>6}  {self.token_name:>7}" + ("  {:>7}".format("WER") if self.greedy.words else "")
        lines = [head]
        for r in (*self.rows, self.greedy):
            w = "greedy" if r.lm_weight is None else f"{r.lm_weight:g}"
            b = "" if r.insertion_bonus is None else f"{r.insertion_bonus:g}"
            line = f"{w:>9}  {b:>6}  {100 * r.tokens.rate:6.2f}%"
            if r.words is not None:
                line += f"  {100 * r.words.rate:6.2f}%"
            lines.append(line)
        best = self.best
        main = best.words if self.metric == "word" and best.words is not None else best.tokens
        name = "WER" if main is best.words else self.token_name
        lines.append(f"best: -o decode.lm_weight={best.lm_weight:g} -o decode.insertion_bonus={best.insertion_bonus:g} "
                     f"({name} {100 * main.rate:.2f}%)")
        return "\n".join(lines)


def tune(checkpoint: str | Path, manifest: str | Path, weights: Sequence[float], bonuses: Sequence[float] = (0.0,),
         overrides: Sequence[str] = (), device: str = "auto", metric: Optional[str] = None,
         progress: bool = True, echo: Optional[Callable[[str], None]] = None) -> TuneReport:
    """Grid search of LM weight x insertion bonus for the beam search on a dev manifest.

    The model runs once; each setting only re-decodes the stored log-probs. ``overrides`` set the
    rest (``decode.lm=...``, ``decode.lexicon=...``, ``decode.beam=...``). ``metric``: minimise the
    word error rate (``word``, default for character models) or the token error rate (``token``).
    """
    from seqlabel.inference.batch import beam_search_all
    from seqlabel.inference.recognizer import Recognizer

    if not weights or not bonuses:
        raise ConfigError("tune needs at least one LM weight and one insertion bonus")
    recognizer = Recognizer.from_checkpoint(checkpoint, device, [*overrides, "decode.decoder=beam"])
    vocab = recognizer.vocab
    metric = metric or ("word" if vocab.unit == "char" else "token")
    if metric not in ("token", "word") or (metric == "word" and vocab.unit != "char"):
        raise ConfigError(f"metric must be 'token' or (for character models) 'word', got {metric!r}")
    utts = read_manifest(manifest)
    refs = recognizer.references(utts)
    base = recognizer.decoder
    log_probs = recognizer.log_probs(utts, progress=progress)

    def rates(hyps: dict[str, list[str]], w: Optional[float], b: Optional[float]) -> TuneRow:
        report = score_tokens(refs, hyps, vocab.unit, vocab.word_boundary, interval=False)
        row = TuneRow(w, b, report.tokens.total, None if report.words is None else report.words.total)
        if echo is not None:
            echo(f"lm_weight={w} bonus={b}: {summary_line(report.tokens, None, None)}")
        return row

    greedy = rates({u.id: vocab.decode(_best_path_ids(lp)) for u, lp in zip(utts, log_probs)}, None, None)
    rows = []
    for w in weights:
        for b in bonuses:
            search = base.replace(lm_weight=w, insertion_bonus=b)
            try:
                found = beam_search_all(search, log_probs)
            except ValueError as e:
                raise DataError(f"{manifest}: {e}") from None
            hyps = {u.id: vocab.decode(res[0].ids) for u, res in zip(utts, found)}
            rows.append(rates(hyps, float(w), float(b)))
    return TuneReport(tuple(rows), greedy, RATE_NAMES.get(vocab.unit, "TER"), metric)


def _best_path_ids(log_probs) -> list[int]:
    """(T', C) -> the greedy labels: best class per frame, repeats merged, blanks dropped."""
    import torch

    from seqlabel.decoders.greedy import greedy_search

    lp = torch.from_numpy(log_probs).unsqueeze(0)  # (1, T', C)
    return greedy_search(lp, torch.tensor([lp.shape[1]]))[0][0]


def _ctm_level(level: str, unit: str) -> str:
    if level not in ("token", "word"):
        raise ConfigError(f"CTM level must be 'token' or 'word', got {level!r}")
    if level == "word" and unit != "char":
        raise ConfigError(f"a word-level CTM needs character tokens with word boundaries, the model's are {unit}s")
    return level


def _write_nbest(path: Path, nbest: Sequence[Sequence[Hypothesis]]) -> None:
    """id, rank, score, acoustic score, LM score, confidence, tokens: one TSV line per hypothesis."""
    def num(x: Optional[float]) -> str:
        return "" if x is None else f"{x:.4f}"

    lines = ["id\trank\tscore\tacoustic\tlm\tconfidence\ttokens"]
    for hyps in nbest:
        for rank, h in enumerate(hyps, 1):
            lines.append(f"{h.id}\t{rank}\t{h.score:.4f}\t{num(h.acoustic_score)}\t{num(h.lm_score)}\t"
                         f"{num(h.confidence)}\t{' '.join(h.tokens)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def evaluate(checkpoint: str | Path, manifest: str | Path, out_dir: Optional[str | Path] = None,
             device: str = "auto", progress: bool = True, fold: Optional[str] = None,
             overrides: Sequence[str] = ()) -> EvalReport:
    """Decode and score a manifest (``fold``: timit39/timit48 phone folding before scoring;
    ``overrides``: ``decode.KEY=VALUE`` changes to the checkpoint's decode settings).

    With ``out_dir``: writes hyp.txt and ref.txt (unfolded tokens) and the reports of ``write_reports``.
    """
    from seqlabel.inference.recognizer import Recognizer

    recognizer = Recognizer.from_checkpoint(checkpoint, device, overrides)
    check_folding(fold, recognizer.vocab.unit)
    utts = read_manifest(manifest)
    try:
        refs = recognizer.references(utts)
    except VocabError as e:
        raise VocabError(f"{manifest}: {e}; {checkpoint} knows only {len(recognizer.vocab) - 1} tokens (was it "
                         "trained on another corpus or unit?)") from None
    hyps = {h.id: list(h.tokens) for h in recognizer.transcribe(utts, progress=progress)}
    vocab = recognizer.vocab
    speakers = {u.id: speaker_of(u) for u in utts}
    report = score_tokens(refs, hyps, vocab.unit, vocab.word_boundary, fold=fold, speakers=speakers,
                          sources=(f"references of {manifest}", f"hypotheses for {manifest}"))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_kaldi_text(out / "ref.txt", refs.items())
        write_kaldi_text(out / "hyp.txt", hyps.items())
        write_reports(out, report, system=str(checkpoint))
    return report


def plot_curves(run: str | Path, out: str | Path) -> Path:
    """Training curves of a run folder (or its log.csv) as a PNG."""
    from seqlabel.scoring.plot import draw_curves, read_log

    return draw_curves(read_log(run), out, name=str(run))


def plot_posteriorgram(checkpoint: str | Path, manifest: str | Path, utt_id: str, out: str | Path,
                       device: str = "auto") -> Path:
    """One utterance's posteriors (frames x labels) with the greedy path, reference and hypothesis, as a PNG."""
    from seqlabel.decoders.greedy import greedy_search
    from seqlabel.inference.batch import forward_all
    from seqlabel.inference.recognizer import Recognizer
    from seqlabel.scoring.plot import draw_posteriorgram

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
