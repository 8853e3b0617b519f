"""``seqlabel`` command line: a thin click layer over ``seqlabel.api``.

Heavy imports (torch) happen inside commands so ``--help`` is fast. User-facing errors
(SeqlabelError) are printed as ``Error: ...`` without a traceback, exit status 1.
"""
from __future__ import annotations

import functools
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
      seqlabel train configs/demo.yaml --out exp/demo
      seqlabel evaluate exp/demo/best.pt data/espeak/test.jsonl
    """


@main.command()
@click.argument("corpus")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the corpus lies (not needed for espeak).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Manifest folder [default: data/CORPUS].")
@click.option("-p", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Recipe option, e.g. -p unit=phone or -p test_speakers=theo (repeatable).")
@_friendly
def prepare(corpus: str, data_dir: Path | None, out_dir: Path | None, options: tuple[str, ...]) -> None:
    """Prepare CORPUS: write train/dev/test JSONL manifests.

    \b
    Speech:      espeak (demo, no data needed), fsdd, an4, dir, timit, librispeech
    Imports:     kaldi (data dirs), lhotse (recordings + supervisions manifests)
    Handwriting: hershey (online demo), digits (offline demo), lines (image + .gt.txt), iam, iam_ondb
    """
    from seqlabel import api

    paths = api.prepare(corpus, data_dir, out_dir, **_parse_options(options))
    for split, path in paths.items():
        click.echo(f"{split}: {path}")


@main.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Experiment folder.")
@click.option("-o", "--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Dotted config override, e.g. -o train.lr=0.0005 (repeatable).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@_friendly
def train(config: Path, out_dir: Path, overrides: tuple[str, ...], resume: bool) -> None:
    """Train a model from a YAML CONFIG; checkpoints best.pt/last.pt and log.csv go to --out."""
    from seqlabel import api

    from seqlabel.training.distributed import from_environment

    result = api.train(config, out_dir, overrides, resume=resume, echo=click.echo)
    env = from_environment()
    if env is None or env.rank == 0:  # under torchrun only rank 0 reports
        click.echo(f"best checkpoint: {result.best_checkpoint} (dev error {100 * result.best_dev_error:.2f}%)")


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
@click.argument("manifests", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="ARPA file to write.")
@click.option("--unit", type=click.Choice(["char", "phone", "word"]), default="char", show_default=True,
              help="LM tokens: characters (spaces -> the word boundary), phones, or words.")
@click.option("--order", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--smoothing", type=click.Choice(["kneser_ney", "witten_bell"]), default="kneser_ney",
              show_default=True)
@click.option("--word-boundary", default="|", show_default=True)
@_friendly
def lm_train(manifests: tuple[Path, ...], out: Path, unit: str, order: int, smoothing: str, word_boundary: str) -> None:
    """Train an n-gram LM on the transcripts of MANIFESTS (JSONL manifests or text files, one sentence a line)."""
    from seqlabel import api

    model = api.train_lm(manifests, out, unit=unit, order=order, smoothing=smoothing, word_boundary=word_boundary)
    counts = ", ".join(f"{n}-grams: {c}" for n, c in model.counts.items())
    click.echo(f"wrote {out} ({counts})")


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
    """Grid-search LM weight x insertion bonus of the beam search on a dev MANIFEST (the model runs once)."""
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
@_friendly
def evaluate(checkpoint: Path, manifest: Path, out_dir: Path | None, device: str, fold: str | None,
             decoder: str | None, overrides: tuple[str, ...]) -> None:
    """Decode MANIFEST and print the error rate (PER or CER, and WER) with its 95% CI and S/D/I counts."""
    from seqlabel import api

    click.echo(api.evaluate(checkpoint, manifest, out_dir, device=device, fold=fold,
                            overrides=_decode_overrides(decoder, overrides)).summary())


@main.command()
@click.argument("ref", type=click.Path(path_type=Path))
@click.argument("hyp", type=click.Path(path_type=Path))
@_UNIT
@_BOUNDARY
@_ALLOW_MISSING
@_FOLD
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help=f"Folder for the reports ({_REPORTS}).")
@click.option("--report", type=click.Path(path_type=Path), help="Write a per-utterance TSV report here.")
@_friendly
def score(ref: Path, hyp: Path, unit: str, word_boundary: str, allow_missing: bool, fold: str | None,
          out_dir: Path | None, report: Path | None) -> None:
    """Score HYP against REF (both Kaldi text: `utt-id tok tok ...`); speakers are the id prefixes."""
    from seqlabel import api
    from seqlabel.scoring.metrics import utterance_report

    result = api.score_files(ref, hyp, unit, word_boundary, allow_missing, fold=fold, out_dir=out_dir)
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
@click.option("--method", type=click.Choice(["mapsswe", "bootstrap"]), default="mapsswe", show_default=True,
              help="sclite's matched-pairs sentence-segment test, or a paired bootstrap over utterances.")
@click.option("--resamples", type=click.IntRange(min=1), default=1000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@_friendly
def compare(ref: Path, hyp_a: Path, hyp_b: Path, unit: str, word_boundary: str, allow_missing: bool,
            fold: str | None, method: str, resamples: int, seed: int) -> None:
    """Is HYP_B better or worse than HYP_A on REF? Both error rates, the difference and a two-sided p-value."""
    from seqlabel import api

    result = api.compare_files(ref, hyp_a, hyp_b, unit, word_boundary, fold, method, allow_missing, resamples, seed)
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
