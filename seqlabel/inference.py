"""Running a model over a set of utterances: deterministic length-sorted batches, forward
passes on the model's device, greedy or beam-search decoding into Hypothesis records (with
token times and confidences), and the CTC feasibility check."""
from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from seqlabel.config import Config, DecodeConfig
from seqlabel.data import collate
from seqlabel.decoders.align import Alignment, forced_align, path_alignment
from seqlabel.decoders.beam import BeamResult, CTCPrefixBeamSearch, check_log_probs
from seqlabel.errors import ConfigError, DataError
from seqlabel.model import BiLSTMCTC
from seqlabel.sampling import pack_batches
from seqlabel.types import Hypothesis, Utterance
from seqlabel.vocab import Vocab


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


def frame_seconds(config: Config) -> float:
    """Seconds per output frame: the feature frame shift times the model's time reduction
    (CNN time pooling x subsampling)."""
    return config.features.frame_shift_ms / 1000.0 * config.model.time_reduction


def load_lm(path: str | Path) -> Any:
    """An ARPA n-gram LM (``seqlabel.lm.NgramLM``)."""
    from seqlabel.lm import NgramLM

    if not Path(path).is_file():
        raise DataError(f"LM file not found: {path}")
    return NgramLM.read_arpa(path)


def load_lexicon(path: str | Path, vocab: Vocab, lowercase: bool = False) -> Any:
    """A lexicon for ``vocab``'s units from a word list (one word a line) or a pronunciation
    dictionary (``WORD tok tok ...``). Character models use the words (the first column) spelled
    as characters; phone models need the dictionary's pronunciations."""
    from seqlabel.lm import Lexicon

    path = Path(path)
    if not path.is_file():
        raise DataError(f"lexicon file not found: {path}")
    try:
        lines = [ln.split() for ln in path.read_text(encoding="utf-8").splitlines()
                 if ln.strip() and not ln.lstrip().startswith((";;;", "#"))]
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not lines:
        raise DataError(f"{path}: no words")
    if vocab.unit == "char":
        words = [re.sub(r"\(\d+\)$", "", fields[0]) for fields in lines]
        if lowercase:
            words = [w.lower() for w in words]
        try:
            return Lexicon.from_words(dict.fromkeys(words), "char", vocab.word_boundary)
        except DataError as e:
            raise DataError(f"{path}: {e}") from None
    if all(len(fields) == 1 for fields in lines):
        raise DataError(f"{path} is a word list, but the model's tokens are phones: "
                        "give a pronunciation dictionary (lines 'WORD ph ph ...')")
    return Lexicon.from_dict_file(path, unit="phone", word_boundary=vocab.word_boundary)


def build_decoder(config: DecodeConfig, vocab: Vocab, lowercase: bool = False, lm: Any = None,
                  lexicon: Any = None) -> Optional[CTCPrefixBeamSearch]:
    """The beam search a decode config asks for (None for greedy). ``lm``/``lexicon`` objects, when
    given, are used instead of loading ``config.lm``/``config.lexicon``."""
    if config.decoder == "greedy":
        return None
    if lm is None and config.lm:
        lm = load_lm(config.lm)
    if lexicon is None and config.lexicon:
        lexicon = load_lexicon(config.lexicon, vocab, lowercase)
    try:
        return CTCPrefixBeamSearch(
            vocab.tokens, beam=config.beam, nbest=config.nbest, token_topk=config.token_topk,
            token_min_logp=config.token_min_logp, blank_threshold=config.blank_threshold,
            beam_threshold=config.beam_threshold, lm=lm, lm_unit=config.lm_unit, lm_weight=config.lm_weight,
            insertion_bonus=config.insertion_bonus, lexicon=lexicon,
            word_boundary=vocab.word_boundary if vocab.unit == "char" else None)
    except ValueError as e:
        raise ConfigError(f"decode: {e}") from None


def decode_log_probs(log_probs: np.ndarray, utt_id: str, vocab: Vocab, decoder: Optional[CTCPrefixBeamSearch],
                     seconds: Optional[float] = None) -> list[Hypothesis]:
    """One utterance's log-probs (T', C) -> its n-best hypotheses (one for greedy); see ``decode_all``."""
    return decode_all([log_probs], [utt_id], vocab, decoder, seconds)[0]


