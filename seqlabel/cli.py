"""``seqlabel`` command line: a thin click layer over ``seqlabel.api``.

Heavy imports (torch) happen inside commands so ``--help`` is fast. User-facing errors
(SeqlabelError) are printed as ``Error: ...`` without a traceback, exit status 1.
"""
from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import click
import yaml

from seqlabel.errors import SeqlabelError


def _friendly(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SeqlabelError as e:
            raise click.ClickException(str(e)) from None
    return wrapper


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r} must look like key=value", param_hint="--option")
        key, value = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seqlabel")
def main() -> None:
    """Deep BiLSTM-CTC sequence labelling for speech (and handwriting).

    Typical run: prepare a corpus, train from a YAML config, evaluate the best checkpoint.

    \b
      seqlabel prepare espeak
      seqlabel train demo --out exp/demo
      seqlabel evaluate exp/demo/best.pt data/espeak/test.jsonl
    """


class _PrepareCommand(click.Command):
    """`seqlabel prepare --help` ends with every recipe, its -p options and their defaults, read from
    the recipes' own ``prepare`` signatures and docstrings (``seqlabel.corpora.recipe_help``)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from seqlabel.corpora import RECIPES, recipe_help

        with formatter.section("Corpora (CORPUS) and their options (-p KEY=VALUE; defaults shown)"):
            for name in RECIPES:
                recipe = recipe_help(name)
                formatter.write_text(f"{name}: {recipe.description}")
                with formatter.indentation():
                    options = [f"-p {o.name}={o.default}" if o.default is not None else f"-p {o.name} (unset)"
                               for o in recipe.options] or ["no options"]
                    line = ""
                    for option in options:  # whole options per line: a value is never split
                        if line and formatter.current_indent + len(line) + 2 + len(option) > formatter.width:
                            formatter.write(f"{'':>{formatter.current_indent}}{line}\n")
                            line = ""
                        line = f"{line}  {option}" if line else option
                    formatter.write(f"{'':>{formatter.current_indent}}{line}\n")
                    if recipe.notes:
                        formatter.write_text(recipe.notes)


@main.command(cls=_PrepareCommand)
@click.argument("corpus")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the corpus lies (not needed for espeak).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Manifest folder [default: data/CORPUS].")
@click.option("-p", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Recipe option, e.g. -p unit=phone or -p test_speakers=theo (repeatable).")
@_friendly
def prepare(corpus: str, data_dir: Path | None, out_dir: Path | None, options: tuple[str, ...]) -> None:
    """Prepare CORPUS: write train/dev/test JSONL manifests (the corpora and their options are listed below)."""
    from seqlabel import api

    paths = api.prepare(corpus, data_dir, out_dir, **_parse_options(options))
    for split, path in paths.items():
        click.echo(f"{split}: {path}")


@main.command()
@click.argument("config", required=False)
@click.option("--out", "out_dir", required=True, help="Run folder (one training at a time: run.lock).")
@click.option("-o", "--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Dotted config override, e.g. -o train.lr=0.0005 (repeatable).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.pt, with its own config.yaml.")
@click.option("--init-from", type=click.Path(path_type=Path),
              help="Fine-tune: start from this checkpoint's weights (same as -o train.init_from=CKPT).")
@_friendly
def train(config: str | None, out_dir: str, overrides: tuple[str, ...], resume: bool, init_from: Path | None) -> None:
    """Train a model from CONFIG: a YAML file, or the name of a shipped config (`seqlabel configs` lists
    them). best.pt, last.pt, log.csv and config.yaml go to --out.

    With --resume, CONFIG may be omitted: the run goes on with its own config.yaml (a CONFIG given must be
    the one it started from); -o may then change only what is safe mid-run (train.max_epochs,
    train.early_stop_patience, train.device, train.threads, ...; others are refused, saying why).
    """
    import json

    from seqlabel import api
    from seqlabel.training.distributed import from_environment

    extra = [f"train.init_from={json.dumps(str(init_from))}"] if init_from is not None else []
    result = api.train(config, out_dir, [*overrides, *extra], resume=resume, echo=click.echo)
    env = from_environment()
    if env is not None and env.rank != 0:  # under torchrun only rank 0 reports
        return
    if result.best_train_loss is not None:
        click.echo(f"no dev set: best checkpoint {result.best_checkpoint} is the epoch of lowest training loss "
                   f"({result.best_train_loss:.3f})")
    else:
        click.echo(f"best checkpoint: {result.best_checkpoint} (dev error {100 * result.best_dev_error:.2f}%)")


@main.command("configs")
@_friendly
def configs_command() -> None:
    """List the shipped configs: NAME (what `seqlabel train NAME` takes), what it trains, and the
    `seqlabel prepare ...` command that writes the manifests it reads (under data/ in the working folder)."""
    from seqlabel import api

    shipped = api.configs()
    width = max(len(name) for name in shipped) + 2
    click.echo(f"shipped configs ({next(iter(shipped.values())).path.parent}); train one with "
               "`seqlabel train NAME --out exp/NAME` after its prepare command:")
    for name, config in shipped.items():
        click.echo(f"{name:<{width}}{config.description}")
        click.echo(f"{'':<{width}}prepare: {config.prepare or '(none named in the file)'}")


@main.command()
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Averaged checkpoint to write.")
@_friendly
def average(checkpoints: tuple[Path, ...], out: Path) -> None:
    """Average the weights of CHECKPOINTS of one model (same config and vocabulary), e.g. the epochs of a run."""
    from seqlabel import api

    click.echo(f"wrote {api.average(checkpoints, out)} (the mean of {len(checkpoints)} checkpoints' weights)")


@main.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--by", type=click.Choice(["speaker"]), default="speaker", show_default=True,
              help="What the folds hold out.")
@click.option("--folds", type=click.IntRange(min=2), required=True,
              help="Number of folds (the number of speakers: leave-one-speaker-out).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Folder for fold-k/ runs and summary.json (rerun it to continue an interrupted crossval).")
@click.option("--pool", multiple=True, type=click.Path(path_type=Path),
              help="Manifest to split into folds (repeatable) [default: the config's data.train and data.dev, "
                   "never data.test].")
@click.option("--dev-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True, help="Share of each training speaker's utterances kept as the fold's dev set.")
@click.option("--dev-speakers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Instead, hold out this many whole training speakers as each fold's dev set, so that early "
                   "stopping follows unseen speakers too.")
@click.option("-o", "--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Dotted config override, e.g. -o train.max_epochs=20 (repeatable).")
@_friendly
def crossval(config: Path, by: str, folds: int, out_dir: Path, pool: tuple[Path, ...], dev_fraction: float,
             dev_speakers: int, overrides: tuple[str, ...]) -> None:
    """Cross-validate CONFIG by speaker: train one model per fold with its speakers held out, score it on them,
    and print every fold's error rate, their mean, spread and worst, and the pooled rate with its 95% CI."""
    from seqlabel import api

    report = api.crossval(config, out_dir, folds, pool, by, dev_fraction, overrides, click.echo, dev_speakers)
    click.echo(report.table())
    click.echo(f"wrote {out_dir / 'summary.json'} and {out_dir / 'summary.txt'}")


