"""Commands that run a trained model: decode, transcribe, align, export, tune, and LM training."""
from __future__ import annotations

import sys
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


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Hypotheses in Kaldi text format.")
@DECODER
@DECODE_OVERRIDES
@click.option("--ctm", type=click.Path(path_type=Path), help="Also write a CTM: utt channel start dur token conf.")
@click.option("--ctm-level", type=click.Choice(["token", "word"]), default="token", show_default=True,
              help="CTM lines per token, or per word (character models).")
@click.option("--nbest-out", type=click.Path(path_type=Path),
              help="Also write the n-best lists (decode.nbest) as TSV: id, rank, scores, confidence, tokens.")
@click.option("--device", default="auto", show_default=True)
@ADAPT_NORMS
@friendly
def decode(checkpoint: Path, manifest: Path, out: Path, decoder: str | None, overrides: tuple[str, ...],
           ctm: Path | None, ctm_level: str, nbest_out: Path | None, device: str, adapt_norms: bool) -> None:
    """Transcribe MANIFEST with CHECKPOINT; write `utt-id tok tok ...` lines."""
    from seqlabel import api

    hyps = api.decode(checkpoint, manifest, out, device=device, overrides=decode_overrides(decoder, overrides),
                      ctm=ctm, ctm_level=ctm_level, nbest_out=nbest_out, adapt_norms=adapt_norms)
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
@click.option("--adapt-norms", is_flag=True,
              help="The inputs are one manuscript (or speaker): re-estimate the CNN front end's batch-norm statistics "
                   "on them all before decoding (AdaBN; see seqlabel adapt).")
@DECODER
@DECODE_OVERRIDES
@click.option("--device", default="auto", show_default=True)
@friendly
def transcribe(checkpoint: Path, inputs: tuple[Path, ...], out: Path | None, fmt: str, ctm: Path | None,
               ctm_level: str, same_speaker: bool, adapt_norms: bool, decoder: str | None,
               overrides: tuple[str, ...], device: str) -> None:
    """Transcribe audio, line-image or stroke files, or folders of them (searched recursively for the
    files CHECKPOINT reads), without a manifest. Prints `path<TAB>transcript` lines in input order.

    \b
    Ids (kaldi, jsonl, CTM): the path with %, whitespace and unprintable characters
    percent-encoded (a space is %20). A file that cannot be read is named on stderr and
    skipped; the exit status is then 1.
    """
    from seqlabel import api

    stream = out if out is not None else sys.stdout
    results = api.transcribe(checkpoint, inputs, decoder, overrides, device, stream, fmt, ctm, ctm_level,
                             same_speaker, progress=sys.stderr.isatty(), adapt_norms=adapt_norms)
    failed = sum(not r.ok for r in results)
    if out is not None:
        click.echo(f"wrote {len(results) - failed} transcripts to {out}" + (f" and {ctm}" if ctm else ""))
    if failed:
        raise click.ClickException(f"{failed} of {len(results)} files could not be transcribed (named above)")


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="CTM file to write.")
@click.option("--level", type=click.Choice(["token", "word"]), default="token", show_default=True,
              help="CTM lines per token, or per word (character models).")
