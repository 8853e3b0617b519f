"""Running a model over a set of utterances: deterministic length-sorted batches, forward
passes on the model's device, greedy or beam-search decoding into Hypothesis records (with
token times and confidences), and the CTC feasibility check."""
from __future__ import annotations

from typing import Iterator, Optional, Sequence

import numpy as np
import torch

from seqlabel.data.dataset import collate
from seqlabel.data.sampling import pack_batches
from seqlabel.data.vocab import Vocab
from seqlabel.decoders.align import Alignment
from seqlabel.decoders.beam_frames import check_log_probs
from seqlabel.decoders.beam_nbest import BeamResult
from seqlabel.decoders.greedy import GreedyDecoder
from seqlabel.decoders.protocols import Decoder
from seqlabel.errors import DataError
from seqlabel.models.bilstm import BiLSTMCTC
from seqlabel.progress import progress as progress_bar
from seqlabel.runtime import autocast
from seqlabel.types import Hypothesis, Utterance


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
        for indices in progress_bar(batches, desc="decode", total=len(batches), unit="batches", enabled=progress):
            empty = torch.zeros(0, dtype=torch.long)
            batch = collate([(i, features[i], empty) for i in indices], [str(i) for i in indices]).to(device)
            with autocast(device, amp):
                log_probs, out_lengths = model(batch.features, batch.feature_lengths)
            yield indices, log_probs.float().cpu(), out_lengths.cpu()
    finally:
        model.train(was_training)




def decode_log_probs(log_probs: np.ndarray, utt_id: str, vocab: Vocab, decoder: Decoder,
                     seconds: Optional[float] = None) -> list[Hypothesis]:
    """One utterance's log-probs (T', C) -> its n-best hypotheses; see ``decode_all``."""
    return decode_all([log_probs], [utt_id], vocab, decoder, seconds)[0]


def decode_all(log_probs: Sequence[np.ndarray], ids: Sequence[str], vocab: Vocab, decoder: Decoder,
               seconds: Optional[float] = None) -> list[list[Hypothesis]]:
    """Utterances' log-probs (T', C) -> their n-best hypotheses, with token frames, durations and
    confidences from ``decoder.align`` (the best path for greedy decoding, the forced alignment of
    each labelling for the beam search).

    The decoder runs on batches of similar lengths (``decoder.batch_size``). Bad log-probs (NaN, not
    normalised) raise DataError naming the utterance.
    """
    checked = []
    for lp, utt_id in zip(log_probs, ids):
        try:
            checked.append(check_log_probs(np.asarray(lp)[None])[0][0])
        except ValueError as e:
            raise DataError(f"utterance {utt_id!r}: {str(e).replace('utterance 0, ', '')}") from None
    results = search_all(decoder, checked)
    return [[_hypothesis(utt_id, vocab, decoder.align(lp, r), r.score, seconds, r) for r in res]
            for lp, utt_id, res in zip(checked, ids, results)]


def search_all(decoder: Decoder, log_probs: Sequence[np.ndarray]) -> list[list[BeamResult]]:
    """``decoder`` over utterances' log-probs (T', C), in padded batches of similar lengths."""
    results: list[Optional[list[BeamResult]]] = [None] * len(log_probs)
    order = sorted(range(len(log_probs)), key=lambda i: log_probs[i].shape[0])
    for start in range(0, len(order), decoder.batch_size):
        chunk = order[start:start + decoder.batch_size]
        lengths = np.array([log_probs[i].shape[0] for i in chunk])
        C = log_probs[chunk[0]].shape[1]
        padded = np.zeros((len(chunk), int(lengths.max(initial=0)), C), dtype=np.float32)
        for k, i in enumerate(chunk):
            padded[k, : lengths[k]] = log_probs[i]
        for i, res in zip(chunk, decoder.batch(padded, lengths)):
            results[i] = res
    return results  # type: ignore[return-value]


beam_search_all = search_all  # its name before any decoder could run it (seqlabel 0.1)


def _hypothesis(utt_id: str, vocab: Vocab, al: Alignment, score: float, seconds: Optional[float],
                result: BeamResult) -> Hypothesis:
    tokens = tuple(vocab.decode(s.token for s in al.spans))
    if result.words is not None:
        words = result.words
    else:
        words = tuple(vocab.to_text(tokens).split()) if vocab.unit == "char" else ()
    return Hypothesis(
        utt_id, tokens, float(score), tuple(s.start for s in al.spans), words=words,
        durations=tuple(s.end - s.start for s in al.spans),
        token_confidences=tuple(s.confidence for s in al.spans), confidence=al.confidence,
        acoustic_score=result.acoustic_score, lm_score=result.lm_score,
        frame_seconds=seconds)


def log_probs_all(model: BiLSTMCTC, features: Sequence[torch.Tensor], device: torch.device,
                  batch_frames: int = 50000, max_batch_size: int = 64, amp: str = "off",
                  progress: bool = False) -> list[np.ndarray]:
    """Every utterance's log-probs (T', C) as float32 arrays, in the order of ``features``."""
    out: list[Optional[np.ndarray]] = [None] * len(features)
    for indices, log_probs, lengths in forward_all(model, features, device, batch_frames, max_batch_size, amp,
                                                   progress):
        for k, i in enumerate(indices):
            out[i] = log_probs[k, : int(lengths[k])].numpy()
    return out  # type: ignore[return-value]


def transcribe(model: BiLSTMCTC, utts: Sequence[Utterance], features: Sequence[torch.Tensor], vocab: Vocab,
               device: torch.device, decoder: Decoder, seconds: Optional[float] = None,
               batch_frames: int = 50000, max_batch_size: int = 64, amp: str = "off",
               progress: bool = False) -> list[list[Hypothesis]]:
    """n-best hypotheses for every utterance, in the order of ``utts``: forward passes in batches on
    ``device``, then ``decoder`` (greedy or the beam search), batched, on CPU."""
    log_probs = log_probs_all(model, features, device, batch_frames, max_batch_size, amp, progress)
    return decode_all(log_probs, [u.id for u in utts], vocab, decoder, seconds)


def greedy_transcribe(model: BiLSTMCTC, utts: Sequence[Utterance], features: Sequence[torch.Tensor],
                      vocab: Vocab, device: torch.device, batch_frames: int = 50000,
                      max_batch_size: int = 64, amp: str = "off", progress: bool = False) -> list[Hypothesis]:
    """Greedy hypotheses for every utterance, in the order of ``utts``."""
    return [n[0] for n in transcribe(model, utts, features, vocab, device, GreedyDecoder(), None, batch_frames,
                                     max_batch_size, amp, progress)]
