"""Commands that make data and models: prepare, configs, train, average, crossval, pseudolabel."""
from __future__ import annotations

import json
from pathlib import Path

import click

from seqlabel.cli.common import WORD_BOUNDARY, friendly, main, parse_options


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
@friendly
def prepare(corpus: str, data_dir: Path | None, out_dir: Path | None, options: tuple[str, ...]) -> None:
    """Prepare CORPUS: write train/dev/test JSONL manifests (the corpora and their options are listed below)."""
    from seqlabel import api

    paths = api.prepare(corpus, data_dir, out_dir, **parse_options(options))
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
@friendly
def train(config: str | None, out_dir: str, overrides: tuple[str, ...], resume: bool, init_from: Path | None) -> None:
    """Train a model from CONFIG: a YAML file, or the name of a shipped config (`seqlabel configs` lists
    them). best.pt, last.pt, log.csv and config.yaml go to --out.

    With --resume, CONFIG may be omitted: the run goes on with its own config.yaml (a CONFIG given must be
    the one it started from); -o may then change only what is safe mid-run (train.max_epochs,
    train.early_stop_patience, train.device, train.threads, ...; others are refused, saying why).
    """

    from seqlabel import api
    from seqlabel.training.distributed import from_environment

    extra = [f"train.init_from={json.dumps(str(init_from))}"] if init_from is not None else []
    result = api.train(config, out_dir, [*overrides, *extra], resume=resume)
    env = from_environment()
    if env is not None and env.rank != 0:  # under torchrun only rank 0 reports
        return
    if result.best_train_loss is not None:
        click.echo(f"no dev set: best checkpoint {result.best_checkpoint} is the epoch of lowest training loss "
                   f"({result.best_train_loss:.3f})")
    else:
        click.echo(f"best checkpoint: {result.best_checkpoint} (dev error {100 * result.best_dev_error:.2f}%)")


@main.command("configs")
@friendly
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
@friendly
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
@click.option("--fold", "only", multiple=True, type=click.IntRange(min=1), metavar="K",
              help="Train only fold K (repeatable): a subset of the folds, or folds spread over machines that "
                   "share --out. The summary covers every fold done so far.")
@click.option("-o", "--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Dotted config override, e.g. -o train.max_epochs=20 (repeatable).")
@friendly
def crossval(config: Path, by: str, folds: int, out_dir: Path, pool: tuple[Path, ...], dev_fraction: float,
             dev_speakers: int, only: tuple[int, ...], overrides: tuple[str, ...]) -> None:
    """Cross-validate CONFIG by speaker: train one model per fold with its speakers held out, score it on them,
    and print every fold's error rate, their mean, spread and worst, and the pooled rate with its 95% CI."""
    from seqlabel import api

    report = api.crossval(config, out_dir, folds, pool, by, dev_fraction, overrides, dev_speakers=dev_speakers,
                          only=only)
    click.echo(report.table())
    click.echo(f"wrote {out_dir / 'summary.json'} and {out_dir / 'summary.txt'}")


@main.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.argument("hypotheses", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Manifest of the pseudo-labelled utterances.")
@click.option("--min-agree", type=click.IntRange(min=1), help="Systems that must give the same hypothesis "
              "[default: all of them].")
@click.option("--min-conf", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Least mean confidence of the agreeing systems in their least sure token (CTM files).")
@click.option("--unit", type=click.Choice(["char", "phone"]), default="char", show_default=True,
              help="The models' data.unit: how hypothesis tokens become manifest text.")
@WORD_BOUNDARY
@friendly
def pseudolabel(manifest: Path, hypotheses: tuple[Path, ...], out: Path, min_agree: int | None, min_conf: float,
                unit: str, word_boundary: str) -> None:
    """Pseudo-labels for self-training: the utterances of MANIFEST (untranscribed, or a new speaker's) on
    which the systems' HYPOTHESES (Kaldi text or CTM files of `decode`, one per model) agree, with that
    hypothesis as their text. Train on them beside the labelled data, starting from a model:
    `seqlabel train CONFIG --init-from BEST.pt -o data.extra_train=[OUT]`."""
    from seqlabel import api

    labels = api.pseudolabel(manifest, hypotheses, out, min_agree, min_conf, unit, word_boundary)
    click.echo(f"{labels.summary()}; wrote {out}")
