"""Checks shared by the config sections: a value among choices, a positive number."""
from __future__ import annotations

from typing import Any

from seqlabel.errors import ConfigError


def check_choice(key: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{key} must be one of {list(choices)}, got {value!r}")


def check_positive(key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{key} must be > 0, got {value!r}")
