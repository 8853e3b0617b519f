"""The Python API: what the CLI calls, and what users call from their own code.

    from seqlabel import api
    api.prepare("fsdd", data_dir="../shared/data/fsdd", out_dir="data/fsdd")
    result = api.train("fsdd", out_dir="exp/fsdd")  # a shipped config by name, or a YAML path
    report = api.evaluate(result.best_checkpoint, "data/fsdd/test.jsonl")
    print(report.summary())
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, TextIO

from seqlabel.arguments import CHECKPOINT, MANIFEST, TRANSCRIBE_HINT, path_argument, paths_argument, shown
from seqlabel.config import Config, load_config
from seqlabel.config.shipped import ShippedConfig, find_config, shipped_configs
from seqlabel.data.manifest import read_manifest, speaker_of
from seqlabel.data.transcripts import write_kaldi_text
from seqlabel.errors import ConfigError, SeqlabelError
from seqlabel.logs import forward
from seqlabel.outputs import check_output_dir, check_output_file, output_files
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
from seqlabel.scoring.rover import combine_files
from seqlabel.types import Hypothesis, Transcription

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from seqlabel.data.pseudo import PseudoLabels
    from seqlabel.inference.tuning import TuneReport, TuneRow

__all__ = ["CompareReport", "EvalReport", "adapt", "align", "average", "combine", "compare_files", "configs",
           "crossval", "decode", "evaluate", "export", "plot_curves", "plot_posteriorgram", "prepare", "pseudolabel",
           "report_html", "score_files", "train", "train_lm", "transcribe", "Transcription", "tune", "TuneReport",
           "TuneRow", "write_reports"]


def __getattr__(name: str) -> Any:
    """``TuneReport`` and ``TuneRow`` load with the tuner (and torch) on first use."""
    if name in ("TuneReport", "TuneRow"):
        from seqlabel.inference import tuning

        return getattr(tuning, name)
    raise AttributeError(f"module 'seqlabel.api' has no attribute {name!r}")


def prepare(corpus: str, data_dir: Optional[str | Path] = None, out_dir: Optional[str | Path] = None,
            **options: Any) -> dict[str, Path]:
    """Run a corpus recipe; manifests go to ``out_dir`` (default ``data/<corpus>``)."""
    from seqlabel.corpora import load_recipe, run_recipe

    if not isinstance(corpus, str):
        raise ConfigError(f"api.prepare: corpus must be a recipe name (seqlabel prepare --help lists them); got "
                          f"{shown(corpus)}")
    load_recipe(corpus)  # an unknown name is refused first, with the known ones
    data = None if data_dir is None else path_argument(data_dir, "api.prepare", "data_dir", "the corpus folder")
    out = check_output_dir(Path("data") / corpus if out_dir is None else out_dir, "--out")
    return run_recipe(corpus, data, out, options)


def configs() -> dict[str, ShippedConfig]:
    """The shipped configs by name (``seqlabel train NAME`` takes the name), with their descriptions and
    the prepare command each needs; see ``seqlabel.config.shipped``."""
    return shipped_configs()


def train(config: Config | str | Path | None, out_dir: str | Path, overrides: Sequence[str] = (), resume: bool = False,
          echo: Optional[Callable[[str], None]] = None):
    """Train from a Config, a YAML file or the name of a shipped config (``"fsdd"``: see ``configs()``);
    if ``data.test`` is set, evaluate the best model on it.

    ``resume``: continue the run in ``out_dir`` with its own ``config.yaml``. ``config`` may then be None;
    one given must be the config the run started from, and ``overrides`` may change only the keys of
    ``seqlabel.training.resume.SAFE_ON_RESUME`` (``train.max_epochs``, ``train.device``, ...).
    The run's messages go to the ``seqlabel`` logger, and also to ``echo`` when given.
    """
    with forward(echo):
        return _train(config, out_dir, overrides, resume)


def _train(config: Config | str | Path | None, out_dir: str | Path, overrides: Sequence[str], resume: bool):
    from seqlabel.training.distributed import from_environment
    from seqlabel.training.lock import check_out_dir
    from seqlabel.training.loop import train as run_training
    from seqlabel.training.resume import resume_config

    env = from_environment()
    main_rank = env is None or env.rank == 0  # under torchrun, rank 0 reports and tests
    if resume:
        given = config if config is None or isinstance(config, Config) else load_config(find_config(config))
        cfg = resume_config(check_out_dir(out_dir), given, overrides,
                            "the config given" if isinstance(config, Config) else str(config))
    elif config is None:
        raise ConfigError("no config given: name a YAML file or a shipped config (seqlabel configs lists them); "
                          "only --resume can do without one")
    else:
        cfg = config if isinstance(config, Config) else load_config(find_config(config), list(overrides))
    result = run_training(cfg, out_dir, resume=resume, overrides=() if resume else overrides)
    if cfg.data.test and main_rank:
        test_dir = Path(out_dir) / "test"
        report = evaluate(result.best_checkpoint, cfg.data.test, out_dir=test_dir, progress=False,
                          keep_posteriors=True)
        log.info(f"test ({cfg.data.test}): {report.summary()}")
        try:  # the scores are written: a report that cannot be built must not fail the run
            log.info(f"test report: {report_html(test_dir)}")
        except SeqlabelError as e:
            log.warning(f"test report not written: {e}")
        result = type(result)(**{**result.__dict__, "test": report.tokens})
    return result


def combine(hypotheses: Sequence[str | Path], out: str | Path, by: str = "word", word_boundary: str = "|",
            weights: Optional[Sequence[float]] = None, **vote: Any) -> dict[str, list[str]]:
    """ROVER of Kaldi text or CTM files into ``out``; ``vote``: method, alpha, null_conf of ``rover.combine_files``."""
    files = paths_argument(hypotheses, "api.combine", "hypotheses", "Kaldi text or CTM files of hypotheses")
    return combine_files(files, check_output_file(out, "--out", inputs=files), by, word_boundary, weights, **vote)


def pseudolabel(manifest: str | Path, hypotheses: Sequence[str | Path], out: str | Path,
                min_agree: Optional[int] = None, min_conf: float = 0.0, unit: str = "char",
                word_boundary: str = "|") -> PseudoLabels:
    """Self-training data (``seqlabel.data.pseudo``): the utterances of ``manifest`` that ``min_agree`` (default
    all) of the systems' hypothesis files (Kaldi text or CTM) agree on, with that hypothesis as text, into ``out``."""
    from seqlabel.data.pseudo import pseudolabel_files

    manifest = path_argument(manifest, "api.pseudolabel", "manifest", MANIFEST)
    files = paths_argument(hypotheses, "api.pseudolabel", "hypotheses", "Kaldi text or CTM files of hypotheses")
    out = check_output_file(out, "--out", inputs=[manifest, *files])
    return pseudolabel_files(manifest, files, out, min_agree, min_conf, unit, word_boundary)


