"""How many mel filters fit an FFT: a filter that holds no frequency bin gives a constant feature
(log of the floor), so ``features.num_bins`` above what the sample rate and frame length allow is
refused with the largest count that fits. Pure arithmetic (no torch), the filter edges as the two
filterbanks place them: Kaldi's (fbank, mfcc: 20 Hz to Nyquist, bins below Nyquist, mel = 1127
ln(1 + f / 700)) and torchaudio's ``MelSpectrogram`` (logmel: 0 Hz to Nyquist, HTK mel)."""
from __future__ import annotations

import bisect
import math

KALDI_LOW_HZ = 20.0


def fft_size(sample_rate: int, frame_length_ms: float, kaldi: bool) -> int:
    """The FFT length: the window in samples (Kaldi truncates, torchaudio rounds) up to a power of two."""
    raw = sample_rate * frame_length_ms / 1000
    window = max(1, int(raw) if kaldi else int(round(raw)))
    return 1 << (window - 1).bit_length()


def empty_filters(num_bins: int, sample_rate: int, n_fft: int, kaldi: bool) -> int:
    """How many of ``num_bins`` triangular mel filters hold no FFT bin (weight 0 everywhere)."""
    nyquist = sample_rate / 2
    if kaldi:
        mels = [1127.0 * math.log1p(i * sample_rate / n_fft / 700.0) for i in range(n_fft // 2)]
        low, high = 1127.0 * math.log1p(KALDI_LOW_HZ / 700.0), 1127.0 * math.log1p(nyquist / 700.0)
        edges = [low + k * (high - low) / (num_bins + 1) for k in range(num_bins + 2)]
    else:  # torchaudio: bins from 0 to sample_rate // 2, edges equidistant in HTK mel, compared in Hz
        count = n_fft // 2 + 1
        mels = [(sample_rate // 2) * i / (count - 1) for i in range(count)]
        high = 2595.0 * math.log10(1.0 + nyquist / 700.0)
        edges = [700.0 * (10 ** (high * k / (num_bins + 1) / 2595.0) - 1.0) for k in range(num_bins + 2)]
    empty = 0
    for m in range(num_bins):  # filter m spans (edges[m], edges[m + 2]), open at both ends
        if bisect.bisect_left(mels, edges[m + 2]) - bisect.bisect_right(mels, edges[m]) <= 0:
            empty += 1
    return empty


def max_mel_bins(sample_rate: int, n_fft: int, kaldi: bool) -> int:
    """The largest filter count with no empty filter (0 when even one filter is empty); filters overlap,
    so it may exceed the bins. Bisection: more filters are narrower, so emptiness sets in and stays."""
    low, high = 0, 2 * (n_fft // 2 + 1) + 1  # a bin lies in at most two filters
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if not empty_filters(mid, sample_rate, n_fft, kaldi) else (low, mid)
    return low
