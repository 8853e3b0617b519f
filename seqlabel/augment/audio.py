"""Train-time augmentation of waveforms: (N,) float32 samples in [-1, 1] at a known sample rate.

Pure functions take the waveform (and a ``numpy.random.Generator`` where they draw), so a draw is
deterministic given the generator's state; ``WavePerturb`` chains them with the settings of
``features.augment``:

    speed_perturb   resample by a factor: tempo and pitch change together (Ko et al. 2015, as Kaldi's
                    and ESPnet's speed perturbation); the duration becomes N / factor
    coloured_noise  Gaussian noise with power spectrum ~ 1 / f^slope (0 white, 1 pink, 2 brown)
    add_noise       mix noise in at a signal-to-noise ratio in dB (torchaudio.functional.add_noise)
    apply_gain      scale by a gain in dB
    NoiseFiles      random segments of random noise recordings from a folder (checked up front)
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torchaudio

from seqlabel.config import AudioAugmentConfig
from seqlabel.errors import ConfigError, DataError
from seqlabel.features.audio import audio_info, read_samples

NOISE_SUFFIXES = (".wav", ".flac", ".ogg", ".sph", ".aiff", ".aif")


def speed_perturb(wave: torch.Tensor, factor: float, sample_rate: int) -> torch.Tensor:
    """(N,) -> (about N / factor,): the waveform played ``factor`` times faster at the same rate.

    The samples are taken as recorded at ``factor * sample_rate`` and resampled to ``sample_rate``
    (``torchaudio.functional.resample``'s windowed sinc), so pitch and tempo change together.
    ``factor * sample_rate`` is rounded to a whole number of Hz; the pair is reduced by their greatest
    common divisor (0.9 at 16 kHz: 9 -> 10). The filter is built once per factor: ``torchaudio.transforms.Resample``
    keeps the kernel that ``resample`` rebuilds on every call (same samples within 2e-6)."""
    return speed_perturb_many([wave], [factor], sample_rate)[0]


def speed_perturb_many(waves: Sequence[torch.Tensor], factors: Sequence[float], sample_rate: int) -> list[torch.Tensor]:
    """``speed_perturb`` of several waveforms: those of one factor are resampled together, zero-padded
    to (B, N_max) (the padding only meets the filter's own zero padding), each cut to its length.
    A waveform at factor 1.0 is returned as it is (the same tensor)."""
    out = list(waves)
    by_factor: dict[int, list[int]] = {}
    for i, factor in enumerate(factors):
        source_rate = int(round(factor * sample_rate))
        if source_rate != sample_rate:
            by_factor.setdefault(source_rate, []).append(i)
    for source_rate, indices in by_factor.items():
        padded = torch.nn.utils.rnn.pad_sequence([waves[i] for i in indices], batch_first=True)  # (B, N_max)
        resampled = _resampler(source_rate, sample_rate)(padded)  # (B, N'_max)
        for row, i in zip(resampled, indices):
            out[i] = row[: resampled_length(waves[i].numel(), source_rate, sample_rate)]
    return out


def resampled_length(n: int, source_rate: int, target_rate: int) -> int:
    """Samples of ``n`` resampled from ``source_rate`` to ``target_rate``, as torchaudio counts them."""
    g = math.gcd(source_rate, target_rate)
    return math.ceil(target_rate // g * n / (source_rate // g))


@functools.lru_cache(maxsize=64)
def _resampler(source_rate: int, target_rate: int) -> torchaudio.transforms.Resample:
    return torchaudio.transforms.Resample(source_rate, target_rate)


def noise_size(n: int) -> int:
    """White samples drawn for ``n`` samples of coloured noise: the next power of two (an FFT of a
    length with large prime factors is many times slower)."""
    return 1 << max(n - 1, 1).bit_length()


def coloured_noise(n: int, slope: float, rng: np.random.Generator) -> torch.Tensor:
    """(n,) float32 Gaussian noise of unit RMS whose power spectrum falls as 1 / f^slope (f > 0)."""
    return shape_noise(rng.standard_normal((1, noise_size(n))), np.array([slope]), [n])[0]


def shape_noise(white: np.ndarray, slopes: np.ndarray, lengths: Sequence[int]) -> list[torch.Tensor]:
    """White noise (B, S) -> B coloured noises (n_b,) of unit RMS: each rFFT bin scaled by f^(-slope_b / 2),
    the DC bin removed (brown noise would otherwise wander off), cut to n_b <= S and centred."""
    size = white.shape[1]
    freqs = np.fft.rfftfreq(size)
    scale = np.zeros((len(slopes), freqs.size))
    scale[:, 1:] = freqs[1:] ** (-np.asarray(slopes)[:, None] / 2.0)  # (B, S / 2 + 1)
    noise = np.fft.irfft(np.fft.rfft(white, axis=1) * scale, n=size, axis=1)
    out = []
    for row, n in zip(noise, lengths):
        piece = row[:n] - row[:n].mean()
        rms = float(np.sqrt(np.mean(piece ** 2)))
        out.append(torch.from_numpy((piece / rms if rms > 0 else piece).astype(np.float32)))
    return out


def add_noise(wave: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """(N,) + (N,) noise scaled so that ``10 log10(|wave|^2 / |scaled noise|^2) = snr_db``."""
    return add_noise_many([wave], [noise], [snr_db])[0]


def add_noise_many(waves: Sequence[torch.Tensor], noises: Sequence[torch.Tensor], snrs: Sequence[float]
                   ) -> list[torch.Tensor]:
    """``add_noise`` of several pairs in one call of ``torchaudio.functional.add_noise`` (zero-padded to
    (B, N_max), energies over each one's length). Silence, or silent noise, is returned as it is."""
    for wave, noise in zip(waves, noises):
        if noise.shape != wave.shape:
            raise ValueError(f"noise must have the waveform's shape {tuple(wave.shape)}, got {tuple(noise.shape)}")
    out = list(waves)
    mix = [i for i, (w, n) in enumerate(zip(waves, noises)) if float(n.pow(2).sum()) > 0 and float(w.pow(2).sum()) > 0]
    if not mix:
        return out
    lengths = torch.tensor([waves[i].numel() for i in mix])
    mixed = torchaudio.functional.add_noise(
        torch.nn.utils.rnn.pad_sequence([waves[i] for i in mix], batch_first=True),  # (B, N_max)
        torch.nn.utils.rnn.pad_sequence([noises[i] for i in mix], batch_first=True),
        torch.tensor([float(snrs[i]) for i in mix]), lengths)
    for row, i, n in zip(mixed, mix, lengths.tolist()):
        out[i] = row[:n]
    return out


def apply_gain(wave: torch.Tensor, gain_db: float) -> torch.Tensor:
    """(N,) scaled by ``10^(gain_db / 20)`` (no clipping: features are computed from the float samples)."""
    return wave * (10.0 ** (gain_db / 20.0))


@dataclass(frozen=True)
class NoiseFile:
    path: str
    sample_rate: int
    frames: int


class NoiseFiles:
    """Noise recordings under a folder: ``segment(n, rng)`` is ``n`` samples of a random file from a
    random offset (the file repeated when it is shorter), first channel, resampled to ``sample_rate``.
    Read from disk per draw, so large noise corpora need no memory; every file is checked up front."""

    def __init__(self, folder: str | Path, sample_rate: int) -> None:
        folder = Path(folder)
        key = "features.augment.noise_dir"
        if not folder.is_dir():
            raise ConfigError(f"{key}: folder not found: {folder} (a folder of noise recordings, e.g. wav or flac "
                              "files; or null for generated coloured noise)")
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in NOISE_SUFFIXES and p.is_file())
        if not paths:
            raise ConfigError(f"{key}: {folder} holds no audio files ({', '.join(NOISE_SUFFIXES)}); point it at a "
                              "folder of noise recordings or set it to null for generated coloured noise")
        self.files: list[NoiseFile] = []
        for path in paths:
            try:
                info = audio_info(path)
            except DataError as e:
                raise ConfigError(f"{key}: {e} (remove or repair the file)") from None
            if info.frames == 0:
                raise ConfigError(f"{key}: {path} is empty (remove it)")
            self.files.append(NoiseFile(str(path), info.sample_rate, info.frames))
        self.sample_rate = sample_rate

    def segment(self, n: int, rng: np.random.Generator) -> torch.Tensor:
        """(n,) float32 noise samples at ``sample_rate``."""
        f = self.files[int(rng.integers(len(self.files)))]
        need = int(math.ceil(n * f.sample_rate / self.sample_rate)) + 1  # samples at the file's own rate
        start = int(rng.integers(max(f.frames - need, 0) + 1))
        samples = torch.from_numpy(np.ascontiguousarray(read_samples(f.path, start, min(start + need, f.frames))[:, 0]))
        if f.sample_rate != self.sample_rate:
            samples = torchaudio.functional.resample(samples, f.sample_rate, self.sample_rate)
        if samples.numel() < n:
            samples = samples.repeat(n // max(samples.numel(), 1) + 1)
        return samples[:n]


@dataclass(frozen=True)
class Draw:
    """What one item's generator drew: its speed factor and length after it, the noise (SNR and, for
    generated noise, its slope and white samples; for files, the segment) and the gain."""

    factor: float
    length: int  # samples after the speed change
    snr: Optional[float] = None  # None: no noise
    slope: float = 0.0
    white: Optional[np.ndarray] = None  # (noise_size(length),)
    segment: Optional[torch.Tensor] = None  # (length,) from a noise file
    gain_db: float = 0.0


@dataclass(frozen=True)
class WavePerturb:
    """speed -> additive noise -> gain with the ranges of ``features.augment`` (each switched off by its
    default). An item's generator draws, in this order: the speed factor, whether to add noise, its SNR,
    its slope and white samples (or a file segment), the gain. ``copy`` with ``speed_copies`` picks the
    factor ``speed[copy]`` instead of drawing it. ``many`` perturbs a batch: each item draws from its own
    generator, the arithmetic runs on the batch."""

    config: AudioAugmentConfig
    sample_rate: int
    noise_files: Optional[NoiseFiles] = None

    @classmethod
    def from_config(cls, config: AudioAugmentConfig, sample_rate: int) -> "WavePerturb":
        files = NoiseFiles(config.noise_dir, sample_rate) if config.noise_dir and config.noise_prob > 0 else None
        return cls(config, sample_rate, files)

    def speed_factor(self, rng: np.random.Generator, copy: int = 0) -> float:
        """The item's speed factor: ``speed[copy]`` with ``speed_copies``, else the generator's first draw."""
        c = self.config
        if not c.speed:
            return 1.0
        return c.speed[copy] if c.speed_copies else c.speed[int(rng.integers(len(c.speed)))]

    def draw(self, n: int, rng: np.random.Generator, copy: int = 0) -> Draw:
        """The draws for a waveform of ``n`` samples."""
        c = self.config
        factor = self.speed_factor(rng, copy)
        length = resampled_length(n, int(round(factor * self.sample_rate)), self.sample_rate)
        snr, slope, white, segment = None, 0.0, None, None
        if c.noise_prob > 0 and rng.uniform() < c.noise_prob:
            snr = rng.uniform(*c.noise_snr)
            if self.noise_files is not None:
                segment = self.noise_files.segment(length, rng)
            else:
                slope = rng.uniform(*c.noise_slope)
                white = rng.standard_normal(noise_size(length))
        gain = rng.uniform(-c.gain_db, c.gain_db) if c.gain_db > 0 else 0.0
        return Draw(factor, length, snr, slope, white, segment, gain)

    def __call__(self, wave: torch.Tensor, rng: np.random.Generator, copy: int = 0) -> torch.Tensor:
        """(N,) -> (N',) perturbed waveform (N' = N unless the speed changed; ``wave`` itself when
        nothing was drawn)."""
        return self.many([wave], [rng], [copy])[0]

    def many(self, waves: Sequence[torch.Tensor], rngs: Sequence[np.random.Generator],
             copies: Sequence[int]) -> list[torch.Tensor]:
        """``__call__`` of several waveforms, each with its generator and copy."""
        draws = [self.draw(w.numel(), rng, copy) for w, rng, copy in zip(waves, rngs, copies)]
        out = speed_perturb_many(waves, [d.factor for d in draws], self.sample_rate)
        noisy = [i for i, d in enumerate(draws) if d.snr is not None]
        noises = {i: draws[i].segment for i in noisy if draws[i].segment is not None}
        by_size: dict[int, list[int]] = {}
        for i in noisy:
            if draws[i].white is not None:
                by_size.setdefault(draws[i].white.size, []).append(i)
        for indices in by_size.values():  # generated noise, shaped together per FFT size
            shaped = shape_noise(np.stack([draws[i].white for i in indices]),
                                 np.array([draws[i].slope for i in indices]), [draws[i].length for i in indices])
            noises.update(zip(indices, shaped))
        if noisy:
            mixed = add_noise_many([out[i] for i in noisy], [noises[i] for i in noisy], [draws[i].snr for i in noisy])
            for i, wave in zip(noisy, mixed):
                out[i] = wave
        return [apply_gain(w, d.gain_db) if d.gain_db else w for w, d in zip(out, draws)]