def adapt(checkpoint: str | Path, manifest: str | Path, out: str | Path, weight: float = 1.0,
          device: str = "auto", progress: bool = True) -> int:
    """``out``: the checkpoint, its front end's batch norms re-estimated on ``manifest``'s utterances (no transcripts),
    mixed ``weight`` : 1 - weight with the trained ones (AdaBN, ``inference.adapt``); returns how many were used."""
    from seqlabel.inference.adapt import adapt_checkpoint

    checkpoint = path_argument(checkpoint, "api.adapt", "checkpoint", CHECKPOINT)
    manifest = path_argument(manifest, "api.adapt", "manifest", MANIFEST)
    out = check_output_file(out, "--out", inputs=(checkpoint, manifest))
    return adapt_checkpoint(checkpoint, manifest, out, weight, device, progress)


def average(checkpoints: Sequence[str | Path], out: str | Path) -> Path:
    """Average the weights of checkpoints of one model (same model and feature config, vocabulary and
    CMVN statistics) into ``out``, a checkpoint like the first; see ``seqlabel.training.averaging``."""
    from seqlabel.training.averaging import average_checkpoints

    return average_checkpoints(checkpoints, check_output_file(out, "--out", inputs=checkpoints))


def crossval(config: Config | str | Path, out_dir: str | Path, folds: int, pool: Sequence[str | Path] = (),
             by: str = "speaker", dev_fraction: float = 0.1, overrides: Sequence[str] = (),
             echo: Optional[Callable[[str], None]] = None, dev_speakers: int = 0, only: Sequence[int] = ()):
    """Cross-validation by speaker: ``folds`` models, each trained (as ``train``, into ``out_dir/fold-k``)
    with a disjoint group of speakers of ``pool`` held out and evaluated on them; returns the per-fold
    and pooled scores (``CrossvalReport``). ``pool`` defaults to data.train + data.dev, never data.test.
    ``only``: train just these folds (1-based); the report covers the folds done. See ``seqlabel.training.crossval``."""
    from seqlabel.training.crossval import run_crossval

    if by != "speaker":
        raise ConfigError(f"crossval folds are made by speaker; got by={by!r}")
    cfg = config if isinstance(config, Config) else load_config(config, list(overrides))
    with forward(echo):
        return run_crossval(cfg, out_dir, folds, lambda c, out, resume: _train(c, out, (), resume),
                            pool, dev_fraction, dev_speakers, only)


