"""A trained model ready to transcribe: model + vocabulary + feature extractor + CMVN, all
restored from one checkpoint file, with the decoder its ``decode`` config asks for."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from seqlabel.config import Config, config_from_data, to_dict
from seqlabel.data.dataset import Split, encode_targets, extract_features, normalize
from seqlabel.data.vocab import Vocab
from seqlabel.decoders.factory import build_decoder
from seqlabel.errors import ConfigError, DataError
from seqlabel.features import FeatureExtractor, build_extractor
from seqlabel.features.cmvn import CmvnStats
from seqlabel.inference.batch import decode_log_probs, forced_align, log_probs_all, transcribe
from seqlabel.inference.restore import model_from_state
from seqlabel.models.bilstm import BiLSTMCTC
from seqlabel.models.checkpoint import load_checkpoint
from seqlabel.models.lengths import frame_seconds
from seqlabel.runtime import resolve_device
from seqlabel.types import Hypothesis, Utterance


@dataclass
class Recognizer:
    config: Config
    vocab: Vocab
    model: BiLSTMCTC
    extractor: FeatureExtractor
    cmvn: Optional[CmvnStats]
    device: torch.device
    _decoder: Any = field(default=None, repr=False)  # built on first use from config.decode

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", overrides: Sequence[str] = ()) -> "Recognizer":
        """Load a checkpoint; ``overrides`` (``decode.KEY=VALUE``) change its decode settings."""
        state = load_checkpoint(path)
        bad = [o for o in overrides if not o.strip().startswith("decode.")]
        if bad:
            raise ConfigError(f"only decode.* settings can be overridden for a trained model, got {bad}")
        config, vocab, model = model_from_state(state, path)
        if overrides:
            config = config_from_data(to_dict(config), list(overrides))
        dev = resolve_device(device)
        cmvn = CmvnStats.from_state(state["cmvn"]) if state.get("cmvn") else None
        return cls(config, vocab, model.to(dev).eval(), build_extractor(config.features), cmvn, dev)

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame (feature frame shift x subsampling)."""
        return frame_seconds(self.config)

    @property
    def decoder(self) -> Any:
        """The beam search of ``config.decode`` (LM and lexicon loaded once), or None for greedy."""
        if self._decoder is None and self.config.decode.decoder != "greedy":
            self._decoder = build_decoder(self.config.decode, self.vocab, self.config.data.lowercase)
        return self._decoder

    def features(self, utts: Sequence[Utterance], progress: bool = False) -> list[torch.Tensor]:
        """Normalised (T, F) features, as in training."""
        split = Split(list(utts), extract_features(utts, self.extractor, "features", progress), [[] for _ in utts])
        return normalize(split, self.config.features.cmvn, self.cmvn)

    def references(self, utts: Sequence[Utterance]) -> dict[str, list[str]]:
        """Reference token sequences (raises on tokens unknown to the model's vocabulary)."""
        targets = encode_targets(utts, self.vocab, self.config.data.lowercase, allow_empty=True)
        return {u.id: self.vocab.decode(t) for u, t in zip(utts, targets)}

    def log_probs(self, utts: Sequence[Utterance], batch_frames: int = 50000, progress: bool = False) -> list[np.ndarray]:
        """Each utterance's log-probs (T', C), computed in batches on the model's device."""
        return log_probs_all(self.model, self.features(utts, progress), self.device, batch_frames,
                             amp=self.config.train.amp, progress=progress)

    def transcribe_nbest(self, utts: Sequence[Utterance], batch_frames: int = 50000,
                         progress: bool = False) -> list[list[Hypothesis]]:
        """The n-best hypotheses (``decode.nbest``; one for greedy) of each utterance, best first."""
        decoder = self.decoder  # LM and lexicon problems show before the features are computed
        feats = self.features(utts, progress)
        return transcribe(self.model, utts, feats, self.vocab, self.device, decoder, self.frame_seconds,
                          batch_frames, amp=self.config.train.amp, progress=progress)

    def transcribe(self, utts: Sequence[Utterance], batch_frames: int = 50000, progress: bool = False) -> list[Hypothesis]:
        """The best hypothesis of each utterance."""
        return [n[0] for n in self.transcribe_nbest(utts, batch_frames, progress)]

    def decode(self, log_probs: np.ndarray, utt_id: str = "utt") -> list[Hypothesis]:
        """Decode one utterance's log-probs (T', C) with this recognizer's decoder: its n-best list."""
        return decode_log_probs(log_probs, utt_id, self.vocab, self.decoder, self.frame_seconds)

    def align(self, utts: Sequence[Utterance], batch_frames: int = 50000, progress: bool = False) -> list[Hypothesis]:
        """Force-align each utterance's transcript: Hypothesis records with token frames, durations,
        confidences and the alignment log-prob as score."""
        targets = encode_targets(utts, self.vocab, self.config.data.lowercase, allow_empty=True)
        out = []
        for utt, ids, lp in zip(utts, targets, self.log_probs(utts, batch_frames, progress)):
            try:
                al = forced_align(lp, ids)
            except ValueError as e:
                raise DataError(f"utterance {utt.id!r}: cannot align its transcript: {e}") from None
            tokens = tuple(self.vocab.decode(s.token for s in al.spans))
            words = tuple(self.vocab.to_text(tokens).split()) if self.vocab.unit == "char" else ()
            out.append(Hypothesis(utt.id, tokens, al.score, tuple(s.start for s in al.spans), words=words,
                                  durations=tuple(s.end - s.start for s in al.spans),
                                  token_confidences=tuple(s.confidence for s in al.spans),
                                  confidence=al.confidence, frame_seconds=self.frame_seconds))
        return out
