"""Bad inputs to YAML configs and command-line options: each case asserts the error type and that the message names the
culprit (file, line, utterance id or key) and, where there is one, the fix (see ``bad_input.py``)."""
from __future__ import annotations

from pathlib import Path

import click
import pytest
import yaml
from bad_input import Base, Row, check_case, cli, ids, write_yaml

from seqlabel import api
from seqlabel.errors import ConfigError


# ----------------------------------------------------------------------------- YAML configs
def config_file(tmp: Path, base: Base, text: str) -> None:
    (tmp / "c.yaml").write_text(text)
    api.train(tmp / "c.yaml", tmp / "exp", echo=lambda _: None)


def yaml_typo(tmp: Path, base: Base) -> None:
    config_file(tmp, base, yaml.safe_dump({**base.config, "train": {"lrr": 0.1}}))


def yaml_negative_lr(tmp: Path, base: Base) -> None:
    config_file(tmp, base, yaml.safe_dump({**base.config, "train": {"lr": -0.1}}))


def yaml_syntax_error(tmp: Path, base: Base) -> None:
    config_file(tmp, base, "model:\n  num_layers: 1\n hidden_size: 4\n")


def yaml_wrong_type(tmp: Path, base: Base) -> None:
    config_file(tmp, base, yaml.safe_dump({**base.config, "model": {"hidden_size": "big"}}))


def yaml_python_tag(tmp: Path, base: Base) -> None:
    config_file(tmp, base, "train: !!python/object/apply:os.system ['echo pwned']\n")


def yaml_not_a_mapping(tmp: Path, base: Base) -> None:
    config_file(tmp, base, "- data\n- model\n")


# ----------------------------------------------------------------------------- command-line options
def cli_override_without_value(tmp: Path, base: Base) -> None:
    cli("train", write_yaml(tmp / "c.yaml", base.config), "--out", tmp / "exp", "-o", "train.lr")


def cli_unknown_device(tmp: Path, base: Base) -> None:
    cli("train", write_yaml(tmp / "c.yaml", base.config), "--out", tmp / "exp", "-o", "train.device=gpu")


def cli_bad_choice(tmp: Path, base: Base) -> None:
    cli("score", base.root / "train.jsonl", base.root / "train.jsonl", "--unit", "letters")


def cli_weights_not_numbers(tmp: Path, base: Base) -> None:
    cli("tune", base.checkpoint, base.root / "train.jsonl", "--weights", "0.2,high")


def cli_decode_override_outside_decode(tmp: Path, base: Base) -> None:
    cli("decode", base.checkpoint, base.root / "train.jsonl", "--out", tmp / "h.txt", "-o", "train.lr=1")


# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[Row] = [
    (yaml_typo, ConfigError, ("{tmp}/c.yaml", "'train.lrr'", "did you mean 'train.lr'")),
    (yaml_negative_lr, ConfigError, ("{tmp}/c.yaml", "train.lr must be > 0, got -0.1")),
    (yaml_syntax_error, ConfigError, ("{tmp}/c.yaml", "not valid YAML", "line 3")),
    (yaml_wrong_type, ConfigError, ("{tmp}/c.yaml", "model.hidden_size must be a number", "'big'")),
    (yaml_python_tag, ConfigError, ("{tmp}/c.yaml", "not valid YAML", "python/object")),
    (yaml_not_a_mapping, ConfigError, ("{tmp}/c.yaml", "must be a mapping of sections")),
    (cli_override_without_value, click.ClickException, ("'train.lr'", "section.key=value")),
    (cli_unknown_device, click.ClickException, ("unknown device 'gpu'", "auto, cpu, cuda")),
    (cli_bad_choice, click.BadParameter, ("'letters' is not one of",)),
    (cli_weights_not_numbers, click.BadParameter, ("'0.2,high'", "comma-separated numbers")),
    (cli_decode_override_outside_decode, click.ClickException, ("train.lr=1", "only decode.* settings")),
]


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)
