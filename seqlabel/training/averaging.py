"""Checkpoint averaging (ESPnet's ``average_checkpoints``, icefall's ``--avg``): the element-wise mean
of the weights of several epochs of one model, which usually generalises a little better than any one.

    average_states       state dicts -> their mean (floating tensors; integer buffers from the last)
    average_checkpoints  ``seqlabel average``: checkpoints of one model (same model and feature config,
                         vocabulary and CMVN statistics, else refused) -> one checkpoint
    EpochWeights         during training (``train.average_last: N``): the weights of the N last epochs, or
                         of the N of lowest dev error (``average_select: best``), kept in ``epochs/`` (the
                         others deleted as they drop out); at the end their mean becomes ``avg.pt``, which
                         is kept for the test only when its dev error is lower than best.pt's.

Every epoch file holds its epoch and dev error; a resumed run first deletes the files of epochs after
its ``last.pt`` (a killed run may have written them), so its choice is the uninterrupted run's.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch

from seqlabel.config import Config
from seqlabel.errors import CheckpointError, ConfigError
from seqlabel.models.checkpoint import load_checkpoint, save_checkpoint
from seqlabel.training.folder import AVERAGE as AVERAGE_NAME
from seqlabel.training.folder import EPOCHS as EPOCHS_DIR

log = logging.getLogger(__name__)

_EPOCH_FILE = re.compile(r"epoch-(\d+)\.pt$")


def average_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The mean of state dicts with the same keys and shapes: floating tensors averaged in float64 and
    cast back to their type; other tensors (integer counters such as BatchNorm's) taken from the last."""
    if not states:
        raise ValueError("nothing to average")
    out: dict[str, torch.Tensor] = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            total = torch.zeros_like(last, dtype=torch.float64)
            for state in states:
                total += state[key].to(torch.float64)
            out[key] = (total / len(states)).to(last.dtype)
        else:
            out[key] = last.clone()
    return out


def _signature(state: dict[str, Any], path: Path) -> dict[str, Any]:
    """What two checkpoints must share to be averaged: what makes the same network see the same inputs."""
    try:
        features = {k: v for k, v in state["config"]["features"].items() if k not in ("augment", "cache_dir")}
        return {"model section": state["config"]["model"], "features section": features,
                "vocabulary": state["vocab"], "input dimension": state["input_dim"], "weights": state["model"]}
    except KeyError as e:
        raise CheckpointError(f"{path} holds no {e.args[0]!r}: not a checkpoint of a seqlabel training run "
                              "(best.pt, last.pt, avg.pt or epochs/epoch-N.pt)") from None


def check_compatible(states: Sequence[dict[str, Any]], paths: Sequence[Path]) -> None:
    """Refuse checkpoints of different models, features, vocabularies or CMVN statistics."""
    first = _signature(states[0], paths[0])
    first.pop("weights")
    for state, path in zip(states[1:], paths[1:]):
        other = _signature(state, path)
        for what, value in first.items():
            if other[what] != value:
                raise CheckpointError(f"cannot average {paths[0]} and {path}: their {what} differs; average "
                                      "checkpoints of one model (one training run: same config and vocabulary)")
        cmvn_a, cmvn_b = states[0].get("cmvn"), state.get("cmvn")
        if (cmvn_a is None) != (cmvn_b is None) or (cmvn_a is not None and not all(
                torch.equal(cmvn_a[k], cmvn_b[k]) for k in ("mean", "std"))):
            raise CheckpointError(f"cannot average {paths[0]} and {path}: their CMVN statistics differ (trained on "
                                  "other data); average checkpoints of one training run")


