"""Audio loading and audio feature extractors (Kaldi-compatible fbank/MFCC, log-mel).

Waveforms are read with soundfile (wav, flac, uncompressed NIST SPHERE such as TIMIT's
``.WAV``), or as headerless ``.raw`` files (AN4's distribution: 16 kHz, 16-bit, big-endian,
mono), cut to the utterance's ``start``/``end``, reduced to the first channel, resampled to
the configured rate (or refused when ``features.resample`` is false) and scaled to the int16
range as Kaldi does before feature computation. Shorten-compressed SPHERE files are refused
with the tool that decompresses them.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import soundfile as sf
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi

from seqlabel.config import FeatureConfig
from seqlabel.config.features import SAMPLE_RATES
from seqlabel.errors import ConfigError, DataError
from seqlabel.features.common import add_deltas_many, check_finite
from seqlabel.features.fbank import KaldiFbank
from seqlabel.types import Utterance

RAW_SUFFIX = ".raw"
AUDIO_SUFFIXES = (".wav", ".flac", ".sph", RAW_SUFFIX)  # what `seqlabel transcribe` picks from folders
RAW_FORMAT: dict[str, object] = {  # headerless .raw audio, as AN4 distributes it
    "format": "RAW", "samplerate": 16000, "channels": 1, "subtype": "PCM_16", "endian": "BIG"}
SPHERE_MAGIC = b"NIST_1A"
MAX_OVERSHOOT_S = 0.1  # a segment end this far past the end of its file is cut to it, further is an error
GROUP_SECONDS = 5.0  # audio whose frames go through the fbank together: batching pays for short files,
# while long concatenations fall out of the CPU caches
SPHERE_MAX_HEADER = 1 << 16  # bytes; the header size is written in the file (1024 in TIMIT)
INT16_SCALE = 32768.0  # fbank/mfcc see samples in the int16 range, as Kaldi reads wavs
LOGMEL_FLOOR = 1e-6  # logmel = log(mel power + this)


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file's header says: sample rate (Hz), samples per channel, channels."""

    sample_rate: int
    frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def read_sphere_header(path: str | os.PathLike) -> dict[str, str | int | float] | None:
    """The fields of a NIST SPHERE header (``sample_rate``, ``sample_coding``, ...), or None when
    ``path`` does not start with ``NIST_1A``. Header layout: ``NIST_1A``, the header size in bytes,
    then ``name -type value`` lines (type i: integer, r: real, sN: string) up to ``end_head``."""
    with open(path, "rb") as f:
        if f.read(len(SPHERE_MAGIC)) != SPHERE_MAGIC:
            return None
        first = f.read(16).split(b"\n")
        try:
            size = int(first[1])
        except (IndexError, ValueError):
            raise DataError(f"{path}: NIST SPHERE file without a header size on its second line") from None
        f.seek(0)
        header = f.read(min(size, SPHERE_MAX_HEADER)).decode("ascii", errors="replace")
    fields: dict[str, str | int | float] = {}
    for line in header.splitlines()[2:]:
        parts = line.split(None, 2)
        if not parts or parts[0] == "end_head":
            break
        if len(parts) < 3 or not parts[1].startswith("-"):
            continue  # comments and malformed lines carry nothing we need
        name, kind, value = parts[0], parts[1][1:2], parts[2].strip()
        try:
            fields[name] = int(value) if kind == "i" else float(value) if kind == "r" else value
        except ValueError:
            raise DataError(f"{path}: SPHERE header field {name} {parts[1]} has a bad value {value!r}") from None
    return fields


def open_audio(path: str | os.PathLike) -> sf.SoundFile:
    """An open soundfile for ``path`` (use it as a context manager), its header checked.

    Raises DataError naming the file when it is missing, unreadable, truncated, or
    shorten-compressed SPHERE (naming sph2pipe, the tool that decompresses it).
    """
    path = Path(path)
    raw = path.suffix.lower() == RAW_SUFFIX
    try:
        f = sf.SoundFile(str(path), **(RAW_FORMAT if raw else {}))
    except (RuntimeError, sf.LibsndfileError) as e:
        raise _open_error(path, e) from None
    if raw and f.frames * 2 != path.stat().st_size:
        f.close()
        raise DataError(f"{path}: headerless 16-bit .raw audio must have an even size, "
                        f"got {path.stat().st_size} bytes")
    try:
        if f.format == "WAV":
            _check_not_truncated(path, f.extra_info)
        elif f.format == "NIST":
            _check_not_shorten(path)
        check_rate(int(f.samplerate), f"audio file {path}", "its header is damaged or was written with a wrong "
                   "rate: write the file again at the rate its samples were recorded at")
    except DataError:
        f.close()
        raise
    return f


def _open_error(path: Path, error: Exception) -> DataError:
    """Why libsndfile could not open ``path``, in words that say what to do."""
    if not path.is_file():
        return DataError(f"audio file not found: {path}")
    try:
        _check_not_shorten(path)
    except DataError as e:
        return e
    return DataError(f"cannot read audio file {path}: {error}")


