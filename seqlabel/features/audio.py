"""Audio loading and audio feature extractors (Kaldi-compatible fbank/MFCC, log-mel).

Waveforms are read with soundfile (wav, flac, uncompressed NIST SPHERE), cut to the
utterance's ``start``/``end``, reduced to the first channel, resampled to the configured
rate (or refused when ``features.resample`` is false) and scaled to the int16 range as
Kaldi does before feature computation.
"""
from __future__ import annotations

import os
import re

import numpy as np
import soundfile as sf
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi

from seqlabel.config import FeatureConfig
from seqlabel.errors import ConfigError, DataError
from seqlabel.features.common import add_deltas, check_finite
from seqlabel.types import Utterance


def load_audio(utt: Utterance, sample_rate: int, resample: bool = True) -> torch.Tensor:
    """Read ``utt``'s audio as a float32 waveform (N,) in [-1, 1] at ``sample_rate``."""
    path = utt.source
    if not os.path.isfile(path):  # libsndfile reports a missing file as "System error"
        raise DataError(f"utterance {utt.id!r}: audio file not found: {path}")
    try:
        info = sf.info(path)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise DataError(f"utterance {utt.id!r}: cannot read audio file {path}: {e}") from None
    _check_not_truncated(utt, info.extra_info)
    sr = info.samplerate
    start = int(round((utt.start or 0.0) * sr))
    stop = int(round(utt.end * sr)) if utt.end is not None else None
    if stop is not None and stop > info.frames:
        raise DataError(
            f"utterance {utt.id!r}: segment end {utt.end}s is past the end of {path} ({info.frames / sr:.3f}s)")
    try:
        samples, _ = sf.read(path, start=start, stop=stop, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise DataError(f"utterance {utt.id!r}: cannot read audio file {path}: {e}") from None
    if samples.shape[0] == 0:
        raise DataError(f"utterance {utt.id!r}: audio is empty: {path}")
    wave = torch.from_numpy(np.ascontiguousarray(samples[:, 0]))
    if sr != sample_rate:
        if not resample:
            raise DataError(
                f"utterance {utt.id!r}: {path} is sampled at {sr} Hz but features.sample_rate is "
                f"{sample_rate} Hz (set features.resample: true to resample)")
        wave = torchaudio.functional.resample(wave, sr, sample_rate)
    return wave


class AudioFeatures:
    """fbank / mfcc (torchaudio.compliance.kaldi) or logmel (torchaudio.transforms) + deltas."""

    def __init__(self, config: FeatureConfig) -> None:
        if config.type == "logmel" and config.energy:
            raise ConfigError("features.energy is not available for logmel (use type: fbank)")
        self.config = config
        self.frame_rate = 1000.0 / config.frame_shift_ms
        self._mel = None
        if config.type == "logmel":
            win = int(round(config.sample_rate * config.frame_length_ms / 1000))
            self._mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=config.sample_rate, n_fft=_next_pow2(win), win_length=win,
                hop_length=int(round(config.sample_rate * config.frame_shift_ms / 1000)),
                n_mels=config.num_bins, center=False)

    @property
    def dim(self) -> int:
        c = self.config
        base = {"fbank": c.num_bins + int(c.energy), "mfcc": c.num_ceps, "logmel": c.num_bins}[c.type]
        return base * (1 + c.deltas)

    def __call__(self, utt: Utterance) -> torch.Tensor:
        """(T, F) float32 features of one utterance (no normalisation)."""
        c = self.config
        wave = load_audio(utt, c.sample_rate, c.resample)
        feats = self.from_waveform(wave)
        if feats.shape[0] == 0:
            raise DataError(
                f"utterance {utt.id!r}: audio too short for one {c.frame_length_ms} ms frame "
                f"({wave.numel() / c.sample_rate:.3f} s): {utt.source}")
        return check_finite(add_deltas(feats, c.deltas), utt)

    def from_waveform(self, wave: torch.Tensor) -> torch.Tensor:
        """(N,) waveform at ``config.sample_rate`` -> (T, F0) static features (before deltas)."""
        c = self.config
        if self._mel is not None:
            if wave.numel() < self._mel.n_fft:
                return torch.zeros(0, c.num_bins)
            mel = self._mel(wave)  # (F, T)
            return torch.log(mel + 1e-6).transpose(0, 1).contiguous()  # (T, F)
        scaled = (wave * 32768.0).unsqueeze(0)  # (1, N) in the int16 range, as Kaldi reads wavs
        common = dict(sample_frequency=c.sample_rate, frame_length=c.frame_length_ms,
                      frame_shift=c.frame_shift_ms, dither=c.dither, num_mel_bins=c.num_bins)
        if scaled.shape[1] < int(c.sample_rate * c.frame_length_ms / 1000):
            return torch.zeros(0, self.dim // (1 + c.deltas))
        if c.type == "fbank":
            return kaldi.fbank(scaled, use_energy=c.energy, **common)  # (T, F0)
        return kaldi.mfcc(scaled, num_ceps=c.num_ceps, use_energy=c.energy, **common)  # (T, F0)


def _check_not_truncated(utt: Utterance, sndfile_log: str) -> None:
    """libsndfile reads a cut-off WAV without complaint; its log line ``data : DECLARED (should be
    FOUND)`` gives it away (0 and 0xFFFFFFFF are streaming placeholders, not truncation)."""
    match = re.search(r"^data : (\d+) \(should be (\d+)\)", sndfile_log, re.MULTILINE)
    if match and int(match[1]) > int(match[2]) and int(match[1]) not in (0, 0xFFFFFFFF):
        raise DataError(f"utterance {utt.id!r}: audio file {utt.source} is truncated: its header declares "
                        f"{match[1]} bytes of samples, the file holds {match[2]} (copy or convert it again)")


def _next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()
