"""seqlabel.progress: a tqdm bar on a terminal only; elsewhere plain lines (no carriage returns), at a
tenth of the loop at most every 30 s and at least every 60 s; nothing at all when turned off."""
from __future__ import annotations

import io

from seqlabel.progress import MAX_SECONDS, MIN_SECONDS, LineProgress, progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_anything_else_plain_lines() -> None:
    assert type(progress(range(3), desc="x", total=3, stream=Terminal())).__name__ == "tqdm"
    plain = progress(range(3), desc="x", total=3, stream=io.StringIO())
    assert isinstance(plain, LineProgress) and list(plain) == [0, 1, 2]
    off = progress(range(3), desc="x", total=3, enabled=False, stream=Terminal())
    assert isinstance(off, LineProgress) and off.stream is None and list(off) == [0, 1, 2]


def test_lines_come_at_tenths_no_more_often_than_min_seconds() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = LineProgress(desc="epoch 1", total=100, unit="batches", stream=stream, clock=clock)
    for _ in range(100):  # one batch per second: a tenth is 10 s, so a line every 30 s at a tenth
        clock.now += 1.0
        bar.update(1)
        bar.set_postfix(loss="1.000")
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines == ["epoch 1: 30/100 batches (30%), 30 s, loss=1.000", "epoch 1: 60/100 batches (60%), 60 s, loss=1.000",
                     "epoch 1: 90/100 batches (90%), 90 s, loss=1.000"]


def test_a_short_loop_prints_nothing_and_a_slow_one_prints_every_max_seconds() -> None:
    stream, clock = io.StringIO(), Clock()
    with LineProgress(desc="features", total=1000, stream=stream, clock=clock) as bar:
        for _ in range(1000):
            clock.now += (MIN_SECONDS - 1) / 1000
            bar.update(1)
    assert stream.getvalue() == ""
    bar = LineProgress(desc="decode", total=10, stream=stream, clock=clock)
    start = clock.now
    for _ in range(3):  # each item takes longer than MAX_SECONDS: a line after each, tenth or not
        clock.now += MAX_SECONDS + 1
        bar.update(1)
    assert len(stream.getvalue().splitlines()) == 3
    assert stream.getvalue().splitlines()[-1].endswith(f"3/10 (30%), {clock.now - start:.0f} s")


def test_a_resumed_loop_counts_from_its_initial_position() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = LineProgress(range(5), desc="epoch 2", total=10, initial=5, unit="batches", stream=stream, clock=clock)
    for _ in bar:
        clock.now += MAX_SECONDS
    assert stream.getvalue().splitlines()[-1].startswith("epoch 2: 10/10 batches (100%)")
