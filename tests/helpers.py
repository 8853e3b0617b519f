"""Helpers shared by test modules (import as ``from helpers import ...``; pytest puts tests/ on the path)."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner, Result

from seqlabel.cli import main
from seqlabel.types import Utterance


def collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    """A CTC frame path -> its labelling: repeats merged, blanks (0) dropped."""
    out, prev = [], None
    for c in path:
        if c != prev and c != 0:
            out.append(c)
        prev = c
    return tuple(out)


def random_log_probs(T: int, C: int, seed: int, scale: float = 2.0) -> np.ndarray:
    """(T, C) float64 log-probs of random logits (``scale``: how peaky)."""
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(T, C, generator=g, dtype=torch.float64)).log_softmax(-1).numpy()


def utt(path: Path, uid: str = "u1", **kw) -> Utterance:
    """An utterance of the file at ``path`` with the text "a" (features tests)."""
    return Utterance(uid, str(path), "a", **kw)


def exact_labelling_log_probs(log_probs: np.ndarray) -> dict[tuple[int, ...], float]:
    """(T, C) -> log P(labelling) for every labelling, summing all C^T frame paths that collapse to it."""
    T, C = log_probs.shape
    out: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(C), repeat=T):
        lp = float(sum(log_probs[t, c] for t, c in enumerate(path)))
        key = collapse(path)
        out[key] = float(np.logaddexp(out.get(key, -np.inf), lp))
    return out


# ----------------------------------------------------------------------------- the command line
def invoke(*args: object) -> Result:
    """Run ``seqlabel ARGS...`` in-process (click's runner), exceptions caught."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def refused(result: Result, *fragments: str) -> Result:
    """A clean user-facing failure: non-zero exit, the fragments in the message, no traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an uncaught exception
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)
    return result