def decode(checkpoint: str | Path, manifest: str | Path, out: Optional[str | Path] = None,
           device: str = "auto", progress: bool = True, overrides: Sequence[str] = (),
           ctm: Optional[str | Path] = None, ctm_level: str = "token",
           nbest_out: Optional[str | Path] = None, adapt_norms: bool = False) -> list[Hypothesis]:
    """Transcribe a manifest with the checkpoint's decode settings (``overrides``: ``decode.KEY=VALUE``;
    ``adapt_norms``: speaker by speaker, batch norms re-estimated on each speaker's utterances, see ``adapt``).
    Writes the best tokens in Kaldi ``text`` format to ``out``, a CTM (token or word level, times in
    seconds, confidences) to ``ctm``, and the n-best lists (TSV) to ``nbest_out``."""
    from seqlabel.decoders.ctm import check_level, write_ctm
    from seqlabel.inference.recognizer import Recognizer
    from seqlabel.inference.writers import write_nbest

    checkpoint = path_argument(checkpoint, "api.decode", "checkpoint", CHECKPOINT)
    manifest = path_argument(manifest, "api.decode", "manifest", MANIFEST, TRANSCRIBE_HINT)
    output_files((out, "--out"), (ctm, "--ctm"), (nbest_out, "--nbest-out"), inputs=(checkpoint, manifest))
    recognizer = Recognizer.from_checkpoint(checkpoint, device, overrides, adapt_norms)
    nbest = recognizer.transcribe_nbest(read_manifest(manifest), progress=progress)
    hyps = [n[0] for n in nbest]
    if out is not None:
        write_kaldi_text(out, [(h.id, h.tokens) for h in hyps])
    if ctm is not None:
        write_ctm(ctm, hyps, level=check_level(ctm_level, recognizer.vocab.unit),
                  word_boundary=recognizer.vocab.word_boundary)
    if nbest_out is not None:
        write_nbest(nbest_out, nbest)
    return hyps


def transcribe(checkpoint: str | Path, inputs: Sequence[str | Path], decoder: Optional[str] = None,
               overrides: Sequence[str] = (), device: str = "auto", out: str | Path | TextIO | None = None,
               format: str = "text", ctm: Optional[str | Path] = None, ctm_level: str = "token",
               same_speaker: bool = False, progress: bool = False, adapt_norms: bool = False) -> list[Transcription]:
    """Transcribe audio, image or stroke files (or precomputed .npy/.mfc features), or folders of them,
    without a manifest: one Transcription (path, id, hypothesis, text) per file, in input order.
    Folders are searched recursively (sorted) for the files the checkpoint's extractor reads.
    ``decoder``: greedy or beam (else the checkpoint's); ``overrides``: ``decode.KEY=VALUE``.
    ``out``: a file or text stream for the transcripts in ``format`` (text: ``path<TAB>text``;
    kaldi: ``id tok tok ...``; jsonl), written as they come; ``ctm``: a CTM file. A file that cannot
    be read is logged and returned with ``error`` set; missing paths, empty folders, files of another
    type and outputs that cannot be written raise before the model runs. ``same_speaker``: for
    ``features.cmvn: speaker`` models, normalise all files together (one speaker) instead of each alone.
    ``adapt_norms``: the files are one manuscript (or speaker): batch norms re-estimated on them all (``adapt``)."""
    from seqlabel.decoders.ctm import check_level
    from seqlabel.inference.recognizer import Recognizer
    from seqlabel.inference.transcribe import find_inputs, transcribe_files
    from seqlabel.inference.writers import TranscriptWriter

    checkpoint = path_argument(checkpoint, "api.transcribe", "checkpoint", CHECKPOINT)
    inputs = paths_argument(inputs, "api.transcribe", "inputs", "audio, image, stroke or feature files or folders")
    output_files((None if hasattr(out, "write") else out, "--out"), (ctm, "--ctm"), inputs=inputs)
    extra = [] if decoder is None else [f"decode.decoder={decoder}"]
    recognizer = Recognizer.from_checkpoint(checkpoint, device, [*overrides, *extra], adapt_norms)
    kind = {"image": "line image", "strokes": "pen stroke", "precomputed": "feature"}.get(
        recognizer.config.features.type, "audio")
    files = find_inputs(inputs, recognizer.extractor.suffixes, kind)
    level = check_level(ctm_level, recognizer.vocab.unit)
    _ = recognizer.decoder  # LM and lexicon problems show before any file is read
    with TranscriptWriter(out, format, recognizer.vocab, ctm, level, tuple(files)) as writer:
        results = []
        for t in transcribe_files(recognizer, files, same_speaker, progress=progress):
            writer.write(t)
            results.append(t)
    return results