_DECODER = click.option("--decoder", type=click.Choice(["greedy", "beam"]),
                        help="Decoder [default: the checkpoint's decode.decoder]; same as -o decode.decoder=...")
_DECODE_OVERRIDES = click.option("-o", "--override", "overrides", multiple=True, metavar="decode.KEY=VALUE",
                                 help="Change a decode setting of the checkpoint, e.g. -o decode.beam=32 "
                                      "-o decode.lm=lm.arpa (repeatable).")


def _decode_overrides(decoder: str | None, overrides: tuple[str, ...]) -> list[str]:
    return [*overrides, *([f"decode.decoder={decoder}"] if decoder else [])]


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Hypotheses in Kaldi text format.")
@_DECODER
@_DECODE_OVERRIDES
@click.option("--ctm", type=click.Path(path_type=Path), help="Also write a CTM: utt channel start dur token conf.")
@click.option("--ctm-level", type=click.Choice(["token", "word"]), default="token", show_default=True,
              help="CTM lines per token, or per word (character models).")
@click.option("--nbest-out", type=click.Path(path_type=Path),
              help="Also write the n-best lists (decode.nbest) as TSV: id, rank, scores, confidence, tokens.")
@click.option("--device", default="auto", show_default=True)
@_friendly
def decode(checkpoint: Path, manifest: Path, out: Path, decoder: str | None, overrides: tuple[str, ...],
           ctm: Path | None, ctm_level: str, nbest_out: Path | None, device: str) -> None:
    """Transcribe MANIFEST with CHECKPOINT; write `utt-id tok tok ...` lines."""
    from seqlabel import api

    hyps = api.decode(checkpoint, manifest, out, device=device, overrides=_decode_overrides(decoder, overrides),
                      ctm=ctm, ctm_level=ctm_level, nbest_out=nbest_out)
    click.echo(f"wrote {len(hyps)} hypotheses to {out}" + (f" and {ctm}" if ctm else ""))


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="INPUT...")
@click.option("--out", type=click.Path(path_type=Path), help="Write the transcripts here [default: stdout].")
@click.option("--format", "fmt", type=click.Choice(["text", "kaldi", "jsonl"]), default="text", show_default=True,
              help="text: path<TAB>transcript; kaldi: id tok tok ...; jsonl: path, id, text, tokens, score, "
                   "confidence, words with times.")