def _check_not_shorten(path: Path) -> None:
    sphere = read_sphere_header(path)
    if sphere is not None and "shorten" in str(sphere.get("sample_coding", "")):
        raise DataError(
            f"{path} is shorten-compressed NIST SPHERE (sample_coding {sphere['sample_coding']}), which libsndfile "
            "cannot decode; decompress it first with sph2pipe (e.g. `sph2pipe -f wav in.sph out.wav`, built in "
            "Kaldi's tools/) and point the recipe at the result")


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Sample rate, length and channels from the file's header, without decoding (see ``open_audio``)."""
    with open_audio(path) as f:
        return AudioInfo(int(f.samplerate), int(f.frames), int(f.channels))


def read_samples(path: str | os.PathLike, start: int = 0, stop: int | None = None) -> np.ndarray:
    """(N, channels) float32 samples ``start:stop`` of an audio file (see ``open_audio``)."""
    with open_audio(path) as f:
        return _read(f, path, start, stop)


def _read(f: sf.SoundFile, path: str | os.PathLike, start: int, stop: int | None) -> np.ndarray:
    try:
        f.seek(start)
        return f.read(-1 if stop is None else stop - start, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise DataError(f"cannot read audio file {path}: {e}") from None


def load_audio(utt: Utterance, sample_rate: int, resample: bool = True) -> torch.Tensor:
    """Read ``utt``'s audio as a float32 waveform (N,) in [-1, 1] at ``sample_rate``."""
    path = utt.source
    try:
        with open_audio(path) as f:
            sr = int(f.samplerate)
            start = int(round((utt.start or 0.0) * sr))
            stop = int(round(utt.end * sr)) if utt.end is not None else None
            if stop is not None and stop > f.frames:
                if stop - f.frames > MAX_OVERSHOOT_S * sr:
                    raise DataError(f"segment end {utt.end}s is past the end of {path} ({f.frames / sr:.3f}s)")
                stop = f.frames  # segment lists round their ends: a small overshoot is cut, as Kaldi does
            samples = _read(f, path, start, stop)
    except DataError as e:
        raise DataError(f"utterance {utt.id!r}: {e}") from None
    if samples.shape[0] == 0:
        raise DataError(f"utterance {utt.id!r}: audio is empty: {path}")
    wave = torch.from_numpy(np.ascontiguousarray(samples[:, 0]))
    return to_rate(wave, sr, sample_rate, resample, f"utterance {utt.id!r}: {path}")


PCM_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}  # integer samples -> [-1, 1)


def waveform_of(samples: np.ndarray | torch.Tensor, what: str) -> torch.Tensor:
    """In-memory samples -> (N,) float32 waveform in [-1, 1]: the first channel, as ``load_audio`` takes.

    ``samples``: (N,), (N, channels) as soundfile reads them, or (channels, N) as torchaudio loads
    them (the shorter axis is taken as the channels); float in [-1, 1], or int16 / int32 PCM.
    """
    array = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    if array.ndim == 2:
        array = array[:, 0] if array.shape[0] >= array.shape[1] else array[0]
    if array.ndim != 1 or array.size == 0:
        raise DataError(f"{what}: expected samples of shape (N,), (N, channels) or (channels, N), got "
                        f"{'an empty array' if array.size == 0 else f'shape {tuple(np.shape(samples))}'}")
    if array.dtype in PCM_SCALE:
        array = array / PCM_SCALE[array.dtype]
    elif array.dtype.kind != "f":
        raise DataError(f"{what}: samples must be float in [-1, 1] or int16/int32 PCM, got dtype {array.dtype}")
    wave = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    if not torch.isfinite(wave).all():
        raise DataError(f"{what}: the samples hold NaN or infinite values")
    return wave


def check_rate(rate: int, what: str, fix: str) -> None:
    """Refuse a sample rate outside ``SAMPLE_RATES`` (1 Hz audio resampled to 16 kHz is 16000 times longer)."""
    low, high = SAMPLE_RATES
    if not low <= rate <= high:
        raise DataError(f"{what} declares a sample rate of {rate} Hz, outside the plausible {low}-{high} Hz: {fix}")


def to_rate(wave: torch.Tensor, rate: int, sample_rate: int, resample: bool, what: str) -> torch.Tensor:
    """(N,) waveform at ``rate`` -> (N',) at ``sample_rate``; refused (naming ``what``) when the rates
    differ and ``resample`` is false, or when ``rate`` is implausible (``check_rate``)."""
    check_rate(rate, what, "give the rate the samples were recorded at")
    if rate == sample_rate:
        return wave
    if not resample:
        raise DataError(f"{what} is sampled at {rate} Hz but features.sample_rate is {sample_rate} Hz and "
                        f"features.resample is false: resample it to {sample_rate} Hz first (e.g. `sox IN.wav -r "
                        f"{sample_rate} OUT.wav`), or set features.resample: true to resample")
    return torchaudio.functional.resample(wave, rate, sample_rate)


