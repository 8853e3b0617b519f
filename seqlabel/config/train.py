"""The ``train`` section: optimiser, schedule, weight noise, batching, device, checkpoints."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from seqlabel.config.checks import check_choice, check_positive
from seqlabel.errors import ConfigError


@dataclass
class TrainConfig:
    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    grad_clip: float = 5.0  # max gradient norm; 0 disables
    weight_noise: float = 0.0  # std of Gaussian weight noise (Graves 2013); 0 disables
    weight_noise_start_epoch: int = 1  # first epoch (1-based) that uses weight noise (weight_noise_phase: epoch)
    # epoch: noise from weight_noise_start_epoch on, continuing from the current weights. restart
    # (Graves 2013): phase 1 without noise, early-stopped on the dev loss, keeps phase1.pt; phase 2
    # restarts from phase1.pt with noise, early-stopped on the dev error, keeps best.pt
    weight_noise_phase: str = "epoch"
    max_epochs: int = 20
    batch_frames: int = 20000  # total (padded) input frames per batch
    max_batch_size: int = 32  # with batch_frames 20000: AN4 padding waste 3.9% (64 would give 6.1%)
    lr_patience: int = 1  # epochs without dev improvement before lr *= lr_factor
    lr_factor: float = 0.5
    min_lr: float = 1e-6
    early_stop_patience: int = 4  # epochs without dev improvement before stopping
    seed: int = 1
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "auto"  # auto (bf16 on CUDA if supported, else fp16) | bf16 | fp16 | off
    num_workers: int = 0
    threads: int = 0  # torch intra-op CPU threads; 0: torch's default (1 avoids thrashing on a busy machine)
    tensorboard: bool = True
    progress: bool = True
    save_every_steps: int = 0  # also write last.pt every this many batches inside an epoch (0: per epoch only)
    max_nonfinite_steps: int = 20  # stop after this many consecutive non-finite batches (0: never)
    max_nonfinite_fraction: float = 0.5  # stop when more than this fraction of an epoch's batches are non-finite
    # Fine-tuning (see seqlabel.training.finetune): start from another run's checkpoint; the model section
    # must describe its architecture, the features give its input dim; lr and the schedule are this config's.
    init_from: Optional[str] = None  # checkpoint whose weights start this run (seqlabel train --init-from)
    # When the training data's tokens differ from the checkpoint's (kraken's --resize): fail (refuse new
    # tokens) | union (the checkpoint's tokens + the new ones) | new (the data's tokens only)
    vocab_resize: str = "fail"
    freeze: list[str] = field(default_factory=list)  # parts not trained for the first freeze_epochs epochs:
    freeze_epochs: int = 0  # frontend, frontend.N (conv block N), lstm, lstm.N (layer N), output
    # Checkpoint averaging (ESPnet, icefall): at the end, the weights of the average_last last (or best by dev
    # error) epochs are averaged into avg.pt, used for the test when its dev error is lower than best.pt's
    average_last: int = 0  # epochs to average (0: off); their weights are kept in epochs/ meanwhile
    average_select: str = "last"  # last | best (the N epochs of lowest dev error)

    def __post_init__(self) -> None:
        check_choice("train.optimizer", self.optimizer, ("adam", "sgd"))
        check_choice("train.amp", self.amp, ("auto", "bf16", "fp16", "off"))
        check_choice("train.weight_noise_phase", self.weight_noise_phase, ("epoch", "restart"))
        check_choice("train.vocab_resize", self.vocab_resize, ("fail", "union", "new"))
        check_choice("train.average_select", self.average_select, ("last", "best"))
        check_positive("train.lr", self.lr)
        check_positive("train.max_epochs", self.max_epochs)
        check_positive("train.batch_frames", self.batch_frames)
        check_positive("train.max_batch_size", self.max_batch_size)
        for name in ("weight_noise", "grad_clip", "weight_decay", "momentum", "threads", "num_workers",
                     "save_every_steps", "max_nonfinite_steps", "freeze_epochs", "average_last"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.lr_factor < 1:
            raise ConfigError(f"train.lr_factor must be in (0, 1), got {self.lr_factor} (for a constant "
                              "learning rate set train.min_lr equal to train.lr)")
        if not 0 < self.max_nonfinite_fraction <= 1:
            raise ConfigError(f"train.max_nonfinite_fraction must be in (0, 1], got {self.max_nonfinite_fraction}")
        if self.weight_noise_phase == "restart":
            self._check_restart()
        self._check_freeze()

    def _check_freeze(self) -> None:
        """``freeze`` names parts (checked against the model when training starts) for ``freeze_epochs`` epochs."""
        if not isinstance(self.freeze, list) or not all(isinstance(name, str) for name in self.freeze):
            raise ConfigError(f"train.freeze must be a list of part names (frontend, frontend.N, lstm, lstm.N, "
                              f"output), got {self.freeze!r}")
        if self.freeze and self.freeze_epochs == 0:
            raise ConfigError(f"train.freeze names {self.freeze} but train.freeze_epochs is 0; set how many epochs "
                              "they stay frozen (train.freeze_epochs >= 1)")
        if self.freeze_epochs and not self.freeze:
            raise ConfigError(f"train.freeze_epochs is {self.freeze_epochs} but train.freeze names no part; "
                              "list the parts to freeze, e.g. train.freeze=[frontend]")

    def _check_restart(self) -> None:
        """``weight_noise_phase: restart`` needs a noise for phase 2 and a patience that ends phase 1
        (its need of a dev set is checked by the training loop, which sees ``data.dev``)."""
        if self.weight_noise <= 0:
            raise ConfigError(f"train.weight_noise_phase: restart trains phase 2 with weight noise, but "
                              f"train.weight_noise is {self.weight_noise}; set it > 0 (Graves 2013: 0.075) or "
                              "use train.weight_noise_phase: epoch")
        if self.early_stop_patience <= 0:
            raise ConfigError(f"train.weight_noise_phase: restart ends phase 1 when the dev loss has not improved "
                              f"for train.early_stop_patience epochs, but it is {self.early_stop_patience}; set it > 0")
        if self.weight_noise_start_epoch != 1:
            raise ConfigError(f"train.weight_noise_start_epoch ({self.weight_noise_start_epoch}) applies to "
                              "train.weight_noise_phase: epoch only; remove it (with restart the noise starts when "
                              "phase 1 early-stops)")
