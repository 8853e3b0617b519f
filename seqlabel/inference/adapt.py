"""Batch-norm statistics re-estimated on a new domain's unlabelled inputs (AdaBN: Li et al. 2016, "Revisiting
batch normalization for practical domain adaptation"). A model trained on some hands keeps its weights; the
running mean and variance of each batch norm of its conv front end become those of the new manuscript's
lines, so every layer sees its inputs on the scale it was trained for. No labels, no gradient steps: one
forward pass over the lines per batch-norm layer.

    adapt_norms       model + a domain's (T, F) features -> the front end's running statistics replaced by
                      theirs (exactly: each layer over all real frames, after the layers before it were
                      adapted, whatever the batching), or mixed with the old ones by ``weight``
    adapted_norms     the same as a context: the old statistics are back on leaving (decoding a manifest
                      manuscript by manuscript: ``seqlabel evaluate/decode --adapt-norms``)
    adapt_checkpoint  ``seqlabel adapt``: checkpoint + manifest -> a checkpoint with the adapted statistics
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import torch

from seqlabel.data.dataset import collate
from seqlabel.errors import ConfigError, DataError
from seqlabel.inference.batch import sorted_batches
from seqlabel.models.bilstm import BiLSTMCTC
from seqlabel.models.frontend import ConvBlock, frame_mask

NO_NORMS = ("has no batch norm to adapt: only the conv front end's batch norms (model.cnn_blocks with "
            "batch_norm: true) are re-estimated")


def norm_blocks(model: BiLSTMCTC) -> list[ConvBlock]:
    """The front end's conv blocks that have a batch norm, in order."""
    return [] if model.cnn is None else [b for b in model.cnn.blocks if b.norm is not None]


@torch.no_grad()
def adapt_norms(model: BiLSTMCTC, features: Sequence[torch.Tensor], device: torch.device, weight: float = 1.0,
                batch_frames: int = 50000, max_batch_size: int = 64) -> int:
    """Replace the running statistics of each front-end batch norm by ``weight`` x those of its inputs over
    ``features`` (each (T, F), normalised as for decoding) + (1 - weight) x the trained ones; returns how
    many layers changed. Layer by layer: layer k's statistics are measured with layers before k already
    adapted (as evaluation will run them), over the real frames of all utterances (padding excluded)."""
    blocks = norm_blocks(model)
    if not blocks:
        raise ConfigError(f"the model {NO_NORMS}")
    if not features:
        raise DataError("no utterances to adapt the batch-norm statistics to")
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"the adaptation weight must be in [0, 1], got {weight}")
    was_training = model.training
    model.eval()  # earlier blocks run on their (adapted) running statistics; no dropout
    try:
        empty = torch.zeros(0, dtype=torch.long)
        batches = [collate([(i, features[i], empty) for i in indices], [str(i) for i in indices])  # on the CPU
                   for indices in sorted_batches([f.shape[0] for f in features], batch_frames, max_batch_size)]
        for block in blocks:
            channels = block.conv.out_channels
            total = torch.zeros(channels, dtype=torch.float64, device=device)
            squares = torch.zeros_like(total)
            count = 0.0
            for batch in batches:  # one batch on the device at a time
                batch = batch.to(device)
                y, lengths = _input_of(model, block, batch.features, batch.feature_lengths)  # (B, K0, H, T)
                z = block.conv(y).double()  # (B, K, H, T): what the batch norm normalises
                real = frame_mask(lengths, z.shape[3]).double()  # (B, 1, 1, T)
                total += (z * real).sum(dim=(0, 2, 3))
                squares += (z * z * real).sum(dim=(0, 2, 3))
                count += float(real.sum()) * z.shape[2]
            mean = total / count
            var = torch.clamp(squares / count - mean * mean, min=0.0) * count / max(count - 1.0, 1.0)  # unbiased
            norm = block.norm
            norm.running_mean.mul_(1.0 - weight).add_(weight * mean.to(norm.running_mean.dtype))
            norm.running_var.mul_(1.0 - weight).add_(weight * var.to(norm.running_var.dtype))
    finally:
        model.train(was_training)
    return len(blocks)


def _input_of(model: BiLSTMCTC, target: ConvBlock, features: torch.Tensor,
              lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, F) features -> the (B, K0, H, T0) input of ``target`` and its lengths, as ConvFrontEnd runs it."""
    y = model.cnn.input_maps(features, lengths)  # (B, 1, F, T)
    for block in model.cnn.blocks:
        if block is target:
            break
        y, lengths = block(y, lengths)
    return y, lengths


@contextmanager
def adapted_norms(model: BiLSTMCTC, features: Sequence[torch.Tensor], device: torch.device,
                  weight: float = 1.0) -> Iterator[int]:
    """``adapt_norms`` for the body of a ``with``; the trained statistics are restored on leaving."""
    saved = [(b.norm.running_mean.clone(), b.norm.running_var.clone()) for b in norm_blocks(model)]
    try:
        yield adapt_norms(model, features, device, weight)
    finally:
        for block, (mean, var) in zip(norm_blocks(model), saved):
            block.norm.running_mean.copy_(mean)
            block.norm.running_var.copy_(var)


def adapt_checkpoint(checkpoint: Path, manifest: Path, out: Path, weight: float = 1.0, device: str = "auto",
                     progress: bool = False) -> int:
    """Write ``out``: ``checkpoint`` with its front end's batch-norm statistics adapted to the utterances of
    ``manifest`` (their transcripts are not read); it records where it came from under ``adapted``.
    Returns the number of utterances adapted to."""
    from seqlabel.data.manifest import read_manifest
    from seqlabel.inference.recognizer import Recognizer
    from seqlabel.models.checkpoint import load_checkpoint, save_checkpoint

    recognizer = Recognizer.from_checkpoint(checkpoint, device)
    if not norm_blocks(recognizer.model):
        raise ConfigError(f"{checkpoint}: the model {NO_NORMS}")
    utts = read_manifest(manifest)
    layers = adapt_norms(recognizer.model, recognizer.features(utts, progress), recognizer.device, weight)
    state = load_checkpoint(checkpoint)
    state["model"] = {k: v.detach().cpu() for k, v in recognizer.model.state_dict().items()}
    state["adapted"] = {"checkpoint": str(Path(checkpoint).resolve()), "manifest": str(Path(manifest).resolve()),
                        "utterances": len(utts), "weight": weight, "layers": layers}
    save_checkpoint(out, state)
    return len(utts)
