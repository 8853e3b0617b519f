"""Kaldi-compatible log mel filterbank (``compute-fbank-feats``) with its tables computed once.

``torchaudio.compliance.kaldi.fbank`` rebuilds the window and the mel filterbank on every call,
which costs more than the transform itself for utterances of a second or two. ``KaldiFbank``
builds them once per configuration and then runs the same steps as Kaldi (and torchaudio):
frames cut with ``snip_edges``, DC offset removed, raw log energy, pre-emphasis 0.97 (first
sample replicated), Povey window, zero padding to a power of two, power spectrum, mel
filterbank, log with a float epsilon floor. Dither is not supported (the extractor falls back to
torchaudio when ``features.dither`` is set). ``tests/test_features.py`` checks equality with
torchaudio's implementation.
"""
from __future__ import annotations

import torch
import torchaudio.compliance.kaldi as kaldi

EPSILON = torch.finfo(torch.float32).eps
PREEMPHASIS = 0.97
LOW_FREQ = 20.0  # Hz, Kaldi's default lower edge of the first mel filter
POVEY_POWER = 0.85  # Povey window = Hann window ** 0.85 (never quite zero at the edges)


class KaldiFbank:
    """(N,) waveform in the int16 range -> (T, num_bins [+ 1]) log mel filterbank energies."""

    def __init__(self, sample_rate: int, num_bins: int, frame_length_ms: float = 25.0,
                 frame_shift_ms: float = 10.0, use_energy: bool = False) -> None:
        self.window_size = int(sample_rate * frame_length_ms * 0.001)
        self.window_shift = int(sample_rate * frame_shift_ms * 0.001)
        self.padded_size = 1 << (self.window_size - 1).bit_length()
        self.use_energy = use_energy
        self.num_bins = num_bins
        self.window = torch.hann_window(self.window_size, periodic=False, dtype=torch.float32).pow(POVEY_POWER)
        banks, _ = kaldi.get_mel_banks(num_bins, self.padded_size, float(sample_rate), LOW_FREQ, 0.0,
                                       100.0, -500.0, 1.0)  # (num_bins, padded / 2): no VTLN
        self.mel_t = torch.nn.functional.pad(banks.float(), (0, 1)).t().contiguous()  # (padded / 2 + 1, num_bins)

    @property
    def dim(self) -> int:
        return self.num_bins + int(self.use_energy)

    def __call__(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave`` (N,) float32 -> (T, dim) with T = 1 + (N - window) // shift (0 when too short);
        log energy first when ``use_energy``."""
        if wave.numel() < self.window_size:
            return torch.zeros(0, self.dim)
        frames = wave.unfold(0, self.window_size, self.window_shift)  # (T, W), a view
        frames = frames - frames.mean(dim=1, keepdim=True)  # remove the DC offset
        energy = frames.pow(2).sum(dim=1).clamp_min(EPSILON).log().clamp_min(0.0)  # energy floor 1.0 -> log 0
        previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)  # (T, W): x[t-1], x[-1] := x[0]
        frames = (frames - PREEMPHASIS * previous) * self.window
        spectrum = torch.fft.rfft(frames, n=self.padded_size).abs().pow(2)  # (T, padded / 2 + 1)
        mel = (spectrum @ self.mel_t).clamp_min(EPSILON).log()  # (T, num_bins)
        return torch.cat([energy.unsqueeze(1), mel], dim=1) if self.use_energy else mel