def decode_all(log_probs: Sequence[np.ndarray], ids: Sequence[str], vocab: Vocab,
               decoder: Optional[CTCPrefixBeamSearch], seconds: Optional[float] = None) -> list[list[Hypothesis]]:
    """Utterances' log-probs (T', C) -> their n-best hypotheses (one for greedy), with token frames,
    durations and confidences from the best path (greedy) or the forced alignment (beam).

    The beam search runs on batches of similar lengths (``decoder.batch_size``), in lockstep.
    Bad log-probs (NaN, not normalised) raise DataError naming the utterance.
    """
    checked = []
    for lp, utt_id in zip(log_probs, ids):
        try:
            checked.append(check_log_probs(np.asarray(lp)[None])[0][0])
        except ValueError as e:
            raise DataError(f"utterance {utt_id!r}: {str(e).replace('utterance 0, ', '')}") from None
    if decoder is None:
        out = []
        for lp, utt_id in zip(checked, ids):
            al = path_alignment(lp, lp.argmax(axis=1))
            out.append([_hypothesis(utt_id, vocab, al, al.score, seconds)])
        return out
    results = beam_search_all(decoder, checked)
    return [[_hypothesis(utt_id, vocab, forced_align(lp, r.ids), r.score, seconds, r) for r in res]
            for lp, utt_id, res in zip(checked, ids, results)]


def beam_search_all(decoder: CTCPrefixBeamSearch, log_probs: Sequence[np.ndarray]) -> list[list[BeamResult]]:
    """Beam search over utterances' log-probs (T', C), in padded batches of similar lengths."""
    results: list[Optional[list[BeamResult]]] = [None] * len(log_probs)
    order = sorted(range(len(log_probs)), key=lambda i: log_probs[i].shape[0])
    C = len(decoder.tokens)
    for start in range(0, len(order), decoder.batch_size):
        chunk = order[start:start + decoder.batch_size]
        lengths = np.array([log_probs[i].shape[0] for i in chunk])
        padded = np.zeros((len(chunk), int(lengths.max(initial=0)), C), dtype=np.float32)
        for k, i in enumerate(chunk):
            padded[k, : lengths[k]] = log_probs[i]
        for i, res in zip(chunk, decoder.batch(padded, lengths)):
            results[i] = res
    return results  # type: ignore[return-value]


def _hypothesis(utt_id: str, vocab: Vocab, al: Alignment, score: float, seconds: Optional[float],
                result: Optional[BeamResult] = None) -> Hypothesis:
    tokens = tuple(vocab.decode(s.token for s in al.spans))
    if result is not None and result.words is not None:
        words = result.words
    else:
        words = tuple(vocab.to_text(tokens).split()) if vocab.unit == "char" else ()
    return Hypothesis(
        utt_id, tokens, float(score), tuple(s.start for s in al.spans), words=words,
        durations=tuple(s.end - s.start for s in al.spans),
        token_confidences=tuple(s.confidence for s in al.spans), confidence=al.confidence,
        acoustic_score=None if result is None else result.acoustic_score,
        lm_score=None if result is None else result.lm_score,
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
               device: torch.device, decoder: Optional[CTCPrefixBeamSearch] = None, seconds: Optional[float] = None,
               batch_frames: int = 50000, max_batch_size: int = 64, amp: str = "off",
               progress: bool = False) -> list[list[Hypothesis]]:
    """n-best hypotheses for every utterance, in the order of ``utts``: forward passes in batches on
    ``device``, then greedy decoding (``decoder`` None) or the beam search, batched, on CPU."""
    log_probs = log_probs_all(model, features, device, batch_frames, max_batch_size, amp, progress)
    return decode_all(log_probs, [u.id for u in utts], vocab, decoder, seconds)


def greedy_transcribe(model: BiLSTMCTC, utts: Sequence[Utterance], features: Sequence[torch.Tensor],
                      vocab: Vocab, device: torch.device, batch_frames: int = 50000,
                      max_batch_size: int = 64, amp: str = "off", progress: bool = False) -> list[Hypothesis]:
    """Greedy hypotheses for every utterance, in the order of ``utts``."""
    return [n[0] for n in transcribe(model, utts, features, vocab, device, None, None, batch_frames,
                                     max_batch_size, amp, progress)]
