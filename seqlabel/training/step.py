"""One optimisation step (CTC loss on the feasible part of a batch, weight noise, clipping,
non-finite skips, DDP-consistent scaling) and the weight-noise context."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

import torch

from seqlabel.config import Config
from seqlabel.models.lengths import ctc_min_frames, output_lengths
from seqlabel.runtime import autocast
from seqlabel.training import distributed
from seqlabel.training.log import EpochStats, Skip, nonfinite
from seqlabel.types import Batch


def train_step(model: torch.nn.Module, batch: Batch, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               config: Config, noise: float, stats: EpochStats, device: torch.device,
               noise_rng: Optional[torch.Generator] = None) -> tuple[int, list[Skip]]:
    """One optimisation step on the CTC-feasible part of ``batch``.

    ``model`` may be DDP-wrapped: then this rank's batch is one share of a global batch, the loss
    is scaled so that DDP's gradient average equals the gradient of (CTC loss summed over the
    global batch) / (its feasible utterances), exactly as one process on the combined batch, and
    every rank takes or skips the step together. Returns the number of steps taken (0 or 1) and
    what this rank skipped, with utterance ids.
    """
    skips: list[Skip] = []
    out_lengths = output_lengths(batch.feature_lengths, config.model.time_reduction)
    feasible = ctc_min_frames(batch.targets, batch.target_lengths) <= out_lengths
    n_bad = int((~feasible).sum())
    whole = batch
    if n_bad:
        stats.skipped_infeasible += n_bad
        skips.append(Skip("ctc_infeasible", tuple(i for i, ok in zip(batch.ids, feasible.tolist()) if not ok)))
        keep = feasible.nonzero().squeeze(1)
        batch = Batch(batch.features[keep], batch.feature_lengths[keep], batch.targets[keep],
                      batch.target_lengths[keep], [batch.ids[i] for i in keep.tolist()])
    world = distributed.world_size()
    (total,) = distributed.all_sum([len(batch)])  # feasible utterances in the global batch
    if total == 0:
        return 0, skips
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with weight_noise(model, noise, noise_rng):
        with autocast(device, config.train.amp):
            # A rank left with no feasible utterance still runs forward and backward (zero loss) for DDP.
            inputs = batch if len(batch) else whole
            log_probs, out_lengths = model(inputs.features, inputs.feature_lengths)
        if len(batch):
            loss_sum = torch.nn.functional.ctc_loss(
                log_probs.float().transpose(0, 1),  # (T', B, C) as ctc_loss wants
                batch.targets, out_lengths, batch.target_lengths, blank=0, reduction="sum")
        else:
            loss_sum = log_probs.float().sum() * 0.0
        loss = loss_sum / (total / world)
        bad = not torch.isfinite(loss)
        if distributed.all_sum([float(bad)])[0] > 0:  # every rank skips when one has a non-finite loss
            skip = nonfinite(stats, "nonfinite_loss", batch.ids)
            return 0, skips + ([skip] if bad else [])
        scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    if config.train.grad_clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        if not torch.isfinite(norm):
            optimizer.zero_grad(set_to_none=True)
            scaler.update()
            return 0, skips + [nonfinite(stats, "nonfinite_grad", batch.ids)]
    scaler.step(optimizer)
    scaler.update()
    stats.loss_sum += float(loss_sum.detach())
    stats.utterances += len(batch)
    stats.frames += int(batch.feature_lengths.sum())
    stats.nonfinite_run = 0
    return 1, skips


@contextmanager
def weight_noise(model: torch.nn.Module, std: float, rng: Optional[torch.Generator] = None) -> Iterator[None]:
    """Add Gaussian noise N(0, std^2) to every weight for one forward/backward pass (Graves 2013).

    Gradients are taken at the noisy weights; the clean weights are restored exactly afterwards.
    ``rng`` (on the weights' device) draws the noise; None: torch's global generator.
    """
    if std <= 0:
        yield
        return
    params = [p for p in model.parameters() if p.requires_grad]
    clean = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in params:
            p.add_(torch.randn(p.shape, generator=rng, device=p.device, dtype=p.dtype) * std)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, c in zip(params, clean):
                p.copy_(c)
