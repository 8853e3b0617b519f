"""The training run's state and how a checkpoint packs and restores it: the objects that learn
(``Learner``), the progress through the schedule (``Progress``) and every random state, so that a
resumed run continues exactly where ``last.pt`` was written (also inside an epoch, in either phase).
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from seqlabel.config import Config, TrainConfig
from seqlabel.errors import CheckpointError
from seqlabel.models.bilstm import BiLSTMCTC
from seqlabel.training import distributed
from seqlabel.training.log import EpochStats


@dataclass
class Learner:
    """The model and what updates it. ``stepper`` is the model itself or its DDP wrapper."""

    model: BiLSTMCTC
    stepper: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    scaler: torch.amp.GradScaler


@dataclass
class Progress:
    """Where the run is. ``best`` and ``bad_epochs`` follow the current phase's metric (dev error, ranked
    by dev loss while no epoch is below 100%: ``NoiseSchedule.metric``; dev loss in phase 1 of
    ``train.weight_noise_phase: restart``). ``batch`` > 0 only in a mid-epoch
    checkpoint: the batches of epoch ``epoch + 1`` already trained, with their totals in ``stats``."""

    epoch: int = 0  # last finished epoch
    step: int = 0
    best: float = math.inf
    bad_epochs: int = 0
    batch: int = 0
    stats: Optional[EpochStats] = None
    files: dict[str, int] = field(default_factory=dict)  # log sizes when the checkpoint was written
    phase: int = 1
    phase1_end: int = 0  # the last epoch of phase 1, once phase 2 has started
    best_error: float = math.nan  # dev error of the current phase's best epoch (phase1.pt's in phase 1)
    world_size: int = 1  # processes that trained it; a mid-epoch position (batch) is per process

    def state(self) -> dict[str, Any]:
        return {**asdict(self), "stats": asdict(self.stats) if self.stats else {}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Progress":
        """From a checkpoint's ``progress``; keys missing in older checkpoints keep their defaults."""
        known = {k: v for k, v in state.items() if k in cls.__dataclass_fields__}
        if "best_error" not in state and state.get("phase", 1) == 1 and "phase1_error" in state:
            known["best_error"] = state["phase1_error"]  # checkpoints before best_error: phase1.pt's error
        return cls(**{**known, "stats": EpochStats(**state["stats"]) if state.get("stats") else None})


def pack(common: dict[str, Any], learner: Learner, progress: Progress, rngs: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``last.pt`` / ``best.pt``: ``common`` (configs, vocabulary, CMVN) plus the training state, with
    ``rngs`` the random state of each rank (``all_rng_states``)."""
    return {**common, "model": learner.model.state_dict(), "optimizer": learner.optimizer.state_dict(),
            "scheduler": learner.scheduler.state_dict(), "scaler": learner.scaler.state_dict(),
            "progress": progress.state(), "rng": rngs}


def restore(resumed: dict[str, Any], path: Path, learner: Learner) -> Progress:
    """Load a ``last.pt`` into the training objects and the random generators; returns its progress."""
    try:
        learner.model.load_state_dict(resumed["model"])
        learner.optimizer.load_state_dict(resumed["optimizer"])
        learner.scheduler.load_state_dict(resumed["scheduler"])
        if "scaler" in resumed:
            learner.scaler.load_state_dict(resumed["scaler"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"--resume: {path} does not match this config (model shape or optimizer "
                              f"changed?): {str(e).splitlines()[0]}") from None
    set_rng_state(own_rng_state(resumed["rng"]))
    return Progress.from_state(resumed["progress"])


def rng_state() -> dict[str, Any]:
    """Every random state the loop draws from: torch (weight noise, dropout), CUDA, Python's ``random``.
    (Batch order and augmentation are seeded by (seed, epoch[, item]) and need no state.)"""
    version, internal, gauss = random.getstate()
    return {"torch": torch.get_rng_state(), "python": [version, list(internal), gauss],
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def all_rng_states() -> list[dict[str, Any]]:
    """Every rank's ``rng_state``, indexed by rank (a collective under torchrun: every rank calls it).
    Ranks draw differently (dropout masks follow each rank's batch shapes), so each keeps its own."""
    return distributed.gather([rng_state()])


def own_rng_state(saved: list[dict[str, Any]] | dict[str, Any] | torch.Tensor) -> dict[str, Any] | torch.Tensor:
    """This rank's state in a checkpoint's ``rng``: its entry in the per-rank list; rank 0's when the
    checkpoint came from fewer processes; the single state of checkpoints from before the list."""
    if not isinstance(saved, list):
        return saved
    rank = distributed.rank()
    return saved[rank] if rank < len(saved) else saved[0]


def set_rng_state(rng: dict[str, Any] | torch.Tensor) -> None:
    if isinstance(rng, torch.Tensor):  # checkpoints from before step-level resume: torch's state only
        torch.set_rng_state(rng)
        return
    torch.set_rng_state(rng["torch"])
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def build_optimizer(model: torch.nn.Module, config: Config) -> torch.optim.Optimizer:
    """SGD (with momentum) or Adam over the model's weights, as ``train.optimizer`` says."""
    tc = config.train
    if tc.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, tc: TrainConfig) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """The plateau schedule: lr *= lr_factor after lr_patience epochs without a lower metric."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=tc.lr_factor, patience=tc.lr_patience, min_lr=tc.min_lr)
