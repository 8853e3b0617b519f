"""``seqlabel`` command line: a thin click layer over ``seqlabel.api``. ``main`` is the click group
(``common``); the commands register on it from ``training`` (prepare, configs, train, average,
crossval), ``decoding`` (decode, transcribe, align, export, lm, tune) and ``scoring`` (evaluate,
report, score, compare, plot)."""
from seqlabel.cli import decoding, scoring, training  # noqa: F401  (they add their commands to main)
from seqlabel.cli.common import main

__all__ = ["main"]