def average_checkpoints(paths: Sequence[str | Path], out: str | Path) -> Path:
    """Average the weights of ``paths`` into ``out``: a checkpoint like the first, with the mean weights."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise CheckpointError(f"averaging needs at least two checkpoints, got {len(paths)}")
    states = [load_checkpoint(p) for p in paths]
    check_compatible(states, paths)
    merged = {k: v for k, v in states[0].items() if k != "format"}
    merged["model"] = average_states([s["model"] for s in states])
    merged["averaged"] = {"checkpoints": [str(p) for p in paths]}
    return save_checkpoint(out, merged)


@dataclass(frozen=True)
class EpochWeights:
    """The per-epoch weights that ``train.average_last`` needs, in ``folder`` (``<run>/epochs``)."""

    folder: Path
    count: int  # N
    select: str  # last | best

    @classmethod
    def of(cls, out_dir: Path, config: Config) -> Optional["EpochWeights"]:
        """The run's, or None when ``train.average_last`` is 0; refused without a dev set, which decides
        between avg.pt and best.pt (and ranks the epochs for ``average_select: best``)."""
        tc = config.train
        if tc.average_last and not config.data.dev:
            raise ConfigError(f"train.average_last ({tc.average_last}) needs data.dev: avg.pt is kept only when its "
                              "dev error is lower than best.pt's; set data.dev or train.average_last: 0")
        return cls(out_dir / EPOCHS_DIR, tc.average_last, tc.average_select) if tc.average_last > 0 else None

    def files(self) -> dict[int, Path]:
        """Epoch -> its weights file."""
        if not self.folder.is_dir():
            return {}
        return {int(m[1]): p for p in self.folder.iterdir() if (m := _EPOCH_FILE.match(p.name))}

    def start(self, last_epoch: int) -> None:
        """Forget epochs after ``last_epoch`` (0 for a new run): the resumed run trains them again."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for epoch, path in self.files().items():
            if epoch > last_epoch:
                path.unlink()

    def add(self, epoch: int, dev_error: float, model: torch.nn.Module, common: dict[str, Any]) -> None:
        """Keep this epoch's weights with ``common`` (config, vocabulary, CMVN: a checkpoint that decodes and
        that ``seqlabel average`` takes), then delete those no longer among the N to average."""
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        save_checkpoint(self.folder / f"epoch-{epoch:04d}.pt",
                        {**common, "epoch": epoch, "dev_error": dev_error, "model": state})
        keep = set(self.chosen())
        for other, path in self.files().items():
            if other not in keep:
                path.unlink()

    def chosen(self) -> list[int]:
        """The epochs to average: the N last, or the N of lowest dev error (ties: the later epoch)."""
        files = self.files()
        if self.select == "last":
            return sorted(files)[-self.count:]
        errors = {epoch: float(load_checkpoint(path)["dev_error"]) for epoch, path in files.items()}
        return sorted(sorted(errors, key=lambda e: (errors[e], -e))[: self.count])

    def finish(self, best_path: Path, best_error: float, dev_error: Callable[[dict[str, torch.Tensor]], float]) -> tuple[Path, float]:
        """Average the chosen epochs into ``avg.pt`` next to ``best_path``; returns the checkpoint to test with
        (avg.pt when its dev error, from ``dev_error(weights)``, is lower than ``best_error``) and its error."""
        files = self.files()
        epochs = self.chosen()
        if not epochs:
            return best_path, best_error
        weights = average_states([load_checkpoint(files[e])["model"] for e in epochs])
        error = dev_error(weights)
        state = {k: v for k, v in load_checkpoint(best_path).items() if k != "format"}
        state.update(model=weights, averaged={"epochs": epochs, "select": self.select, "dev_error": error})
        avg_path = save_checkpoint(best_path.with_name(AVERAGE_NAME), state)
        use = error < best_error
        short = f", only {len(epochs)} of train.average_last={self.count} trained" if len(epochs) < self.count else ""
        log.info(f"averaged the weights of epochs {', '.join(map(str, epochs))} ({self.select}{short}) into {avg_path}: "
             f"dev error {100 * error:.2f}% against best.pt's {100 * best_error:.2f}%; the test uses "
             f"{'avg.pt' if use else 'best.pt'}")
        return (avg_path, error) if use else (best_path, best_error)