@ADAPT_NORMS
@click.option("--device", default="auto", show_default=True)
@friendly
def align(checkpoint: Path, manifest: Path, out: Path, level: str, adapt_norms: bool, device: str) -> None:
    """Force-align the transcripts of MANIFEST to CHECKPOINT's outputs; write token (or word) times as CTM."""
    from seqlabel import api

    hyps = api.align(checkpoint, manifest, out, device=device, level=level, adapt_norms=adapt_norms)
    click.echo(f"aligned {len(hyps)} utterances; wrote {out}")


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Adapted checkpoint to write.")
@click.option("--weight", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help="Share of the new statistics (1: MANIFEST's alone; 0: the trained ones).")
@click.option("--device", default="auto", show_default=True)
@friendly
def adapt(checkpoint: Path, manifest: Path, out: Path, weight: float, device: str) -> None:
    """Adapt CHECKPOINT to a new manuscript (or speaker) without transcripts: re-estimate the batch-norm
    statistics of its CNN front end on the utterances of MANIFEST (AdaBN, Li et al. 2016); weights unchanged.

    \b
    For a manifest of several manuscripts, `evaluate`/`decode --adapt-norms` adapt to each in turn."""
    from seqlabel import api

    n = api.adapt(checkpoint, manifest, out, weight, device, progress=sys.stderr.isatty())
    click.echo(f"wrote {out} (batch norms re-estimated on {n} utterances of {manifest}, weight {weight:g})")


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["torchscript", "onnx"]), default="torchscript", show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Exported model file (.pt or .onnx).")
@friendly
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
@WORD_BOUNDARY
@click.option("--text", "text", multiple=True, type=click.Path(path_type=Path),
              help="Plain text file or folder of .txt files, one sentence or paragraph a line (repeatable).")
@click.option("--vocab", type=click.Path(path_type=Path),
              help="Checkpoint or tokens.txt: map --text onto the characters that model outputs (others dropped).")
@click.option("--normalize", "normalization", type=click.Choice(["NFC", "NFD", "NFKC", "NFKD", "none"]),
              default="NFC", show_default=True, help="Unicode normalisation of --text (use the model's).")
@click.option("--map", "table", type=click.Path(path_type=Path),
              help="Mapping table for --text: char<TAB>replacement per line (empty: drop), applied first.")
@click.option("--spelling", help="Rewrite --text into a target's conventions as `prepare render` does: a bundled "
              "table name (caroline) or a .spelling.tsv file.")
@friendly
def lm_train(manifests: tuple[Path, ...], out: Path, unit: str, order: int, smoothing: str, word_boundary: str,
             text: tuple[Path, ...], vocab: Path | None, normalization: str, table: Path | None,
             spelling: str | None) -> None:
    """Train an n-gram LM on the transcripts of MANIFESTS (JSONL manifests or text files, one sentence a line)
    and on --text (normalised, and with --vocab mapped onto a model's characters)."""
    from seqlabel import api
    from seqlabel.lm.corpus import discount_note

    if (vocab or table or spelling) and not text:
        raise click.UsageError("--vocab, --map and --spelling apply to --text input; add --text PATH")
    if not manifests and not text:
        raise click.UsageError("give MANIFESTS, --text PATH, or both")
    model = api.train_lm(manifests, out, unit=unit, order=order, smoothing=smoothing, word_boundary=word_boundary,
                         text=text, vocab=vocab, normalization=normalization, table=table, spelling=spelling)
    counts = ", ".join(f"{n}-grams: {c}" for n, c in model.counts.items())
    click.echo(f"wrote {out} ({counts})")
    note = discount_note(model)
    if note:
        click.echo(note)


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
@ADAPT_NORMS
@DECODE_OVERRIDES
@click.option("--device", default="auto", show_default=True)
@friendly
def tune(checkpoint: Path, manifest: Path, lm_path: Path | None, lm_unit: str | None, lexicon: Path | None,
         weights: str, bonuses: str, beam: int | None, metric: str | None, adapt_norms: bool,
         overrides: tuple[str, ...], device: str) -> None:
    """Grid-search LM weight x insertion bonus of the beam search on a dev MANIFEST (the model runs once).

    Prints the table, then `best:` with the options that decode as the best setting (or `--decoder
    greedy` when no setting beats greedy decoding); without an LM only the insertion bonus is tuned."""
    from seqlabel import api

    extra = [f"decode.{k}={v}" for k, v in (("lm", lm_path), ("lm_unit", lm_unit), ("lexicon", lexicon),
                                            ("beam", beam)) if v is not None]
    report = api.tune(checkpoint, manifest, floats(weights, "--weights"), floats(bonuses, "--bonus"),
                      [*overrides, *extra], device=device, metric=metric, adapt_norms=adapt_norms)
    click.echo(report.table())
