"""``train.weight_noise_phase`` as one object: when Gaussian weight noise applies, what each phase
of training minimises, where its best point is kept, what running out of patience means, and what
the end of training says.

``epoch``: one phase; noise from ``train.weight_noise_start_epoch`` on, continuing from the current
weights; the dev error rate is minimised (ranked by the dev loss while it is 100% or more: the blank
plateau, see ``plateau_aware``) and its best point kept as ``best.pt``.
``restart`` (Graves, Mohamed & Hinton 2013): phase 1 without noise minimises the dev CTC loss and
keeps its best point as ``phase1.pt``; when its patience runs out, phase 2 restarts from
``phase1.pt`` with noise (the loop reloads it with a fresh optimizer), minimises the dev error rate
and keeps ``best.pt``. A run that ends in phase 1 keeps ``phase1.pt`` as ``best.pt``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from seqlabel.config import TrainConfig
from seqlabel.training.folder import BEST, PHASE1
from seqlabel.training.state import Progress


@dataclass(frozen=True)
class NoiseSchedule:
    config: TrainConfig

    @property
    def restart(self) -> bool:
        return self.config.weight_noise_phase == "restart"

    def in_phase1(self, progress: Progress) -> bool:
        """Whether training is in the noise-free phase 1 of a restart schedule."""
        return self.restart and progress.phase == 1

    def noise(self, phase: int, epoch: int) -> float:
        """The weight noise std of an epoch."""
        if self.restart:
            return self.config.weight_noise if phase == 2 else 0.0
        return self.config.weight_noise if epoch >= self.config.weight_noise_start_epoch else 0.0

    def metric(self, progress: Progress, dev_loss: float, dev_error: float) -> float:
        """What the current phase minimises: the dev loss in phase 1, else the dev error rate (see
        ``plateau_aware``)."""
        return dev_loss if self.in_phase1(progress) else plateau_aware(dev_error, dev_loss)

    def best_file(self, progress: Progress) -> str:
        """The run-folder file that keeps the current phase's best point."""
        return PHASE1 if self.in_phase1(progress) else BEST

    def switches_on_patience(self, progress: Progress) -> bool:
        """True: running out of patience starts phase 2 (restart, phase 1); False: it stops training."""
        return self.in_phase1(progress)

    def start_phase2(self, progress: Progress) -> None:
        """Progress at the switch: phase 2 from now, its best and patience counted afresh."""
        progress.phase, progress.phase1_end, progress.best, progress.bad_epochs = 2, progress.epoch, float("inf"), 0
        progress.best_error = math.nan

    def keeps_phase1_as_best(self, progress: Progress) -> bool:
        """A restart run that ended in phase 1: its best point is phase1.pt."""
        return self.in_phase1(progress)

    def ending(self, progress: Progress) -> Optional[str]:
        """What the end of training says about its phases (None: one phase, nothing to say)."""
        if self.in_phase1(progress):
            return (f"training ended at epoch {progress.epoch} in phase 1 (train.max_epochs={self.config.max_epochs}), "
                    f"before the weight-noise phase; {BEST} is {PHASE1}")
        if self.restart:
            return (f"training ended: phase 1 (no weight noise) at epoch {progress.phase1_end}, phase 2 (weight "
                    f"noise {self.config.weight_noise}, from {PHASE1}) at epoch {progress.epoch}")
        return None


def plateau_aware(dev_error: float, dev_loss: float) -> float:
    """The dev error rate, except while it is 100% or more (the blank plateau at the start of CTC training,
    when every hypothesis is empty, or output that is all wrong): then ``1 + log(1 + dev loss)``, so that a
    falling dev loss counts as progress and neither the plateau learning-rate schedule nor early stopping
    ends a run that has not left the plateau yet. Any epoch below 100% ranks better than every such one."""
    if dev_error < 1.0 or not math.isfinite(dev_loss):
        return dev_error
    return 1.0 + math.log1p(max(dev_loss, 0.0))
