"""The ``features`` section: the extractor type and its settings, with the image and stroke
subsections and named presets."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from seqlabel.config.checks import check_choice, check_positive
from seqlabel.config.mel import empty_filters, fft_size, max_mel_bins
from seqlabel.errors import ConfigError

SAMPLE_RATES = (1000, 384000)  # Hz: a rate outside is a damaged header or a typo, not audio

FEATURE_PRESETS: dict[str, dict[str, Any]] = {
    # Graves, Mohamed & Hinton 2013: 40 Fourier-transform filterbank coefficients plus
    # energy, with first and second temporal derivatives: 41 * 3 = 123 dims.
    "graves2013": {"type": "fbank", "num_bins": 40, "energy": True, "deltas": 2},
}


@dataclass
class ImageFeatureConfig:
    """Line images (features.type: image): ink in [0, 1], one frame per column (or window of columns)."""

    height: int = 48  # lines are scaled to this many pixel rows, the width in proportion
    normalize: str = "crop"  # crop: the whole crop scaled to height | centre: the band around the text's
    # centre line, straightened, scaled by the ink's spread (OCRopus/Calamari; seqlabel.features.line_norm)
    band: float = 4.0  # normalize: centre: the band's half height, in mean ink distances from the centre line
    binarize: bool = False  # Otsu threshold after scaling: ink 1, paper 0
    ink: str = "auto"  # dark (ink on light paper) | light | auto (paper = the majority of pixels)
    window: int = 1  # columns per frame: F = height * window
    stride: int = 1  # columns between frames (<= window)
    pad: int = 4  # blank columns added at both ends after scaling
    augment: bool = False  # train-time augmentation (training set only) with the ranges below
    shear: float = 0.3  # max |horizontal shear| (slant), as tan(angle)
    scale: float = 0.1  # max relative change of the ink size and, separately, of the width
    rotate: float = 1.5  # max |rotation|, degrees
    elastic: float = 1.0  # std of the smooth elastic displacement, pixels at the scaled height (0: off)
    morph: float = 0.5  # probability of one 2x2 erosion or dilation (even odds)
    contrast: float = 0.3  # ink level drawn from [1 - contrast, 1], paper level from [0, contrast / 2]
    degrade: float = 0.0  # max share of ink erased in blotches, with specks on the paper (0: off)

    def __post_init__(self) -> None:
        check_choice("features.image.ink", self.ink, ("dark", "light", "auto"))
        check_choice("features.image.normalize", self.normalize, ("crop", "centre"))
        for name in ("height", "window", "stride", "band"):
            check_positive(f"features.image.{name}", getattr(self, name))
        if self.height < 8:
            raise ConfigError(f"features.image.height must be >= 8, got {self.height}")
        if self.stride > self.window:
            raise ConfigError(f"features.image.stride ({self.stride}) must be <= features.image.window "
                              f"({self.window}) so that every column is seen")
        for name in ("pad", "shear", "rotate", "elastic"):
            if getattr(self, name) < 0:
                raise ConfigError(f"features.image.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("morph", "contrast", "scale", "degrade"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"features.image.{name} must be in [0, 1), got {getattr(self, name)}")


@dataclass
class StrokeFeatureConfig:
    """Pen trajectories (features.type: strokes): normalised, resampled to equidistant points,
    one frame per point (Graves et al. 2009). Lengths are in core (x-)heights of the line."""

    deskew: bool = True  # rotate the line so that its baseline is horizontal
    deslant: bool = True  # shear so that the dominant near-vertical ink direction is vertical
    step: float = 0.1  # resampling distance between points, core heights
    gaps: str = "jump"  # pen-up gaps: jump (the next stroke's first point) | fill (pen-up points every step)
    context: int = 4  # points on each side for the vicinity features (0: no vicinity features)
    augment: bool = False  # train-time augmentation (training set only) with the ranges below
    shear: float = 0.2  # max |added slant|, as tan(angle)
    scale: float = 0.15  # max relative change of the size and, separately, of the width
    rotate: float = 3.0  # max |rotation|, degrees
    jitter: float = 0.03  # std of the smooth elastic displacement, core heights (0: off)
    speed: float = 0.3  # max relative change of the pen speed (points resampled at the original rate)

    def __post_init__(self) -> None:
        check_choice("features.strokes.gaps", self.gaps, ("jump", "fill"))
        check_positive("features.strokes.step", self.step)
        for name in ("context", "shear", "rotate", "jitter"):
            if getattr(self, name) < 0:
                raise ConfigError(f"features.strokes.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("scale", "speed"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"features.strokes.{name} must be in [0, 1), got {getattr(self, name)}")


AUDIO_TYPES = ("fbank", "mfcc", "logmel")


@dataclass
class AudioAugmentConfig:
    """``features.augment``: train-time augmentation of speech, on the training set only, drawn per item
    and epoch from a generator seeded by (train.seed, epoch, item). Order: speed -> noise -> gain on the
    waveform (audio feature types only), then features and CMVN, then SpecAugment masks and time warp on
    the normalised features (any feature type; masked values are 0, the mean after CMVN)."""

    speed: list[float] = field(default_factory=list)  # speed factors (Ko et al. 2015: [0.9, 1.0, 1.1]); [] = off
    speed_copies: bool = False  # true: one copy of the training set per factor, copy k at speed[k] (Kaldi/ESPnet)
    noise_prob: float = 0.0  # probability of additive noise per item (0: off)
    noise_snr: list[float] = field(default_factory=lambda: [5.0, 25.0])  # SNR range in dB, drawn uniformly
    noise_slope: list[float] = field(default_factory=lambda: [0.0, 2.0])  # generated noise: power ~ 1/f^slope
    # (0 white, 1 pink, 2 brown), slope drawn uniformly in this range
    noise_dir: Optional[str] = None  # folder of noise recordings: a random segment of a random file instead
    gain_db: float = 0.0  # gain drawn uniformly in [-gain_db, gain_db] dB (0: off)
    freq_masks: int = 0  # SpecAugment (Park et al. 2019): frequency masks per utterance
    freq_width: int = 0  # max width of each (feature bins; the same bins in every delta block)
    time_masks: int = 0  # time masks per utterance
    time_width: int = 0  # max width of each, frames ...
    time_fraction: float = 1.0  # ... and at most this fraction of the utterance's frames
    time_warp: int = 0  # max shift of the time-warp point, frames (0: off)

    def __post_init__(self) -> None:
        self.speed = _numbers("features.augment.speed", self.speed)
        self.noise_snr = _range("features.augment.noise_snr", self.noise_snr)
        self.noise_slope = _range("features.augment.noise_slope", self.noise_slope)
        for factor in self.speed:
            if not 0.5 <= factor <= 2.0:
                raise ConfigError(f"features.augment.speed factors must be in [0.5, 2], got {factor} "
                                  "(e.g. [0.9, 1.0, 1.1])")
        if self.speed_copies and not self.speed:
            raise ConfigError("features.augment.speed_copies needs speed factors, e.g. speed: [0.9, 1.0, 1.1]")
        if not 0.0 <= self.noise_prob <= 1.0:
            raise ConfigError(f"features.augment.noise_prob must be in [0, 1], got {self.noise_prob}")
        if self.noise_dir and self.noise_prob == 0:
            raise ConfigError(f"features.augment.noise_dir is set ({self.noise_dir}) but features.augment.noise_prob "
                              "is 0, so no noise would be added; set noise_prob (e.g. 0.5) or remove noise_dir")
        if self.noise_slope[0] < 0:
            raise ConfigError(f"features.augment.noise_slope must be >= 0 (0 white, 1 pink, 2 brown), "
                              f"got {self.noise_slope}")
        for name in ("gain_db", "freq_masks", "freq_width", "time_masks", "time_width", "time_warp"):
            if getattr(self, name) < 0:
                raise ConfigError(f"features.augment.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 < self.time_fraction <= 1.0:
            raise ConfigError(f"features.augment.time_fraction must be in (0, 1], got {self.time_fraction}")
        for count, width in (("freq_masks", "freq_width"), ("time_masks", "time_width")):
            if getattr(self, count) and not getattr(self, width):
                raise ConfigError(f"features.augment.{count} is {getattr(self, count)} but "
                                  f"features.augment.{width} is 0; set a maximum width > 0")

    @property
    def waveform(self) -> bool:
        """Whether anything changes the waveform (speed, noise, gain)."""
        return any(f != 1.0 for f in self.speed) or self.noise_prob > 0 or self.gain_db > 0

    @property
    def masks(self) -> bool:
        """Whether SpecAugment changes the features (masks or time warp)."""
        return bool(self.freq_masks or self.time_masks or self.time_warp)

    @property
    def copies(self) -> int:
        """How many times each epoch visits the training set."""
        return len(self.speed) if self.speed_copies else 1


def _numbers(key: str, value: object) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise ConfigError(f"{key} must be a list of numbers, got {value!r}")
    return [float(x) for x in value]


def _range(key: str, value: object) -> list[float]:
    low_high = _numbers(key, value)
    if len(low_high) != 2 or low_high[0] > low_high[1]:
        raise ConfigError(f"{key} must be [low, high] with low <= high, got {value!r}")
    return low_high


@dataclass
class FeatureConfig:
    type: str = "fbank"  # fbank | mfcc | logmel | precomputed | image | strokes
    sample_rate: int = 16000  # audio is resampled to this rate (or refused, see resample)
    resample: bool = True  # False: audio at another rate is an error
    num_bins: int = 40  # mel filterbank channels
    num_ceps: int = 13  # mfcc only
    energy: bool = False  # append log energy (fbank, mfcc: replaces c0)
    deltas: int = 0  # 0, 1 (deltas) or 2 (deltas + delta-deltas)
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    dither: float = 0.0
    dim: Optional[int] = None  # precomputed only: expected feature dimension (checked when set)
    # global (training-set statistics, kept in the checkpoint) | speaker (each speaker's utterances of the set at
    # hand; with speed perturbation a perturbed item uses its speaker's statistics at its speed factor) |
    # utterance (each utterance's own frames, after any augmentation; needs no speaker labels) | none
    cmvn: str = "global"
    cache_dir: Optional[str] = None  # raw features cached here (memory-mapped .npy, keyed by this config); null: off
    image: ImageFeatureConfig = field(default_factory=ImageFeatureConfig)  # type: image only
    strokes: StrokeFeatureConfig = field(default_factory=StrokeFeatureConfig)  # type: strokes only
    augment: AudioAugmentConfig = field(default_factory=AudioAugmentConfig)  # train-time speech augmentation

    def __post_init__(self) -> None:
        check_choice("features.type", self.type, ("fbank", "mfcc", "logmel", "precomputed", "image", "strokes"))
        check_choice("features.cmvn", self.cmvn, ("global", "speaker", "utterance", "none"))
        check_choice("features.deltas", self.deltas, (0, 1, 2))
        check_positive("features.sample_rate", self.sample_rate)
        check_positive("features.num_bins", self.num_bins)
        check_positive("features.frame_shift_ms", self.frame_shift_ms)
        if self.frame_length_ms < self.frame_shift_ms:
            raise ConfigError("features.frame_length_ms must be >= features.frame_shift_ms")
        if self.type in AUDIO_TYPES:
            self._check_audio()
        if self.augment.waveform and self.type not in AUDIO_TYPES:
            raise ConfigError(f"features.augment speed, noise and gain change waveforms: they need features.type "
                              f"{' | '.join(AUDIO_TYPES)}, got {self.type!r}; use the masks (freq_masks, time_masks, "
                              f"time_warp) or the {self.type} augmentation of its own section")

    def _check_audio(self) -> None:
        """A plausible sample rate, mel filters that each hold an FFT bin, cepstra within the filters."""
        low, high = SAMPLE_RATES
        if not low <= self.sample_rate <= high:
            raise ConfigError(f"features.sample_rate {self.sample_rate} Hz is outside the plausible {low}-{high} Hz "
                              "(speech is usually 8000 or 16000)")
        kaldi = self.type != "logmel"
        n_fft = fft_size(self.sample_rate, self.frame_length_ms, kaldi)
        empty = empty_filters(self.num_bins, self.sample_rate, n_fft, kaldi)
        if empty:
            raise ConfigError(f"features.num_bins {self.num_bins} is too many mel filters for {self.sample_rate} Hz "
                              f"audio in {self.frame_length_ms:g} ms frames ({n_fft}-point FFT): {empty} of them would "
                              "hold no frequency bin and give a constant feature; use features.num_bins <= "
                              f"{max_mel_bins(self.sample_rate, n_fft, kaldi)} (or longer frames, "
                              "features.frame_length_ms)")
        if self.type == "mfcc" and self.num_ceps > self.num_bins:
            raise ConfigError(f"features.num_ceps ({self.num_ceps}) must be <= features.num_bins ({self.num_bins}): "
                              "the cepstra are computed from the mel filters")
