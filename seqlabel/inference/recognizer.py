"""A trained model ready to transcribe: model + vocabulary + feature extractor + CMVN, all
restored from one checkpoint file, with the decoder its ``decode`` config asks for.

Load it once and call it on many inputs: manifests' utterances in batches (``transcribe``), or one
utterance held in memory a call (``transcribe_array`` for audio, ``transcribe_image`` for line
images, ``transcribe_strokes`` for pen trajectories, ``transcribe_features`` for precomputed
features). The one-utterance calls reuse the extractor's tables and the decoder, run the model in
eval mode under ``torch.inference_mode`` and show no progress bar; with ``features.cmvn: speaker``
each utterance is normalised by its own statistics (its speaker is unknown).

    rec = Recognizer.from_checkpoint("exp/fsdd/best.pt")
    hyp = rec.transcribe_array(samples, 8000)     # samples: (N,) float in [-1, 1] or int16
    print(rec.text(hyp))
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, TypeVar

import numpy as np
import torch

from seqlabel.config import Config
from seqlabel.data.dataset import Split, encode_targets, extract_features, normalize
from seqlabel.data.vocab import Vocab
from seqlabel.decoders.align import forced_align
from seqlabel.decoders.factory import build_decoder
from seqlabel.decoders.protocols import Decoder
from seqlabel.errors import ConfigError, DataError
from seqlabel.features import FeatureExtractor, build_extractor
from seqlabel.features.cmvn import CmvnStats, speaker_groups
from seqlabel.features.image import grey_of
from seqlabel.features.strokes import check_strokes
from seqlabel.inference.adapt import NO_NORMS, adapted_norms, norm_blocks
from seqlabel.inference.batch import decode_all, decode_log_probs, log_probs_all, transcribe
from seqlabel.inference.restore import model_from_state
from seqlabel.models.bilstm import BiLSTMCTC
from seqlabel.models.checkpoint import load_checkpoint
from seqlabel.models.lengths import frame_seconds
from seqlabel.runtime import autocast, resolve_device
from seqlabel.types import Hypothesis, Utterance

AUDIO_TYPES = ("fbank", "mfcc", "logmel")
T = TypeVar("T")
_METHODS = {"transcribe_array": AUDIO_TYPES, "transcribe_image": ("image",), "transcribe_strokes": ("strokes",),
            "transcribe_features": ("precomputed",)}  # the one-utterance call of each features.type


def _memory_utterance(utt_id: str) -> Utterance:
    """An in-memory utterance: its own speaker (``features.cmvn: speaker`` normalises it by itself)."""
    return Utterance(utt_id, "<in memory>", "", speaker=utt_id)


@dataclass
class Recognizer:
    config: Config
    vocab: Vocab
    model: BiLSTMCTC
    extractor: FeatureExtractor
    cmvn: Optional[CmvnStats]
    device: torch.device
    _decoder: Optional[Decoder] = field(default=None, repr=False)  # built on first use from config.decode
    adapt_norms: bool = False  # manifests: batch norms re-estimated on each speaker's (manuscript's) utterances

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", overrides: Sequence[str] = (),
                        adapt_norms: bool = False) -> "Recognizer":
        """Load a checkpoint; ``overrides`` (``decode.KEY=VALUE``) change its decode settings; ``adapt_norms``:
        manifests are decoded speaker by speaker, batch norms adapted to each (the model must have some; every
        utterance needs a ``speaker``, and single in-memory inputs, ``transcribe_image`` etc., are refused)."""
        state = load_checkpoint(path)
        bad = [o for o in overrides if not o.strip().startswith("decode.")]
        if bad:
            raise ConfigError(f"only decode.* settings can be overridden for a trained model, got {bad}")
        config, vocab, model = model_from_state(state, path, overrides)
        if config.features.type == "precomputed" and config.features.dim is None:  # the model fixes it
            dim = state["input_dim"] // (1 + config.features.deltas)
            config = replace(config, features=replace(config.features, dim=dim))
        dev = resolve_device(device)
        cmvn = CmvnStats.from_state(state["cmvn"]) if state.get("cmvn") else None
        if adapt_norms and not norm_blocks(model):
            raise ConfigError(f"--adapt-norms: {path}: the model {NO_NORMS}")
        return cls(config, vocab, model.to(dev).eval(), build_extractor(config.features), cmvn, dev,
                   adapt_norms=adapt_norms)

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame (feature frame shift x subsampling)."""
        return frame_seconds(self.config)

    @property
    def decoder(self) -> Decoder:
        """The decoder of ``config.decode`` (built once: LM and lexicon loaded on first use)."""
        if self._decoder is None:
            self._decoder = build_decoder(self.config.decode, self.vocab, self.config.data.lowercase)
        return self._decoder

    def features(self, utts: Sequence[Utterance], progress: bool = False) -> list[torch.Tensor]:
        """Normalised (T, F) features, as in training."""
        if self.config.features.cmvn == "speaker":  # utterances without a speaker: refused before extraction
            speaker_groups(utts, self.config.data.speaker_from_id)
        if self.adapt_norms:
            self._speakers(utts)
        return self.normalize(utts, extract_features(utts, self.extractor, "features", progress))

    def normalize(self, utts: Sequence[Utterance], raw: list[torch.Tensor]) -> list[torch.Tensor]:
        """The extractor's (T, F) features of ``utts`` normalised as in training (``features.cmvn``)."""
        return normalize(Split(list(utts), raw, [[] for _ in utts]), self.config.features.cmvn, self.cmvn,
                         self.config.data.speaker_from_id)

    def text(self, hyp: Hypothesis) -> str:
        """A hypothesis as a transcript: characters with spaces at word boundaries, or space-separated phones."""
        return self.vocab.to_text(hyp.tokens)

    # ------------------------------------------------------------------ one utterance in memory
    def transcribe_array(self, samples: np.ndarray | torch.Tensor, sample_rate: int,
                         utt_id: str = "array") -> Hypothesis:
        """One waveform's best hypothesis. ``samples``: (N,), (N, channels) or (channels, N), float in
        [-1, 1] or int16/int32 PCM (the first channel is used); resampled to the model's rate, or
        refused when the checkpoint's config says ``features.resample: false``."""
        from seqlabel.features.audio import to_rate, waveform_of  # torchaudio: audio models only

        extractor = self._extractor_for(AUDIO_TYPES, "transcribe_array")
        c = self.config.features
        what = f"array {utt_id!r}"
        wave = to_rate(waveform_of(samples, what), int(sample_rate), c.sample_rate, c.resample, what)
        utt = _memory_utterance(utt_id)
        return self._best(extractor.from_waveforms([wave], [utt])[0], utt)

    def transcribe_image(self, image: Any, utt_id: str = "image") -> Hypothesis:
        """One line image's best hypothesis: a Pillow image, an (H, W) grey array (float in [0, 1] with
        1 = white, or uint8/uint16) or an (H, W, 3|4) uint8 RGB(A) array, converted as image files are."""
        extractor = self._extractor_for(("image",), "transcribe_image")
        utt = _memory_utterance(utt_id)
        grey = grey_of(image, f"image {utt_id!r}")
        return self._best(extractor.frames(extractor.ink_image(grey), utt), utt)

    def transcribe_strokes(self, strokes: Sequence[np.ndarray], utt_id: str = "strokes") -> Hypothesis:
        """One pen trajectory's best hypothesis: a list of strokes, each (N_i, 2) x, y or (N_i, 3) x, y, t
        (y grows downward, t in seconds), normalised and resampled as stroke files are."""
        extractor = self._extractor_for(("strokes",), "transcribe_strokes")
        utt = _memory_utterance(utt_id)
        return self._best(extractor.features_of_strokes(check_strokes(strokes, f"strokes {utt_id!r}"), utt), utt)

    def transcribe_features(self, features: np.ndarray | torch.Tensor, utt_id: str = "features") -> Hypothesis:
        """One utterance of precomputed features (T, F0), as a ``.npy`` file would hold them (deltas are
        added as the checkpoint's config says)."""
        extractor = self._extractor_for(("precomputed",), "transcribe_features")
        utt = _memory_utterance(utt_id)
        array = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
        return self._best(extractor.features_of_array(array, utt, f"features {utt_id!r}"), utt)

    def _extractor_for(self, types: tuple[str, ...], method: str) -> Any:
        kind = self.config.features.type
        if kind not in types:
            right = next(name for name, kinds in _METHODS.items() if kind in kinds)
            raise ConfigError(f"{method} needs a checkpoint with features.type {' or '.join(types)}; this one reads "
                              f"{kind} features: use Recognizer.{right}")
        return self.extractor

    def _best(self, raw: torch.Tensor, utt: Utterance) -> Hypothesis:
        """The best hypothesis of one utterance's (T, F) extractor output: normalise, forward, decode."""
        if self.adapt_norms:  # said, not ignored: one input is too little to estimate a hand's statistics
            raise ConfigError("adapt_norms adapts the batch norms to many utterances at once, not to one input: "
                              "adapt a checkpoint first (`seqlabel adapt CKPT MANIFEST --out adapted.pt`) and load "
                              "that, or transcribe the files together (api.transcribe(..., adapt_norms=True))")
        decoder = self.decoder
        feats = self.normalize([utt], [raw])[0].to(self.device)
        with torch.inference_mode(), autocast(self.device, self.config.train.amp):
            log_probs, lengths = self.model(feats.unsqueeze(0), torch.tensor([feats.shape[0]], device=self.device))
        lp = log_probs[0, : int(lengths[0])].float().cpu().numpy()  # (T', C)
        return decode_all([lp], [utt.id], self.vocab, decoder, self.frame_seconds)[0][0]

    def references(self, utts: Sequence[Utterance]) -> dict[str, list[str]]:
        """Reference token sequences (raises on tokens unknown to the model's vocabulary)."""
        targets = encode_targets(utts, self.vocab, self.config.data.lowercase, allow_empty=True)
        return {u.id: self.vocab.decode(t) for u, t in zip(utts, targets)}

    def log_probs(self, utts: Sequence[Utterance], batch_frames: int = 50000, progress: bool = False) -> list[np.ndarray]:
        """Each utterance's log-probs (T', C), computed in batches on the model's device."""
        def run(group: Sequence[Utterance], feats: list[torch.Tensor]) -> list[np.ndarray]:
            return log_probs_all(self.model, feats, self.device, batch_frames, amp=self.config.train.amp,
                                 progress=progress)
        return self._per_speaker(utts, self.features(utts, progress), run)

    def transcribe_nbest(self, utts: Sequence[Utterance], batch_frames: int = 50000,
                         progress: bool = False) -> list[list[Hypothesis]]:
        """The n-best hypotheses (``decode.nbest``; one for greedy) of each utterance, best first."""
        decoder = self.decoder  # LM and lexicon problems show before the features are computed

        def run(group: Sequence[Utterance], feats: list[torch.Tensor]) -> list[list[Hypothesis]]:
            return transcribe(self.model, group, feats, self.vocab, self.device, decoder, self.frame_seconds,
                              batch_frames, amp=self.config.train.amp, progress=progress)
        return self._per_speaker(utts, self.features(utts, progress), run)

    def _per_speaker(self, utts: Sequence[Utterance], feats: list[torch.Tensor],
                     run: Callable[[Sequence[Utterance], list[torch.Tensor]], list[T]]) -> list[T]:
        """``run(utts, feats)``; with ``adapt_norms``, once per speaker (manuscript), the front end's batch
        norms re-estimated on that speaker's utterances (AdaBN, ``inference.adapt``) and restored after."""
        if not self.adapt_norms:
            return run(utts, feats)
        out: list[Optional[T]] = [None] * len(utts)
        for group in self._speakers(utts).values():
            with adapted_norms(self.model, [feats[i] for i in group], self.device):
                results = run([utts[i] for i in group], [feats[i] for i in group])
            for i, result in zip(group, results):
                out[i] = result
        return out  # type: ignore[return-value]  # every index filled: the groups cover all utterances

    def _speakers(self, utts: Sequence[Utterance]) -> dict[str, list[int]]:
        """The indices of each speaker's utterances, for ``adapt_norms``: utterances without a speaker are refused
        (their id's prefix is rarely the hand or voice: an FSDD id's is the digit said, and adapting to one
        label's inputs would flatter the scores) unless the model was trained with ``data.speaker_from_id``."""
        lacking = [u.id for u in utts if not u.speaker]
        if lacking and not self.config.data.speaker_from_id:
            raise DataError(f"--adapt-norms adapts to each speaker (manuscript) of the manifest in turn, but "
                            f"{len(lacking)} of {len(utts)} utterances have no `speaker` field (e.g. "
                            f"{', '.join(map(repr, lacking[:3]))}): add one to every line of the manifest, or adapt "
                            "to all of them at once with `seqlabel adapt CKPT MANIFEST --out adapted.pt`")
        return speaker_groups(utts, from_id=True)

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
