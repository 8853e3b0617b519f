"""Checks made before training starts, on every rank, so that a run that cannot finish stops at
once: the output folder (writable, --resume against what it holds), the data the config needs,
and the disk space the checkpoints will take."""
from __future__ import annotations

import shutil
from pathlib import Path

import torch

from seqlabel.config import Config
from seqlabel.errors import CheckpointError, ConfigError, SeqlabelError
from seqlabel.features import build_extractor
from seqlabel.models.bilstm import build_model
from seqlabel.runtime import available_memory, resolve_device
from seqlabel.training import distributed
from seqlabel.training.folder import BEST, LAST, PHASE1, RunFolder
from seqlabel.training.log import size
from seqlabel.training.resume import CONFIG_NAME, OVERRIDES_NAME


def check_run(config: Config, out_dir: Path, resume: bool) -> None:
    """Refuse a run that cannot start: output folder, --resume against what it holds, the data it needs,
    a model too large for the memory of its device."""
    _check_writable(out_dir)  # every rank checks what rank 0 will need, so that all stop together
    last_path = RunFolder(out_dir).last
    if not resume and last_path.exists():
        raise ConfigError(f"{out_dir} already holds a training run ({last_path}); pass --resume to "
                          "continue it or choose another --out")
    if resume and not last_path.exists():
        raise CheckpointError(f"--resume: no {last_path} to resume from; train without --resume")
    foreign = [n for n in (CONFIG_NAME, "tokens.txt") if (out_dir / n).exists()]
    if not resume and foreign and not (out_dir / OVERRIDES_NAME).exists():  # a run writes all three together
        raise ConfigError(f"{out_dir} holds {' and '.join(foreign)} that no seqlabel run wrote there (no "
                          f"{OVERRIDES_NAME} beside them); a new run would overwrite them: choose another --out")
    if not config.data.train:
        raise ConfigError("data.train is not set (the training manifest)")
    if config.train.weight_noise_phase == "restart" and not config.data.dev:
        raise ConfigError("train.weight_noise_phase: restart needs data.dev (phase 1 keeps the point of lowest "
                          "dev loss, phase 2 that of lowest dev error); set data.dev or use "
                          "train.weight_noise_phase: epoch")
    check_memory(config, resolve_device(config.train.device))


def check_memory(config: Config, device: torch.device) -> None:
    """Refuse a model whose weights, gradients and optimizer state cannot fit in the memory of ``device``
    (counted on PyTorch's meta device: nothing is allocated), before any data is read. The input
    dimension and classes are lower bounds here (1 and 2 when the data must say), so it errs on the
    side of starting."""
    try:
        input_dim = build_extractor(config.features).dim
    except (SeqlabelError, ImportError):  # precomputed features without features.dim: the files say
        input_dim = 1
    with torch.device("meta"):
        weights = sum(p.numel() for p in build_model(input_dim, 2, config.model).parameters())
    copies = 4 if config.train.optimizer == "adam" else 3  # weights, gradients, moments (Adam) or momentum
    need = weights * 4 * copies  # float32
    free = available_memory(device)
    if free is not None and need > free:
        m = config.model
        raise ConfigError(f"the model would not fit in memory: model.hidden_size {m.hidden_size} with model.num_layers "
                          f"{m.num_layers} gives {weights:,} weights, about {need / 2**30:,.1f} GiB to train (weights, "
                          f"gradients and {config.train.optimizer} state), and {device.type} memory has "
                          f"{free / 2**30:,.1f} GiB available: lower model.hidden_size (or model.num_layers)")


def check_space(out_dir: Path, model: torch.nn.Module, config: Config) -> None:
    """Refuse to start when the disk cannot hold the checkpoints (best.pt, last.pt, phase1.pt with a
    restart schedule) and a temporary copy: each about the weights plus the optimizer's per-weight
    state (two moments for Adam, momentum for SGD)."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    copies = 3 if config.train.optimizer == "adam" else 2
    per_file = weights * copies + (1 << 20)  # + configs, vocabulary, CMVN statistics
    names = [BEST, LAST] + ([PHASE1] if config.train.weight_noise_phase == "restart" else [])
    need = (len(names) + 1) * per_file - sum(size(out_dir / name) for name in names)
    need += config.train.average_last * weights  # the epochs' weights kept for averaging (train.average_last)
    free = shutil.disk_usage(out_dir).free
    if free < need:
        raise ConfigError(f"not enough free disk space in {out_dir}: {free / 1e6:.1f} MB free, checkpoints need "
                          f"about {need / 1e6:.1f} MB ({', '.join(names)} and a temporary copy); free some space "
                          "or choose another --out")


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{distributed.rank()}"
        probe.write_bytes(b"0" * 4096)
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"output directory {out_dir} is not writable: {e.strerror}") from None
