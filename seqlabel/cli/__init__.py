"""``seqlabel`` command line: a thin click layer over ``seqlabel.api``. ``main`` is the click group
(``common``); the commands register on it from ``training`` (prepare, configs, train, average,
crossval, pseudolabel), ``decoding`` (decode, transcribe, align, export, lm, tune) and ``scoring`` (evaluate,
report, score, compare, combine, plot)."""
import os
import sys

from seqlabel.cli import decoding, scoring, training  # noqa: F401  (they add their commands to main)
from seqlabel.cli.common import main

__all__ = ["exit_now", "main", "run"]


def run() -> None:
    """The ``seqlabel`` program: ``main`` with its exit status. A torchrun rank (WORLD_SIZE > 1) ends with
    ``os._exit`` once its process group is destroyed and its output flushed: at interpreter teardown,
    Gloo's worker threads can still hold work objects whose destruction aborts the process (SIGABRT,
    "terminate called without an active exception"; pytorch/pytorch#179291), long after every
    checkpoint and log was written."""
    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        exit_now(code)
    sys.exit(code)


def exit_now(code: int) -> None:
    """Flush stdout and stderr and end the process at once (``os._exit``): no interpreter teardown, so no
    Gloo abort after the work is done (see ``run``)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
