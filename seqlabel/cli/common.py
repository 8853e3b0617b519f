"""``seqlabel`` command line: a thin click layer over ``seqlabel.api``.

Heavy imports (torch) happen inside commands so ``--help`` is fast. User-facing errors
(SeqlabelError) are printed as ``Error: ...`` without a traceback, exit status 1.
"""
from __future__ import annotations

import functools
import logging
import math
import sys
from typing import Any, Callable

import click
import yaml

from seqlabel.config.loading import parse_yaml
from seqlabel.errors import SeqlabelError
from seqlabel.logs import ROOT, MainRankOnly


def friendly(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SeqlabelError as e:
            raise click.ClickException(str(e)) from None
    return wrapper


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r} must look like key=value", param_hint="--option")
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = parse_yaml(value)
        except (yaml.YAMLError, SeqlabelError) as e:
            raise click.BadParameter(f"{pair!r}: the value is not valid YAML ({str(e).splitlines()[0]})",
                                     param_hint="--option") from None
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
    install_logging()



DECODER = click.option("--decoder", type=click.Choice(["greedy", "beam"]),
                        help="Decoder [default: the checkpoint's decode.decoder]; same as -o decode.decoder=...")
DECODE_OVERRIDES = click.option("-o", "--override", "overrides", multiple=True, metavar="decode.KEY=VALUE",
                                 help="Change a decode setting of the checkpoint, e.g. -o decode.beam=32 "
                                      "-o decode.lm=lm.arpa (repeatable).")
ADAPT_NORMS = click.option("--adapt-norms", is_flag=True,
                           help="Decode speaker by speaker (manuscript by manuscript), the CNN front end's "
                                "batch-norm statistics re-estimated on that speaker's utterances first (AdaBN; see "
                                "seqlabel adapt).")


def decode_overrides(decoder: str | None, overrides: tuple[str, ...]) -> list[str]:
    return [*overrides, *([f"decode.decoder={decoder}"] if decoder else [])]



class _ClickHandler(logging.Handler):
    """The package's messages on the current stdout (INFO) or stderr (warnings and errors), through
    click so that test runners capture them; under torchrun, rank 0's only."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.addFilter(MainRankOnly())

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(record.getMessage(), err=record.levelno >= logging.WARNING)


def install_logging() -> None:
    """Show the package's messages (``seqlabel.logs``), once per process."""
    logger = logging.getLogger(ROOT)
    if not any(isinstance(h, _ClickHandler) for h in logger.handlers):
        logger.addHandler(_ClickHandler())
        logger.setLevel(logging.INFO)


def _one_character(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if len(value) != 1 or value.isspace():  # '' or ' ' would make every utterance one word: a wrong WER, silently
        raise click.BadParameter(f"must be one non-space character (the token between words), got {value!r}")
    return value


WORD_BOUNDARY = click.option("--word-boundary", default="|", show_default=True, callback=_one_character,
                             help="The token between words (data.word_boundary of the model).")


def floats(text: str, name: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = [math.nan]
    if not all(map(math.isfinite, values)):  # nan and inf parse as floats, and no setting takes them
        raise click.BadParameter(f"{text!r} must be comma-separated numbers, finite (not nan or inf), e.g. "
                                 "0.2,0.5,0.8", param_hint=name)
    return values




if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
