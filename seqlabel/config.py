"""Dataclass configs, strict YAML loading and dotted overrides.

YAML is plain data: no tags, no object construction. Unknown keys are errors that name the
key and suggest the nearest valid one. ``-o train.lr=0.001`` style overrides are applied to
the YAML data before validation, so they are checked the same way.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from seqlabel.errors import ConfigError

FEATURE_PRESETS: dict[str, dict[str, Any]] = {
    # Graves, Mohamed & Hinton 2013: 40 Fourier-transform filterbank coefficients plus
    # energy, with first and second temporal derivatives: 41 * 3 = 123 dims.
    "graves2013": {"type": "fbank", "num_bins": 40, "energy": True, "deltas": 2},
}


@dataclass
class DataConfig:
    train: Optional[str] = None  # manifest paths, relative to the working directory
    dev: Optional[str] = None
    test: Optional[str] = None
    unit: str = "char"  # "char": each character a token, space -> word_boundary; "phone": space-separated
    vocab: Optional[str] = None  # token file (one per line, blank first); None: built from train
    word_boundary: str = "|"
    lowercase: bool = False
    max_duration: Optional[float] = None  # seconds; longer training utterances are dropped (counted)

    def __post_init__(self) -> None:
        _check_choice("data.unit", self.unit, ("char", "phone"))
        if len(self.word_boundary) != 1 or self.word_boundary.isspace():
            raise ConfigError(f"data.word_boundary must be one non-space character, got {self.word_boundary!r}")


@dataclass
class ImageFeatureConfig:
    """Line images (features.type: image): ink in [0, 1], one frame per column (or window of columns)."""

    height: int = 48  # lines are scaled to this many pixel rows, the width in proportion
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

    def __post_init__(self) -> None:
        _check_choice("features.image.ink", self.ink, ("dark", "light", "auto"))
        for name in ("height", "window", "stride"):
            _check_positive(f"features.image.{name}", getattr(self, name))
        if self.height < 8:
            raise ConfigError(f"features.image.height must be >= 8, got {self.height}")
        if self.stride > self.window:
            raise ConfigError(f"features.image.stride ({self.stride}) must be <= features.image.window "
                              f"({self.window}) so that every column is seen")
        for name in ("pad", "shear", "rotate", "elastic"):
            if getattr(self, name) < 0:
                raise ConfigError(f"features.image.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("morph", "contrast", "scale"):
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
        _check_choice("features.strokes.gaps", self.gaps, ("jump", "fill"))
        _check_positive("features.strokes.step", self.step)
        for name in ("context", "shear", "rotate", "jitter"):
            if getattr(self, name) < 0:
                raise ConfigError(f"features.strokes.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("scale", "speed"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"features.strokes.{name} must be in [0, 1), got {getattr(self, name)}")


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
    cmvn: str = "global"  # global | speaker | none
    cache_dir: Optional[str] = None  # raw features cached here (memory-mapped .npy, keyed by this config); null: off
    image: ImageFeatureConfig = field(default_factory=ImageFeatureConfig)  # type: image only
    strokes: StrokeFeatureConfig = field(default_factory=StrokeFeatureConfig)  # type: strokes only

    def __post_init__(self) -> None:
        _check_choice("features.type", self.type, ("fbank", "mfcc", "logmel", "precomputed", "image", "strokes"))
        _check_choice("features.cmvn", self.cmvn, ("global", "speaker", "none"))
        _check_choice("features.deltas", self.deltas, (0, 1, 2))
        _check_positive("features.sample_rate", self.sample_rate)
        _check_positive("features.num_bins", self.num_bins)
        _check_positive("features.frame_shift_ms", self.frame_shift_ms)
        if self.frame_length_ms < self.frame_shift_ms:
            raise ConfigError("features.frame_length_ms must be >= features.frame_shift_ms")


@dataclass
class ModelConfig:
    num_layers: int = 3
    hidden_size: int = 250  # units per direction
    projection_size: int = 0  # 0: no projection (LSTMP when > 0, must be < hidden_size)
    dropout: float = 0.0  # between LSTM layers
    frame_stacking: int = 1  # concatenate this many consecutive input frames ...
    subsampling: int = 1  # ... and keep every this-many-th: T' = ceil(T / subsampling)
    # Optional CNN front end before the stacking (off by default: a BLSTM-only baseline). Each layer:
    # conv (cnn_kernel x cnn_kernel, same padding) -> ReLU -> max-pool (feature axis x time axis).
    cnn_channels: list[int] = field(default_factory=list)  # output channels per layer; [] = no CNN
    cnn_kernel: int = 3  # odd
    cnn_height_pool: int = 2  # pooling along the feature axis (image height) per layer
    cnn_time_pool: int = 1  # pooling along time per layer; see time_reduction

    def __post_init__(self) -> None:
        _check_positive("model.num_layers", self.num_layers)
        _check_positive("model.hidden_size", self.hidden_size)
        _check_positive("model.frame_stacking", self.frame_stacking)
        _check_positive("model.subsampling", self.subsampling)
        if not isinstance(self.cnn_channels, list) or not all(
                isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in self.cnn_channels):
            raise ConfigError(f"model.cnn_channels must be a list of positive integers, got {self.cnn_channels!r}")
        if self.cnn_kernel < 1 or self.cnn_kernel % 2 == 0:
            raise ConfigError(f"model.cnn_kernel must be a positive odd number, got {self.cnn_kernel}")
        _check_positive("model.cnn_height_pool", self.cnn_height_pool)
        _check_positive("model.cnn_time_pool", self.cnn_time_pool)
        if not 0 <= self.projection_size < self.hidden_size:
            raise ConfigError(f"model.projection_size must be in [0, hidden_size), got {self.projection_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")

    @property
    def time_reduction(self) -> int:
        """Input frames per output frame: T' = ceil(T / time_reduction) (CNN time pooling x subsampling)."""
        return self.cnn_time_pool ** len(self.cnn_channels) * self.subsampling


