"""What ``evaluate --keep-posteriors`` keeps of each utterance for the HTML report: the log-probs
(T', C) as float16 and the best hypothesis's token confidences and frames, in one compressed
``posteriors.npz`` of concatenated arrays (a few arrays, not one member per utterance, so that
reading 10,000 utterances stays fast)::

    ids          (N,) str       utterance ids, in evaluation order
    tokens       (C,) str       class labels, blank first
    frame_seconds ()  float     seconds per output frame
    log_probs    (sum T', C) float16, utterance k in rows frame_offsets[k]:frame_offsets[k+1]
    frame_offsets (N+1,) int64
    confidences  (sum L,) float16  token confidences of each hypothesis, in token_offsets[k]:token_offsets[k+1]
    starts       (sum L,) int32    output frame where each hypothesis token is first emitted
    durations    (sum L,) int32    output frames each token spans
    token_offsets (N+1,) int64
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from seqlabel.errors import DataError
from seqlabel.types import Hypothesis

FILE = "posteriors.npz"
_KEYS = ("ids", "tokens", "frame_seconds", "log_probs", "frame_offsets", "confidences", "starts", "durations",
         "token_offsets")


@dataclass(frozen=True)
class Posteriors:
    """Kept outputs of an evaluation, by utterance (see the module docstring for the layout)."""

    ids: tuple[str, ...]
    tokens: tuple[str, ...]
    frame_seconds: Optional[float]
    log_probs: np.ndarray  # (sum T', C) float16
    frame_offsets: np.ndarray  # (N+1,)
    confidences: np.ndarray  # (sum L,)
    starts: np.ndarray  # (sum L,)
    durations: np.ndarray  # (sum L,)
    token_offsets: np.ndarray  # (N+1,)

    def index(self) -> dict[str, int]:
        return {u: k for k, u in enumerate(self.ids)}

    def log_probs_of(self, k: int) -> np.ndarray:
        """(T', C) float16 log-probs of utterance k."""
        return self.log_probs[self.frame_offsets[k]:self.frame_offsets[k + 1]]

    def tokens_of(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(confidences, start frames, durations) of utterance k's hypothesis tokens."""
        a, b = self.token_offsets[k], self.token_offsets[k + 1]
        return self.confidences[a:b], self.starts[a:b], self.durations[a:b]


def write_posteriors(path: str | Path, hyps: Sequence[Hypothesis], log_probs: Sequence[np.ndarray],
                     tokens: Sequence[str], frame_seconds: Optional[float]) -> Path:
    """Write each hypothesis's log-probs (T', C) and token confidences/frames, in the order given."""
    if len(hyps) != len(log_probs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(log_probs)} log-prob matrices")
    C = len(tokens)
    for h, lp in zip(hyps, log_probs):
        if lp.ndim != 2 or lp.shape[1] != C:
            raise ValueError(f"utterance {h.id!r}: log-probs must be (T', {C}), got {lp.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        tmp, ids=np.array([h.id for h in hyps], dtype=str), tokens=np.array(list(tokens), dtype=str),
        frame_seconds=np.array(np.nan if frame_seconds is None else frame_seconds, dtype=np.float64),
        log_probs=np.concatenate([np.asarray(lp, np.float16) for lp in log_probs]) if hyps
        else np.zeros((0, C), np.float16),
        frame_offsets=_offsets([len(lp) for lp in log_probs]),
        confidences=np.array([c for h in hyps for c in _padded(h.token_confidences, h)], dtype=np.float16),
        starts=np.array([t for h in hyps for t in _padded(h.timesteps, h)], dtype=np.int32),
        durations=np.array([d for h in hyps for d in _padded(h.durations, h)], dtype=np.int32),
        token_offsets=_offsets([len(h.tokens) for h in hyps]))
    tmp.replace(path)
    return path


def read_posteriors(path: str | Path) -> Posteriors:
    """Read a ``posteriors.npz``; a file that is not one names itself and what to do."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in _KEYS if k not in data.files]
            if missing:
                raise DataError(f"{path}: not a seqlabel posteriors file (missing {missing}); "
                                "re-run `seqlabel evaluate ... --keep-posteriors`")
            arrays = {k: data[k] for k in _KEYS}
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read posteriors ({e}); re-run `seqlabel evaluate ... --keep-posteriors` "
                        "or delete the file") from None
    fs = float(arrays["frame_seconds"])
    post = Posteriors(tuple(str(i) for i in arrays["ids"]), tuple(str(t) for t in arrays["tokens"]),
                      None if np.isnan(fs) else fs, arrays["log_probs"], arrays["frame_offsets"],
                      arrays["confidences"], arrays["starts"], arrays["durations"], arrays["token_offsets"])
    n = len(post.ids)
    if (len(post.frame_offsets) != n + 1 or len(post.token_offsets) != n + 1
            or post.frame_offsets[-1] != len(post.log_probs) or post.token_offsets[-1] != len(post.confidences)
            or post.log_probs.ndim != 2 or post.log_probs.shape[1] != len(post.tokens)):
        raise DataError(f"{path}: inconsistent posteriors file (offsets do not match the arrays); "
                        "re-run `seqlabel evaluate ... --keep-posteriors`")
    return post


def _offsets(lengths: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def _padded(values: Sequence[float], h: Hypothesis) -> Sequence[float]:
    """One value per token (zeros where the hypothesis carries none, e.g. no timing)."""
    return values if len(values) == len(h.tokens) else [0] * len(h.tokens)
