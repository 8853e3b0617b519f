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
from typing import Optional

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
    source_rate = int(round(factor * sample_rate))
    if source_rate == sample_rate:
        return wave
    return _resampler(source_rate, sample_rate)(wave)


@functools.lru_cache(maxsize=64)
def _resampler(source_rate: int, target_rate: int) -> torchaudio.transforms.Resample:
    return torchaudio.transforms.Resample(source_rate, target_rate)


def coloured_noise(n: int, slope: float, rng: np.random.Generator) -> torch.Tensor:
    """(n,) float32 Gaussian noise of unit RMS whose power spectrum falls as 1 / f^slope (f > 0).

    White noise shaped in the frequency domain: each rFFT bin is scaled by f^(-slope / 2); the DC bin
    is removed (brown noise would otherwise wander off). Made at the next power of two and cut to ``n``
    (an FFT of a length with large prime factors is many times slower)."""
    size = 1 << max(n - 1, 1).bit_length()
    spectrum = np.fft.rfft(rng.standard_normal(size))
    freqs = np.fft.rfftfreq(size)
    scale = np.zeros_like(freqs)
    scale[1:] = freqs[1:] ** (-slope / 2.0)
    noise = np.fft.irfft(spectrum * scale, n=size)[:n]
    noise -= noise.mean()
    rms = float(np.sqrt(np.mean(noise ** 2)))
    return torch.from_numpy((noise / rms if rms > 0 else noise).astype(np.float32))


def add_noise(wave: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """(N,) + (N,) noise scaled so that ``10 log10(|wave|^2 / |scaled noise|^2) = snr_db``."""
    if noise.shape != wave.shape:
        raise ValueError(f"noise must have the waveform's shape {tuple(wave.shape)}, got {tuple(noise.shape)}")
    if float(noise.pow(2).sum()) == 0.0 or float(wave.pow(2).sum()) == 0.0:
        return wave  # silence in, or no noise: nothing to scale against
    mixed = torchaudio.functional.add_noise(wave.unsqueeze(0), noise.unsqueeze(0), torch.tensor([float(snr_db)]))
    return mixed.squeeze(0)


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
class WavePerturb:
    """speed -> additive noise -> gain with the ranges of ``features.augment`` (each switched off by its
    default). Draws, in this order: the speed factor, whether to add noise, its SNR, its slope or segment,
    the gain. ``copy`` >= 0 with ``speed_copies`` picks the factor ``speed[copy]`` instead of drawing it."""

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

    def __call__(self, wave: torch.Tensor, rng: np.random.Generator, copy: int = 0) -> torch.Tensor:
        """(N,) -> (N',) perturbed waveform (N' = N unless the speed changed)."""
        c = self.config
        wave = speed_perturb(wave, self.speed_factor(rng, copy), self.sample_rate)
        if c.noise_prob > 0 and rng.uniform() < c.noise_prob:
            snr = rng.uniform(*c.noise_snr)
            if self.noise_files is not None:
                noise = self.noise_files.segment(wave.numel(), rng)
            else:
                noise = coloured_noise(wave.numel(), rng.uniform(*c.noise_slope), rng)
            wave = add_noise(wave, noise, snr)
        if c.gain_db > 0:
            wave = apply_gain(wave, rng.uniform(-c.gain_db, c.gain_db))
        return wave
