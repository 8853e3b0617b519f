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
        return self.many([wave])[0]

    def many(self, waves: list[torch.Tensor]) -> list[torch.Tensor]:
        """Several waveforms at once: their frames go through every step together (one call per step
        instead of one per utterance), then are split back. Frames never cross utterances."""
        frames = [w.unfold(0, self.window_size, self.window_shift) if w.numel() >= self.window_size
                  else w.new_zeros(0, self.window_size) for w in waves]  # (T_i, W) views
        lengths = [f.shape[0] for f in frames]
        if not sum(lengths):
            return [torch.zeros(0, self.dim) for _ in waves]
        feats = self._frames(torch.cat(frames) if len(frames) > 1 else frames[0])
        return list(feats.split(lengths))

    def _frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, W) raw frames -> (T, dim) log mel energies (log energy first when ``use_energy``)."""
        frames = frames - frames.mean(dim=1, keepdim=True)  # remove the DC offset
        previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)  # (T, W): x[t-1], x[-1] := x[0]
        spectrum = torch.fft.rfft((frames - PREEMPHASIS * previous) * self.window, n=self.padded_size)
        mel = (spectrum.abs().pow(2) @ self.mel_t).clamp_min(EPSILON).log()  # (T, num_bins)
        if not self.use_energy:
            return mel
        energy = frames.pow(2).sum(dim=1, keepdim=True).clamp_min(EPSILON).log().clamp_min(0.0)  # floor 1.0 -> 0
        return torch.cat([energy, mel], dim=1)  # (T, 1 + num_bins)