def align(checkpoint: str | Path, manifest: str | Path, out: Optional[str | Path] = None, device: str = "auto",
          level: str = "token", progress: bool = True, adapt_norms: bool = False) -> list[Hypothesis]:
    """Force-align each transcript of a manifest to the model's log-probs (``adapt_norms``: as ``decode``'s);
    optionally write a CTM."""
    from seqlabel.decoders.ctm import check_level, write_ctm
    from seqlabel.inference.recognizer import Recognizer

    checkpoint = path_argument(checkpoint, "api.align", "checkpoint", CHECKPOINT)
    manifest = path_argument(manifest, "api.align", "manifest", MANIFEST)
    output_files((out, "--out"), inputs=(checkpoint, manifest))
    recognizer = Recognizer.from_checkpoint(checkpoint, device, adapt_norms=adapt_norms)
    hyps = recognizer.align(read_manifest(manifest), progress=progress)
    if out is not None:
        write_ctm(out, hyps, level=check_level(level, recognizer.vocab.unit),
                  word_boundary=recognizer.vocab.word_boundary)
    return hyps


def export(checkpoint: str | Path, out: str | Path, format: str = "torchscript") -> Path:
    """Export a checkpoint to TorchScript or ONNX (features + lengths -> log-probs + lengths, CMVN
    folded in); ``<out>.tokens.txt`` and ``<out>.json`` go beside it. See ``seqlabel.inference.export``."""
    from seqlabel.inference.export import export as run

    checkpoint = path_argument(checkpoint, "api.export", "checkpoint", CHECKPOINT)
    return run(checkpoint, check_output_file(out, "--out", inputs=(checkpoint,)), format)


def train_lm(manifests: str | Path | Sequence[str | Path], out: Optional[str | Path] = None, unit: str = "char", order: int = 4,
             smoothing: str = "kneser_ney", word_boundary: str = "|", text: Sequence[str | Path] = (),
             vocab: Optional[str | Path] = None, normalization: str = "NFC", table: Optional[str | Path] = None,
             spelling: Optional[str | Path] = None, echo: Optional[Callable[[str], None]] = None):
    """Train an n-gram LM on the transcripts of one manifest (or text file) or a list of them; optionally
    write ARPA. ``lm.training`` says where the discounts could not be estimated.

    ``text``: plain text files or folders, normalised and, with ``vocab`` (a checkpoint or tokens file),
    mapped onto the model's characters (see ``seqlabel.lm.text``); ``spelling`` (``caroline`` or a
    ``.spelling.tsv``) first rewrites them as ``prepare render`` does; what was mapped and dropped is echoed
    and, with ``out``, written to ``<out>.charmap.tsv``."""
    from seqlabel.lm import train_lm as run

    paths = paths_argument(manifests, "api.train_lm", "manifests", "manifests or text files") if manifests else []
    text = paths_argument(text, "api.train_lm", "text", "plain text files or folders") if text else []
    if out is not None:
        check_output_file(out, "--out", inputs=[*paths, *text])
    texts: list[str] = []
    tokens: list[str] = []  # a character LM knows every character of the model, seen in the text or not
    if text:
        from seqlabel.lm.text import text_for_lm

        with forward(echo):
            prepared = text_for_lm(text, vocab, unit, word_boundary, normalization, table, spelling, out)
        texts, tokens, word_boundary = prepared.texts, prepared.tokens, prepared.word_boundary
    return run(paths, unit=unit, order=order, smoothing=smoothing, out_arpa=out,
               word_boundary=word_boundary, texts=texts, vocabulary=tokens)


