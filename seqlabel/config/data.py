"""The ``data`` section: manifests, token unit, vocabulary, duration limit."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from seqlabel.config.checks import check_choice
from seqlabel.errors import ConfigError


@dataclass
class DataConfig:
    train: Optional[str] = None  # manifest paths, relative to the working directory
    extra_train: list[str] = field(default_factory=list)  # more training manifests (e.g. another corpus's
    # speakers): trained on with data.train; `crossval` adds them to every fold's training set, never holds them out
    dev: Optional[str] = None
    test: Optional[str] = None
    unit: str = "char"  # "char": each character a token, space -> word_boundary; "phone": space-separated
    vocab: Optional[str] = None  # token file (one per line, blank first); None: built from train
    word_boundary: str = "|"
    lowercase: bool = False
    max_duration: Optional[float] = None  # seconds; longer training utterances are dropped (counted); utterances
    # without a `duration` field get theirs from the audio file's header
    speaker_from_id: bool = False  # utterances without a `speaker` field: the id's prefix before the first '-' or
    # '_' is their speaker (features.cmvn: speaker); false: refused

    def __post_init__(self) -> None:
        check_choice("data.unit", self.unit, ("char", "phone"))
        if not isinstance(self.extra_train, list) or not all(isinstance(p, str) and p for p in self.extra_train):
            raise ConfigError(f"data.extra_train must be a list of manifest paths, got {self.extra_train!r}")
        if len(self.word_boundary) != 1 or self.word_boundary.isspace():
            raise ConfigError(f"data.word_boundary must be one non-space character, got {self.word_boundary!r}")
        if self.max_duration is not None and not self.max_duration > 0:
            raise ConfigError(f"data.max_duration is the longest training utterance kept, in seconds: it must be > 0, "
                              f"got {self.max_duration} (null keeps every utterance)")
