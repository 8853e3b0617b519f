"""What the training loop writes besides checkpoints, and its skip bookkeeping: the per-epoch
``log.csv`` (and TensorBoard), ``skipped.tsv`` with the ids of every skipped utterance, the
per-epoch totals (``EpochStats``) and the stop on persistent non-finite steps.
"""
from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

from seqlabel.config import TrainConfig
from seqlabel.errors import DataError, SeqlabelError
from seqlabel.training import distributed
from seqlabel.training.folder import LOG as LOG_NAME
from seqlabel.training.folder import SKIPPED as SKIPPED_NAME

log = logging.getLogger(__name__)

# phase: 1, or 2 after the restart of train.weight_noise_phase: restart
LOG_FIELDS = ["epoch", "phase", "step", "lr", "train_loss", "dev_loss", "dev_error", "skipped_infeasible",
              "skipped_nonfinite", "epoch_seconds", "frames_per_second"]


@dataclass(frozen=True)
class Skip:
    """What ``train_step`` skipped: ``ctc_infeasible`` utterances, or a whole batch whose loss
    (``nonfinite_loss``) or gradient norm (``nonfinite_grad``) was NaN or infinite."""

    reason: str
    ids: tuple[str, ...]


@dataclass
class EpochStats:
    loss_sum: float = 0.0
    utterances: int = 0
    frames: int = 0
    skipped_infeasible: int = 0
    skipped_nonfinite: int = 0
    nonfinite_run: int = 0  # consecutive non-finite batches up to now
    seconds: float = 0.0  # time spent in the epoch before a mid-epoch checkpoint (resume)

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.utterances, 1)


def reduced(stats: EpochStats) -> EpochStats:
    """The epoch's totals over all ranks (the non-finite counts are global already: ranks skip together)."""
    if distributed.world_size() == 1:
        return stats
    loss_sum, utterances, frames, infeasible = distributed.all_sum(
        [stats.loss_sum, stats.utterances, stats.frames, stats.skipped_infeasible])
    return replace(stats, loss_sum=loss_sum, utterances=int(utterances), frames=int(frames),
                   skipped_infeasible=int(infeasible))


def rank_share(saved: EpochStats, main: bool) -> EpochStats:
    """This rank's part of the totals a mid-epoch checkpoint holds: rank 0 carries them on, the
    others start from zero (but for the global non-finite counters)."""
    if main:
        return saved
    return EpochStats(skipped_nonfinite=saved.skipped_nonfinite, nonfinite_run=saved.nonfinite_run,
                      seconds=saved.seconds)


def nonfinite(stats: EpochStats, reason: str, ids: list[str]) -> Skip:
    """Count a batch skipped for a non-finite loss or gradient."""
    stats.skipped_nonfinite += 1
    stats.nonfinite_run += 1
    return Skip(reason, tuple(ids))


def report_skips(path: Path, epoch: int, index: int, skips: list[Skip]) -> None:
    """Append the skips of batch ``index`` to ``skipped.tsv``; log the non-finite ones (infeasible
    utterances are summed up at the end of the epoch)."""
    if not skips:
        return
    new = size(path) == 0
    with path.open("a", encoding="utf-8") as f:
        if new:
            f.write("epoch\tbatch\treason\tids\n")
        for skip in skips:
            f.write(f"{epoch}\t{index}\t{skip.reason}\t{','.join(skip.ids)}\n")
    for skip in skips:
        if skip.reason != "ctc_infeasible":
            log.info(f"epoch {epoch}, batch {index}: {skip.reason.replace('_', ' ')}, step skipped; "
                 f"utterances: {', '.join(skip.ids)}")


def check_nonfinite(stats: EpochStats, tc: TrainConfig, epoch: int, index: int, n_batches: int,
                    skips: list[Skip], out_dir: Path) -> None:
    """Stop when non-finite batches persist: ``max_nonfinite_steps`` in a row, or more than
    ``max_nonfinite_fraction`` of the epoch's batches."""
    consecutive = tc.max_nonfinite_steps > 0 and stats.nonfinite_run >= tc.max_nonfinite_steps
    too_many = stats.skipped_nonfinite > tc.max_nonfinite_fraction * n_batches
    if not (consecutive or too_many):
        return
    why = (f"{stats.nonfinite_run} consecutive batches (train.max_nonfinite_steps={tc.max_nonfinite_steps})"
           if consecutive else f"{stats.skipped_nonfinite} of the {n_batches} batches of the epoch "
           f"(train.max_nonfinite_fraction={tc.max_nonfinite_fraction})")
    last = next((s for s in reversed(skips) if s.reason != "ctc_infeasible"), None)
    raise SeqlabelError(
        f"training stopped at epoch {epoch}, batch {index}: non-finite loss or gradient in {why}; last batch: "
        f"{', '.join(last.ids) if last else '?'} (all listed in {out_dir / SKIPPED_NAME}). Lower train.lr, set "
        f"train.grad_clip, or check those utterances' features and transcripts; then train again or --resume "
        f"from {out_dir / 'last.pt'}")


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def log_sizes(out_dir: Path) -> dict[str, int]:
    """The sizes of the log files now: a checkpoint keeps them for ``truncate_logs``."""
    return {name: size(out_dir / name) for name in (LOG_NAME, SKIPPED_NAME)}


def truncate_logs(out_dir: Path, sizes: dict[str, int]) -> None:
    """Cut log files back to their size when the checkpoint was written, so rows written after it
    (by a run that was then killed) are not duplicated when the resumed run writes them again."""
    for name, length in sizes.items():
        path = out_dir / name
        if size(path) > length:
            with path.open("r+b") as f:
                f.truncate(length)


def tensorboard(out_dir: Path, enabled: bool, first_epoch: int = 1):
    """A SummaryWriter for ``out_dir/tensorboard`` (None when disabled or not installed); events of
    epochs from ``first_epoch`` on, left by a killed run, are purged so a resumed run does not repeat them."""
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.info("tensorboard is not installed; logging to log.csv only (pip install tensorboard)")
        return None
    return SummaryWriter(str(out_dir / "tensorboard"), purge_step=first_epoch if first_epoch > 1 else None)


def check_log(path: Path) -> None:
    """Refuse a ``log.csv`` a resumed run could not append to (not a UTF-8 CSV whose header starts with
    ``epoch``: overwritten by another file, say), before any epoch is trained."""
    if size(path) == 0:
        return
    try:
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
    except (UnicodeDecodeError, csv.Error):
        header = []
    if header[:1] != ["epoch"]:
        raise DataError(f"{path} is not a seqlabel training log (a UTF-8 CSV whose header starts with epoch): "
                        "restore it, or move it away (the resumed run then starts a new one), and --resume again")


def log_row(path: Path, row: dict, writer) -> None:
    """Append one epoch's row to ``log.csv`` (under the header it already has: a run resumed from an
    older version keeps its columns) and to TensorBoard."""
    new = size(path) == 0  # absent, or cut back to nothing by truncate_logs
    fields = LOG_FIELDS
    if not new:
        with path.open(newline="", encoding="utf-8") as f:
            fields = next(csv.reader(f), LOG_FIELDS)
    with path.open("a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(row)
    if writer is not None:
        for key in ("lr", "train_loss", "dev_loss", "dev_error"):
            if not (isinstance(row[key], float) and math.isnan(row[key])):
                writer.add_scalar(key, row[key], row["epoch"])
        writer.flush()
