"""Pictures as PNG files: training curves from ``log.csv`` and one utterance's posteriorgram.

Drawing is matplotlib's object API on an Agg canvas, imported when a plot is made: no pyplot,
no global backend switch, nothing at import time. The functions here take plain data; the
model work (checkpoint -> posteriors) is ``seqlabel.api.posteriorgram``.
"""
from __future__ import annotations

import csv
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from seqlabel.errors import DataError, SeqlabelError

_CURVE_COLUMNS = ("epoch", "lr", "train_loss", "dev_loss", "dev_error")


@dataclass(frozen=True)
class TrainingLog:
    """The per-epoch columns of a training run's ``log.csv`` (NaN where there was no dev set)."""

    epoch: tuple[int, ...]
    lr: tuple[float, ...]
    train_loss: tuple[float, ...]
    dev_loss: tuple[float, ...]
    dev_error: tuple[float, ...]  # fraction


def run_files(run: str | Path) -> list[Path]:
    """The files of a run folder (or the log file given) that a plot must never be written over (PNGs aside)."""
    run = Path(run)
    return [p for p in run.iterdir() if p.is_file() and p.suffix != ".png"] if run.is_dir() else [run]


def read_log(path: str | Path) -> TrainingLog:
    """Read ``log.csv`` (or a run folder holding one). Errors name the file and the line."""
    path = Path(path)
    if path.is_dir():
        path = path / "log.csv"
    if not path.is_file():
        raise DataError(f"training log not found: {path} (pass a run folder or its log.csv)")
    with path.open(newline="", encoding="utf-8") as f:
        try:
            reader = csv.DictReader(f)
            missing = [c for c in _CURVE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: missing column(s) {missing}; is this a seqlabel log.csv?")
            columns: dict[str, list[float]] = {c: [] for c in _CURVE_COLUMNS}
            for lineno, row in enumerate(reader, 2):
                try:
                    for c in _CURVE_COLUMNS:
                        columns[c].append(float(row[c]) if row[c] not in ("", None) else math.nan)
                except ValueError as e:
                    raise DataError(f"{path}:{lineno}: not a number ({e})") from None
        except (UnicodeDecodeError, csv.Error) as e:
            raise DataError(f"{path} is not a UTF-8 CSV file ({e}); is this a seqlabel log.csv?") from None
    if not columns["epoch"]:
        raise DataError(f"{path} holds no epochs yet")
    return TrainingLog(tuple(int(e) for e in columns["epoch"]), *(tuple(columns[c]) for c in _CURVE_COLUMNS[1:]))


def draw_curves(log: TrainingLog, out: str | Path, name: str = "") -> Path:
    """Loss (train, dev) and dev error per epoch, one panel each; dotted lines where the lr changed."""
    Figure, Canvas = _matplotlib()
    fig = Figure(figsize=(8, 6), layout="constrained")
    Canvas(fig)
    loss_ax, err_ax = fig.subplots(2, 1, sharex=True)
    epochs = np.array(log.epoch)
    loss_ax.plot(epochs, log.train_loss, "o-", ms=3, label="train loss")
    if not np.all(np.isnan(log.dev_loss)):
        loss_ax.plot(epochs, log.dev_loss, "s-", ms=3, label="dev loss")
    losses = np.array([*log.train_loss, *log.dev_loss])
    losses = losses[np.isfinite(losses) & (losses > 0)]
    if losses.size and losses.max() > 10 * losses.min():  # a first-epoch loss would flatten the rest
        loss_ax.set_yscale("log")
    loss_ax.set_ylabel("CTC loss per utterance")
    loss_ax.legend(loc="best")
    if not np.all(np.isnan(log.dev_error)):
        dev = 100 * np.array(log.dev_error)
        err_ax.plot(epochs, dev, "o-", ms=3, color="C2", label="dev error")
        best = int(np.nanargmin(dev))
        err_ax.plot(epochs[best], dev[best], "*", ms=12, color="C3", label=f"best {dev[best]:.2f}% (epoch {epochs[best]})")
        err_ax.legend(loc="best")
    else:
        err_ax.text(0.5, 0.5, "no dev set", transform=err_ax.transAxes, ha="center", va="center")
    err_ax.set_ylabel("dev error rate (%)")
    err_ax.set_xlabel("epoch")
    for k in range(1, len(log.lr)):  # the lr logged at epoch e applies from epoch e + 1
        if log.lr[k] != log.lr[k - 1]:
            for ax in (loss_ax, err_ax):
                ax.axvline(epochs[k - 1] + 0.5, color="grey", ls=":", lw=1)
            err_ax.annotate(f"lr {log.lr[k]:.1e}", (epochs[k - 1] + 0.5, 1), xycoords=("data", "axes fraction"),
                            rotation=90, va="top", ha="right", fontsize=7, color="grey")
    loss_ax.set_title(f"{name + ': ' if name else ''}{len(epochs)} epochs, final lr {log.lr[-1]:.1e}")
    loss_ax.grid(alpha=0.3)
    err_ax.grid(alpha=0.3)
    return _save(fig, out)


def draw_posteriorgram(posteriors: np.ndarray, labels: Sequence[str], out: str | Path, *,
                       reference: Sequence[str] = (), hypothesis: Sequence[str] = (),
                       hypothesis_frames: Sequence[int] = (), title: str = "", min_prob: float = 0.05) -> Path:
    """posteriors (T', C) probabilities -> frames x labels image with the best label per frame and the hypothesis.

    Rows are the labels that occur: the blank (index 0), those of the reference and hypothesis,
    and any label reaching ``min_prob`` somewhere. Blue dots: the best label per frame; red
    ticks and names on top: the output frame of each hypothesis token. The reference
    and hypothesis are written above.
    """
    if posteriors.ndim != 2 or posteriors.shape[1] != len(labels):
        raise ValueError(f"posteriors must be (T', C) with C = {len(labels)} labels, got {posteriors.shape}")
    if len(hypothesis) != len(hypothesis_frames):
        raise ValueError(f"{len(hypothesis)} hypothesis tokens but {len(hypothesis_frames)} frames")
    Figure, Canvas = _matplotlib()
    frames, classes = posteriors.shape
    best = posteriors.argmax(axis=1)  # (T',)
    index = {tok: i for i, tok in enumerate(labels)}
    keep = {0, *best.tolist(), *(index[t] for t in (*reference, *hypothesis) if t in index)}
    keep |= set(np.nonzero(posteriors.max(axis=0) >= min_prob)[0].tolist())
    rows = sorted(keep)
    row_of = {c: r for r, c in enumerate(rows)}

    width = min(30.0, max(6.0, frames / 12))
    height = min(20.0, max(3.5, 1.8 + 0.22 * len(rows)))
    fig = Figure(figsize=(width, height), layout="constrained")
    Canvas(fig)
    ax = fig.subplots()
    image = ax.imshow(posteriors[:, rows].T, aspect="auto", origin="lower", cmap="magma", vmin=0.0, vmax=1.0,
                      interpolation="nearest")  # (rows, T')
    ax.plot(np.arange(frames), [row_of[c] for c in best], "o", ms=3, color="#00d0ff", mec="black", mew=0.4,
            label="best label per frame")
    for tok, t in zip(hypothesis, hypothesis_frames):
        ax.plot([t], [row_of.get(index.get(tok, -1), 0)], "|", ms=10, mew=2, color="red")
    ax.set_yticks(range(len(rows)), [labels[c] if c else "<b>" for c in rows], fontsize=8)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.6)
    ax.set_xlabel("output frame")
    ax.set_ylabel("label")
    if hypothesis_frames:
        top = ax.secondary_xaxis("top")
        top.set_xticks(list(hypothesis_frames), list(hypothesis), fontsize=7, color="red")
    fig.colorbar(image, ax=ax, label="posterior", fraction=0.03, pad=0.01)
    wrap = max(40, int(width * 14))
    text = "\n".join([title, *textwrap.wrap("REF: " + " ".join(reference), wrap),
                      *textwrap.wrap("HYP: " + " ".join(hypothesis), wrap)]).strip()
    fig.suptitle(text, fontsize=9, ha="left", x=0.01, family="monospace")
    return _save(fig, out)


def _save(fig: Any, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    return out


def _matplotlib() -> tuple[Any, Any]:
    """matplotlib's Figure and Agg canvas, imported on first use."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - matplotlib is a dependency
        raise SeqlabelError(f"plotting needs matplotlib (pip install matplotlib): {e}") from None
    return Figure, FigureCanvasAgg
