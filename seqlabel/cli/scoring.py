"""Commands that score and show results: evaluate, report, score, compare, combine (ROVER), plot."""
from __future__ import annotations

from pathlib import Path

import click

from seqlabel.cli.common import (
    ADAPT_NORMS,
    DECODE_OVERRIDES,
    DECODER,
    WORD_BOUNDARY,
    decode_overrides,
    floats,
    friendly,
    main,
)
from seqlabel.scoring.rover import METHODS

_FOLD = click.option("--fold", type=click.Choice(["timit39", "timit48"]),
                     help="Fold TIMIT phones in references and hypotheses before scoring (phone units only).")
_UNIT = click.option("--unit", type=click.Choice(["char", "phone", "word"]), default="char", show_default=True,
                     help="What the tokens are; char also reports WER by splitting at the word boundary.")
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
@DECODER
@DECODE_OVERRIDES
@click.option("--keep-posteriors", is_flag=True,
              help="Also keep the log-probs (float16) and token confidences in OUT/posteriors.npz, for the report.")
@click.option("--html", is_flag=True, help="Also write the HTML report to OUT/report/index.html.")
@ADAPT_NORMS
@friendly
def evaluate(checkpoint: Path, manifest: Path, out_dir: Path | None, device: str, fold: str | None,
             decoder: str | None, overrides: tuple[str, ...], keep_posteriors: bool, html: bool,
             adapt_norms: bool) -> None:
    """Decode MANIFEST and print the error rate (PER or CER, and WER) with its 95% CI and S/D/I counts.

    References and hypotheses are put in the model's Unicode normal form first; reference tokens the
    model does not have are scored (as errors) and counted in the summary."""
    from seqlabel import api

    if (keep_posteriors or html) and out_dir is None:
        raise click.UsageError("--keep-posteriors and --html write into the evaluation folder: add --out DIR")
    click.echo(api.evaluate(checkpoint, manifest, out_dir, device=device, fold=fold,
                            overrides=decode_overrides(decoder, overrides), keep_posteriors=keep_posteriors,
                            html=html, adapt_norms=adapt_norms).summary())
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
@friendly
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
@WORD_BOUNDARY
@_ALLOW_MISSING
@_FOLD
@_NORMALIZE
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help=f"Folder for the reports ({_REPORTS}).")
@click.option("--report", type=click.Path(path_type=Path), help="Write a per-utterance TSV report here.")
@friendly
def score(ref: Path, hyp: Path, unit: str, word_boundary: str, allow_missing: bool, fold: str | None,
          normalize: str, out_dir: Path | None, report: Path | None) -> None:
    """Score HYP against REF (both Kaldi text: `utt-id tok tok ...`); speakers are the id prefixes."""
    from seqlabel import api
    from seqlabel.outputs import check_output_file
    from seqlabel.scoring.metrics import utterance_report

    if report is not None:
        check_output_file(report, "--report", inputs=(ref, hyp))
    result = api.score_files(ref, hyp, unit, word_boundary, allow_missing, fold=fold, out_dir=out_dir,
                             normalize=normalize)
    click.echo(result.summary())
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(utterance_report(result.tokens), encoding="utf-8")


@main.command()
@click.argument("ref", type=click.Path(path_type=Path))
@click.argument("hyp_a", type=click.Path(path_type=Path))
@click.argument("hyp_b", type=click.Path(path_type=Path))
@_UNIT
@WORD_BOUNDARY
@_ALLOW_MISSING
@_FOLD
@_NORMALIZE
@click.option("--method", type=click.Choice(["mapsswe", "bootstrap"]), default="mapsswe", show_default=True,
              help="sclite's matched-pairs sentence-segment test, or a paired bootstrap over utterances.")
@click.option("--resamples", type=click.IntRange(min=1), default=1000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@friendly
def compare(ref: Path, hyp_a: Path, hyp_b: Path, unit: str, word_boundary: str, allow_missing: bool,
            fold: str | None, normalize: str, method: str, resamples: int, seed: int) -> None:
    """Is HYP_B better or worse than HYP_A on REF? Both error rates, the difference and a two-sided p-value."""
    from seqlabel import api

    result = api.compare_files(ref, hyp_a, hyp_b, unit, word_boundary, fold, method, allow_missing, resamples, seed,
                               normalize=normalize)
    click.echo(result.summary())


@main.command()
@click.argument("hypotheses", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Combined hypotheses (Kaldi text).")
@click.option("--by", type=click.Choice(["word", "token"]), default="word", show_default=True,
              help="Vote on words (character models; split at --word-boundary) or on each token (phones, or files "
                   "whose tokens are words, such as word-level CTMs).")
@WORD_BOUNDARY
@click.option("--weights", help="One weight per file, comma-separated (default: 1 each).")
@click.option("--method", type=click.Choice(METHODS), default="freq", show_default=True,
              help="Vote by counts alone, or by alpha x share of the systems + (1 - alpha) x their mean (or highest) "
                   "confidence in the word (CTM files).")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Weight of the count against the confidence (avgconf, maxconf); set it on a dev set.")
@click.option("--null-conf", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Confidence of 'no word here' (avgconf, maxconf); set it on a dev set.")
@friendly
def combine(hypotheses: tuple[Path, ...], out: Path, by: str, word_boundary: str, weights: str | None, method: str,
            alpha: float, null_conf: float) -> None:
    """Combine several systems' HYPOTHESES (Kaldi text files of the same utterances, e.g. the hyp.txt of
    `decode` or `evaluate` with different models, or the CTMs of `decode --ctm`) by voting: ROVER (Fiscus
    1997). Each utterance's hypotheses are aligned word by word; each position takes the word most systems
    have there (ties: the earliest file, so list the best system first), or with --method avgconf|maxconf
    the word with the best mix of votes and confidence. Score the result with `seqlabel score`."""
    from seqlabel import api

    combined = api.combine(hypotheses, out, by, word_boundary, floats(weights, "--weights") if weights else None,
                           method=method, alpha=alpha, null_conf=null_conf)
    click.echo(f"combined {len(hypotheses)} systems' hypotheses of {len(combined)} utterances into {out}")


@main.group()
def plot() -> None:
    """Draw PNG pictures: training curves, posteriorgrams."""


@plot.command()
@click.argument("run", type=click.Path(path_type=Path), metavar="EXPDIR_OR_LOG_CSV")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="PNG file to write.")
@friendly
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
@friendly
def posteriorgram(checkpoint: Path, manifest: Path, utt_id: str, out: Path, device: str) -> None:
    """Posteriors of utterance UTT_ID (frames x labels) with its reference and the hypothesis `decode` gives it."""
    from seqlabel import api

    click.echo(f"wrote {api.plot_posteriorgram(checkpoint, manifest, utt_id, out, device)}")
