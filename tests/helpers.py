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


# ----------------------------------------------------------------------------- a tiny speech corpus
TONE_RATE = 8000
TONE_PITCH = {"a": 400.0, "b": 900.0, "c": 1700.0}


def tone_corpus(root: Path, texts: list[str], prefix: str, speakers: tuple[str, ...] = ("s1",), seed: int = 0) -> Path:
    """A manifest of 8 kHz WAVs: each character a 0.1 s tone (a space 0.05 s of silence), each speaker's
    pitches scaled by its own factor, plus a little noise; utterance i is spoken by speakers[i % len]."""
    import json

    import soundfile

    rng = np.random.default_rng(seed)
    t = np.arange(int(0.1 * TONE_RATE)) / TONE_RATE
    records = []
    for i, text in enumerate(texts):
        speaker = speakers[i % len(speakers)]
        pitch = 1.0 + 0.04 * speakers.index(speaker)
        parts = [np.zeros(int(0.05 * TONE_RATE)) if ch == " " else 0.3 * np.sin(2 * np.pi * TONE_PITCH[ch] * pitch * t)
                 for ch in text]
        pad = np.zeros(int(0.03 * TONE_RATE))
        wave = np.concatenate([pad, *parts, pad])
        path = root / "wav" / f"{prefix}{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), wave + 0.005 * rng.standard_normal(wave.size), TONE_RATE, subtype="PCM_16")
        records.append({"id": f"{speaker}-{prefix}{i}", "source": str(path), "text": text, "speaker": speaker})
    manifest = root / f"{prefix}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return manifest
