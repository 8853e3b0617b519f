"""Messages of the package. Each module logs to ``logging.getLogger(__name__)``, all under the
``seqlabel`` logger; nothing is configured at import time.

The command line installs the handler (``seqlabel.cli.common``): INFO lines on stdout, warnings on
stderr. Under torchrun only rank 0's records reach the handlers that seqlabel installs
(``MainRankOnly``). From Python, show them with ``logging.basicConfig(level=logging.INFO)``, or send
them to a callback for the length of one call with ``forward(echo)``, which is what the ``echo=``
argument of the ``seqlabel.api`` functions does.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Callable, Iterator, Optional

ROOT = "seqlabel"


def rank() -> int:
    """This process's rank under torchrun (0 otherwise)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0") or 0)


class MainRankOnly(logging.Filter):
    """Let through the records of rank 0 only (every rank logs the same epoch lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return rank() == 0


class _Callback(logging.Handler):
    def __init__(self, echo: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.echo = echo
        self.addFilter(MainRankOnly())

    def emit(self, record: logging.LogRecord) -> None:
        self.echo(record.getMessage())


@contextlib.contextmanager
def forward(echo: Optional[Callable[[str], None]]) -> Iterator[None]:
    """Within the block, the package's messages of level INFO and above also go to ``echo`` (rank 0's).
    ``None``: nothing changes."""
    if echo is None:
        yield
        return
    logger = logging.getLogger(ROOT)
    handler, level = _Callback(echo), logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
