"""Progress of long loops (training batches, feature extraction, decoding).

On a terminal: a tqdm bar. Anywhere else (stderr redirected to a log file or a pipe): no bar, whose
carriage-return updates would fill the file, but a plain line now and then: when a tenth more of the
loop is done and at least ``MIN_SECONDS`` have passed since the last line, or whenever ``MAX_SECONDS``
have passed. A loop shorter than ``MIN_SECONDS`` prints nothing; its caller's summary line says it ended.

    for batch in progress(loader, desc="epoch 3", total=len(loader), unit="batches"):
        ...
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Iterable, Iterator, Optional, TextIO

MIN_SECONDS = 30.0  # plain lines: at most one per this many seconds, at each tenth of the loop ...
MAX_SECONDS = 60.0  # ... and at least one per this many seconds whatever the loop's length
STEP = 0.1  # the fraction of the loop between two plain lines


class LineProgress:
    """A progress report in plain lines (no ``\\r``) with the part of tqdm's interface seqlabel uses:
    iteration, ``update``, ``set_postfix``, ``close`` and use as a context manager.

    ``stream`` None prints nothing (progress turned off)."""

    def __init__(self, iterable: Optional[Iterable] = None, desc: str = "", total: Optional[int] = None,
                 initial: int = 0, unit: str = "", stream: Optional[TextIO] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.iterable, self.desc, self.total, self.unit = iterable, desc, total, unit
        self.stream, self.clock = stream, clock
        self.n = initial
        self.started = self.last_time = clock()
        self.last_step = self._step()
        self.postfix = ""

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable if self.iterable is not None else ():
            yield item
            self.update(1)

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.stream is None:
            return
        now, step = self.clock(), self._step()
        waited = now - self.last_time
        if waited >= MAX_SECONDS or (waited >= MIN_SECONDS and step > self.last_step):
            self.last_time, self.last_step = now, step
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        """Nothing to clear: plain lines stay (the caller prints the loop's summary)."""

    def line(self, now: float) -> str:
        """``desc: done/total unit (pct%), seconds[, postfix]``."""
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        unit = f" {self.unit}" if self.unit else ""
        postfix = f", {self.postfix}" if self.postfix else ""
        return f"{self.desc}: {done}{unit}{share}, {now - self.started:.0f} s{postfix}"

    def _step(self) -> int:
        """The tenths of the loop done (0 without a total: lines then come by time alone)."""
        return int(self.n / (self.total * STEP)) if self.total else 0


def progress(iterable: Optional[Iterable] = None, *, desc: str = "", total: Optional[int] = None, initial: int = 0,
             unit: str = "", enabled: bool = True, stream: Optional[TextIO] = None) -> Any:
    """A tqdm bar when ``stream`` (default: stderr) is a terminal, else a ``LineProgress`` writing plain
    lines to it; a silent ``LineProgress`` when ``enabled`` is false."""
    stream = sys.stderr if stream is None else stream
    if not enabled:
        return LineProgress(iterable, desc, total, initial, unit, stream=None)
    if _is_terminal(stream):
        from tqdm import tqdm

        return tqdm(iterable, desc=desc, total=total, initial=initial, leave=False, file=stream)
    return LineProgress(iterable, desc, total, initial, unit, stream=stream)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