@dataclass
class TrainConfig:
    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    grad_clip: float = 5.0  # max gradient norm; 0 disables
    weight_noise: float = 0.0  # std of Gaussian weight noise (Graves 2013); 0 disables
    weight_noise_start_epoch: int = 1  # first epoch (1-based) that uses weight noise (weight_noise_phase: epoch)
    # epoch: noise from weight_noise_start_epoch on, continuing from the current weights. restart
    # (Graves 2013): phase 1 without noise, early-stopped on the dev loss, keeps phase1.pt; phase 2
    # restarts from phase1.pt with noise, early-stopped on the dev error, keeps best.pt
    weight_noise_phase: str = "epoch"
    max_epochs: int = 20
    batch_frames: int = 20000  # total (padded) input frames per batch
    max_batch_size: int = 32  # with batch_frames 20000: AN4 padding waste 3.9% (64 would give 6.1%)
    lr_patience: int = 1  # epochs without dev improvement before lr *= lr_factor
    lr_factor: float = 0.5
    min_lr: float = 1e-6
    early_stop_patience: int = 4  # epochs without dev improvement before stopping
    seed: int = 1
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "auto"  # auto (bf16 on CUDA if supported, else fp16) | bf16 | fp16 | off
    num_workers: int = 0
    threads: int = 0  # torch intra-op CPU threads; 0: torch's default (1 avoids thrashing on a busy machine)
    tensorboard: bool = True
    progress: bool = True
    save_every_steps: int = 0  # also write last.pt every this many batches inside an epoch (0: per epoch only)
    max_nonfinite_steps: int = 20  # stop after this many consecutive non-finite batches (0: never)
    max_nonfinite_fraction: float = 0.5  # stop when more than this fraction of an epoch's batches are non-finite

    def __post_init__(self) -> None:
        _check_choice("train.optimizer", self.optimizer, ("adam", "sgd"))
        _check_choice("train.amp", self.amp, ("auto", "bf16", "fp16", "off"))
        _check_choice("train.weight_noise_phase", self.weight_noise_phase, ("epoch", "restart"))
        _check_positive("train.lr", self.lr)
        _check_positive("train.max_epochs", self.max_epochs)
        _check_positive("train.batch_frames", self.batch_frames)
        _check_positive("train.max_batch_size", self.max_batch_size)
        for name in ("weight_noise", "grad_clip", "weight_decay", "momentum", "threads", "num_workers",
                     "save_every_steps", "max_nonfinite_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.lr_factor < 1:
            raise ConfigError(f"train.lr_factor must be in (0, 1), got {self.lr_factor} (for a constant "
                              "learning rate set train.min_lr equal to train.lr)")
        if not 0 < self.max_nonfinite_fraction <= 1:
            raise ConfigError(f"train.max_nonfinite_fraction must be in (0, 1], got {self.max_nonfinite_fraction}")
        if self.weight_noise_phase == "restart":
            self._check_restart()

    def _check_restart(self) -> None:
        """``weight_noise_phase: restart`` needs a noise for phase 2 and a patience that ends phase 1
        (its need of a dev set is checked by the training loop, which sees ``data.dev``)."""
        if self.weight_noise <= 0:
            raise ConfigError(f"train.weight_noise_phase: restart trains phase 2 with weight noise, but "
                              f"train.weight_noise is {self.weight_noise}; set it > 0 (Graves 2013: 0.075) or "
                              "use train.weight_noise_phase: epoch")
        if self.early_stop_patience <= 0:
            raise ConfigError(f"train.weight_noise_phase: restart ends phase 1 when the dev loss has not improved "
                              f"for train.early_stop_patience epochs, but it is {self.early_stop_patience}; set it > 0")
        if self.weight_noise_start_epoch != 1:
            raise ConfigError(f"train.weight_noise_start_epoch ({self.weight_noise_start_epoch}) applies to "
                              "train.weight_noise_phase: epoch only; remove it (with restart the noise starts when "
                              "phase 1 early-stops)")


@dataclass
class DecodeConfig:
    decoder: str = "greedy"  # greedy | beam (CTC prefix beam search)
    beam: int = 16  # hypotheses kept per frame
    nbest: int = 1  # hypotheses returned per utterance (<= beam)
    token_topk: int = 0  # per frame, extend with at most this many tokens (0: no limit)
    token_min_logp: Optional[float] = -8.0  # per frame, tokens below this log-prob start nothing (null: none)
    blank_threshold: Optional[float] = 0.999  # frames with blank probability >= this start nothing (null: off)
    beam_threshold: Optional[float] = 15.0  # drop hypotheses this far (log) below the best (null: off)
    lm: Optional[str] = None  # ARPA n-gram LM file over lm_unit units; null: none
    lm_unit: str = "token"  # token: LM over the model's tokens (chars, phones); word: over words
    lm_weight: float = 0.5  # shallow-fusion weight of the LM log-prob
    insertion_bonus: float = 0.0  # added per token (token LM, no LM) or per word (word LM)
    lexicon: Optional[str] = None  # word list or pronunciation dictionary: only its words are decoded

    def __post_init__(self) -> None:
        _check_choice("decode.decoder", self.decoder, ("greedy", "beam"))
        _check_choice("decode.lm_unit", self.lm_unit, ("token", "word"))
        _check_positive("decode.beam", self.beam)
        _check_positive("decode.nbest", self.nbest)
        if self.nbest > self.beam:
            raise ConfigError(f"decode.nbest ({self.nbest}) must be <= decode.beam ({self.beam})")
        if self.token_topk < 0:
            raise ConfigError(f"decode.token_topk must be >= 0 (0: no limit), got {self.token_topk}")
        if self.token_min_logp is not None and self.token_min_logp > 0:
            raise ConfigError(f"decode.token_min_logp is a log-probability (<= 0), got {self.token_min_logp}")
        if self.blank_threshold is not None and not 0.0 < self.blank_threshold <= 1.0:
            raise ConfigError(f"decode.blank_threshold must be in (0, 1] or null, got {self.blank_threshold}")
        if self.beam_threshold is not None:
            _check_positive("decode.beam_threshold", self.beam_threshold)
        if self.lm_weight < 0:
            raise ConfigError(f"decode.lm_weight must be >= 0, got {self.lm_weight}")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


def _check_choice(key: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{key} must be one of {list(choices)}, got {value!r}")


def _check_positive(key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{key} must be > 0, got {value!r}")


def _suggest(key: str, valid: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {prefix + close[0]!r}?"
    return f"; valid keys: {', '.join(prefix + v for v in valid)}"


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against the annotation ``hint``; ints are accepted for floats."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):  # PyYAML reads "1e-4" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if hint in (int, float) and (isinstance(value, bool) or not isinstance(value, hint)):
        raise ConfigError(f"{key} must be a number ({hint.__name__}), got {value!r}")
    if hint is str and not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return value


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass ``cls`` from plain data, refusing unknown keys (with a suggestion)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"unknown config key {prefix + str(key)!r}" + _suggest(str(key), names, prefix))
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = from_dict(hint, value, prefix + key + ".")
        else:
            kwargs[key] = _coerce(prefix + key, value, hint)
    try:
        return cls(**kwargs)
    except TypeError as e:  # pragma: no cover - guarded by the key check above
        raise ConfigError(f"{prefix or 'config'}: {e}") from None


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML scalars) to plain data."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        dotted, raw = item.split("=", 1)
        parts = dotted.strip().split(".")
        node = data
        for part in parts[:-1]:
            if node.get(part) is None:  # absent, or an empty section (`train:` with nothing under it)
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else None
    return data


def _expand_preset(data: dict[str, Any]) -> None:
    features = data.get("features")
    if isinstance(features, dict) and "preset" in features:
        name = features.pop("preset")
        if name not in FEATURE_PRESETS:
            raise ConfigError(f"features.preset {name!r} unknown; presets: {', '.join(FEATURE_PRESETS)}")
        data["features"] = {**FEATURE_PRESETS[name], **features}


def config_from_data(data: dict[str, Any] | None, overrides: list[str] = ()) -> Config:
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping of sections (data, features, model, train, decode), "
                          f"got {type(data).__name__}")
    data = apply_overrides(dict(data or {}), list(overrides))
    _expand_preset(data)
    return from_dict(Config, data)


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Load a YAML config file and apply dotted overrides. Errors name the file and key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    try:
        return config_from_data(data, overrides)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def save_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8")
