"""Where and how tensors run: the device (``resolve_device``), mixed precision (``autocast``,
``amp_dtype``), and the installed PyTorch stack: the torch/torchaudio pair seqlabel is tested with
and a check that torchaudio's compiled extension loads and runs beside the installed torch.

torchaudio ships a compiled library (``libtorchaudio.so``) that must match the torch binary. A pair
that pip accepts can still fail at load time (torchaudio 2.11.1 declares ``torch>=2.11`` but does
not load with torch 2.11.0): the check turns that loader error into one message naming both
versions and the command that installs the proven pair.
"""
from __future__ import annotations

import contextlib
import os
from importlib import metadata

import torch

from seqlabel.errors import ConfigError, SeqlabelError

PROVEN_TORCH = "2.14.1"
PROVEN_TORCHAUDIO = "2.11.1"


class InstallError(SeqlabelError):
    """The installed torch and torchaudio do not work together."""


def installed_version(package: str) -> str:
    """The installed distribution's version, or 'not installed'."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def check_torchaudio() -> None:
    """Load torchaudio's compiled ops and run the two seqlabel uses (CTC forced alignment, Kaldi
    fbank) on a tiny input; raise InstallError naming the versions and the fix when they fail."""
    try:
        import torch
        import torchaudio.compliance.kaldi as kaldi
        from torchaudio.functional import forced_align

        log_probs = torch.log_softmax(torch.zeros(1, 8, 3), dim=-1)  # (B=1, T=8, C=3)
        forced_align(log_probs, torch.tensor([[1, 2]], dtype=torch.int32), blank=0)
        kaldi.fbank(torch.zeros(1, 800), sample_frequency=8000.0)
    except (ImportError, OSError, RuntimeError) as error:
        raise InstallError(
            f"torchaudio {installed_version('torchaudio')} does not work with torch "
            f"{installed_version('torch')} ({type(error).__name__}: {str(error)[:300]}). seqlabel is tested with "
            f"torch {PROVEN_TORCH} + torchaudio {PROVEN_TORCHAUDIO}: "
            f"pip install torch=={PROVEN_TORCH} torchaudio=={PROVEN_TORCHAUDIO}") from None


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r} requested but {torch.cuda.device_count()} CUDA device(s) are "
                          "available; use auto or cpu (train.device, --device)")
    return device


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """Mixed-precision context on CUDA (bf16 where supported, else fp16); a no-op on CPU."""
    dtype = amp_dtype(device, amp)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def amp_dtype(device: torch.device, amp: str) -> torch.dtype | None:
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def available_memory(device: torch.device) -> int | None:
    """Bytes of memory free for new tensors on ``device``: for the CPU, Linux's MemAvailable (/proc/meminfo)
    or elsewhere the physical memory (os.sysconf); for CUDA, the device's free memory. None when unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
