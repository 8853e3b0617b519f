"""The contracts of the decoding stage: what a CTC decoder is to the code that runs it, and what the
beam search needs from a language model (torchaudio's ``CTCDecoderLM`` plays the second role there).

Shape legend: B utterances, T output frames, C classes (index 0 the blank).
"""
from __future__ import annotations

from typing import Collection, Hashable, Protocol, runtime_checkable

import numpy as np

from seqlabel.decoders.align import Alignment
from seqlabel.decoders.beam_nbest import BeamResult

State = Hashable  # an LM's context, opaque to the decoder


@runtime_checkable
class Decoder(Protocol):
    """Log-probs (B, T, C) with lengths (B,) -> each utterance's n-best results, best first.

    ``batch_size`` is how many utterances of similar length the caller should hand over at once;
    ``align`` gives the frames of one result (the best path for greedy decoding, the forced
    alignment of its labelling for a search), from which times and confidences are read."""

    name: str
    batch_size: int

    def batch(self, log_probs: np.ndarray, lengths: np.ndarray) -> list[list[BeamResult]]: ...

    def align(self, log_probs: np.ndarray, result: BeamResult) -> Alignment: ...


@runtime_checkable
class LanguageModel(Protocol):
    """What shallow fusion asks of an LM, in natural logs: a start state, the log-probability of a
    unit (token or word) after a state with the state that follows, and the end-of-sentence score.
    ``vocab`` lists the units it knows. ``seqlabel.lm.NgramLM`` is one."""

    vocab: Collection[str]

    def begin(self) -> State: ...

    def score(self, state: State, unit: str) -> tuple[float, State]: ...

    def end_score(self, state: State) -> float: ...