@click.option("--ctm", type=click.Path(path_type=Path), help="Also write a CTM: id channel start dur token conf.")
@click.option("--ctm-level", type=click.Choice(["token", "word"]), default="token", show_default=True,
              help="CTM lines per token, or per word (character models).")
@click.option("--same-speaker", is_flag=True,
              help="The inputs are one speaker's: normalise them together (models trained with features.cmvn: "
                   "speaker; otherwise each file is normalised by itself).")
@_DECODER
@_DECODE_OVERRIDES
@click.option("--device", default="auto", show_default=True)
@_friendly
def transcribe(checkpoint: Path, inputs: tuple[Path, ...], out: Path | None, fmt: str, ctm: Path | None,
               ctm_level: str, same_speaker: bool, decoder: str | None, overrides: tuple[str, ...],
               device: str) -> None:
    """Transcribe audio, line-image or stroke files, or folders of them (searched recursively for the
    files CHECKPOINT reads), without a manifest. Prints `path<TAB>transcript` lines in input order.

    \b
    Ids (kaldi, jsonl, CTM): the path with %, whitespace and unprintable characters
    percent-encoded (a space is %20). A file that cannot be read is named on stderr and
    skipped; the exit status is then 1.
    """
    from seqlabel import api

    _log_to_stderr()
    stream = out if out is not None else sys.stdout
    results = api.transcribe(checkpoint, inputs, decoder, overrides, device, stream, fmt, ctm, ctm_level,
                             same_speaker, progress=sys.stderr.isatty())
    failed = sum(not r.ok for r in results)
    if out is not None:
        click.echo(f"wrote {len(results) - failed} transcripts to {out}" + (f" and {ctm}" if ctm else ""))
    if failed:
        raise click.ClickException(f"{failed} of {len(results)} files could not be transcribed (named above)")


class _EchoHandler(logging.Handler):
    """Log records to the current stderr (click's, so that test runners capture them)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def _log_to_stderr() -> None:
    """Show the package's warnings on stderr, once per process."""
    logger = logging.getLogger("seqlabel")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler(logging.WARNING))


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="CTM file to write.")
@click.option("--level", type=click.Choice(["token", "word"]), default="token", show_default=True,
              help="CTM lines per token, or per word (character models).")
