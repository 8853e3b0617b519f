"""The Python API: what the CLI calls, and what users call from their own code.

    from seqlabel import api
    api.prepare("fsdd", data_dir="../shared/data/fsdd", out_dir="data/fsdd")
    result = api.train("fsdd", out_dir="exp/fsdd")  # a shipped config by name, or a YAML path
    report = api.evaluate(result.best_checkpoint, "data/fsdd/test.jsonl")
    print(report.summary())
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, TextIO

from seqlabel.config import Config, load_config
from seqlabel.config.shipped import ShippedConfig, find_config, shipped_configs
from seqlabel.data.manifest import read_manifest, speaker_of
from seqlabel.data.transcripts import write_kaldi_text
from seqlabel.errors import ConfigError, DataError, SeqlabelError
from seqlabel.scoring.evaluation import (
    CompareReport,
    EvalReport,
    check_folding,
    compare_files,
    score_files,
    score_tokens,
    write_reports,
)
from seqlabel.scoring.prepare import reference_tokens
from seqlabel.types import Hypothesis, Transcription

if TYPE_CHECKING:
    from seqlabel.inference.tuning import TuneReport, TuneRow

__all__ = ["CompareReport", "EvalReport", "align", "average", "compare_files", "configs", "crossval", "decode",
           "evaluate", "export", "plot_curves", "plot_posteriorgram", "prepare", "report_html", "score_files", "train",
           "train_lm", "transcribe", "Transcription", "tune", "TuneReport", "TuneRow", "write_reports"]


def __getattr__(name: str) -> Any:
    """``TuneReport`` and ``TuneRow`` load with the tuner (and torch) on first use."""
    if name in ("TuneReport", "TuneRow"):
        from seqlabel.inference import tuning

        return getattr(tuning, name)
    raise AttributeError(f"module 'seqlabel.api' has no attribute {name!r}")


def prepare(corpus: str, data_dir: Optional[str | Path] = None, out_dir: Optional[str | Path] = None,
            **options: Any) -> dict[str, Path]:
    """Run a corpus recipe; manifests go to ``out_dir`` (default ``data/<corpus>``)."""
    from seqlabel.corpora import run_recipe

    out = Path(out_dir) if out_dir is not None else Path("data") / corpus
    return run_recipe(corpus, Path(data_dir) if data_dir is not None else None, out, options)


def configs() -> dict[str, ShippedConfig]:
    """The shipped configs by name (``seqlabel train NAME`` takes the name), with their descriptions and
    the prepare command each needs; see ``seqlabel.config.shipped``."""
    return shipped_configs()


def train(config: Config | str | Path | None, out_dir: str | Path, overrides: Sequence[str] = (), resume: bool = False,
          echo: Callable[[str], None] = print):
    """Train from a Config, a YAML file or the name of a shipped config (``"fsdd"``: see ``configs()``);
    if ``data.test`` is set, evaluate the best model on it.

    ``resume``: continue the run in ``out_dir`` with its own ``config.yaml``. ``config`` may then be None;
    one given must be the config the run started from, and ``overrides`` may change only the keys of
    ``seqlabel.training.resume.SAFE_ON_RESUME`` (``train.max_epochs``, ``train.device``, ...).
    """
    from seqlabel.training.distributed import from_environment
    from seqlabel.training.lock import check_out_dir
    from seqlabel.training.loop import train as run_training
    from seqlabel.training.resume import resume_config

    env = from_environment()
    main_rank = env is None or env.rank == 0  # under torchrun, rank 0 reports and tests
    if resume:
        given = config if config is None or isinstance(config, Config) else load_config(find_config(config))
        cfg = resume_config(check_out_dir(out_dir), given, overrides, echo if main_rank else _quiet,
                            "the config given" if isinstance(config, Config) else str(config))
    elif config is None:
        raise ConfigError("no config given: name a YAML file or a shipped config (seqlabel configs lists them); "
                          "only --resume can do without one")
    else:
        cfg = config if isinstance(config, Config) else load_config(find_config(config), list(overrides))
    result = run_training(cfg, out_dir, resume=resume, echo=echo, overrides=() if resume else overrides)
    if cfg.data.test and main_rank:
        test_dir = Path(out_dir) / "test"
        report = evaluate(result.best_checkpoint, cfg.data.test, out_dir=test_dir, progress=False,
                          keep_posteriors=True)
        echo(f"test ({cfg.data.test}): {report.summary()}")
        try:  # the scores are written: a report that cannot be built must not fail the run
            echo(f"test report: {report_html(test_dir)}")
        except SeqlabelError as e:
            echo(f"test report not written: {e}")
        result = type(result)(**{**result.__dict__, "test": report.tokens})
    return result


def _quiet(_: str) -> None:
    """The echo of torchrun ranks other than 0."""


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


def transcribe(checkpoint: str | Path, inputs: Sequence[str | Path], decoder: Optional[str] = None,
               overrides: Sequence[str] = (), device: str = "auto", out: str | Path | TextIO | None = None,
               format: str = "text", ctm: Optional[str | Path] = None, ctm_level: str = "token",
               same_speaker: bool = False, progress: bool = False) -> list[Transcription]:
    """Transcribe audio, image or stroke files (or precomputed .npy/.mfc features), or folders of them,
    without a manifest: one Transcription (path, id, hypothesis, text) per file, in input order.

    Folders are searched recursively (sorted) for the files the checkpoint's extractor reads.
    ``decoder``: greedy or beam (else the checkpoint's); ``overrides``: ``decode.KEY=VALUE``.
    ``out``: a file or text stream for the transcripts in ``format`` (text: ``path<TAB>text``;
    kaldi: ``id tok tok ...``; jsonl), written as they come; ``ctm``: a CTM file. A file that cannot
    be read is logged and returned with ``error`` set; missing paths, empty folders, files of another
    type and outputs that cannot be written raise before the model runs. ``same_speaker``: for
    ``features.cmvn: speaker`` models, normalise all files together (one speaker) instead of each alone.
    """
    from seqlabel.inference.recognizer import Recognizer
    from seqlabel.inference.transcribe import find_inputs, transcribe_files
    from seqlabel.inference.writers import TranscriptWriter

    extra = [] if decoder is None else [f"decode.decoder={decoder}"]
    recognizer = Recognizer.from_checkpoint(checkpoint, device, [*overrides, *extra])
    files = find_inputs(inputs, recognizer.extractor.suffixes, _input_kind(recognizer.config.features.type))
    level = _ctm_level(ctm_level, recognizer.vocab.unit)
    _ = recognizer.decoder  # LM and lexicon problems show before any file is read
    with TranscriptWriter(out, format, recognizer.vocab, ctm, level, tuple(files)) as writer:
        results = []
        for t in transcribe_files(recognizer, files, same_speaker, progress=progress):
            writer.write(t)
            results.append(t)
    return results


def _input_kind(feature_type: str) -> str:
    return {"image": "line image", "strokes": "pen stroke", "precomputed": "feature"}.get(feature_type, "audio")


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


def train_lm(manifests: str | Path | Sequence[str | Path], out: Optional[str | Path] = None, unit: str = "char", order: int = 4,
             smoothing: str = "kneser_ney", word_boundary: str = "|", text: Sequence[str | Path] = (),
             vocab: Optional[str | Path] = None, normalization: str = "NFC", table: Optional[str | Path] = None,
             echo: Callable[[str], None] = print):
    """Train an n-gram LM on the transcripts of one manifest (or text file) or a list of them; optionally
    write ARPA. ``lm.training`` says where the discounts could not be estimated.

    ``text``: plain text files or folders, normalised and, with ``vocab`` (a checkpoint or tokens file),
    mapped onto the model's characters (see ``seqlabel.lm.text``); what was mapped and dropped is echoed
    and, with ``out``, written to ``<out>.charmap.tsv``."""
    from seqlabel.lm import train_lm as run

    paths = [manifests] if isinstance(manifests, (str, os.PathLike)) else list(manifests)
    texts: list[str] = []
    tokens: list[str] = []  # a character LM knows every character of the model, seen in the text or not
    if text:
        from seqlabel.lm.text import lm_text, load_vocab

        if vocab is not None and unit == "phone":
            raise ConfigError("--vocab maps characters onto a character model's; use it with --unit char or word")
        if vocab is not None:
            model_vocab = load_vocab(vocab)
            word_boundary, tokens = model_vocab.word_boundary, model_vocab.tokens[1:] if unit == "char" else []
        texts, report = lm_text(text, vocab, normalization, table)
        echo(f"text: {report.summary()}")
        if out is not None and vocab is not None:
            Path(out).parent.mkdir(parents=True, exist_ok=True)  # as the ARPA writer does: written first
            Path(f"{out}.charmap.tsv").write_text(report.table(), encoding="utf-8")
    return run(paths, unit=unit, order=order, smoothing=smoothing, out_arpa=out,
               word_boundary=word_boundary, texts=texts, vocabulary=tokens)


def tune(checkpoint: str | Path, manifest: str | Path, weights: Sequence[float], bonuses: Sequence[float] = (0.0,),
         overrides: Sequence[str] = (), device: str = "auto", metric: Optional[str] = None,
         progress: bool = True, echo: Optional[Callable[[str], None]] = None) -> TuneReport:
    """Grid search of LM weight x insertion bonus for the beam search on a dev manifest (see
    ``seqlabel.inference.tuning``). ``overrides`` set the rest (``decode.lm=...``, ``decode.lexicon=...``,
    ``decode.beam=...``). ``metric``: minimise the word error rate (``word``, default for character
    models) or the token error rate (``token``)."""
    from seqlabel.inference.recognizer import Recognizer
    from seqlabel.inference.tuning import tune as run

    recognizer = Recognizer.from_checkpoint(checkpoint, device, [*overrides, "decode.decoder=beam"])
    return run(recognizer, read_manifest(manifest), weights, bonuses, metric, overrides, str(manifest), progress, echo)


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
             overrides: Sequence[str] = (), keep_posteriors: bool = False, html: bool = False) -> EvalReport:
    """Decode and score a manifest (``fold``: timit39/timit48 phone folding before scoring;
    ``overrides``: ``decode.KEY=VALUE`` changes to the checkpoint's decode settings).

    With ``out_dir``: writes hyp.txt and ref.txt (unfolded tokens), evaluation.json (what was evaluated
    how), the reports of ``write_reports``, with ``keep_posteriors`` posteriors.npz (float16 log-probs and
    token confidences, for the HTML report) and with ``html`` the HTML report in ``out_dir/report``.
    """
    from seqlabel.inference.batch import decode_all
    from seqlabel.inference.recognizer import Recognizer
    from seqlabel.scoring.html.folder import EvalInfo, write_info
    from seqlabel.scoring.posteriors import FILE as POSTERIORS_FILE
    from seqlabel.scoring.posteriors import write_posteriors

    if (keep_posteriors or html) and out_dir is None:
        raise ConfigError("keeping posteriors and the HTML report need an output folder (--out DIR)")
    recognizer = Recognizer.from_checkpoint(checkpoint, device, overrides)
    vocab = recognizer.vocab
    check_folding(fold, vocab.unit)
    utts = read_manifest(manifest)
    refs = reference_tokens(utts, vocab, recognizer.config.data.lowercase, str(manifest))  # unknown tokens kept
    log_probs = None
    if keep_posteriors:
        decoder = recognizer.decoder  # LM and lexicon problems show before the features are computed
        log_probs = recognizer.log_probs(utts, progress=progress)
        found = [n[0] for n in decode_all(log_probs, [u.id for u in utts], vocab, decoder, recognizer.frame_seconds)]
    else:
        found = recognizer.transcribe(utts, progress=progress)
    hyps = {h.id: list(h.tokens) for h in found}
    speakers = {u.id: speaker_of(u) for u in utts}
    report = score_tokens(refs, hyps, vocab.unit, vocab.word_boundary, fold=fold, speakers=speakers,
                          sources=(f"references of {manifest}", f"hypotheses for {manifest}"),
                          normalize=vocab.normalization, known=vocab.tokens[1:])
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_kaldi_text(out / "ref.txt", refs.items())
        write_kaldi_text(out / "hyp.txt", hyps.items())
        write_reports(out, report, system=str(checkpoint))
        write_info(out, EvalInfo(vocab.unit, vocab.word_boundary, fold, str(Path(manifest).resolve()), str(checkpoint),
                                 recognizer.config.features.type, recognizer.config.decode.decoder))
        (out / POSTERIORS_FILE).unlink(missing_ok=True)  # never leave another run's posteriors beside these scores
        if log_probs is not None:
            write_posteriors(out / POSTERIORS_FILE, found, log_probs, vocab.tokens, recognizer.frame_seconds)
        if html:
            report_html(out, out / "report")
    return report


def report_html(eval_dir: str | Path, out_dir: Optional[str | Path] = None, manifest: Optional[str | Path] = None,
                compare: Optional[str | Path] = None, copy_media: bool = False, single_file: bool = False,
                method: str = "mapsswe") -> Path:
    """The static HTML report of an evaluation folder (``compare``: a second folder of the same test set,
    shown side by side with the significance test) in ``out_dir`` (default ``eval_dir/report``);
    returns its index.html. See ``seqlabel.scoring.html``."""
    from seqlabel.scoring.html import ReportOptions, build_report

    folders = [eval_dir] if compare is None else [eval_dir, compare]
    out = Path(out_dir) if out_dir is not None else Path(eval_dir) / "report"
    return build_report(folders, out, manifest, ReportOptions(copy_media, single_file, method))


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
