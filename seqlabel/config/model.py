"""The ``model`` section: BiLSTM stack size, projection, dropout, frame stacking, CNN front end."""
from __future__ import annotations

from dataclasses import dataclass, field

from seqlabel.config.checks import check_positive
from seqlabel.errors import ConfigError


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
        check_positive("model.num_layers", self.num_layers)
        check_positive("model.hidden_size", self.hidden_size)
        check_positive("model.frame_stacking", self.frame_stacking)
        check_positive("model.subsampling", self.subsampling)
        if not isinstance(self.cnn_channels, list) or not all(
                isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in self.cnn_channels):
            raise ConfigError(f"model.cnn_channels must be a list of positive integers, got {self.cnn_channels!r}")
        if self.cnn_kernel < 1 or self.cnn_kernel % 2 == 0:
            raise ConfigError(f"model.cnn_kernel must be a positive odd number, got {self.cnn_kernel}")
        check_positive("model.cnn_height_pool", self.cnn_height_pool)
        check_positive("model.cnn_time_pool", self.cnn_time_pool)
        if not 0 <= self.projection_size < self.hidden_size:
            raise ConfigError(f"model.projection_size must be in [0, hidden_size), got {self.projection_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")

    @property
    def time_reduction(self) -> int:
        """Input frames per output frame: T' = ceil(T / time_reduction) (CNN time pooling x subsampling)."""
        return self.cnn_time_pool ** len(self.cnn_channels) * self.subsampling