@click.option("--device", default="auto", show_default=True)
@_friendly
def align(checkpoint: Path, manifest: Path, out: Path, level: str, device: str) -> None:
    """Force-align the transcripts of MANIFEST to CHECKPOINT's outputs; write token (or word) times as CTM."""
    from seqlabel import api

    hyps = api.align(checkpoint, manifest, out, device=device, level=level)
    click.echo(f"aligned {len(hyps)} utterances; wrote {out}")


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["torchscript", "onnx"]), default="torchscript", show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Exported model file (.pt or .onnx).")
@_friendly
def export(checkpoint: Path, fmt: str, out: Path) -> None:
    """Export CHECKPOINT: raw features (B, T, F) + lengths -> log-probs (B, T', C) + lengths, CMVN folded in;
    OUT.tokens.txt (class k on line k) and OUT.json (feature config, frame timing) are written beside it."""
    from seqlabel import api

    click.echo(f"wrote {api.export(checkpoint, out, fmt)}")


@main.group()
def lm() -> None:
    """N-gram language models for the beam search."""


@lm.command("train")
@click.argument("manifests", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="ARPA file to write.")
@click.option("--unit", type=click.Choice(["char", "phone", "word"]), default="char", show_default=True,
              help="LM tokens: characters (spaces -> the word boundary), phones, or words.")
@click.option("--order", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--smoothing", type=click.Choice(["kneser_ney", "witten_bell"]), default="kneser_ney",
              show_default=True)
@click.option("--word-boundary", default="|", show_default=True)
@click.option("--text", "text", multiple=True, type=click.Path(path_type=Path),
              help="Plain text file or folder of .txt files, one sentence or paragraph a line (repeatable).")
@click.option("--vocab", type=click.Path(path_type=Path),
              help="Checkpoint or tokens.txt: map --text onto the characters that model outputs (others dropped).")
@click.option("--normalize", "normalization", type=click.Choice(["NFC", "NFD", "NFKC", "NFKD", "none"]),
              default="NFC", show_default=True, help="Unicode normalisation of --text (use the model's).")
@click.option("--map", "table", type=click.Path(path_type=Path),
              help="Mapping table for --text: char<TAB>replacement per line (empty: drop), applied first.")