def tune(checkpoint: str | Path, manifest: str | Path, weights: Sequence[float], bonuses: Sequence[float] = (0.0,),
         overrides: Sequence[str] = (), device: str = "auto", metric: Optional[str] = None, adapt_norms: bool = False,
         progress: bool = True, echo: Optional[Callable[[str], None]] = None) -> TuneReport:
    """Grid search of LM weight x insertion bonus for the beam search on a dev manifest (see
    ``seqlabel.inference.tuning``). ``overrides`` set the rest (``decode.lm=...``, ``decode.lexicon=...``,
    ``decode.beam=...``). ``metric``: minimise the word error rate (``word``, default for character
    models) or the token error rate (``token``). ``adapt_norms``: on adapted log-probs, as ``decode``'s."""
    from seqlabel.inference.recognizer import Recognizer
    from seqlabel.inference.tuning import tune as run

    checkpoint = path_argument(checkpoint, "api.tune", "checkpoint", CHECKPOINT)
    manifest = path_argument(manifest, "api.tune", "manifest", MANIFEST)
    recognizer = Recognizer.from_checkpoint(checkpoint, device, [*overrides, "decode.decoder=beam"], adapt_norms)
    with forward(echo):
        return run(recognizer, read_manifest(manifest), weights, bonuses, metric, overrides, str(manifest), progress)


def evaluate(checkpoint: str | Path, manifest: str | Path, out_dir: Optional[str | Path] = None,
             device: str = "auto", progress: bool = True, fold: Optional[str] = None,
             overrides: Sequence[str] = (), keep_posteriors: bool = False, html: bool = False,
             adapt_norms: bool = False) -> EvalReport:
    """Decode and score a manifest (``fold``: timit39/timit48 phone folding before scoring;
    ``overrides``: ``decode.KEY=VALUE`` changes to the checkpoint's decode settings; ``adapt_norms``: as ``decode``).

    With ``out_dir``: writes hyp.txt and ref.txt (unfolded tokens), evaluation.json (what was evaluated
    how), the reports of ``write_reports``, with ``keep_posteriors`` posteriors.npz (float16 log-probs and
    token confidences, for the HTML report) and with ``html`` the HTML report in ``out_dir/report``.
    """
    from seqlabel.inference.batch import decode_all
    from seqlabel.inference.recognizer import Recognizer
    from seqlabel.scoring.html.folder import EvalInfo, write_folder

    if (keep_posteriors or html) and out_dir is None:
        raise ConfigError("keeping posteriors and the HTML report need an output folder (--out DIR)")
    checkpoint = path_argument(checkpoint, "api.evaluate", "checkpoint", CHECKPOINT)
    manifest = path_argument(manifest, "api.evaluate", "manifest", MANIFEST, TRANSCRIBE_HINT)
    if out_dir is not None:
        check_output_dir(out_dir, "--out")
    recognizer = Recognizer.from_checkpoint(checkpoint, device, overrides, adapt_norms)
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
        info = EvalInfo(vocab.unit, vocab.word_boundary, fold, str(Path(manifest).resolve()), str(checkpoint),
                        recognizer.config.features.type, recognizer.config.decode.decoder)
        kept = None if log_probs is None else (found, log_probs, vocab.tokens, recognizer.frame_seconds)
        out = write_folder(out_dir, refs, hyps, report, info, kept, html)
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
    out = Path(eval_dir) / "report" if out_dir is None else Path(out_dir)
    if out_dir is not None or Path(eval_dir).is_dir():  # else build_report says the folder is missing
        check_output_dir(out, "--out")
    return build_report(folders, out, manifest, ReportOptions(copy_media, single_file, method))


def plot_curves(run: str | Path, out: str | Path) -> Path:
    """Training curves of a run folder (or its log.csv) as a PNG."""
    from seqlabel.scoring.plot import draw_curves, read_log, run_files

    out = check_output_file(out, "--out", inputs=run_files(run))
    return draw_curves(read_log(run), out, name=str(run))


def plot_posteriorgram(checkpoint: str | Path, manifest: str | Path, utt_id: str, out: str | Path,
                       device: str = "auto") -> Path:
    """One utterance's posteriors (frames x labels) with its reference and the hypothesis ``decode`` gives it
    (normalised as decode normalises it: with ``features.cmvn: speaker``, with its speaker's utterances), as a PNG."""
    from seqlabel.inference.posteriorgram import draw, find_utterance
    from seqlabel.inference.recognizer import Recognizer

    checkpoint = path_argument(checkpoint, "api.plot_posteriorgram", "checkpoint", CHECKPOINT)
    manifest = path_argument(manifest, "api.plot_posteriorgram", "manifest", MANIFEST)
    out = check_output_file(out, "--out", inputs=(checkpoint, manifest))
    utts = read_manifest(manifest)
    find_utterance(utts, utt_id, str(manifest))  # a mistyped id is refused before the checkpoint loads
    return draw(Recognizer.from_checkpoint(checkpoint, device), utts, utt_id, str(manifest), out, checkpoint.name)
