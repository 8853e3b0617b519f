"""Running a model over a set of utterances: deterministic length-sorted batches, forward
passes, greedy decoding into Hypothesis records, and the CTC feasibility check."""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from tqdm import tqdm

from seqlabel.data import collate
from seqlabel.decoders.greedy import greedy_search
from seqlabel.model import BiLSTMCTC
from seqlabel.sampling import pack_batches
from seqlabel.types import Hypothesis, Utterance
from seqlabel.vocab import Vocab


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
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


def ctc_min_frames(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """targets (B, L) padded, lengths (B,) -> (B,) frames CTC needs: L + number of repeated neighbours."""
    if targets.shape[1] < 2:
        return target_lengths.clone()
    positions = torch.arange(1, targets.shape[1], device=targets.device)  # (L-1,)
    repeats = (targets[:, 1:] == targets[:, :-1]) & (positions.unsqueeze(0) < target_lengths.unsqueeze(1))
    return target_lengths + repeats.sum(dim=1)


def sorted_batches(lengths: Sequence[int], batch_frames: int, max_batch_size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return pack_batches(lengths, order, batch_frames, max_batch_size)


@torch.no_grad()
def forward_all(model: BiLSTMCTC, features: Sequence[torch.Tensor], device: torch.device,
                batch_frames: int = 50000, max_batch_size: int = 64, amp: str = "off",
                progress: bool = False) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """Yield (dataset indices, log-probs (B, T', C) on CPU, output lengths (B,)) in eval mode."""
    was_training = model.training
    model.eval()
    try:
        batches = sorted_batches([f.shape[0] for f in features], batch_frames, max_batch_size)
        for indices in tqdm(batches, desc="decode", disable=not progress, leave=False):
            empty = torch.zeros(0, dtype=torch.long)
            batch = collate([(i, features[i], empty) for i in indices], [str(i) for i in indices]).to(device)
            with autocast(device, amp):
                log_probs, out_lengths = model(batch.features, batch.feature_lengths)
            yield indices, log_probs.float().cpu(), out_lengths.cpu()
    finally:
        model.train(was_training)


def greedy_transcribe(model: BiLSTMCTC, utts: Sequence[Utterance], features: Sequence[torch.Tensor],
                      vocab: Vocab, device: torch.device, batch_frames: int = 50000,
                      max_batch_size: int = 64, amp: str = "off", progress: bool = False) -> list[Hypothesis]:
    """Greedy hypotheses for every utterance, in the order of ``utts``."""
    hyps: list[Hypothesis | None] = [None] * len(utts)
    for indices, log_probs, out_lengths in forward_all(model, features, device, batch_frames,
                                                       max_batch_size, amp, progress):
        best = log_probs.max(dim=-1).values  # (B, T') best-path log-prob per frame
        valid = torch.arange(best.shape[1]).unsqueeze(0) < out_lengths.unsqueeze(1)  # (B, T')
        scores = (best * valid).sum(dim=1)  # (B,)
        for k, (i, (ids, frames)) in enumerate(zip(indices, greedy_search(log_probs, out_lengths))):
            hyps[i] = Hypothesis(utts[i].id, tuple(vocab.decode(ids)), float(scores[k]), tuple(frames))
    return hyps  # type: ignore[return-value]
