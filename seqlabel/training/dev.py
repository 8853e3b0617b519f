"""Evaluation on the dev set during training: the mean CTC loss and the greedy error rate of a split,
in one forward pass (the loop's early stopping and schedule, and checkpoint averaging, use it)."""
from __future__ import annotations

import torch

from seqlabel.config import Config
from seqlabel.data.dataset import Split
from seqlabel.data.vocab import Vocab
from seqlabel.decoders.greedy import greedy_search
from seqlabel.inference.batch import forward_all
from seqlabel.models.bilstm import BiLSTMCTC
from seqlabel.scoring.metrics import ScoreResult, score


@torch.no_grad()
def evaluate_split(model: BiLSTMCTC, split: Split, features: list[torch.Tensor], vocab: Vocab,
                   device: torch.device, config: Config) -> tuple[float, ScoreResult]:
    """One forward pass over ``split``: mean CTC loss per (feasible) utterance and the greedy error rate."""
    total, count = 0.0, 0
    hyps: dict[str, list[str]] = {}
    for indices, log_probs, out_lengths in forward_all(model, features, device, config.train.batch_frames * 2,
                                                       config.train.max_batch_size * 2, config.train.amp):
        targets = [torch.tensor(split.targets[i], dtype=torch.long) for i in indices]
        target_lengths = torch.tensor([t.numel() for t in targets], dtype=torch.long)
        losses = torch.nn.functional.ctc_loss(
            log_probs.transpose(0, 1),  # (T', B, C)
            torch.nn.utils.rnn.pad_sequence(targets, batch_first=True), out_lengths, target_lengths,
            blank=0, reduction="none")
        ok = torch.isfinite(losses)
        total += float(losses[ok].sum())
        count += int(ok.sum())
        for i, (ids, _) in zip(indices, greedy_search(log_probs, out_lengths)):
            hyps[split.utterances[i].id] = vocab.decode(ids)
    refs = {u.id: vocab.decode(t) for u, t in zip(split.utterances, split.targets)}
    return total / max(count, 1), score(refs, hyps, config.data.unit, word_boundary=config.data.word_boundary)
