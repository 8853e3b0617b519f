"""The ``model`` section: BiLSTM stack size, projection, dropout, frame stacking, CNN front end, and the
named architectures of other toolkits (``model.preset``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqlabel.config.checks import check_choice, check_positive
from seqlabel.errors import ConfigError

ACTIVATIONS = ("relu", "leakyrelu", "elu", "gelu", "tanh", "linear")


@dataclass
class ConvBlockConfig:
    """One block of the CNN front end (``model.cnn_blocks``), over the (height, time) plane of line images:
    conv (kernel, same padding) -> [batch norm] -> activation -> max-pool (height_pool x time_pool) -> [dropout]."""

    channels: int = 16  # output channels
    kernel: list[int] = field(default_factory=lambda: [3, 3])  # [height, time], odd; a single number for both
    height_pool: int = 1  # max-pool size (and stride) along the image height (feature axis); 1: none
    time_pool: int = 1  # max-pool size (and stride) along time (image width); see ModelConfig.time_reduction
    batch_norm: bool = False  # batch norm after the conv (its statistics over real frames only, not padding)
    activation: str = "relu"  # relu | leakyrelu (slope 0.01) | elu | gelu | tanh | linear
    dropout: float = 0.0  # channel dropout (whole feature maps, nn.Dropout2d) after the pooling, in training

    def __post_init__(self) -> None:
        if isinstance(self.kernel, int) and not isinstance(self.kernel, bool):
            self.kernel = [self.kernel, self.kernel]
        if (not isinstance(self.kernel, list) or len(self.kernel) != 2
                or not all(isinstance(k, int) and not isinstance(k, bool) and k > 0 and k % 2 == 1
                           for k in self.kernel)):
            raise ConfigError(f"model.cnn_blocks: kernel must be an odd number or [height, time] of odd numbers, "
                              f"got {self.kernel!r}")
        for name in ("channels", "height_pool", "time_pool"):
            check_positive(f"model.cnn_blocks: {name}", getattr(self, name))
        check_choice("model.cnn_blocks: activation", self.activation, ACTIVATIONS)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.cnn_blocks: dropout must be in [0, 1), got {self.dropout}")


def _blocks(channels: list[int], kernels: list[list[int]], pools: list[int], **common: Any) -> list[dict[str, Any]]:
    """Preset blocks as plain data: one dict per block, square pooling ``pools[k]`` (1: none)."""
    return [{"channels": c, "kernel": k, "height_pool": p, "time_pool": p, **common}
            for c, k, p in zip(channels, kernels, pools)]


def _block(block: ConvBlockConfig | dict[str, Any], index: int) -> ConvBlockConfig:
    """Block ``index`` of ``model.cnn_blocks`` as a ConvBlockConfig (YAML gives mappings)."""
    if isinstance(block, ConvBlockConfig):
        return block
    if not isinstance(block, dict):
        raise ConfigError(f"model.cnn_blocks[{index}] must be a mapping of block settings, got {block!r}")
    try:
        return ConvBlockConfig(**block)
    except TypeError as e:
        raise ConfigError(f"model.cnn_blocks[{index}]: {e}") from None


CNN_OUTPUT_NORMS = ("none", "layer")

MODEL_PRESETS: dict[str, dict[str, Any]] = {
    # PyLaia's LaiaCRNN as `pylaia-htr-create-model --fixed_input_height 128` builds it with the defaults of
    # CreateCRNNArgs (laia/common/arguments.py, PyLaia 1.x, commit 0345bf5; docs/usage/initialization): 4 conv
    # blocks of 16, 16, 32, 32 channels, 3x3, no batch norm, LeakyReLU, 2x2 max-pool after the first 3; 3 BiLSTM
    # layers of 256 with dropout 0.5 at the input of each and before the output layer (rnn_dropout, lin_dropout).
    # Meant for features.image.height: 128 (32 channels x 16 rows = 512 LSTM inputs).
    "pylaia": {"cnn_blocks": _blocks([16, 16, 32, 32], [[3, 3]] * 4, [2, 2, 2, 1], activation="leakyrelu"),
               "num_layers": 3, "hidden_size": 256, "input_dropout": 0.5, "dropout": 0.5, "output_dropout": 0.5},
    # kraken's default recognition network (kraken/lib/default_specs.py RECOGNITION_SPEC, kraken 5.x; the same
    # string is VGSLRecognitionTrainingConfig's default in kraken/configs/vgsl.py, kraken 7):
    # [1,120,0,1 Cr3,13,32 Do0.1,2 Mp2,2 Cr3,13,32 Do0.1,2 Mp2,2 Cr3,9,64 Do0.1,2 Mp2,2 Cr3,9,64 Do0.1,2
    #  S1(1x0)1,3 Lbx200 Do0.1,2 Lbx200 Do0.1,2 Lbx200 Do]: conv 3 high x 13 (then 9) wide with ReLU, channel
    # dropout 0.1, 2x2 max-pool after the first 3; 3 BiLSTM layers of 200, dropout 0.1 between, 0.5 before the
    # output. Meant for features.image.height: 120 (64 channels x 15 rows = 960 LSTM inputs).
    "kraken": {"cnn_blocks": _blocks([32, 32, 64, 64], [[3, 13], [3, 13], [3, 9], [3, 9]], [2, 2, 2, 1],
                                     activation="relu", dropout=0.1),
               "num_layers": 3, "hidden_size": 200, "dropout": 0.1, "output_dropout": 0.5},
}


@dataclass
class ModelConfig:
    num_layers: int = 3
    hidden_size: int = 250  # units per direction
    projection_size: int = 0  # 0: no projection (LSTMP when > 0, must be < hidden_size)
    dropout: float = 0.0  # between LSTM layers
    input_dropout: float = 0.0  # on the LSTM stack's input (after the CNN and frame stacking), in training
    output_dropout: float = 0.0  # on the last LSTM layer's output, before the output layer, in training
    frame_stacking: int = 1  # concatenate this many consecutive input frames ...
    subsampling: int = 1  # ... and keep every this-many-th: T' = ceil(T / subsampling)
    # Optional CNN front end before the stacking (off by default: a BLSTM-only baseline), either as blocks
    # (see ConvBlockConfig; model.preset fills them) or, the older short form, as cnn_channels: each layer
    # conv (cnn_kernel x cnn_kernel, same padding) -> ReLU -> max-pool (cnn_height_pool x cnn_time_pool).
    cnn_blocks: list[ConvBlockConfig] = field(default_factory=list)
    cnn_channels: list[int] = field(default_factory=list)  # output channels per layer; [] = no CNN
    cnn_kernel: int = 3  # odd
    cnn_height_pool: int = 2  # pooling along the feature axis (image height) per layer
    cnn_time_pool: int = 1  # pooling along time per layer; see time_reduction
    # "layer": LayerNorm over each output frame of the CNN (zero mean, unit variance per frame). ReLU and
    # max-pool outputs are all >= 0, and their common offset into the LSTM kept models on the blank plateau
    # from scratch (AN4: 13+ epochs at 100% dev error without it, out by epoch 6 with it). "none": as before.
    cnn_output_norm: str = "none"

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
        if not isinstance(self.cnn_blocks, list):
            raise ConfigError(f"model.cnn_blocks must be a list of blocks, got {self.cnn_blocks!r}")
        self.cnn_blocks = [_block(b, k) for k, b in enumerate(self.cnn_blocks)]
        if self.cnn_blocks and self.cnn_channels:
            raise ConfigError("model.cnn_blocks and model.cnn_channels both describe the CNN front end; keep one "
                              "(cnn_channels [a, b] is cnn_blocks with channels a, b, ReLU and the cnn_* settings)")
        check_choice("model.cnn_output_norm", self.cnn_output_norm, CNN_OUTPUT_NORMS)
        if not 0 <= self.projection_size < self.hidden_size:
            raise ConfigError(f"model.projection_size must be in [0, hidden_size), got {self.projection_size}")
        for name in ("dropout", "input_dropout", "output_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"model.{name} must be in [0, 1), got {getattr(self, name)}")

    @property
    def conv_blocks(self) -> list[ConvBlockConfig]:
        """The CNN front end's blocks: ``cnn_blocks``, or those the short form ``cnn_channels`` stands for."""
        if self.cnn_blocks:
            return list(self.cnn_blocks)
        return [ConvBlockConfig(c, [self.cnn_kernel] * 2, self.cnn_height_pool, self.cnn_time_pool)
                for c in self.cnn_channels]

    @property
    def time_reduction(self) -> int:
        """Input frames per output frame: T' = ceil(T / time_reduction) (CNN time pooling x subsampling)."""
        reduction = self.subsampling
        for block in self.conv_blocks:
            reduction *= block.time_pool
        return reduction