@_friendly
def lm_train(manifests: tuple[Path, ...], out: Path, unit: str, order: int, smoothing: str, word_boundary: str,
             text: tuple[Path, ...], vocab: Path | None, normalization: str, table: Path | None) -> None:
    """Train an n-gram LM on the transcripts of MANIFESTS (JSONL manifests or text files, one sentence a line)
    and on --text (normalised, and with --vocab mapped onto a model's characters)."""
    from seqlabel import api
    from seqlabel.lm.corpus import discount_note

    if (vocab or table) and not text:
        raise click.UsageError("--vocab and --map apply to --text input; add --text PATH")
    if not manifests and not text:
        raise click.UsageError("give MANIFESTS, --text PATH, or both")
    model = api.train_lm(manifests, out, unit=unit, order=order, smoothing=smoothing, word_boundary=word_boundary,
                         text=text, vocab=vocab, normalization=normalization, table=table, echo=click.echo)
    counts = ", ".join(f"{n}-grams: {c}" for n, c in model.counts.items())
    click.echo(f"wrote {out} ({counts})")
    note = discount_note(model)
    if note:
        click.echo(note)


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} must be comma-separated numbers, e.g. 0.2,0.5,0.8",
                                 param_hint=name) from None


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--lm", "lm_path", type=click.Path(path_type=Path), help="ARPA LM (else the checkpoint's decode.lm).")
@click.option("--lm-unit", type=click.Choice(["token", "word"]), help="What the LM's units are.")
@click.option("--lexicon", type=click.Path(path_type=Path), help="Word list or pronunciation dictionary.")
@click.option("--weights", default="0.2,0.5,0.8", show_default=True, help="LM weights to try.")
@click.option("--bonus", "bonuses", default="0,1,2", show_default=True, help="Insertion bonuses to try.")
@click.option("--beam", type=click.IntRange(min=1), help="Beam width [default: the checkpoint's decode.beam].")
@click.option("--metric", type=click.Choice(["token", "word"]),
              help="Minimise the token (PER/CER) or word error rate [default: word for character models].")
@_DECODE_OVERRIDES
@click.option("--device", default="auto", show_default=True)
@_friendly
def tune(checkpoint: Path, manifest: Path, lm_path: Path | None, lm_unit: str | None, lexicon: Path | None,
         weights: str, bonuses: str, beam: int | None, metric: str | None, overrides: tuple[str, ...],
         device: str) -> None:
    """Grid-search LM weight x insertion bonus of the beam search on a dev MANIFEST (the model runs once).

    Prints the table, then `best:` with the options that decode as the best setting (or `--decoder
    greedy` when no setting beats greedy decoding); without an LM only the insertion bonus is tuned."""
    from seqlabel import api

    extra = [f"decode.{k}={v}" for k, v in (("lm", lm_path), ("lm_unit", lm_unit), ("lexicon", lexicon),
                                            ("beam", beam)) if v is not None]
    report = api.tune(checkpoint, manifest, _floats(weights, "--weights"), _floats(bonuses, "--bonus"),
                      [*overrides, *extra], device=device, metric=metric)
    click.echo(report.table())


_FOLD = click.option("--fold", type=click.Choice(["timit39", "timit48"]),
                     help="Fold TIMIT phones in references and hypotheses before scoring (phone units only).")
_UNIT = click.option("--unit", type=click.Choice(["char", "phone", "word"]), default="char", show_default=True,
                     help="What the tokens are; char also reports WER by splitting at the word boundary.")
_BOUNDARY = click.option("--word-boundary", default="|", show_default=True)
_ALLOW_MISSING = click.option("--allow-missing", is_flag=True,
                              help="Count utterances missing from a hypothesis file as all deletions.")
_NORMALIZE = click.option("--normalize", type=click.Choice(["nfc", "nfd", "none"]), default="nfc", show_default=True,
                          help="Unicode normal form both files are put in before scoring (none: tokens as they are).")
_REPORTS = ("summary.txt, summary.json, per-utterance TSV, speakers.tsv, confusions.txt, alignments.pra")


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help=f"Folder for hyp.txt, ref.txt and the reports ({_REPORTS}).")
@click.option("--device", default="auto", show_default=True)
@_FOLD
@_DECODER
@_DECODE_OVERRIDES
@click.option("--keep-posteriors", is_flag=True,
              help="Also keep the log-probs (float16) and token confidences in OUT/posteriors.npz, for the report.")
@click.option("--html", is_flag=True, help="Also write the HTML report to OUT/report/index.html.")
@_friendly
def evaluate(checkpoint: Path, manifest: Path, out_dir: Path | None, device: str, fold: str | None,
             decoder: str | None, overrides: tuple[str, ...], keep_posteriors: bool, html: bool) -> None:
    """Decode MANIFEST and print the error rate (PER or CER, and WER) with its 95% CI and S/D/I counts.

    References and hypotheses are put in the model's Unicode normal form first; reference tokens the
    model does not have are scored (as errors) and counted in the summary."""
    from seqlabel import api

    if (keep_posteriors or html) and out_dir is None:
        raise click.UsageError("--keep-posteriors and --html write into the evaluation folder: add --out DIR")
    click.echo(api.evaluate(checkpoint, manifest, out_dir, device=device, fold=fold,
                            overrides=_decode_overrides(decoder, overrides), keep_posteriors=keep_posteriors,
                            html=html).summary())
    if html:
        click.echo(f"report: {out_dir / 'report' / 'index.html'}")


@main.command()
@click.argument("eval_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Report folder [default: EVAL_DIR/report].")
@click.option("--manifest", type=click.Path(path_type=Path),
              help="The evaluated manifest (inputs, speakers) [default: the one evaluation.json names].")
@click.option("--compare", type=click.Path(path_type=Path),
              help="A second evaluation folder of the same test set (B), shown against EVAL_DIR (A).")
@click.option("--method", type=click.Choice(["mapsswe", "bootstrap"]), default="mapsswe", show_default=True,
              help="Significance test of --compare.")
@click.option("--copy-media", is_flag=True,
              help="Copy audio/images into the report (SPHERE, .raw, segments -> WAV; TIFF -> PNG) instead of "
                   "linking them by relative path.")
