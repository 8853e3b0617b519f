"""Exceptions raised for bad input. Messages name the culprit (file, line, utterance, key)."""


class SeqlabelError(Exception):
    """Base class: a user-facing error; the CLI prints it without a traceback."""


class ConfigError(SeqlabelError):
    """A YAML config or override is invalid (unknown key, wrong type, bad value)."""


class DataError(SeqlabelError):
    """A manifest, audio file, feature file or transcript is missing or invalid."""


class VocabError(DataError):
    """A transcript holds a token missing from the vocabulary, or a vocabulary file is bad."""


class CheckpointError(SeqlabelError):
    """A checkpoint is missing, truncated, or incompatible."""
