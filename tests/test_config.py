"""seqlabel.config: strict YAML loading, suggestions for misspelt keys, type and value checks,
dotted overrides, feature presets and the save/load round trip."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml

from seqlabel.config import Config, config_from_data, load_config, save_config, to_dict
from seqlabel.errors import ConfigError
from seqlabel.features import build_extractor
from seqlabel.types import Utterance


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- unknown keys
@pytest.mark.parametrize(
    "data, named, suggested",
    [
        ({"train": {"lrr": 0.1}}, "train.lrr", "train.lr"),
        ({"model": {"hidden_sise": 8}}, "model.hidden_sise", "model.hidden_size"),
        ({"features": {"num_bin": 20}}, "features.num_bin", "features.num_bins"),
        ({"trian": {"lr": 0.1}}, "trian", "train"),  # a misspelt section
        ({"modle": {}}, "modle", "model"),
    ],
)
def test_unknown_key_names_key_and_nearest(tmp_path: Path, data: dict, named: str, suggested: str) -> None:
    path = write_yaml(tmp_path / "c.yaml", data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert repr(named) in message  # the culprit, quoted
    assert f"did you mean {suggested!r}" in message
    assert str(path) in message  # and the file it came from


def test_unknown_key_without_near_match_lists_valid_keys() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_data({"decode": {"zzzzzz": 1}})
    assert "'decode.zzzzzz'" in str(info.value) and "decode.decoder" in str(info.value)


# ----------------------------------------------------------------------------- types and values
@pytest.mark.parametrize(
    "data, key",
    [
        ({"model": {"num_layers": "three"}}, "model.num_layers"),  # string for an int
        ({"model": {"num_layers": "3"}}, "model.num_layers"),  # a quoted number is still a string
        ({"model": {"num_layers": 2.5}}, "model.num_layers"),  # float for an int
        ({"model": {"hidden_size": True}}, "model.hidden_size"),  # bool is not an int here
        ({"train": {"lr": True}}, "train.lr"),
        ({"train": {"lr": "fast"}}, "train.lr"),
        ({"train": {"progress": "yes please"}}, "train.progress"),  # string for a bool
        ({"train": {"tensorboard": 1}}, "train.tensorboard"),  # int for a bool
        ({"data": {"unit": 3}}, "data.unit"),  # int for a string
        ({"features": {"deltas": True}}, "features.deltas"),
    ],
)
def test_wrong_types_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_data(data)


@pytest.mark.parametrize(
    "data, key",
    [
        ({"train": {"lr": -1e-3}}, "train.lr"),
        ({"train": {"lr": 0}}, "train.lr"),
        ({"train": {"grad_clip": -1}}, "train.grad_clip"),
        ({"train": {"max_epochs": 0}}, "train.max_epochs"),
        ({"train": {"lr_factor": 1.5}}, "train.lr_factor"),
        ({"train": {"lr_factor": 1.0}}, "train.min_lr equal to train.lr"),
        ({"train": {"optimizer": "adagrad"}}, "train.optimizer"),
        ({"train": {"amp": "fp8"}}, "train.amp"),
        ({"features": {"type": "spectrogram"}}, "features.type"),
        ({"features": {"cmvn": "channel"}}, "features.cmvn"),
        ({"features": {"deltas": 3}}, "features.deltas"),
        ({"data": {"unit": "word"}}, "data.unit"),
        ({"data": {"word_boundary": "||"}}, "data.word_boundary"),
        ({"model": {"dropout": 1.0}}, "model.dropout"),
        ({"model": {"projection_size": 8, "hidden_size": 8}}, "model.projection_size"),
        ({"model": {"subsampling": 0}}, "model.subsampling"),
        ({"decode": {"decoder": "viterbi"}}, "decode.decoder"),
        ({"features": {"preset": "graves2099"}}, "features.preset"),
    ],
)
def test_bad_values_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_data(data)


def test_bad_choice_lists_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_data({"train": {"optimizer": "adagrad"}})
    assert "adam" in str(info.value) and "sgd" in str(info.value) and "adagrad" in str(info.value)


def test_ints_accepted_for_floats_and_scientific_strings_parsed() -> None:
    config = config_from_data({"train": {"lr": 1, "min_lr": "1e-7"}})
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert config.train.min_lr == pytest.approx(1e-7)


def test_empty_sections_and_empty_file_give_defaults(tmp_path: Path) -> None:
    assert config_from_data({"train": None, "model": {}}) == Config()
    assert load_config(write_yaml(tmp_path / "empty.yaml", "")) == Config()


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_not_a_mapping_is_a_config_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_config(write_yaml(tmp_path / "c.yaml", text))


def test_section_not_a_mapping_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="train"):
        config_from_data({"train": [1, 2]})


def test_missing_file_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write_yaml(tmp_path / "bad.yaml", "train: {lr: [1, \n"))


def test_yaml_tags_are_refused(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "c.yaml", "train: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ConfigError):
        load_config(path)


# ----------------------------------------------------------------------------- overrides
def test_overrides_parse_values_as_yaml(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "c.yaml", {"train": {"lr": 0.01, "max_epochs": 7}, "model": {"num_layers": 2}})
    config = load_config(path, ["train.lr=1e-4", "model.num_layers=4", "train.progress=false",
                                "data.vocab=tokens.txt", "features.dim=null"])
    assert config.train.lr == pytest.approx(1e-4)
    assert config.model.num_layers == 4 and isinstance(config.model.num_layers, int)
    assert config.train.progress is False
    assert config.data.vocab == "tokens.txt"
    assert config.features.dim is None
    assert config.train.max_epochs == 7  # untouched keys keep the file's value


def test_overrides_create_missing_sections() -> None:
    config = config_from_data({}, ["decode.decoder=greedy", "features.num_bins=23"])
    assert config.features.num_bins == 23


def test_override_into_empty_section(tmp_path: Path) -> None:
    """``train:`` with nothing under it is an empty section; an override must still land there."""
    path = write_yaml(tmp_path / "c.yaml", "train:\nmodel:\n  num_layers: 1\n")
    assert load_config(path, ["train.lr=0.5"]).train.lr == 0.5


def test_overrides_are_validated_like_the_file() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'train\.lr'"):
        config_from_data({}, ["train.lrr=0.1"])
    with pytest.raises(ConfigError, match=r"model\.num_layers"):
        config_from_data({}, ["model.num_layers=many"])
    with pytest.raises(ConfigError, match="section.key=value"):
        config_from_data({}, ["train.lr"])
    with pytest.raises(ConfigError, match="not a section"):
        config_from_data({"train": {"lr": 0.1}}, ["train.lr.x=1"])


# ----------------------------------------------------------------------------- presets
def test_preset_graves2013_gives_123_dim_fbank(tmp_path: Path) -> None:
    config = config_from_data({"features": {"preset": "graves2013", "sample_rate": 8000}})
    assert config.features.type == "fbank"
    extractor = build_extractor(config.features)
    assert extractor.dim == 123
    wav = tmp_path / "a.wav"
    rng = np.random.default_rng(0)
    soundfile.write(str(wav), 0.1 * rng.standard_normal(2400), 8000)
    feats = extractor(Utterance("a", str(wav), "x"))
    assert feats.shape[1] == 123 and feats.shape[0] > 0


def test_preset_keys_can_be_overridden() -> None:
    config = config_from_data({"features": {"preset": "graves2013", "num_bins": 20}})
    assert (config.features.num_bins, config.features.energy, config.features.deltas) == (20, True, 2)
    assert build_extractor(config.features).dim == 63


def test_preset_by_override() -> None:
    config = config_from_data({}, ["features.preset=graves2013"])
    assert build_extractor(config.features).dim == 123


# ----------------------------------------------------------------------------- round trip
def test_save_load_round_trip(tmp_path: Path) -> None:
    config = config_from_data({
        "data": {"train": "t.jsonl", "unit": "phone", "max_duration": 12.5},
        "features": {"preset": "graves2013", "cmvn": "speaker"},
        "model": {"num_layers": 2, "hidden_size": 32, "projection_size": 16, "frame_stacking": 3, "subsampling": 2},
        "train": {"lr": 1e-4, "optimizer": "sgd", "progress": False},
    })
    path = tmp_path / "saved.yaml"
    save_config(config, path)
    loaded = load_config(path)
    assert loaded == config
    assert to_dict(loaded) == to_dict(config)
    assert "!!" not in path.read_text()  # plain data, no tags


def test_threads_must_not_be_negative() -> None:
    with pytest.raises(ConfigError, match="train.threads"):
        config_from_data({"train": {"threads": -1}})
    assert config_from_data({"train": {"threads": 1}}).train.threads == 1