@click.option("--single-file", is_flag=True, help="Put everything in index.html (media too, with --copy-media).")
@_friendly
def report(eval_dir: Path, out_dir: Path | None, manifest: Path | None, compare: Path | None, method: str,
           copy_media: bool, single_file: bool) -> None:
    """A static HTML report of EVAL_DIR (`seqlabel evaluate ... --out EVAL_DIR`): summary, speakers,
    confusions, a sortable utterance table and aligned utterance views; opens from disk, no server."""
    from seqlabel import api

    index = api.report_html(eval_dir, out_dir, manifest, compare, copy_media, single_file, method)
    click.echo(f"report: {index}")


@main.command()
@click.argument("ref", type=click.Path(path_type=Path))
@click.argument("hyp", type=click.Path(path_type=Path))
@_UNIT
@_BOUNDARY
@_ALLOW_MISSING
@_FOLD
@_NORMALIZE
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help=f"Folder for the reports ({_REPORTS}).")
@click.option("--report", type=click.Path(path_type=Path), help="Write a per-utterance TSV report here.")
@_friendly
def score(ref: Path, hyp: Path, unit: str, word_boundary: str, allow_missing: bool, fold: str | None,
          normalize: str, out_dir: Path | None, report: Path | None) -> None:
    """Score HYP against REF (both Kaldi text: `utt-id tok tok ...`); speakers are the id prefixes."""
    from seqlabel import api
    from seqlabel.scoring.metrics import utterance_report

    result = api.score_files(ref, hyp, unit, word_boundary, allow_missing, fold=fold, out_dir=out_dir,
                             normalize=normalize)
    click.echo(result.summary())
    if report is not None:
        report.write_text(utterance_report(result.tokens), encoding="utf-8")


@main.command()
@click.argument("ref", type=click.Path(path_type=Path))
@click.argument("hyp_a", type=click.Path(path_type=Path))
@click.argument("hyp_b", type=click.Path(path_type=Path))
@_UNIT
@_BOUNDARY
@_ALLOW_MISSING
@_FOLD
@_NORMALIZE
@click.option("--method", type=click.Choice(["mapsswe", "bootstrap"]), default="mapsswe", show_default=True,
              help="sclite's matched-pairs sentence-segment test, or a paired bootstrap over utterances.")
@click.option("--resamples", type=click.IntRange(min=1), default=1000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@_friendly
def compare(ref: Path, hyp_a: Path, hyp_b: Path, unit: str, word_boundary: str, allow_missing: bool,
            fold: str | None, normalize: str, method: str, resamples: int, seed: int) -> None:
    """Is HYP_B better or worse than HYP_A on REF? Both error rates, the difference and a two-sided p-value."""
    from seqlabel import api

    result = api.compare_files(ref, hyp_a, hyp_b, unit, word_boundary, fold, method, allow_missing, resamples, seed,
                               normalize=normalize)
    click.echo(result.summary())


@main.group()
def plot() -> None:
    """Draw PNG pictures: training curves, posteriorgrams."""


@plot.command()
@click.argument("run", type=click.Path(path_type=Path), metavar="EXPDIR_OR_LOG_CSV")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="PNG file to write.")
@_friendly
def curves(run: Path, out: Path) -> None:
    """Train/dev loss and dev error per epoch from a run's log.csv; lr changes marked."""
    from seqlabel import api

    click.echo(f"wrote {api.plot_curves(run, out)}")


@plot.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("manifest", type=click.Path(path_type=Path))
@click.argument("utt_id")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="PNG file to write.")
@click.option("--device", default="auto", show_default=True)
@_friendly
def posteriorgram(checkpoint: Path, manifest: Path, utt_id: str, out: Path, device: str) -> None:
    """Posteriors of utterance UTT_ID (frames x labels) with the greedy path, reference and hypothesis."""
    from seqlabel import api

    click.echo(f"wrote {api.plot_posteriorgram(checkpoint, manifest, utt_id, out, device)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