class AudioFeatures:
    """fbank / mfcc (torchaudio.compliance.kaldi) or logmel (torchaudio.transforms) + deltas."""

    suffixes = AUDIO_SUFFIXES

    def __init__(self, config: FeatureConfig) -> None:
        if config.type == "logmel" and config.energy:
            raise ConfigError("features.energy is not available for logmel (use type: fbank)")
        self.config = config
        self.frame_rate = 1000.0 / config.frame_shift_ms
        self._mel = None
        self._fbank = None  # tables built once; torchaudio's kaldi.fbank rebuilds them per call
        if config.type == "fbank" and config.dither == 0:
            self._fbank = KaldiFbank(config.sample_rate, config.num_bins, config.frame_length_ms,
                                     config.frame_shift_ms, config.energy)
        if config.type == "logmel":
            win = int(round(config.sample_rate * config.frame_length_ms / 1000))
            self._mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=config.sample_rate, n_fft=next_pow2(win), win_length=win,
                hop_length=int(round(config.sample_rate * config.frame_shift_ms / 1000)),
                n_mels=config.num_bins, center=False)

    @property
    def dim(self) -> int:
        c = self.config
        base = {"fbank": c.num_bins + int(c.energy), "mfcc": c.num_ceps, "logmel": c.num_bins}[c.type]
        return base * (1 + c.deltas)

    def __call__(self, utt: Utterance) -> torch.Tensor:
        """(T, F) float32 features of one utterance (no normalisation)."""
        return self.many([utt])[0]

    def many(self, utts: Sequence[Utterance]) -> list[torch.Tensor]:
        """(T_i, F) float32 features of several utterances; the Kaldi fbank and the deltas run
        once over all their frames (short files are dominated by per-call costs otherwise)."""
        c = self.config
        return self.from_waveforms([load_audio(u, c.sample_rate, c.resample) for u in utts], utts)

    def from_waveforms(self, waves: Sequence[torch.Tensor], utts: Sequence[Utterance]) -> list[torch.Tensor]:
        """(T_i, F) features of waveforms (N_i,) at ``config.sample_rate``; ``utts`` (one per waveform)
        name the culprit in errors. ``many`` reads the audio and calls this; augmentation calls it
        with altered waveforms."""
        c = self.config
        if self._fbank is not None:
            static = [f for group in _groups(waves, GROUP_SECONDS * c.sample_rate)
                      for f in self._fbank.many([w * INT16_SCALE for w in group])]
        else:
            static = [self.from_waveform(w) for w in waves]
        for u, w, f in zip(utts, waves, static):
            if f.shape[0] == 0:
                raise DataError(
                    f"utterance {u.id!r}: audio too short for one {c.frame_length_ms} ms frame "
                    f"({w.numel() / c.sample_rate:.3f} s): {u.source}")
        feats = add_deltas_many(static, c.deltas)
        if not torch.isfinite(torch.cat(feats)).all():
            for u, f in zip(utts, feats):
                check_finite(f, u)  # raises, naming the utterance and frame
        return feats

    def from_waveform(self, wave: torch.Tensor) -> torch.Tensor:
        """(N,) waveform at ``config.sample_rate`` -> (T, F0) static features (before deltas)."""
        c = self.config
        if self._mel is not None:
            if wave.numel() < self._mel.n_fft:
                return torch.zeros(0, c.num_bins)
            mel = self._mel(wave)  # (F, T)
            return torch.log(mel + LOGMEL_FLOOR).transpose(0, 1).contiguous()  # (T, F)
        if self._fbank is not None:
            return self._fbank(wave * INT16_SCALE)  # (T, F0)
        scaled = (wave * INT16_SCALE).unsqueeze(0)  # (1, N)
        common = dict(sample_frequency=c.sample_rate, frame_length=c.frame_length_ms,
                      frame_shift=c.frame_shift_ms, dither=c.dither, num_mel_bins=c.num_bins)
        if scaled.shape[1] < int(c.sample_rate * c.frame_length_ms / 1000):
            return torch.zeros(0, self.dim // (1 + c.deltas))
        if c.type == "fbank":
            return kaldi.fbank(scaled, use_energy=c.energy, **common)  # (T, F0)
        return kaldi.mfcc(scaled, num_ceps=c.num_ceps, use_energy=c.energy, **common)  # (T, F0)


def _groups(waves: list[torch.Tensor], max_samples: float) -> Iterator[list[torch.Tensor]]:
    """Consecutive waveforms in groups of at most ``max_samples`` samples (a longer one alone)."""
    group: list[torch.Tensor] = []
    total = 0
    for w in waves:
        if group and total + w.numel() > max_samples:
            yield group
            group, total = [], 0
        group.append(w)
        total += w.numel()
    if group:
        yield group


def _check_not_truncated(path: Path, sndfile_log: str) -> None:
    """libsndfile reads a cut-off WAV without complaint; its log line ``data : DECLARED (should be
    FOUND)`` gives it away (0 and 0xFFFFFFFF are streaming placeholders, not truncation)."""
    match = re.search(r"^data : (\d+) \(should be (\d+)\)", sndfile_log, re.MULTILINE)
    if match and int(match[1]) > int(match[2]) and int(match[1]) not in (0, 0xFFFFFFFF):
        raise DataError(f"audio file {path} is truncated: its header declares {match[1]} bytes of samples, "
                        f"the file holds {match[2]} (copy or convert it again)")


def next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()
