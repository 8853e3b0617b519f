"""The whole config (one section per stage) and its strict YAML loading and dotted overrides.

YAML is plain data: no tags, no object construction. Unknown keys are errors that name the
key and suggest the nearest valid one. ``-o train.lr=0.001`` style overrides are applied to
the YAML data before validation, so they are checked the same way.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqlabel.config.data import DataConfig
from seqlabel.config.decode import DecodeConfig
from seqlabel.config.features import FEATURE_PRESETS, FeatureConfig
from seqlabel.config.model import MODEL_PRESETS, ModelConfig
from seqlabel.config.train import TrainConfig
from seqlabel.errors import ConfigError
from seqlabel.textfile import read_text


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: merged keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = lines.setdefault(key, line)
            except TypeError:  # an unhashable key: the base constructor says so
                continue
            if first != line:
                raise ConfigError(f"key {key!r} is given twice, on line {first} and on line {line} (YAML would keep "
                                  f"line {line}'s value silently): keep one of them")
        return super().construct_mapping(node, deep)


def parse_yaml(text: str) -> Any:
    """Plain data from YAML text: safe (no tags, no objects) and strict (no key given twice)."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


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
    if origin is list and dataclasses.is_dataclass(typing.get_args(hint)[0]):
        return _coerce_list(key, value, typing.get_args(hint)[0])
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


def _coerce_list(key: str, value: Any, cls: type) -> list:
    """A list of ``cls`` sections (``model.cnn_blocks``), each checked like a section of its own."""
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list, got {value!r}")
    out = []
    for index, item in enumerate(value):
        try:
            out.append(from_dict(cls, item, f"{key}[{index}]."))
        except ConfigError as e:  # checks in __post_init__ name the key without the index
            message = str(e)
            raise ConfigError(message if f"{key}[{index}]" in message else f"{key}[{index}]: {message}") from None
    return out


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
        try:
            node[parts[-1]] = parse_yaml(raw) if raw.strip() else None
        except (yaml.YAMLError, ConfigError) as e:
            raise ConfigError(f"override {item!r}: the value is not valid YAML ({str(e).splitlines()[0]})") from None
    return data


def _expand_preset(data: dict[str, Any]) -> None:
    """``features.preset`` and ``model.preset``: the named settings, under the keys the section sets itself."""
    for section, presets in (("features", FEATURE_PRESETS), ("model", MODEL_PRESETS)):
        values = data.get(section)
        if isinstance(values, dict) and "preset" in values:
            values = dict(values)
            name = values.pop("preset")
            if name not in presets:
                raise ConfigError(f"{section}.preset {name!r} unknown; presets: {', '.join(presets)}")
            data[section] = {**copy.deepcopy(presets[name]), **values}


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
        data = parse_yaml(read_text(path, "a UTF-8 YAML config", error=ConfigError))
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    try:
        return config_from_data(data, overrides)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def save_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8")
