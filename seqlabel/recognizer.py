"""A trained model ready to transcribe: model + vocabulary + feature extractor + CMVN, all
restored from one checkpoint file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

from seqlabel.checkpoint import load_checkpoint
from seqlabel.config import Config, config_from_data
from seqlabel.data import Split, encode_targets, extract_features, normalize
from seqlabel.errors import CheckpointError
from seqlabel.features import FeatureExtractor, build_extractor
from seqlabel.features.cmvn import CmvnStats
from seqlabel.inference import greedy_transcribe, resolve_device
from seqlabel.model import BiLSTMCTC, build_model
from seqlabel.types import Hypothesis, Utterance
from seqlabel.vocab import Vocab


@dataclass
class Recognizer:
    config: Config
    vocab: Vocab
    model: BiLSTMCTC
    extractor: FeatureExtractor
    cmvn: Optional[CmvnStats]
    device: torch.device

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto") -> "Recognizer":
        state = load_checkpoint(path)
        try:
            config = config_from_data(state["config"])
            vocab = Vocab.from_state(state["vocab"])
            model = build_model(state["input_dim"], len(vocab), config.model)
            model.load_state_dict(state["model"])
        except (KeyError, RuntimeError) as e:
            raise CheckpointError(f"{path}: incomplete or incompatible checkpoint: {str(e).splitlines()[0]}") from None
        dev = resolve_device(device)
        cmvn = CmvnStats.from_state(state["cmvn"]) if state.get("cmvn") else None
        return cls(config, vocab, model.to(dev).eval(), build_extractor(config.features), cmvn, dev)

    def features(self, utts: Sequence[Utterance], progress: bool = False) -> list[torch.Tensor]:
        """Normalised (T, F) features, as in training."""
        split = Split(list(utts), extract_features(utts, self.extractor, "features", progress), [[] for _ in utts])
        return normalize(split, self.config.features.cmvn, self.cmvn)

    def references(self, utts: Sequence[Utterance]) -> dict[str, list[str]]:
        """Reference token sequences (raises on tokens unknown to the model's vocabulary)."""
        targets = encode_targets(utts, self.vocab, self.config.data.lowercase, allow_empty=True)
        return {u.id: self.vocab.decode(t) for u, t in zip(utts, targets)}

    def transcribe(self, utts: Sequence[Utterance], batch_frames: int = 50000, progress: bool = False) -> list[Hypothesis]:
        feats = self.features(utts, progress)
        return greedy_transcribe(self.model, utts, feats, self.vocab, self.device, batch_frames,
                                 amp=self.config.train.amp, progress=progress)
