"""Configs: one dataclass section per stage (``data``, ``features``, ``model``, ``train``, ``decode``)
and, in ``loading``, the one place that reads YAML strictly (unknown keys refused with the nearest
valid key), applies ``-o section.key=value`` overrides and expands feature and model presets."""
from seqlabel.config.data import DataConfig
from seqlabel.config.decode import DecodeConfig
from seqlabel.config.features import (
                                      FEATURE_PRESETS,
                                      AudioAugmentConfig,
                                      FeatureConfig,
                                      ImageFeatureConfig,
                                      StrokeFeatureConfig,
)
from seqlabel.config.loading import (
                                      Config,
                                      apply_overrides,
                                      config_from_data,
                                      from_dict,
                                      load_config,
                                      save_config,
                                      to_dict,
)
from seqlabel.config.model import MODEL_PRESETS, ConvBlockConfig, ModelConfig
from seqlabel.config.train import TrainConfig

__all__ = ["Config", "ConvBlockConfig", "MODEL_PRESETS", "DataConfig", "FeatureConfig", "AudioAugmentConfig",
           "ImageFeatureConfig", "StrokeFeatureConfig", "ModelConfig", "TrainConfig", "DecodeConfig", "FEATURE_PRESETS",
           "load_config", "save_config", "config_from_data", "apply_overrides", "from_dict", "to_dict"]
