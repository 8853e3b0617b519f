"""The ``data`` section: manifests, token unit, vocabulary, duration limit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from seqlabel.config.checks import check_choice
from seqlabel.errors import ConfigError


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
        check_choice("data.unit", self.unit, ("char", "phone"))
        if len(self.word_boundary) != 1 or self.word_boundary.isspace():
            raise ConfigError(f"data.word_boundary must be one non-space character, got {self.word_boundary!r}")
